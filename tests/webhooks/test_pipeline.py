"""Relay, store and sender in this process, on a real redis-server, posting to a real receiver.

These pin the properties the end-to-end tests can only hit by luck: an event read twice makes one
delivery, entries a dead relay never acknowledged are taken over, a worker whose lease ran out cannot
record over the one that took over, retries stop at max_age, and a slow endpoint is cut at the timeout
without holding up another endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.catalog.events import EventLog
from gateway.settings import WebhookSettings
from gateway.state.keys import Keys
from gateway.webhooks.envelope import Event
from gateway.webhooks.store import Delivery, DeliveryStore, Endpoint
from tests.servers import RedisService
from tests.webhooks.receiver import Receiver
from workers.webhooks.relay import GROUP, Relay
from workers.webhooks.sender import Sender
from workers.webhooks.signature import verify


@dataclass
class Pipeline:
    redis: Redis
    keys: Keys
    events: EventLog
    store: DeliveryStore

    def settings(self, receiver: Receiver, *paths: str, **values: Any) -> WebhookSettings:
        endpoints = [{"url": receiver.url(p), "secret": f"secret{p}"} for p in paths]
        return WebhookSettings.model_validate({"endpoints": endpoints, "first_retry": 0.5, "timeout": 2,
                                               **values})

    @contextlib.asynccontextmanager
    async def running(self, settings: WebhookSettings, **relay: Any) -> AsyncIterator[Sender]:
        sender = Sender(settings, self.store)
        relay_ = Relay(self.redis, self.keys, self.store, settings, consumer=uuid.uuid4().hex,
                       on_created=sender.wake.set, **relay)
        tasks = [asyncio.create_task(relay_.run()), asyncio.create_task(sender.run())]
        try:
            yield sender
        finally:
            tasks[0].cancel()
            sender.stop()
            await asyncio.wait(tasks, timeout=10)


@pytest.fixture
async def pipeline(redis_service: RedisService) -> AsyncIterator[Pipeline]:
    redis = Redis.from_url(redis_service.url)
    keys = Keys(f"w{uuid.uuid4().hex[:8]}")
    yield Pipeline(redis, keys, EventLog(redis, keys), DeliveryStore(redis, keys))
    await redis.aclose()


async def record(pipeline: Pipeline, n: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        event_id = await pipeline.events.record("video.upload.created", "upload", f"up{i}",
                                                {"id": f"up{i}", "status": "waiting"}, once=False)
        assert event_id
        ids.append(event_id)
    return ids


async def test_an_event_read_twice_is_delivered_once_and_a_dead_relays_entries_are_taken_over(
        pipeline: Pipeline, receiver: Receiver) -> None:
    settings = pipeline.settings(receiver, "/a", "/b")
    stream = pipeline.keys.events
    await pipeline.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
    first, second = await record(pipeline, 2)
    # a relay reads both entries, makes the first one's deliveries, and dies before any XACK
    (_, entries), = await pipeline.redis.xreadgroup(GROUP, "dead", {stream: ">"}, count=10)
    endpoints = [Endpoint(1, receiver.url("/a")), Endpoint(2, receiver.url("/b"))]
    event = Event.from_fields(entries[0][1])
    assert event.id == first
    assert await pipeline.store.create(event, endpoints, now=time.time(), deadline=time.time() + 60) == 2
    assert await pipeline.store.create(event, endpoints, now=time.time(), deadline=time.time() + 60) == 0
    await asyncio.sleep(0.4)         # the dead relay's entries have been idle longer than claim_idle
    async with pipeline.running(settings, claim_idle=0.3):
        requests = await receiver.settle(lambda rs: len(rs) >= 4, 15, "4 deliveries")
        await asyncio.sleep(1.0)     # time for a duplicate to show up, if there were one
    requests = receiver.requests
    assert sorted((r.path, r.event["id"]) for r in requests) == sorted(
        (p, e) for p in ("/a", "/b") for e in (first, second))
    assert all(verify(r.headers["Mux-Signature"], r.body, f"secret{r.path}") for r in requests)
    pending = await pipeline.redis.xpending(stream, GROUP)
    assert pending["pending"] == 0
    assert await pipeline.store.pending() == 0


async def test_a_worker_whose_lease_ran_out_cannot_record_over_the_next_one(pipeline: Pipeline) -> None:
    event = Event(id="e1", type="video.asset.ready", object_type="asset", object_id="a1",
                  created_at="2025-01-01T00:00:00.000000Z", data={"id": "a1"})
    now = time.time()
    await pipeline.store.create(event, [Endpoint(1, "http://127.0.0.1:9/")], now=now, deadline=now + 60)
    (slow,) = await pipeline.store.claim(now=time.time(), limit=5, lease=0.2)
    assert await pipeline.store.claim(now=time.time(), limit=5, lease=0.2) == []      # leased
    await asyncio.sleep(0.3)
    (taker,) = await pipeline.store.claim(now=time.time(), limit=5, lease=5)           # lease ran out
    attempt = {"id": "x", "response_status_code": 500}
    entry = {"event_id": "e1"}
    assert await pipeline.store.record(taker, attempt, status="pending", next_at=time.time() + 1, entry=entry)
    assert not await pipeline.store.record(slow, attempt, status="delivered", next_at=None, entry=entry)
    (later,) = await pipeline.store.claim(now=time.time() + 2, limit=5, lease=5)
    assert isinstance(later, Delivery) and len(later.attempts) == 1


async def test_retries_stop_at_max_age(pipeline: Pipeline, receiver: Receiver) -> None:
    receiver.fail_first = 1000
    settings = pipeline.settings(receiver, "/h", first_retry=0.5, max_retry_delay=4, max_age=2)
    async with pipeline.running(settings) as sender:
        assert sender.max_attempts == 4            # at 0, 0.5, 1.5 and 2 s (the deadline)
        (event_id,) = await record(pipeline)

        async def settled() -> list[dict[str, Any]]:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                entries = await pipeline.store.recent(100)
                if entries and entries[0]["state"] == "failed":
                    return list(entries)
                await asyncio.sleep(0.1)
            raise AssertionError(await pipeline.store.recent(100))

        entries = await settled()
        seen = len(receiver.requests)
        await asyncio.sleep(1.5)
    assert len(receiver.requests) == seen and 3 <= seen <= 4
    assert [e["attempt"] for e in entries] == list(range(seen, 0, -1))
    assert all(e["event_id"] == event_id and e["status_code"] == 500 for e in entries)
    assert entries[0]["next_retry_at"] is None
    assert all(e["state"] == "retrying" and e["next_retry_at"] for e in entries[1:])
    last = receiver.requests[-1].event
    assert [a["response_status_code"] for a in last["attempts"]] == [500] * (seen - 1)
    assert await pipeline.store.pending() == 0


async def test_a_slow_endpoint_is_cut_at_the_timeout_and_does_not_hold_up_another(
        pipeline: Pipeline, receiver: Receiver) -> None:
    receiver.delays["/slow"] = 30
    settings = pipeline.settings(receiver, "/slow", "/fast", timeout=1)
    async with pipeline.running(settings):
        started = time.monotonic()
        ids = await record(pipeline, 8)
        await receiver.settle(lambda rs: {r.event["id"] for r in rs if r.path == "/fast"} == set(ids), 5,
                              "every event at /fast")
        fast = time.monotonic() - started

        entries: list[dict[str, Any]] = []
        for _ in range(50):
            if entries := [e for e in await pipeline.store.recent(100) if e["url"].endswith("/slow")]:
                break
            await asyncio.sleep(0.1)
    assert fast < 1.0, "the fast endpoint waited for the slow one"
    assert entries, "no attempt at /slow was recorded"
    assert entries[0]["status_code"] is None and entries[0]["error"] == "timed out after 1s"
    assert 900 <= entries[0]["duration_ms"] < 1800 and entries[0]["state"] == "retrying"
