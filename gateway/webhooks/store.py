"""Deliveries in Redis: one per (event, endpoint), with its attempts, its schedule and a capped log.

    <p>:{webhooks}:due                 zset   delivery id -> when it may next be attempted (unix seconds).
                                              Claiming pushes the score ``lease`` seconds ahead, so a worker
                                              that dies mid-attempt hands the delivery back by itself.
    <p>:{webhooks}:d:<event id>:<n>    hash   event (JSON), url, webhook_id, deadline, status
                                              (pending | delivered | failed), next_at
    <p>:{webhooks}:a:<event id>:<n>    list   the attempts so far (Mux attempt objects, JSON)
    <p>:{webhooks}:log                 list   the newest attempts of every delivery (JSON), LOG_SIZE at most

The delivery id ``<event id>:<n>`` (n = the endpoint's position in settings, 1-based) is deterministic
and a delivery is created only if its hash does not exist yet, so an event read twice (a relay that
died before XACK) never makes a second delivery. Recording an attempt is a compare-and-set on the number
of attempts, so a worker whose lease ran out cannot record over the one that took the delivery over.
Both per-delivery keys expire a day after the delivery's deadline. All keys share the ``{webhooks}``
hash tag, so every script touches one slot. :class:`gateway.state.keys.Keys` names them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from gateway.state.keys import Keys
from gateway.webhooks.envelope import Event

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
LOG_SIZE = 1000
KEEP_AFTER_DEADLINE = 86400

_CREATE = """
local created = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local j = 5 + (i - 2) * 3
    redis.call('HSET', KEYS[i], 'event', ARGV[3], 'deadline', ARGV[4], 'url', ARGV[j + 1],
               'webhook_id', ARGV[j + 2], 'status', 'pending', 'next_at', ARGV[1])
    redis.call('EXPIREAT', KEYS[i], ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[j])
    created = created + 1
  end
end
return created
"""

_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return ids
"""

# KEYS: due, delivery hash, attempts list, log
# ARGV: delivery id, attempts expected so far, attempt JSON, status, next_at ('' = none), log JSON,
#       log size, expire at
_RECORD = """
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[3], ARGV[3])
redis.call('EXPIREAT', KEYS[3], ARGV[8])
redis.call('HSET', KEYS[2], 'status', ARGV[4], 'next_at', ARGV[5])
if ARGV[5] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
end
redis.call('LPUSH', KEYS[4], ARGV[6])
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[7]) - 1)
return 1
"""


@dataclass(frozen=True)
class Endpoint:
    webhook_id: int      # position in settings.webhooks.endpoints, 1-based
    url: str


@dataclass(frozen=True)
class Delivery:
    id: str
    event: Event
    url: str
    webhook_id: int
    deadline: float
    attempts: list[dict[str, Any]]


class DeliveryStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.due = keys.webhooks_due
        self.log = keys.delivery_log
        self._create = redis.register_script(_CREATE)
        self._claim = redis.register_script(_CLAIM)
        self._record = redis.register_script(_RECORD)

    async def create(self, event: Event, endpoints: list[Endpoint], *, now: float, deadline: float) -> int:
        """Make the event's deliveries that do not exist yet, due now; how many were made."""
        if not endpoints:
            return 0
        ids = [f"{event.id}:{e.webhook_id}" for e in endpoints]
        args: list[str | int | float] = [now, int(deadline) + KEEP_AFTER_DEADLINE, event.to_json(), deadline]
        for delivery_id, endpoint in zip(ids, endpoints, strict=True):
            args += [delivery_id, endpoint.url, endpoint.webhook_id]
        return int(await self._create(keys=[self.due, *map(self.keys.delivery, ids)], args=args))

    async def claim(self, *, now: float, limit: int, lease: float) -> list[Delivery]:
        """Take up to ``limit`` due deliveries for ``lease`` seconds."""
        raw = await self._claim(keys=[self.due], args=[now, limit, now + lease])
        ids = [r.decode() if isinstance(r, bytes) else str(r) for r in raw or []]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self.keys.delivery(delivery_id))
                pipe.lrange(self.keys.delivery_attempts(delivery_id), 0, -1)
            replies = await pipe.execute()
        claimed, gone = [], []
        for index, delivery_id in enumerate(ids):
            fields = {k.decode(): v.decode() for k, v in replies[2 * index].items()}
            if fields.get("status") != PENDING:
                gone.append(delivery_id)
                continue
            claimed.append(Delivery(id=delivery_id, event=Event.from_json(fields["event"]), url=fields["url"],
                                    webhook_id=int(fields["webhook_id"]), deadline=float(fields["deadline"]),
                                    attempts=[json.loads(a) for a in replies[2 * index + 1]]))
        if gone:
            await self.redis.zrem(self.due, *gone)
        return claimed

    async def record(self, delivery: Delivery, attempt: dict[str, Any], *, status: str,
                     next_at: float | None, entry: dict[str, Any]) -> bool:
        """Add an attempt and reschedule (or settle) the delivery; False if another worker already did."""
        args = [delivery.id, len(delivery.attempts), json.dumps(attempt, separators=(",", ":")), status,
                "" if next_at is None else repr(next_at), json.dumps(entry, separators=(",", ":")), LOG_SIZE,
                int(delivery.deadline) + KEEP_AFTER_DEADLINE]
        keys = [self.due, self.keys.delivery(delivery.id), self.keys.delivery_attempts(delivery.id), self.log]
        return bool(await self._record(keys=keys, args=args))

    async def release(self, delivery: Delivery, when: float) -> None:
        """Hand a claimed delivery back (a worker stopping mid-attempt): due again at ``when``."""
        await self.redis.zadd(self.due, {delivery.id: when}, xx=True)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest attempts, newest first."""
        return [json.loads(raw) for raw in await self.redis.lrange(self.log, 0, limit - 1)]

    async def pending(self) -> int:
        return int(await self.redis.zcard(self.due))
