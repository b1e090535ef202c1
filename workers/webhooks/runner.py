"""Webhook delivery inside the worker process: the relay and the sender on their own Redis client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

from gateway import compose
from gateway.settings import Settings
from gateway.webhooks.store import DeliveryStore
from workers.webhooks.relay import Relay
from workers.webhooks.sender import Sender


class WebhookRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = compose.redis(settings.redis, socket_timeout=30)
        keys = compose.keys(settings)
        store = DeliveryStore(self.redis, keys)
        self.sender = Sender(settings.webhooks, store)
        consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.relay = Relay(self.redis, keys, store, settings.webhooks,
                           consumer=consumer, on_created=self.sender.wake.set)
        self._relay_task: asyncio.Task[None] | None = None
        self._sender_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._relay_task = asyncio.create_task(self.relay.run())
        self._sender_task = asyncio.create_task(self.sender.run())

    async def stop(self) -> None:
        """Stop reading events, let attempts in flight finish (bounded by the timeout), close."""
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._relay_task
        if self._sender_task is not None:
            self.sender.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._sender_task, self.settings.webhooks.timeout + 5)
        with contextlib.suppress(Exception):
            await self.redis.aclose()
