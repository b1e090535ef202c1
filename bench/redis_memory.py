"""Redis memory per upload and per asset, measured on a private redis-server (``used_memory`` deltas):

    .venv/bin/python bench/redis_memory.py [--count 2000]

- an unfinished tus upload with some bytes written (its record, expiry entry and, on S3, part list);
- a direct upload (the Mux record and its index entries) together with its storage upload;
- a ready asset as the worker leaves it (record with tracks, a 6-rung HLS ladder, playback id index)
  plus its events in the stream;
- what the sweeper gives back once the unfinished uploads expire (tombstones stay a week: counted).
The gateway runs in-process (aiohttp test server) with the filesystem backend; figures go to
docs/scaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.app import ASSETS, SERVICE, create_app  # noqa: E402
from gateway.catalog.assets import new_asset  # noqa: E402
from gateway.catalog.models import AssetStatus, Progress, ProgressState, Rung, RungStatus, Track  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from tests.servers import free_port, start_redis  # noqa: E402

AUTH = {"Authorization": "Bearer bench-secret"}
TUS = {"Tus-Resumable": "1.0.0"}


async def used(redis: aioredis.Redis) -> int:
    await asyncio.sleep(0.2)
    return int((await redis.info("memory"))["used_memory"])


async def run(count: int) -> dict[str, float]:
    server = start_redis()
    tmp = Path(tempfile.mkdtemp(prefix="redis-memory-"))
    port = free_port()
    settings = Settings(
        server={"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        redis={"url": server.url, "key_prefix": "upgw"},
        storage={"backend": "filesystem", "filesystem": {"root": str(tmp / "storage")}},
        auth={"tokens": [{"id": "bench", "secret": "bench-secret"}]},
        uploads={"expiration": "1h", "sweep_interval": "1h"},
        log={"level": "WARNING", "format": "text"})
    redis = aioredis.Redis.from_url(server.url)
    out: dict[str, float] = {}
    try:
        async with TestClient(TestServer(create_app(settings), host="127.0.0.1", port=port)) as client:
            app: Any = client.server.app
            base = await used(redis)
            urls = []
            for _ in range(count):
                resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "1000000",
                                                              "Upload-Metadata": "filename aG9saWRheS5tcDQ="})
                url = "/files/" + resp.headers["Location"].rsplit("/", 1)[1]
                await client.patch(url, data=b"x" * 1000, headers={
                    **TUS, **AUTH, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
                urls.append(url)
            after_uploads = await used(redis)
            out["unfinished tus upload"] = (after_uploads - base) / count

            for _ in range(count):
                await client.post("/video/v1/uploads", json={"cors_origin": "*", "new_asset_settings": {
                    "playback_policies": ["public"]}}, headers=AUTH)
            after_direct = await used(redis)
            out["waiting direct upload (+ its storage upload)"] = (after_direct - after_uploads) / count

            assets = app[ASSETS]
            for n in range(count):
                asset = new_asset(f"bench{n:08d}x{'a' * 20}", {"playback_policies": ["public"]},
                                  source=f"src{n}", upload_id=f"up{n}")
                await assets.create(asset)
                rungs = tuple(Rung(name=f"{h}p", status=RungStatus.READY, width=h * 16 // 9, height=h,
                                   bandwidth=5_000_000, average_bandwidth=4_000_000,
                                   codecs="avc1.640028,mp4a.40.2", frame_rate=30.0)
                              for h in (1080, 720, 480, 360, 270))
                described = replace(asset, duration=62.5, resolution_tier="1080p", aspect_ratio="16:9",
                                    max_stored_frame_rate=30.0, hls=rungs, tracks=(
                                        Track(type="video", id="v", duration=62.5, max_width=1920, max_height=1080,
                                              max_frame_rate=30.0),
                                        Track(type="audio", id="a", duration=62.5, max_channels=2,
                                              max_channel_layout="stereo")))
                ready = replace(described, status=AssetStatus.READY, progress=Progress(ProgressState.COMPLETED, 100),
                                master_file=f"assets/{asset.id}/master.mp4", master_size=123456789)
                await assets.write(asset, ready)
            after_assets = await used(redis)
            out["ready asset (record, ladder, playback id)"] = (after_assets - after_direct) / count

            for url in urls:   # expire every unfinished upload, then sweep
                upload_id = url.rsplit("/", 1)[1]
                await app[SERVICE].state.touch_expiry(upload_id, time.time() - 1)
            await app[SERVICE].sweep()
            while await redis.zcount("upgw:expiry", "-inf", time.time()):
                await app[SERVICE].sweep()
            after_sweep = await used(redis)
            out["reclaimed per expired upload (tombstone kept a week)"] = (after_assets - after_sweep) / count
    finally:
        await redis.aclose()
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    figures = asyncio.run(run(args.count))
    print(f"Redis memory, {args.count} of each (used_memory deltas)")
    for name, value in figures.items():
        print(f"{name:<58}{value:>8.0f} bytes")


if __name__ == "__main__":
    main()
