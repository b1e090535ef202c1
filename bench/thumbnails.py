"""Thumbnail latency on this machine, one run: a 320 px JPEG thumbnail of a 1080p H.264 clip.

    .venv/bin/python bench/thumbnails.py [--seconds 10] [--requests 40]

- **uncached**: ``GET /image/<id>/thumbnail.jpg?width=320&time=<t>``, every ``t`` distinct (each one an
  ffmpeg run in the gateway's render pool, then stored), against the bare command run for the same ``t``,
  interleaved: ``ffmpeg -ss t -i master -frames:v 1 -vf scale=320:-2 out.jpg``. Aim: p50 under 150 ms.
- **cached**: the same URLs again (served from storage, no ffmpeg). Aim: p50 under 10 ms.
- **throughput**: ``--parallel`` clients ask for further distinct (uncached) times at once; prints
  thumbnails per second and per CPU second of the gateway and its ffmpeg children (the capacity model's
  "thumbnails per core"; the render pool, ``playback.render_concurrency``, bounds what runs at once).

A real ``python -m gateway`` (filesystem backend) and Redis; the asset is written READY straight into the
catalog and storage (no worker), its master the generated clip. One keep-alive connection, requests one
after the other. The machine has 2 cores and a noisy disk: treat single figures as +-30%.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.quick_bench import cpu_seconds  # noqa: E402
from gateway import compose  # noqa: E402
from gateway.catalog.assets import AssetStore, new_asset  # noqa: E402
from gateway.catalog.masters import MASTER, object_name  # noqa: E402
from gateway.catalog.models import AssetStatus, Progress, ProgressState, Rung, RungStatus, Track  # noqa: E402
from gateway.catalog.records import new_id  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from tests.servers import free_port, start_redis, wait_for_port  # noqa: E402

FF = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run([*FF, "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60",
                    "-b:v", "6M", "-maxrate", "6M", "-bufsize", "6M", "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", str(path)], check=True)


async def seed(config: Path, clip: Path, seconds: float) -> str:
    """A READY asset whose master is ``clip``; its public playback id."""
    settings = load_settings(config)
    redis = compose.redis(settings.redis)
    storage = compose.storage(settings)
    assets = AssetStore(redis, compose.keys(settings))
    asset_id = new_id(24)
    created = replace(new_asset(asset_id, {"playback_policies": ["public"]}, source=asset_id),
                      hls=(Rung(name="1080p", status=RungStatus.PREPARING),))
    await assets.create(created)
    await storage.put_object(object_name(asset_id, MASTER), str(clip))
    video = Track(type="video", id="v0", duration=seconds, max_width=1920, max_height=1080, max_frame_rate=30.0)
    await assets.write(created, replace(
        created, status=AssetStatus.READY, duration=seconds, tracks=(video,),
        progress=Progress(ProgressState.COMPLETED, 100),
        hls=(Rung(name="1080p", status=RungStatus.READY, width=1920, height=1080, frame_rate=30.0),)))
    await storage.close()
    await redis.aclose()
    assert created.playback_ids
    return created.playback_ids[0].id


def get(conn: http.client.HTTPConnection, path: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    elapsed = time.perf_counter() - started
    assert resp.status == 200 and body[:2] == b"\xff\xd8", (resp.status, body[:200])
    return elapsed


def bare(clip: Path, at: float, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*FF, "-ss", f"{at:.3f}", "-i", str(clip), "-frames:v", "1", "-vf", "scale=320:-2", str(out)],
                   check=True)
    return time.perf_counter() - started


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return statistics.median(values) * 1000, cuts[18] * 1000


def throughput(port: int, playback_id: str, args: argparse.Namespace, pid: int) -> tuple[float, float]:
    """Distinct uncached thumbnails from ``--parallel`` clients at once: (per second, per CPU second)."""
    count = args.requests * 2
    times = [round(0.13 + n * (args.seconds - 0.4) / count, 3) for n in range(count)]   # none asked before
    local = threading.local()

    def one(at: float) -> None:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        get(local.conn, f"/image/{playback_id}/thumbnail.jpg?width=320&time={at}")

    cpu, began = cpu_seconds(pid), time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(one, times))
    elapsed, used = time.perf_counter() - began, cpu_seconds(pid) - cpu
    return count / elapsed, count / used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="length of the 1080p clip")
    parser.add_argument("--requests", type=int, default=40, help="distinct thumbnail times")
    parser.add_argument("--parallel", type=int, default=8, help="clients at once in the throughput part")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="thumbnails-bench-"))
    clip = work / "master.mp4"
    make_clip(clip, args.seconds)
    redis = start_redis()
    port = free_port()
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "redis": {"url": redis.url, "key_prefix": "bench"},
        "storage": {"backend": "filesystem", "filesystem": {"root": str(work / "storage")}, "spool_dir": str(work)},
        "log": {"level": "WARNING", "format": "text"}}))
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config)], cwd=ROOT)
    try:
        wait_for_port(port)
        playback_id = asyncio.run(seed(config, clip, float(args.seconds)))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        get(conn, f"/image/{playback_id}/thumbnail.jpg?width=320&time=0")   # warm: connection, first render
        times = [round(0.1 + n * (args.seconds - 0.3) / args.requests, 3) for n in range(args.requests)]
        paths = [f"/image/{playback_id}/thumbnail.jpg?width=320&time={t}" for t in times]
        uncached, bare_runs = [], []
        for at, path in zip(times, paths, strict=True):   # interleaved: drifts of the machine hit both alike
            uncached.append(get(conn, path))
            bare_runs.append(bare(clip, at, work / "bare.jpg"))
        cached = [get(conn, path) for path in paths * 3]
        print(f"{'320 px thumbnail of 1080p H.264, ' + str(args.requests) + ' distinct times':<52}"
              f"{'p50 ms':>9}{'p95 ms':>9}  aim")
        for name, values, aim in (("gateway, uncached (render + store)", uncached, "p50 < 150"),
                                  ("bare ffmpeg -ss t -i master -vf scale=320:-2", bare_runs, ""),
                                  ("gateway, cached (from storage)", cached, "p50 < 10")):
            p50, p95 = quantiles(values)
            print(f"{name:<52}{p50:>9.1f}{p95:>9.1f}  {aim}")
        per_second, per_cpu = throughput(port, playback_id, args, gateway.pid)
        print(f"{'throughput, ' + str(args.parallel) + ' clients, uncached':<52}"
              f"{per_second:>9.1f}/s {per_cpu:.1f} per CPU s (gateway + ffmpeg)")
    finally:
        gateway.terminate()
        gateway.wait(30)
        redis.stop()


if __name__ == "__main__":
    main()
