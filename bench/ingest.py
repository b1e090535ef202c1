"""Ingest latency on this machine, one run: time from the last byte acknowledged to ``ready``.

    .venv/bin/python bench/ingest.py [--seconds 130]

Two cells, each against the same work done bare in the same run:
- a standard 720p H.264/AAC clip of about 100 MB: last byte -> ready (probe + remux + store) against a
  bare ``ffprobe -show_streams -show_format`` + ``ffprobe -show_packets`` + ``ffmpeg -c copy``;
- a non-standard clip (4:2:2 video): last byte -> ready against the same ffmpeg command the worker
  runs (built by ``workers.media.commands.standardise_argv``), run bare.
The gateway, a worker and Redis run as real processes with the filesystem backend.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, start_redis, wait_for_port  # noqa: E402
from workers.media import analyse  # noqa: E402
from workers.media.commands import standardise_argv  # noqa: E402
from workers.media.source import Source  # noqa: E402

SECRET = "bench-secret"
AUTH = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
FF = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def make_clip(path: Path, seconds: int, pix_fmt: str, bitrate: str) -> None:
    subprocess.run([*FF, "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, "-g", "60",
                    "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-c:a", "aac", "-b:a", "128k",
                    str(path)], check=True)


def api(base: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(base + path, method=method, headers=AUTH,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def ingest(base: str, clip: Path) -> tuple[float, float]:
    """(last byte -> ready, first seen transcoding -> ready) in seconds."""
    upload = api(base, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    subprocess.run(["curl", "-sS", "--fail", "-T", str(clip), upload["url"]], check=True,
                   stdout=subprocess.DEVNULL)
    acknowledged = time.perf_counter()
    transcoding = None
    asset_id = None
    while True:
        # poll lightly (one request per 50 ms): the gateway shares the 2 cores with ffmpeg
        if asset_id is None:
            asset_id = api(base, "GET", f"/video/v1/uploads/{upload['id']}")["data"].get("asset_id")
        if asset_id:
            asset = api(base, "GET", f"/video/v1/assets/{asset_id}")["data"]
            if transcoding is None and asset.get("progress", {}).get("state") == "transcoding":
                transcoding = time.perf_counter()
            if asset["status"] in ("ready", "errored"):
                assert asset["status"] == "ready", asset
                now = time.perf_counter()
                return now - acknowledged, now - (transcoding or acknowledged)
        time.sleep(0.05)


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=130, help="length of the standard clip (~100 MB)")
    parser.add_argument("--transcode-seconds", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    standard, nonstandard = work / "standard.mp4", work / "yuv422.mp4"
    make_clip(standard, args.seconds, "yuv420p", "6M")
    make_clip(nonstandard, args.transcode_seconds, "yuv422p", "6M")
    redis = start_redis()
    port = free_port()
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "redis": {"url": redis.url, "key_prefix": "bench"},
        "storage": {"backend": "filesystem", "filesystem": {"root": str(work / "storage")},
                    "spool_dir": str(work)},
        "auth": {"tokens": [{"id": "bench", "secret": SECRET}]},
        "log": {"level": "WARNING", "format": "text"}}))
    procs = [subprocess.Popen([sys.executable, "-m", module, "--config", str(config)], cwd=ROOT)
             for module in ("gateway", "workers")]
    try:
        wait_for_port(port)
        time.sleep(1.0)
        base = f"http://127.0.0.1:{port}"
        size_mb = standard.stat().st_size / 1e6
        out = str(work / "bare.mp4")
        analysis = asyncio.run(analyse(str(nonstandard)))
        argv = standardise_argv(Source.parse(str(nonstandard)), str(work / "bare-std.mp4"), analysis)
        runs: dict[str, list[float]] = {"ready": [], "bare": [], "total": [], "transcode": [], "bare_t": []}
        for _ in range(args.repeat):   # interleaved, so drifts of the machine hit both sides alike
            runs["ready"].append(ingest(base, standard)[0])
            runs["bare"].append(
                timed(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(standard)])
                + timed(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                         "packet=pts_time,flags,size", "-of", "csv", str(standard)])
                + timed([*FF, "-i", str(standard), "-c", "copy", "-movflags", "+faststart", out]))
            total, transcode = ingest(base, nonstandard)
            runs["total"].append(total)
            runs["transcode"].append(transcode)
            runs["bare_t"].append(timed(argv))
        ready, bare, total, transcode, bare_transcode = (
            statistics.median(runs[k]) for k in ("ready", "bare", "total", "transcode", "bare_t"))
        print(f"medians of {args.repeat} interleaved runs")
        print(f"{'cell':<44}{'gateway+worker s':>18}{'bare s':>10}{'ratio':>8}  aim")
        print(f"{f'standard {size_mb:.0f} MB: last byte -> ready':<44}{ready:>18.2f}{bare:>10.2f}"
              f"{ready / bare:>8.2f}  <= 1.30 (bare = ffprobe x2 + remux)")
        print(f"{f'non-standard {args.transcode_seconds} s: transcoding -> ready':<44}{transcode:>18.2f}"
              f"{bare_transcode:>10.2f}{transcode / bare_transcode:>8.2f}  <= 1.05 (bare = the same ffmpeg argv)")
        print(f"{f'non-standard {args.transcode_seconds} s: last byte -> ready':<44}{total:>18.2f}"
              f"{bare_transcode:>10.2f}{total / bare_transcode:>8.2f}  (includes probe and store)")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        redis.stop()


if __name__ == "__main__":
    main()
