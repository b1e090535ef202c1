"""Playback fixtures: a clip packaged once per session the way the worker lays an asset out (two HLS rungs
of fMP4/CMAF segments, ``highest.mp4`` and ``audio.m4a``), and ``ready_asset``: those files stored under a
new asset that is READY, with a public playback id, on a fresh in-process gateway (both backends)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import ASSETS, STORAGE
from gateway.catalog.assets import AssetStore, new_asset
from gateway.catalog.masters import object_name
from gateway.catalog.models import (
    Asset,
    AssetStatus,
    FileStatus,
    Progress,
    ProgressState,
    RenditionsStatus,
    Rung,
    RungStatus,
)
from gateway.catalog.playback import hls_object
from gateway.catalog.records import new_id
from gateway.storage.base import Storage

DURATION = 4.0
FRAME_RATE = 30.0
CODECS = "avc1.4d401e,mp4a.40.2"   # H.264 Main 3.0 + AAC-LC, as the rungs are made below
RUNGS = {"360p": (640, 360, "600k"), "270p": (480, 270, "300k")}   # highest first, as the worker plans
STATIC = ("highest.mp4", "audio.m4a")


@dataclass(frozen=True)
class Packaged:
    """The session's clip, packaged: ``root/<rung>/{index.m3u8,init.mp4,seg*.m4s}`` and the static files."""

    root: Path
    rungs: tuple[Rung, ...]   # as READY rungs, with their measured numbers


@dataclass(frozen=True)
class ReadyAsset:
    client: TestClient[Any, Any]
    asset_id: str
    playback_id: str
    duration: float
    asset: Asset


def _run(*argv: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *argv], check=True,
                   timeout=120)


def _rung(root: Path, name: str, width: int, height: int) -> Rung:
    files = sorted((root / name).glob("seg*.m4s"))
    seconds = DURATION / len(files)
    peak = max(f.stat().st_size for f in files) * 8 / seconds
    average = sum(f.stat().st_size for f in files) * 8 / DURATION
    return Rung(name=name, status=RungStatus.READY, width=width, height=height, bandwidth=int(peak * 1.1),
                average_bandwidth=int(average), codecs=CODECS, frame_rate=FRAME_RATE)


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    root = tmp_path_factory.mktemp("packaged")
    source = root / "source.mp4"
    _run("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FRAME_RATE:g}", "-f", "lavfi",
         "-i", "sine=frequency=440:sample_rate=48000", "-t", f"{DURATION:g}", "-c:v", "libx264",
         "-pix_fmt", "yuv420p", "-profile:v", "main", "-level", "3.0", "-g", "60", "-keyint_min", "60",
         "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(source))
    rungs = []
    for name, (width, height, bitrate) in RUNGS.items():
        out = root / name
        out.mkdir()
        _run("-i", str(source), "-map", "0:v", "-map", "0:a", "-vf", f"scale={width}:{height}", "-c:v", "libx264",
             "-pix_fmt", "yuv420p", "-profile:v", "main", "-level", "3.0", "-b:v", bitrate, "-g", "60",
             "-keyint_min", "60", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k", "-f", "hls",
             "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod", "-hls_time", "2",
             "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(out / "seg%05d.m4s"),
             str(out / "index.m3u8"))
        rungs.append(_rung(root, name, width, height))
    (root / "highest.mp4").write_bytes(source.read_bytes())
    _run("-i", str(source), "-map", "0:a", "-c:a", "copy", "-movflags", "+faststart", str(root / "audio.m4a"))
    return Packaged(root, tuple(rungs))


async def publish(client: TestClient[Any, Any], packaged: Packaged, *, policy: str = "public",
                  static: bool = True, ready: bool = True) -> ReadyAsset:
    """Store the packaged files under a new asset and write it READY (``ready=False``: left preparing,
    its ladder planned). ``static``: ``highest.mp4`` and ``audio.m4a`` asked for and ready."""
    app = client.app
    assert app is not None
    assets: AssetStore = app[ASSETS]
    storage: Storage = app[STORAGE]
    asset_id = new_id(24)
    wanted = [{"resolution": "highest"}, {"resolution": "audio-only"}] if static else []
    created = new_asset(asset_id, {"playback_policies": [policy], "static_renditions": wanted}, source=asset_id)
    created = replace(created, hls=tuple(Rung(name=r.name, status=RungStatus.PREPARING) for r in packaged.rungs))
    assert await assets.create(created)
    assert created.playback_ids
    result = ReadyAsset(client, asset_id, created.playback_ids[0].id, DURATION, created)
    if not ready:
        return result
    for rung in packaged.rungs:
        for path in sorted((packaged.root / rung.name).iterdir()):
            await storage.put_object(hls_object(asset_id, rung.name, path.name), str(path))
    renditions = created.static_renditions
    if renditions is not None:
        for name in STATIC:
            await storage.put_object(object_name(asset_id, name), str(packaged.root / name))
        renditions = replace(renditions, status=RenditionsStatus.READY,
                             files=tuple(replace(f, status=FileStatus.READY) for f in renditions.files))
    done = replace(created, status=AssetStatus.READY, hls=packaged.rungs, duration=DURATION,
                   progress=Progress(ProgressState.COMPLETED, 100), static_renditions=renditions)
    written = await assets.write(created, done)
    assert written is not None
    return replace(result, asset=written)


@pytest.fixture
async def ready_asset(client_factory: Any, packaged: Packaged) -> ReadyAsset:
    """A READY asset with a public playback id, two HLS rungs (360p, 270p) and both static renditions."""
    client = await client_factory()
    return await publish(client, packaged)
