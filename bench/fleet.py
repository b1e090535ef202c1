"""A fleet under load: 3 gateways and 2 workers on one Redis and SeaweedFS, N mixed uploads at once.

    .venv/bin/python bench/fleet.py --uploads 100 [--max-size 256MiB] [--cut 0.1] [--no-kill]

Uploads are tus in 1/4/16/64 MiB chunks, UpChunk-style PUTs (5/16/30 MiB) and whole-file PUTs, in turn,
with sizes log-uniform from 1 MiB to ``--max-size``; ``--cut`` of them have their connection cut mid-body
and resume on another gateway; one gateway is killed with -9 once 30% of the bytes are in, and restarted.
Every upload is a real MP4 padded with a stamped ``free`` box (``fleet_content``), so each becomes a
ready Asset. Then every stored object is read back from S3 and its sha256 compared with what was sent.

Prints: uploads completed and sha256 matches (aim: all), 5xx answers other than 503 (aim: none), p50/p99
latency of PATCH and of the small requests (create, HEAD / status check), aggregate MiB/s, peak RSS per
gateway, Redis commands per uploaded MiB, and the time from the last byte to the last asset ready.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import redis
from minio import Minio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleet_clients import Fleet, Job, Stats, plan  # noqa: E402
from bench.fleet_content import MiB, base_clip, shared_block  # noqa: E402
from bench.quick_bench import cpu_seconds, peak_rss_mib  # noqa: E402
from gateway.core.units import parse_size  # noqa: E402
from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, free_port, start_redis, start_seaweedfs, wait_for_port  # noqa: E402

TOKEN = "fleet-secret"
BUCKET = "fleet"


class Process:
    """One gateway or worker, restartable, with its peak RSS over every life."""

    def __init__(self, args: list[str], port: int | None, log: Path) -> None:
        self.args, self.port, self.log = args, port, log
        self.peak_mib = 0.0
        self.cpu_past = 0.0          # CPU seconds of earlier lives
        self.cpu_now = 0.0           # of this life, as last sampled
        self.proc = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log.open("ab"))
        if self.port:
            wait_for_port(self.port, proc=proc, timeout=30)
        return proc

    def sample(self) -> None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_mib = max(self.peak_mib, int(line.split()[1]) / 1024)
            self.cpu_now = cpu_seconds(self.proc.pid)
        except (OSError, ValueError):
            pass

    @property
    def cpu(self) -> float:
        return self.cpu_past + self.cpu_now

    def kill_and_restart(self, down: float) -> None:
        self.sample()
        self.cpu_past, self.cpu_now = self.cpu, 0.0
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        time.sleep(down)
        self.proc = self.start()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def config(tmp: Path, name: str, port: int, redis_url: str, s3: str) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "redis": {"url": redis_url, "key_prefix": "fleet"},
        "storage": {"backend": "s3", "spool_dir": str(tmp / f"spool-{name}"),
                    "s3": {"endpoint": s3, "access_key": S3_ACCESS_KEY, "secret_key": S3_SECRET_KEY,
                           "bucket": BUCKET, "region": "us-east-1"}},
        "auth": {"tokens": [{"id": "fleet", "secret": TOKEN}]},
        "jobs": {"sweep_interval": "5s"},
        "log": {"level": os.environ.get("FLEET_LOG", "INFO")},
    }))
    (tmp / f"spool-{name}").mkdir(exist_ok=True)
    return path


async def assets_settled(gateway: str, expected: int, stats: dict[str, Any]) -> None:
    """Poll the assets list until ``expected`` assets are ready or errored."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=auth) as session:
        while True:
            statuses: dict[str, int] = {}
            cursor = ""
            while True:
                async with session.get(f"{gateway}/video/v1/assets",
                                       params={"limit": "100", **({"cursor": cursor} if cursor else {})}) as resp:
                    body = await resp.json()
                for asset in body["data"]:
                    statuses[asset["status"]] = statuses.get(asset["status"], 0) + 1
                    if asset["status"] not in ("ready", "errored"):
                        stats.setdefault("waiting", set()).add(asset["id"])
                    else:
                        stats.setdefault("waiting", set()).discard(asset["id"])
                cursor = body.get("next_cursor") or ""
                if not cursor or not body["data"]:
                    break
            stats["assets"] = statuses
            if statuses.get("ready", 0) + statuses.get("errored", 0) >= expected:
                return
            if time.monotonic() - stats.setdefault("shown", time.monotonic()) > 10:
                stats["shown"] = time.monotonic()
                print(f"  assets: {statuses}", flush=True)
            await asyncio.sleep(0.5)


async def drive(jobs: list[Job], gateways: list[Process], urls: list[str], kill: bool) -> tuple[Stats, float]:
    stats = Stats()
    fleet = Fleet(urls, TOKEN, stats)
    total = sum(j.content.size for j in jobs)

    async def killer() -> None:
        while stats.acknowledged < 0.3 * total:  # noqa: ASYNC110 - a byte count, not an event
            await asyncio.sleep(0.2)
        print(f"  kill -9 gateway 1 at {stats.acknowledged / MiB:.0f} MiB in", flush=True)
        await asyncio.to_thread(gateways[1].kill_and_restart, 1.0)

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            print(f"  {time.monotonic() - began:4.0f} s: {sum(j.done for j in jobs)} done, "
                  f"{stats.acknowledged / MiB:.0f} / {total / MiB:.0f} MiB, statuses {dict(stats.statuses)}",
                  flush=True)

    began = time.monotonic()
    side = [asyncio.create_task(progress())] + ([asyncio.create_task(killer())] if kill else [])
    await asyncio.gather(*(fleet.run(job) for job in jobs))
    for task in side:
        task.cancel()
    await fleet.close()
    return stats, time.monotonic() - began


def verify(jobs: list[Job], endpoint: str) -> tuple[int, list[str]]:
    """sha256 of each stored object against the bytes sent; (matches, problems)."""
    client = Minio(endpoint.split("//", 1)[1], access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)

    def one(job: Job) -> str:
        if not job.done:
            return f"upload {job.index} ({job.kind}) not completed: {job.error}"
        digest = hashlib.sha256()
        resp = client.get_object(BUCKET, job.upload_id)
        try:
            for chunk in resp.stream(MiB):
                digest.update(chunk)
        finally:
            resp.close()
            resp.release_conn()
        return "" if digest.hexdigest() == job.content.sha256() else f"upload {job.index} ({job.kind}) differs"

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, jobs))
    return results.count(""), [r for r in results if r]


def redis_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [float("nan")])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--max-size", default="256MiB")
    parser.add_argument("--cut", type=float, default=0.1)
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle-timeout", type=float, default=900, help="seconds to wait for assets")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="upgw-fleet-"))
    # weed mini holds whole parts in memory: 300 uploads took it past 22 GB and the OOM killer (the
    # gateways answered 503 meanwhile). Bound what it takes in at once; past that it makes PUTs wait.
    redis_service, s3 = start_redis(), start_seaweedfs(
        ("-s3.concurrentUploadLimitMB=2048", "-filer.concurrentUploadLimitMB=2048", "-s3.readerCacheSizeMB=256"),
        {"GOMEMLIMIT": "6GiB"})
    procs: list[Process] = []
    try:
        gateways, urls = [], []
        for n in range(args.gateways):
            port = free_port()
            path = config(tmp, f"gateway{n}", port, redis_service.url, s3.endpoint)
            gateways.append(Process([sys.executable, "-m", "gateway", "--config", str(path)], port,
                                    tmp / f"gateway{n}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        workers = [Process([sys.executable, "-m", "workers", "--config", str(tmp / "gateway0.json")], None,
                           tmp / f"worker{n}.log") for n in range(args.workers)]
        procs = gateways + workers
        done = threading.Event()

        def sampler() -> None:
            while not done.wait(0.25):
                for p in procs:
                    p.sample()
        threading.Thread(target=sampler, daemon=True).start()

        jobs = plan(args.uploads, base_clip(tmp / "base.mp4"), shared_block(), parse_size(args.max_size),
                    args.cut, args.seed)
        total = sum(j.content.size for j in jobs)
        print(f"fleet: {args.gateways} gateways, {args.workers} workers, {args.uploads} uploads, "
              f"{total / MiB:.0f} MiB in all (logs in {tmp})", flush=True)
        r = redis.Redis.from_url(redis_service.url)
        ops_before = int(r.info("stats")["total_commands_processed"])
        cpu_before = {"redis": redis_cpu(r), "s3": cpu_seconds(s3.proc.pid)}
        stats, seconds = asyncio.run(drive(jobs, gateways, urls, not args.no_kill))
        ops = int(r.info("stats")["total_commands_processed"]) - ops_before
        for p in gateways:
            p.sample()
        s3_peak = peak_rss_mib(s3.proc.pid)
        cpu = {"gateways": sum(p.cpu for p in gateways), "redis": redis_cpu(r) - cpu_before["redis"],
               "s3": cpu_seconds(s3.proc.pid) - cpu_before["s3"], "fleet clients": time.process_time()}
        last_byte = time.monotonic()
        settled: dict[str, Any] = {}
        print(f"  all bytes in after {seconds:.0f} s; waiting for assets", flush=True)
        try:
            asyncio.run(asyncio.wait_for(assets_settled(urls[0], sum(j.done for j in jobs), settled),
                                         args.settle_timeout))
            to_ready = time.monotonic() - last_byte
        except TimeoutError:
            to_ready = float("nan")
        done.set()
        matches, problems = verify(jobs, s3.endpoint)
        volumes = len(list((s3.workdir / "data").rglob("*.dat")))
        cpu["workers"] = sum(p.cpu for p in workers)
    finally:
        for p in procs:
            p.stop()
        redis_service.stop()
        s3.stop()

    small = stats.latency["create"] + stats.latency["head"]
    five = sum(n for code, n in stats.statuses.items() if code >= 500 and code != 503)
    rows = [
        ("uploads completed", f"{sum(j.done for j in jobs)} / {len(jobs)}"),
        ("sha256 matches", f"{matches} / {len(jobs)}"),
        ("5xx other than 503", str(five)),
        ("503 answers (Retry-After)", str(stats.statuses.get(503, 0))),
        ("connections cut / failovers", f"{stats.cuts} of {sum(j.cut_planned for j in jobs)} planned"
                                        f" / {stats.failovers}"),
        ("PATCH latency p50 / p99", f"{pct(stats.latency['patch'], 50):.2f} / {pct(stats.latency['patch'], 99):.2f} s"),
        ("create+HEAD latency p50 / p99", f"{pct(small, 50) * 1000:.0f} / {pct(small, 99) * 1000:.0f} ms"),
        ("aggregate", f"{total / MiB / seconds:.1f} MiB/s over {seconds:.0f} s"),
        ("peak RSS per gateway", " / ".join(f"{g.peak_mib:.0f}" for g in gateways) + " MiB"),
        ("SeaweedFS volumes / peak RSS", f"{volumes} / {s3_peak:.0f} MiB"),
        ("CPU seconds while uploading", ", ".join(f"{k} {v:.0f}" for k, v in cpu.items() if k != "workers")),
        ("uploaded MiB per gateway CPU s", f"{total / MiB / cpu['gateways']:.0f}"),
        ("worker CPU s per asset", f"{cpu['workers'] / max(1, sum(j.done for j in jobs)):.2f}"),
        ("Redis commands per MiB", f"{ops / (total / MiB):.1f}"),
        ("last byte -> last asset ready", f"{to_ready:.1f} s ({settled.get('assets')})"),
    ]
    print(f"\nfleet, {args.uploads} uploads, 1 MiB - {args.max_size}, {args.cut:.0%} cut")
    for name, value in rows:
        print(f"  {name:<32}{value}")
    for problem in problems[:20] + stats.unexpected[:20]:
        print("  !", problem)
    print("  statuses:", dict(sorted(stats.statuses.items())))
    print("  moved to another gateway because:", dict(stats.reasons.most_common()))
    if settled.get("waiting"):
        print("  assets never settled:", " ".join(sorted(settled["waiting"])))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
