"""The event log: every Mux webhook event, recorded once with an id, in a Redis stream.

The stream ``<p>:events`` holds one entry per event (id, type, object_type, object_id, created_at, data);
the set ``<p>:{<id>}:emitted`` the event types (or dedupe keys) already recorded for one object (dedupe on
retries).
Both are named by :class:`gateway.state.keys.Keys`.

Webhook delivery reads the stream with a consumer group, so an event recorded here is delivered at
least once even across restarts.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from gateway.state.keys import Keys

STREAM_MAXLEN = 200_000


def iso_now(now: float | None = None) -> str:
    return datetime.fromtimestamp(now or time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventLog:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.stream = keys.events

    async def record(self, event_type: str, object_type: str, object_id: str, data: dict[str, Any],
                     *, once: bool = True, key: str | None = None) -> str | None:
        """Append an event; with ``once`` an event type is recorded at most once per object. ``key`` (default:
        the type) is what "once" is counted by, for an event a type may have more than one of that must each
        be recorded once (``video.asset.updated`` when the HLS ladder is complete: key ``...updated:ladder``)."""
        seen = key or event_type
        if once and await self.redis.sismember(self.keys.emitted(object_id), seen):
            return None
        event_id = str(uuid.uuid4())
        await self.redis.xadd(self.stream, {
            "id": event_id, "type": event_type, "object_type": object_type, "object_id": object_id,
            "created_at": iso_now(), "data": json.dumps(data, separators=(",", ":")),
        }, maxlen=STREAM_MAXLEN, approximate=True)
        if once:
            await self.redis.sadd(self.keys.emitted(object_id), seen)
        return event_id

    async def recent(self, count: int = 100) -> list[dict[str, Any]]:
        """The newest events, oldest first (for tests and debugging)."""
        entries = await self.redis.xrevrange(self.stream, count=count)
        events = []
        for _, fields in reversed(entries):
            event = {k.decode(): v.decode() for k, v in fields.items()}
            event["data"] = json.loads(event["data"])
            events.append(event)
        return events
