"""Records as Redis hashes of JSON-encoded top-level fields, with a creation-time index per kind
(``Keys.record`` and ``Keys.records``: ``<p>:{<id>}:<kind>`` and ``<p>:<kind>s``).

A hash per record lets the gateway and the worker update different fields without read-modify-write
races; ``replace_if`` is the one compare-and-set (on a single field) the state machines need.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from gateway.state.keys import Keys, RecordKind

_ALPHABET = string.ascii_letters + string.digits

# Set fields only if `field` currently equals the expected JSON value; returns 1 when applied.
_REPLACE_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


def new_id(length: int = 32) -> str:
    """A Mux-style opaque id: base62, ``length`` characters (32 give ~190 random bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def encode(fields: Mapping[str, Any]) -> dict[str, str]:
    return {key: json.dumps(value, separators=(",", ":")) for key, value in fields.items()}


def decode(raw: Mapping[bytes | str, bytes | str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode() if isinstance(key, bytes) else key
        out[name] = json.loads(value)
    return out


class RecordStore:
    def __init__(self, redis: Redis, keys: Keys, kind: RecordKind) -> None:
        self.redis = redis
        self.keys = keys
        self.kind: RecordKind = kind
        self.index = keys.records(kind)
        self._replace_if = redis.register_script(_REPLACE_IF)

    def key(self, record_id: str) -> str:
        return self.keys.record(self.kind, record_id)

    async def create(self, record_id: str, fields: Mapping[str, Any], created_at: float) -> bool:
        """Store a new record; False (and nothing changed) when it already exists."""
        key = self.key(record_id)
        if not await self.redis.hsetnx(key, "id", json.dumps(record_id)):
            return False
        await self.redis.hset(key, mapping=encode(fields))
        await self.redis.zadd(self.index, {record_id: created_at})
        return True

    async def get(self, record_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(self.key(record_id))
        record = decode(raw) if raw else None
        # a record whose creation was interrupted before its fields were written does not exist yet
        return record if record and len(record) > 1 else None

    async def update(self, record_id: str, fields: Mapping[str, Any]) -> None:
        if fields:
            await self.redis.hset(self.key(record_id), mapping=encode(fields))

    async def remove_fields(self, record_id: str, *names: str) -> None:
        if names:
            await self.redis.hdel(self.key(record_id), *names)

    async def replace_if(self, record_id: str, field: str, expected: Any, fields: Mapping[str, Any]) -> bool:
        args: list[str] = [field, json.dumps(expected, separators=(",", ":"))]
        for name, value in encode(fields).items():
            args += [name, value]
        return bool(await self._replace_if(keys=[self.key(record_id)], args=args))

    async def delete(self, record_id: str) -> None:
        await self.redis.delete(self.key(record_id))
        await self.redis.zrem(self.index, record_id)

    async def page(self, *, offset: int, limit: int, newest_first: bool = True) -> list[str]:
        """Ids by creation time; an empty list past the end."""
        if newest_first:
            ids = await self.redis.zrevrange(self.index, offset, offset + limit - 1)
        else:
            ids = await self.redis.zrange(self.index, offset, offset + limit - 1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def many(self, ids: list[str]) -> list[dict[str, Any]]:
        records = []
        for record_id in ids:
            record = await self.get(record_id)
            if record is not None:
                records.append(record)
        return records
