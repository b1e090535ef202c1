"""``python -m workers [--config PATH]``: run a worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from saq import Queue, Worker
from saq.types import PartialTimersDict

from gateway.jobs import PROCESS_ASSET, queue_name
from gateway.logs import configure_logging
from gateway.settings import Settings, load_settings
from workers.jobs import RESOURCES, process_asset
from workers.resources import Resources

log = logging.getLogger("workers")


def build_worker(settings: Settings, resources: Resources) -> Worker[Any]:
    queue = Queue.from_url(settings.redis.url, name=queue_name(settings.redis.key_prefix))
    interval = settings.jobs.sweep_interval
    # saq sweeps once per `lock` seconds across all workers; tie it to our interval
    queue.sweep = functools.partial(queue.sweep, lock=max(int(interval), 1))  # type: ignore[method-assign]

    async def startup(ctx: dict[str, Any]) -> None:
        ctx[RESOURCES] = resources

    return Worker(queue, functions=[(PROCESS_ASSET, process_asset)], concurrency=settings.jobs.concurrency,
                  startup=startup,
                  timers=PartialTimersDict(schedule=1, worker_info=10, abort=1, sweep=max(int(interval), 1)),
                  shutdown_grace_period_s=10)


async def run(settings: Settings) -> None:
    resources = Resources.open(settings)
    worker = build_worker(settings, resources)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    task = asyncio.create_task(worker.start())
    log.info("worker.started", extra={"queue": worker.queue.name, "concurrency": settings.jobs.concurrency})
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    await worker.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await worker.queue.disconnect()
    await resources.close()
    log.info("worker.stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description="Probe-and-transcode worker")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML settings file (default: ./config.yaml if present)")
    args = parser.parse_args(argv)
    path = args.config
    if path is None and Path("config.yaml").exists():
        path = Path("config.yaml")
    try:
        settings = load_settings(path)
    except (OSError, ValueError) as exc:
        print(f"workers: cannot load settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log)
    asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
