"""URL ingest against a bare ``curl -o`` of the same file from the same local server, one run.

    .venv/bin/python bench/url_ingest.py --size 1GiB [--runs 3] [--backend filesystem|s3]

A local aiohttp server (Range support, loopback, allow-listed) serves one random file. Cells, interleaved
so that a noisy disk hits each alike: ``curl -o <file>`` (the ceiling: one GET straight to disk) and
``curl -o`` then ``fsync`` (as durable as the import, which fdatasyncs), and
``gateway.ingest.import_url`` into a fresh upload of the gateway's storage (ranged GETs through the
SSRF guard, committed as an upload's bytes are). Prints median MiB/s and the import as a share of curl
(aim: 85% or more).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway import compose  # noqa: E402
from gateway.core.units import parse_size  # noqa: E402
from gateway.ingest import import_url  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.servers import (  # noqa: E402
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    free_port,
    start_redis,
    start_seaweedfs,
    wait_for_port,
)

MiB = 1024 * 1024
SOURCE_SERVER = """
import sys
from aiohttp import web
app = web.Application()
app.router.add_get("/source.bin", lambda request: web.FileResponse(sys.argv[1]))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), print=None, access_log=None)
"""


def _fsync(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


async def run(size: int, runs: int, backend: str) -> dict[str, list[float]]:
    redis_service = start_redis()
    s3 = start_seaweedfs() if backend == "s3" else None
    seconds: dict[str, list[float]] = {"curl -o": [], "curl -o + fsync": [], "import_url": []}
    with tempfile.TemporaryDirectory(prefix="url-ingest-bench-") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "source.bin"
        with source.open("wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        port = free_port()   # the source server runs in a process of its own, as a real source would
        server = subprocess.Popen([sys.executable, "-c", SOURCE_SERVER, str(source), str(port)])  # noqa: ASYNC220
        wait_for_port(port, proc=server)
        url = f"http://127.0.0.1:{port}/source.bin"
        settings = Settings(**{
            "redis": {"url": redis_service.url, "key_prefix": "bench"},
            "storage": {"backend": backend, "filesystem": {"root": str(tmp / "storage")}, "spool_dir": str(tmp),
                        "s3": {"endpoint": s3.endpoint if s3 else "", "access_key": S3_ACCESS_KEY,
                               "secret_key": S3_SECRET_KEY, "bucket": "bench", "region": "us-east-1"}},
            "uploads": {"max_size": "2TiB"},
            "ingest": {"allow_hosts": [f"127.0.0.1:{port}"]},
        })
        keys = compose.keys(settings)
        redis = compose.redis(settings.redis)
        storage = compose.storage(settings)
        await storage.prepare()
        service = compose.service(settings, redis, storage, keys)
        try:
            for _ in range(runs):
                target = tmp / "curl.bin"
                started = time.perf_counter()
                await asyncio.to_thread(subprocess.run, ["curl", "-sf", "-o", str(target), url], check=True)
                seconds["curl -o"].append(time.perf_counter() - started)
                target.unlink()
                started = time.perf_counter()   # the same, durable as the import is (it fdatasyncs)
                await asyncio.to_thread(subprocess.run, ["curl", "-sf", "-o", str(target), url], check=True)
                await asyncio.to_thread(_fsync, target)
                seconds["curl -o + fsync"].append(time.perf_counter() - started)
                target.unlink()
                upload = await service.create(length=None)
                started = time.perf_counter()
                done = await import_url(service, upload.id, url, settings=settings.ingest)
                seconds["import_url"].append(time.perf_counter() - started)
                assert done.complete and done.length == size
                await service.terminate(upload.id)
        finally:
            await storage.close()
            await redis.aclose()
            server.terminate()
            server.wait(10)
            if s3 is not None:
                s3.stop()
            redis_service.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1GiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=("filesystem", "s3"), default="filesystem")
    args = parser.parse_args()
    size = parse_size(args.size) // MiB * MiB
    seconds = asyncio.run(run(size, args.runs, args.backend))
    rates = {cell: size / MiB / statistics.median(times) for cell, times in seconds.items()}
    print(f"{size / MiB:.0f} MiB, {args.backend}, median of {args.runs} interleaved runs (MiB/s):")
    for cell, rate in rates.items():
        print(f"  {cell:<12} {rate:8.1f}")
    print(f"  import_url / curl -o: {rates['import_url'] / rates['curl -o']:.1%}, "
          f"/ curl -o + fsync: {rates['import_url'] / rates['curl -o + fsync']:.1%}")


if __name__ == "__main__":
    main()
