"""``python -m workers [--config PATH]``: run a worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from saq import Worker
from saq.types import PartialTimersDict

from gateway import compose
from gateway.catalog.models import AssetStatus
from gateway.logs import configure_logging
from gateway.queue import PROCESS_ASSET, JobQueue
from gateway.settings import Settings, settings_for_command
from workers import packaging
from workers.jobs import JOBS, RESOURCES, process_asset
from workers.resources import Resources
from workers.webhooks.runner import WebhookRunner

log = logging.getLogger("workers")
SHUTDOWN_LIMIT_S = 12


def build_worker(settings: Settings, resources: Resources, jobs: JobQueue) -> Worker[Any]:
    queue = jobs.queue
    interval = max(int(settings.jobs.sweep_interval), 1)
    original_sweep, started = queue.sweep, time.monotonic()

    async def sweep(lock: int = 60, abort: float = 5.0) -> list[str]:
        # saq's sweep treats a job that a worker has just moved to "active" but not yet marked as such
        # as stuck; at start-up the first sweep and the first dequeue race, so skip the first round.
        if time.monotonic() - started < interval:
            return []
        return await original_sweep(lock=lock, abort=abort)

    queue.sweep = sweep  # type: ignore[method-assign]

    async def startup(ctx: dict[str, Any]) -> None:
        ctx[RESOURCES] = resources
        ctx[JOBS] = jobs

    return Worker(queue, functions=[(PROCESS_ASSET, process_asset)], concurrency=settings.jobs.concurrency,
                  startup=startup,
                  timers=PartialTimersDict(schedule=1, worker_info=10, abort=1, sweep=interval),
                  shutdown_grace_period_s=None)


async def requeue_lost_jobs(settings: Settings, resources: Resources, jobs: JobQueue) -> None:
    """Every few sweeps, queue again any asset whose job was lost (see JobQueue.requeue_stale)."""
    async def still_pending(asset_id: str) -> bool:
        asset = await resources.assets.get(asset_id)
        return asset is not None and (asset.status is AssetStatus.PREPARING or packaging.unfinished(asset))

    grace = settings.jobs.heartbeat * 2 + settings.jobs.sweep_interval * 2 + 10
    while True:
        await asyncio.sleep(settings.jobs.sweep_interval * 5)
        try:
            if requeued := await jobs.requeue_stale(grace, still_pending):
                log.warning("jobs.requeued", extra={"count": requeued})
        except Exception:
            log.exception("jobs.requeue_failed")


async def run(settings: Settings) -> None:
    resources = Resources.open(settings)
    jobs = compose.jobs(settings, resources.keys)
    await jobs.connect()
    worker = build_worker(settings, resources, jobs)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.start())
    reaper = asyncio.create_task(requeue_lost_jobs(settings, resources, jobs))
    webhooks = WebhookRunner(settings)
    await webhooks.start()
    log.info("worker.started", extra={"queue": worker.queue.name, "concurrency": settings.jobs.concurrency})
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    reaper.cancel()
    try:
        # a job in flight is cancelled (its ffmpeg killed) and retried elsewhere; never hang on exit
        async with asyncio.timeout(SHUTDOWN_LIMIT_S):
            await webhooks.stop()
            await worker.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await jobs.close()
            await resources.close()
    except TimeoutError:
        log.warning("worker.shutdown_timed_out", extra={"limit_s": SHUTDOWN_LIMIT_S})
    log.info("worker.stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description="Probe-and-transcode worker")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML settings file (default: ./config.yaml if present)")
    args = parser.parse_args(argv)
    settings = settings_for_command(args.config, "workers")
    if settings is None:
        return 2
    configure_logging(settings.log)
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
