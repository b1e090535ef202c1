"""The job queue between the gateway and the workers (saq on Redis; see docs/decisions.md).

The gateway only enqueues: one ``process_asset`` job per asset, keyed by the asset id, so a retried
completion never queues the same asset twice while its job is queued, running or remembered.
"""

from __future__ import annotations

import contextlib

from saq import Queue

from gateway.settings import JobSettings

PROCESS_ASSET = "process_asset"


def queue_name(prefix: str) -> str:
    return f"{prefix}-assets"


class JobQueue:
    def __init__(self, redis_url: str, prefix: str, settings: JobSettings) -> None:
        self.queue = Queue.from_url(redis_url, name=queue_name(prefix))
        self.settings = settings

    async def connect(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        with contextlib.suppress(Exception):   # Redis may already be gone at shutdown
            await self.queue.disconnect()

    async def enqueue_asset(self, asset_id: str) -> None:
        await self.queue.enqueue(
            PROCESS_ASSET, key=f"asset-{asset_id}", asset_id=asset_id,
            timeout=int(self.settings.timeout), heartbeat=int(self.settings.heartbeat),
            retries=self.settings.retries, retry_delay=self.settings.retry_delay, retry_backoff=True,
            ttl=int(self.settings.keep_result))

    async def depth(self) -> int:
        return int(await self.queue.count("queued"))
