"""Playback on this machine, one run, every cell against the same work done bare in the same run:

    .venv/bin/python bench/playback.py [--seconds 20] [--ladder-seconds 20] [--readers 100] [--repeat 3]

- **standard 1080p H.264/AAC**: last byte acknowledged -> the multivariant ``.m3u8`` answers 200 (the
  asset plays), against a bare ``ffmpeg -c copy -f hls`` (fMP4) of the same file. Aim: at most 1.3x.
- **full ladder** (4:2:2 1080p, made standard first): the time from ``ready`` (the top rung plays) to
  every rung listed in the multivariant playlist, printed for reference; the ladder's own ffmpeg run
  against the same argv run bare is measured by ``tests/media/test_hls.py``'s helpers (1.02-1.04x here).
- **segment serving**: ``--readers`` concurrent clients fetch every segment of every rung, round after
  round, for ``--serve-seconds``, from the gateway (``/stream/<id>/<rung>/<file>``) and from a bare
  aiohttp static-file server (``web.static``) over the same files. Aim: at least 85%; the gateway's peak
  RSS under 250 MiB.

The gateway, a worker and Redis run as real processes with the filesystem backend. The machine has 2
cores and a noisy disk: treat single figures as +-30%.
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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import free_port, start_redis, wait_for_port  # noqa: E402

SECRET = "bench-secret"
AUTH = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
FF = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
MiB = 1024 * 1024


def make_clip(path: Path, seconds: int, pix_fmt: str, size: str = "1920x1080") -> None:
    subprocess.run([*FF, "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pix_fmt, "-g", "60",
                    "-b:v", "6M", "-maxrate", "6M", "-bufsize", "6M", "-c:a", "aac", "-b:a", "128k",
                    str(path)], check=True)


def api(base: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(base + path, method=method, headers=AUTH,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def variants(body: bytes) -> list[str]:
    lines = body.decode().splitlines()
    return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line.startswith("#EXT-X-STREAM-INF")]


def upload(base: str, clip: Path) -> tuple[str, str, float]:
    """(asset id, playback id, when the last byte was acknowledged)."""
    created = api(base, "POST", "/video/v1/uploads",
                  {"cors_origin": "*", "new_asset_settings": {"playback_policies": ["public"]}})["data"]
    subprocess.run(["curl", "-sS", "--fail", "-T", str(clip), created["url"]], check=True, stdout=subprocess.DEVNULL)
    acknowledged = time.perf_counter()
    while not (asset_id := api(base, "GET", f"/video/v1/uploads/{created['id']}")["data"].get("asset_id")):
        time.sleep(0.02)
    asset = api(base, "GET", f"/video/v1/assets/{asset_id}")["data"]
    return asset_id, asset["playback_ids"][0]["id"], acknowledged


def until_playable(base: str, clip: Path) -> float:
    """Last byte -> the multivariant playlist answers 200 with a rung whose playlist answers too."""
    _, playback_id, acknowledged = upload(base, clip)
    while True:
        status, body = get(f"{base}/stream/{playback_id}.m3u8")
        if status == 200 and variants(body):
            return time.perf_counter() - acknowledged
        time.sleep(0.02)   # poll lightly: the gateway shares the 2 cores with ffmpeg


def until_ladder(base: str, clip: Path, rungs: int) -> tuple[float, str]:
    """First seen transcoding -> ``rungs`` variants listed; and the playback id."""
    asset_id, playback_id, acknowledged = upload(base, clip)
    transcoding = None
    while True:
        if transcoding is None:
            asset = api(base, "GET", f"/video/v1/assets/{asset_id}")["data"]
            if asset.get("progress", {}).get("state") == "transcoding":
                transcoding = time.perf_counter()
        status, body = get(f"{base}/stream/{playback_id}.m3u8")
        if status == 200 and len(variants(body)) >= rungs:
            return time.perf_counter() - (transcoding or acknowledged), playback_id
        time.sleep(0.05)


async def readers(urls: list[str], count: int, seconds: float) -> float:
    """MiB/s of ``count`` clients fetching ``urls`` round after round for ``seconds``."""
    total = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(offset: int) -> None:
            nonlocal total
            i = offset
            while time.perf_counter() < deadline:
                async with session.get(urls[i % len(urls)]) as resp:
                    assert resp.status == 200, (resp.status, resp.url)
                    async for chunk in resp.content.iter_chunked(256 * 1024):
                        total += len(chunk)
                i += 1

        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return total / MiB / (time.perf_counter() - started)


async def bare_static(root: Path, port: int) -> web.AppRunner:
    app = web.Application()
    app.router.add_static("/", root)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def segment_urls(base: str, playback_id: str) -> tuple[list[str], list[str]]:
    """Every init and media segment of every rung: (gateway URLs, paths relative to the asset's hls dir)."""
    urls, paths = [], []
    _, body = get(f"{base}/stream/{playback_id}.m3u8")
    for variant in variants(body):
        rung = variant.split("/")[1]
        _, playlist = get(f"{base}/stream/{variant}")
        for line in playlist.decode().splitlines():
            name = line.split('URI="')[1].split('"')[0] if line.startswith("#EXT-X-MAP") else line
            if name and not name.startswith("#"):
                name = name.split("?")[0]
                urls.append(f"{base}/stream/{playback_id}/{rung}/{name}")
                paths.append(f"{rung}/{name}")
    return urls, paths


def serving(base: str, gateway_pid: int, playback_id: str, hls_root: Path, count: int,
            seconds: float) -> tuple[float, float, float]:
    """(gateway MiB/s, bare static MiB/s, gateway peak RSS MiB)."""
    urls, paths = segment_urls(base, playback_id)
    port = free_port()

    async def run() -> tuple[float, float]:
        runner = await bare_static(hls_root, port)
        try:
            bare_urls = [f"http://127.0.0.1:{port}/{p}" for p in paths]
            ours = await readers(urls, count, seconds)
            bare = await readers(bare_urls, count, seconds)
            return ours, bare
        finally:
            await runner.cleanup()

    ours, bare = asyncio.run(run())
    return ours, bare, peak_rss_mib(gateway_pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="length of the standard 1080p clip")
    parser.add_argument("--ladder-seconds", type=int, default=20, help="length of the non-standard clip")
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--serve-seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="playback-bench-"))
    standard, nonstandard = work / "standard.mp4", work / "yuv422.mp4"
    make_clip(standard, args.seconds, "yuv420p")
    make_clip(nonstandard, args.ladder_seconds, "yuv422p")
    redis = start_redis()
    port = free_port()
    storage = work / "storage"
    config = work / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "redis": {"url": redis.url, "key_prefix": "bench"},
        "storage": {"backend": "filesystem", "filesystem": {"root": str(storage)}, "spool_dir": str(work)},
        "auth": {"tokens": [{"id": "bench", "secret": SECRET}]},
        "log": {"level": "WARNING", "format": "text"}}))
    procs = [subprocess.Popen([sys.executable, "-m", module, "--config", str(config)], cwd=ROOT)
             for module in ("gateway", "workers")]
    try:
        wait_for_port(port)
        time.sleep(1.0)
        base = f"http://127.0.0.1:{port}"
        runs: dict[str, list[float]] = {"playable": [], "bare_hls": [], "ladder": []}
        playback_id = ""
        rungs = 5   # 1080p source: 1080p, 720p, 480p, 360p, 270p
        for n in range(args.repeat):   # interleaved, so drifts of the machine hit both sides alike
            runs["playable"].append(until_playable(base, standard))
            out = work / f"bare-hls-{n}"
            out.mkdir()
            runs["bare_hls"].append(timed([
                *FF, "-i", str(standard), "-map", "0", "-c", "copy", "-f", "hls", "-hls_segment_type", "fmp4",
                "-hls_playlist_type", "vod", "-hls_time", "4", "-hls_fmp4_init_filename", "init.mp4",
                "-hls_segment_filename", str(out / "seg%05d.m4s"), str(out / "index.m3u8")]))
            ladder, playback_id = until_ladder(base, nonstandard, rungs)
            runs["ladder"].append(ladder)
        asset_id = api(base, "GET", "/video/v1/assets?limit=1")["data"][0]["id"]
        hls_root = storage / "objects" / "assets" / asset_id / "hls"
        ours, bare, rss = serving(base, procs[0].pid, playback_id, hls_root, args.readers, args.serve_seconds)
        playable, bare_hls, ladder = (statistics.median(runs[k]) for k in ("playable", "bare_hls", "ladder"))
        print(f"medians of {args.repeat} interleaved runs")
        print(f"{'cell':<52}{'gateway':>10}{'bare':>10}{'ratio':>8}  aim")
        print(f"{f'standard 1080p {args.seconds} s: last byte -> playable (s)':<52}{playable:>10.2f}"
              f"{bare_hls:>10.2f}{playable / bare_hls:>8.2f}  <= 1.30 (bare = ffmpeg -c copy -f hls)")
        print(f"{f'non-standard 1080p {args.ladder_seconds} s: transcoding -> {rungs} rungs (s)':<52}"
              f"{ladder:>10.2f}")
        print(f"{f'segments, {args.readers} readers (MiB/s)':<52}{ours:>10.1f}{bare:>10.1f}"
              f"{ours / bare:>8.2f}  >= 0.85 (bare = aiohttp web.static)")
        print(f"{'gateway peak RSS (MiB)':<52}{rss:>10.0f}{'':>10}{'':>8}  < 250")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        redis.stop()


if __name__ == "__main__":
    main()
