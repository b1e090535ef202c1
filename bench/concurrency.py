"""Memory with many uploads at once, and HEAD latency as the number of stored uploads grows.

    .venv/bin/python bench/concurrency.py [--uploads 100] [--each 8MiB] [--backend filesystem]

Starts the gateway, streams ``--uploads`` PATCHes at once (aiohttp client, 1 MiB pieces), reports the
gateway's peak RSS (aim: < 250 MiB for 100), then p50/p99 HEAD latency with 10, 1,000 and 10,000
uploads stored (aim: flat).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quick_bench import SECRET, gateway, peak_rss_mib  # noqa: E402
from tests.servers import start_redis, start_seaweedfs  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0"}
AUTH = {"Authorization": f"Bearer {SECRET}"}
MiB = 1024 * 1024


async def create(session: aiohttp.ClientSession, endpoint: str, length: int) -> str:
    async with session.post(endpoint, headers={**TUS, **AUTH, "Upload-Length": str(length)}) as resp:
        assert resp.status == 201, resp.status
        return resp.headers["Location"]


async def stream(size: int) -> AsyncIterator[bytes]:
    block = os.urandom(MiB)
    for i in range(0, size, MiB):
        yield block[: min(MiB, size - i)]
        await asyncio.sleep(0)


async def upload(session: aiohttp.ClientSession, endpoint: str, size: int) -> None:
    url = await create(session, endpoint, size)
    headers = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream",
               "Content-Length": str(size)}
    async with session.patch(url, data=stream(size), headers=headers) as resp:
        assert resp.status == 204, resp.status


async def head_latency(session: aiohttp.ClientSession, url: str, n: int = 300) -> tuple[float, float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        async with session.head(url, headers=TUS) as resp:
            assert resp.status == 200
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


async def run(endpoint: str, pid: int, uploads: int, each: int) -> dict[str, object]:
    result: dict[str, object] = {}
    timeout = aiohttp.ClientTimeout(total=120, sock_read=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(upload(session, endpoint, each) for _ in range(uploads)))
        elapsed = time.perf_counter() - started
        result["concurrent"] = {"uploads": uploads, "MiB_each": each / MiB, "seconds": round(elapsed, 2),
                                "MiB_per_s": round(uploads * each / MiB / elapsed), "peak_rss_MiB": peak_rss_mib(pid)}
        print("concurrent uploads done", result["concurrent"], file=sys.stderr, flush=True)
        probe = await create(session, endpoint, 10)
        stored = uploads + 1
        for target in (10, 1_000, 10_000):
            while stored < target:
                batch = min(200, target - stored)
                await asyncio.gather(*(create(session, endpoint, 10) for _ in range(batch)))
                stored += batch
            print(f"stored {stored} uploads; timing HEAD", file=sys.stderr, flush=True)
            p50, p99 = await head_latency(session, probe)
            result[f"head_ms_with_{max(target, stored)}_uploads"] = {"p50": round(p50, 2), "p99": round(p99, 2)}
    return result


def main() -> None:
    from gateway.core.units import parse_size

    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--each", default="8MiB")
    parser.add_argument("--backend", default="filesystem", choices=["filesystem", "s3"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="upgw-conc-"))
    redis, s3 = start_redis(), start_seaweedfs() if args.backend == "s3" else None
    proc, endpoint = gateway(tmp, redis.url, args.backend, s3.endpoint if s3 else "http://127.0.0.1:9")
    try:
        result = asyncio.run(run(endpoint, proc.pid, args.uploads, parse_size(args.each)))
    finally:
        proc.terminate()
        proc.wait(30)
        redis.stop()
        if s3:
            s3.stop()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
