"""The job queue's safety net: an asset whose job was lost is queued again; a live job is left alone."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.app import JOBS


async def test_requeue_stale_recovers_lost_jobs_only(client: TestClient[Any, Any]) -> None:
    jobs = client.app[JOBS]
    await jobs.enqueue_asset("lost")
    await jobs.enqueue_asset("alive")
    await jobs.enqueue_asset("finished")
    # "lost": its job vanished (a worker died mid-abort); "finished": its asset is no longer preparing
    lost = await jobs.queue.job("asset-lost")
    assert lost is not None
    await jobs.queue.redis.delete(lost.id)
    await jobs.queue.redis.lrem(jobs.queue.namespace("queued"), 0, lost.id)
    await jobs.queue.redis.zrem(jobs.queue.namespace("incomplete"), lost.id)
    assert await jobs.queue.job("asset-lost") is None

    async def still_pending(asset_id: str) -> bool:
        return asset_id != "finished"

    assert await jobs.requeue_stale(60, still_pending) == 0          # nothing is stale yet
    requeued = await jobs.requeue_stale(-1, still_pending)
    assert requeued == 1                                             # "alive" is still queued: left alone
    assert await jobs.queue.job("asset-lost") is not None
    pending = {m.decode() for m in await jobs.queue.redis.zrange(jobs.pending, 0, -1)}
    assert pending == {"lost", "alive"}
    assert await jobs.depth() == 3   # (the settled asset's queued job finds its asset done and returns)
