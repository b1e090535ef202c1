"""The sender: claims due deliveries, POSTs each signed envelope once, records the outcome.

Attempts run as their own tasks, at most ``concurrency`` at once in a process, each bounded by
``webhooks.timeout`` from connect to the last byte read, so a slow or dead endpoint only ever holds
its own slots; uploads and transcodes never wait on it (they do not share a queue, task or connection).
A 2xx settles the delivery; anything else (another status, a timeout, a refused connection) schedules
the next attempt (see schedule.py) or, past the deadline, gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.catalog.events import iso_now
from gateway.settings import WebhookSettings
from gateway.webhooks.envelope import body, envelope
from gateway.webhooks.store import DELIVERED, FAILED, PENDING, Delivery, DeliveryStore
from workers.webhooks.schedule import Schedule
from workers.webhooks.signature import HEADER, sign

log = logging.getLogger("gateway.webhooks")

BODY_LIMIT = 1024        # bytes of the receiver's answer kept in the attempt
POLL = 0.25              # seconds between looks at the schedule when nothing wakes the sender
USER_AGENT = "upload-gateway-webhooks/0.1"


@dataclass
class Outcome:
    status_code: int | None = None
    headers: dict[str, str] | None = None
    body: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    def __init__(self, settings: WebhookSettings, store: DeliveryStore, *, concurrency: int = 16) -> None:
        self.settings = settings
        self.store = store
        self.concurrency = concurrency
        self.schedule = Schedule.of(settings)
        self.max_attempts = self.schedule.max_attempts()
        self.lease = settings.timeout + 5.0
        self.environment = {"name": settings.environment_name, "id": settings.environment_id}
        self.wake = asyncio.Event()
        self._stopping = False
        self._inflight: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self._stopping = True
        self.wake.set()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            try:
                await self._loop(session)
            finally:
                await self._drain()

    async def _loop(self, session: aiohttp.ClientSession) -> None:
        while not self._stopping:
            self.wake.clear()
            free = self.concurrency - len(self._inflight)
            claimed: list[Delivery] = []
            if free > 0:
                try:
                    claimed = await self.store.claim(now=time.time(), limit=free, lease=self.lease)
                except Exception:
                    log.exception("webhooks.claim_failed")
                    await asyncio.sleep(1)
                    continue
            for delivery in claimed:
                task = asyncio.create_task(self._attempt(session, delivery))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            if free > 0 and len(claimed) == free:
                continue        # a full batch: there may be more due right now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL):
                    await self.wake.wait()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self.wake.set()

    async def _drain(self) -> None:
        """Let attempts in flight finish (they are bounded by the timeout), then cancel the rest."""
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=self.settings.timeout + 1)
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.wait(set(self._inflight), timeout=2)

    def _secret(self, delivery: Delivery) -> str | None:
        endpoints = self.settings.endpoints
        if 0 < delivery.webhook_id <= len(endpoints) and endpoints[delivery.webhook_id - 1].url == delivery.url:
            return endpoints[delivery.webhook_id - 1].secret.get_secret_value()
        for endpoint in endpoints:
            if endpoint.url == delivery.url:
                return endpoint.secret.get_secret_value()
        return None

    async def _attempt(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        started_at, started = time.time(), time.monotonic()
        try:
            secret = self._secret(delivery)
            if secret is None:
                outcome = Outcome(error="the endpoint is no longer configured")
            else:
                outcome = await self._post(session, delivery, secret)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.store.release(delivery, time.time())
            raise
        try:
            await self._record(delivery, outcome, started_at, int((time.monotonic() - started) * 1000),
                               final=secret is None)
        except Exception:
            log.exception("webhooks.record_failed", extra={"delivery_id": delivery.id})

    async def _post(self, session: aiohttp.ClientSession, delivery: Delivery, secret: str) -> Outcome:
        payload = body(envelope(delivery.event, environment=self.environment, attempts=delivery.attempts))
        headers = {"Content-Type": "application/json", HEADER: sign(secret, payload), "User-Agent": USER_AGENT}
        outcome = Outcome()
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with session.post(delivery.url, data=payload, headers=headers,
                                        allow_redirects=False) as response:
                    outcome.status_code = response.status
                    outcome.headers = {k: v for k, v in response.headers.items()}
                    kept = bytearray()
                    while len(kept) < BODY_LIMIT and (chunk := await response.content.read(BODY_LIMIT - len(kept))):
                        kept += chunk
                    outcome.body = kept.decode(errors="replace")
        except TimeoutError:
            outcome.error = f"timed out after {self.settings.timeout:g}s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            outcome.error = f"{exc.__class__.__name__}: {exc}"[:300]
        if outcome.status_code is not None and not outcome.ok and outcome.error is None:
            outcome.error = f"HTTP {outcome.status_code}"
        return outcome

    async def _record(self, delivery: Delivery, outcome: Outcome, started_at: float, duration_ms: int,
                      *, final: bool) -> None:
        number = len(delivery.attempts) + 1
        next_at = None if outcome.ok or final else self.schedule.next_at(number, time.time(), delivery.deadline)
        status = DELIVERED if outcome.ok else PENDING if next_at is not None else FAILED
        attempt: dict[str, Any] = {
            "id": str(uuid.uuid4()), "address": delivery.url, "created_at": iso_now(started_at),
            "max_attempts": self.max_attempts, "response_body": outcome.body,
            "response_headers": outcome.headers or {}, "response_status_code": outcome.status_code,
            "webhook_id": delivery.webhook_id,
        }
        entry: dict[str, Any] = {
            "id": attempt["id"], "delivery_id": delivery.id, "event_id": delivery.event.id,
            "type": delivery.event.type, "object": {"type": delivery.event.object_type,
                                                    "id": delivery.event.object_id},
            "url": delivery.url, "webhook_id": delivery.webhook_id, "attempt": number,
            "status_code": outcome.status_code, "error": outcome.error, "duration_ms": duration_ms,
            "created_at": attempt["created_at"],
            "state": {DELIVERED: "delivered", PENDING: "retrying", FAILED: "failed"}[status],
            "next_retry_at": None if next_at is None else iso_now(next_at),
        }
        recorded = await self.store.record(delivery, attempt, status=status, next_at=next_at, entry=entry)
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(level, "webhooks.attempt", extra={
            "delivery_id": delivery.id, "event_type": delivery.event.type, "url": delivery.url,
            "attempt": number, "status_code": outcome.status_code, "error": outcome.error,
            "duration_ms": duration_ms, "state": entry["state"], "recorded": recorded})
