"""The relay: reads the event log with a Redis consumer group and turns each event into deliveries.

    group ``webhooks`` on ``<p>:events``, created at the start of the stream (``0``) so events recorded
    before the first worker ran are not skipped; each worker process is one consumer.

An entry is XACKed only after its deliveries exist (store.create is idempotent), so a relay killed at any
point loses nothing: its unacknowledged entries stay pending and another relay takes them over with
XAUTOCLAIM once they have been idle for ``claim_idle`` seconds (10 by default). Events older than
``max_age`` are acknowledged without deliveries: they would be past their deadline already.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gateway.settings import WebhookSettings
from gateway.state.keys import Keys
from gateway.webhooks.envelope import Event
from gateway.webhooks.store import DeliveryStore, Endpoint

log = logging.getLogger("gateway.webhooks")

GROUP = "webhooks"
BATCH = 100
BLOCK_MS = 1000
CLAIM_IDLE = 10.0          # seconds an entry stays unacknowledged before another relay takes it
CLAIM_EVERY = 5.0
FORGET_IDLE = 3600.0       # consumers idle this long with nothing pending are removed from the group


class Relay:
    def __init__(self, redis: Redis, keys: Keys, store: DeliveryStore, settings: WebhookSettings, *,
                 consumer: str, on_created: Callable[[], None] = lambda: None,
                 claim_idle: float = CLAIM_IDLE) -> None:
        self.redis = redis
        self.stream = keys.events
        self.store = store
        self.settings = settings
        self.consumer = consumer
        self.on_created = on_created
        self.claim_idle = claim_idle
        self.endpoints = [Endpoint(webhook_id=i, url=e.url) for i, e in enumerate(settings.endpoints, start=1)]

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self) -> None:
        last_claim = 0.0
        ready = False
        while True:
            try:
                if not ready:
                    await self.ensure_group()
                    ready = True
                if time.monotonic() - last_claim >= CLAIM_EVERY:
                    await self.reclaim()
                    last_claim = time.monotonic()
                reply = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=BATCH,
                                                    block=BLOCK_MS)
                for _stream, entries in reply or []:
                    await self.relay(entries)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if "NOGROUP" in str(exc):      # the stream was deleted (a flushed Redis): start again
                    ready = False
                    continue
                log.exception("webhooks.relay_failed")
                await asyncio.sleep(1)
            except Exception:
                log.exception("webhooks.relay_failed")
                await asyncio.sleep(1)

    async def relay(self, entries: list[tuple[Any, Any]]) -> None:
        created = 0
        for entry_id, fields in entries:
            raw_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            if fields:
                try:
                    event = Event.from_fields(fields)
                except (KeyError, ValueError):
                    log.error("webhooks.bad_event", extra={"entry_id": raw_id})
                else:
                    now = time.time()
                    deadline = int(raw_id.split("-")[0]) / 1000 + self.settings.max_age
                    if deadline > now:
                        created += await self.store.create(event, self.endpoints, now=now, deadline=deadline)
            await self.redis.xack(self.stream, GROUP, entry_id)
        if created:
            self.on_created()

    async def reclaim(self) -> None:
        """Take over entries a dead (or stuck) relay read but never acknowledged."""
        cursor: Any = "0-0"
        for _ in range(100):
            reply = await self.redis.xautoclaim(self.stream, GROUP, self.consumer,
                                                min_idle_time=int(self.claim_idle * 1000), start_id=cursor,
                                                count=BATCH)
            cursor, entries = reply[0], reply[1]
            if entries:
                log.warning("webhooks.reclaimed", extra={"count": len(entries)})
                await self.relay(entries)
            if cursor in (b"0-0", "0-0"):
                break
        await self._forget_idle_consumers()

    async def _forget_idle_consumers(self) -> None:
        for consumer in await self.redis.xinfo_consumers(self.stream, GROUP):
            name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
            if name != self.consumer and not consumer["pending"] and consumer["idle"] > FORGET_IDLE * 1000:
                await self.redis.xgroup_delconsumer(self.stream, GROUP, name)
