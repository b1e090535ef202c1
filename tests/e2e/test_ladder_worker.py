"""The HLS ladder with real processes: ``python -m gateway`` + ``python -m workers`` on real Redis (and
SeaweedFS), clips made by ffmpeg at test time. An upload becomes a ready asset whose rungs are all in
storage; deleting it removes every object under ``assets/<id>/``; a worker killed mid-ladder is replaced
by another that finishes the ladder, with ``video.asset.ready`` recorded exactly once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from gateway.state.keys import Keys
from tests.e2e.test_worker import api, clip, events, put_file, wait_asset

LADDER = {"ladder": [480, 270]}   # configured heights, not the default five


@pytest.fixture(scope="module")
def ladder_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Standard 720p (H.264 with B-frames, a keyframe every 2 s, AAC), 9 s: three segments per rung."""
    return clip(tmp_path_factory.mktemp("clips") / "ladder.mp4",
                "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=9",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=9",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-bf", "2",
                "-c:a", "aac", "-ac", "2", "-b:a", "96k", "-shortest")


@pytest.fixture(scope="module")
def slow_ladder_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4:2:2 H.264 (non-standard: standardised first), 12 s of 720p: its lower rungs take seconds."""
    return clip(tmp_path_factory.mktemp("clips") / "yuv422.mp4",
                "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=12",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p", "-g", "60",
                "-c:a", "aac", "-shortest")


def rungs(settings: dict[str, Any], asset_id: str) -> list[dict[str, Any]]:
    """The asset's ``_hls`` as stored (the Mux JSON does not show the ladder)."""
    client = redis.Redis.from_url(settings["redis"]["url"])
    raw = client.hget(Keys(settings["redis"]["key_prefix"]).record("asset", asset_id), "_hls")
    return [] if raw is None else list(json.loads(raw))


def wait_ladder(settings: dict[str, Any], asset_id: str, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ladder = rungs(settings, asset_id)
        if ladder and all(r["status"] != "preparing" for r in ladder) and \
                "video.asset.updated" in events(settings, asset_id):
            return ladder
        time.sleep(0.2)
    raise AssertionError(f"the ladder was never finished: {rungs(settings, asset_id)}")


def stored(settings: dict[str, Any], asset_id: str) -> set[str]:
    """Every object name under ``assets/<id>/``, relative to it."""
    if settings["storage"]["backend"] == "filesystem":
        root = Path(settings["storage"]["filesystem"]["root"]) / "objects" / "assets" / asset_id
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()
    from minio import Minio
    s3 = settings["storage"]["s3"]
    client = Minio(s3["endpoint"].split("//")[1], access_key=s3["access_key"], secret_key=s3["secret_key"],
                   secure=False, region="us-east-1")
    prefix = f"{s3['prefix']}objects/assets/{asset_id}/"
    return {o.object_name[len(prefix):] for o in client.list_objects(s3["bucket"], prefix=prefix, recursive=True)}


def check_rungs(ladder: list[dict[str, Any]], objects: set[str], names: list[str]) -> None:
    assert [r["name"] for r in ladder] == names and all(r["status"] == "ready" for r in ladder), ladder
    for rung in ladder:
        assert rung["codecs"].startswith("avc1.") and rung["codecs"].endswith(",mp4a.40.2")
        assert rung["bandwidth"] >= rung["average_bandwidth"] > 0 and rung["frame_rate"] == 30
        assert min(rung["width"], rung["height"]) == int(rung["name"][:-1])
        files = {o.split("/", 2)[2] for o in objects if o.startswith(f"hls/{rung['name']}/")}
        assert {"index.m3u8", "init.mp4", "seg00000.m4s", "seg00001.m4s"} <= files, files
    assert ladder[0]["copy"] and not any(r.get("copy") for r in ladder[1:])


def test_an_upload_gets_its_ladder_and_deleting_it_removes_every_object(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], ladder_clip: Path) -> None:
    settings_data["playback"] = LADDER
    gateway = gateway_factory()
    worker_factory()
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    put_file(upload["url"], ladder_clip)
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"})
    assert asset["status"] == "ready", asset
    assert asset["max_stored_resolution"] == "HD" and asset["resolution_tier"] == "720p"
    first = rungs(settings_data, asset["id"])[0]   # ready means the top rung plays
    assert first["name"] == "720p" and first["status"] == "ready" and (first["width"], first["height"]) == (1280, 720)
    ladder = wait_ladder(settings_data, asset["id"])
    objects = stored(settings_data, asset["id"])
    check_rungs(ladder, objects, ["720p", "480p", "270p"])
    assert "master.mp4" in objects
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.ready") == 1 and types.count("video.asset.updated") == 1
    assert types.index("video.asset.ready") < types.index("video.asset.updated")
    api(gateway.url, "DELETE", f"/video/v1/assets/{asset['id']}")
    assert stored(settings_data, asset["id"]) == set()


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_a_worker_killed_mid_ladder_is_replaced_and_ready_is_said_once(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], slow_ladder_clip: Path) -> None:
    gateway = gateway_factory()
    first = worker_factory(log={"level": "INFO"})
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    put_file(upload["url"], slow_ladder_clip)
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"}, timeout=120)
    assert asset["status"] == "ready", asset
    ladder = rungs(settings_data, asset["id"])
    assert [r["status"] for r in ladder] == ["ready", "preparing", "preparing", "preparing"], \
        "the ladder finished before the worker could be killed"
    first.stop(kill=True)
    worker_factory(log={"level": "INFO"})
    ladder = wait_ladder(settings_data, asset["id"], timeout=180)
    check_rungs(ladder, stored(settings_data, asset["id"]), ["720p", "480p", "360p", "270p"])
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.ready") == 1 and types.count("video.asset.updated") == 1
    assert types.count("video.asset.non_standard_input_detected") == 1
