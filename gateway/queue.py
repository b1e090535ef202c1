"""The job queue between the gateway and the workers (saq on Redis; see docs/decisions.md).

The gateway only enqueues: one ``process_asset`` job per asset, keyed by the asset id, so a retried
completion never queues the same asset twice while its job is queued or running. (saq accepts the key
again once the job finished; the job then finds its asset done and returns, so a late duplicate costs
one Redis read.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable

from saq.queue.redis import RedisQueue

from gateway.settings import JobSettings
from gateway.state.keys import Keys

PROCESS_ASSET = "process_asset"


class JobQueue:
    def __init__(self, queue: RedisQueue, keys: Keys, settings: JobSettings) -> None:
        self.queue = queue
        self.settings = settings
        self.keys = keys

    async def connect(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        with contextlib.suppress(Exception):   # Redis may already be gone at shutdown
            await self.queue.disconnect()

    @property
    def pending(self) -> str:
        """zset asset id -> when it was queued; left only when the asset is ready, errored or gone."""
        return self.keys.pending_assets

    async def enqueue_asset(self, asset_id: str) -> None:
        await self.queue.redis.zadd(self.pending, {asset_id: time.time()}, nx=True)
        await self._enqueue(asset_id)

    async def settled(self, asset_id: str) -> None:
        await self.queue.redis.zrem(self.pending, asset_id)

    async def requeue_stale(self, older_than: float, still_pending: Callable[[str], Awaitable[bool]]) -> int:
        """The safety net under the queue: an asset still pending after ``older_than`` seconds is queued
        again. saq ignores the enqueue while the job is queued or running, so only jobs that were lost
        (a worker died at an unlucky moment, a gateway died before enqueueing) actually run again."""
        requeued = 0
        stale = await self.queue.redis.zrangebyscore(self.pending, "-inf", time.time() - older_than,
                                                     start=0, num=1000)
        for raw in stale:
            asset_id = raw.decode()
            if not await still_pending(asset_id):
                await self.settled(asset_id)
            elif await self._enqueue(asset_id):
                requeued += 1
        return requeued

    async def _enqueue(self, asset_id: str) -> bool:
        job = await self.queue.enqueue(
            PROCESS_ASSET, key=f"asset-{asset_id}", asset_id=asset_id,
            timeout=int(self.settings.timeout), heartbeat=int(self.settings.heartbeat),
            retries=self.settings.retries, retry_delay=self.settings.retry_delay, retry_backoff=True,
            ttl=int(self.settings.keep_result))
        return job is not None

    async def depth(self) -> int:
        return int(await self.queue.count("queued"))
