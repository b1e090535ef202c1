"""The whole ingest path with real processes: ``python -m gateway`` + ``python -m workers`` on real Redis
(and SeaweedFS), clips made by ffmpeg at test time, uploads by curl and tuspy, and a worker killed mid-job."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tusclient import client as tus_client

from gateway.state.keys import Keys
from tests.conftest import AUTH, queue_redis, state_redis
from tests.servers import start_seaweedfs

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def clip(path: Path, *args: str) -> Path:
    subprocess.run([*FFMPEG, *args, str(path)], check=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def standard_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "standard.mp4",
                "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60",
                "-c:a", "aac", "-ac", "2", "-b:a", "96k", "-shortest")


@pytest.fixture(scope="module")
def long_nonstandard_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4:2:2 H.264 (not a supported pixel format): the worker must transcode it, which takes seconds."""
    return clip(tmp_path_factory.mktemp("clips") / "yuv422.mp4",
                "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=12",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p", "-g", "60",
                "-c:a", "aac", "-shortest")


def api(base: str, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={**AUTH, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def put_file(url: str, path: Path) -> None:
    subprocess.run(["curl", "-sS", "--fail", "-T", str(path), url], check=True, timeout=120)


def wait_asset(base: str, upload_id: str, until: set[str], timeout: float = 90,
               check: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    asset: dict[str, Any] = {}
    while time.monotonic() < deadline:
        upload = api(base, "GET", f"/video/v1/uploads/{upload_id}")["data"]
        if upload.get("asset_id"):
            asset = api(base, "GET", f"/video/v1/assets/{upload['asset_id']}")["data"]
            if asset["status"] in until or (check is not None and check(asset)):
                return asset
        time.sleep(0.2)
    raise AssertionError(f"asset never reached {until}: {asset}")


def events(settings: dict[str, Any], object_id: str) -> list[str]:
    client = state_redis(settings)
    entries = client.xrange(f"{settings['redis']['key_prefix']}:events")
    return [f[b"type"].decode() for _, f in entries if f[b"object_id"].decode() == object_id]


def probe(path: str) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         check=True, capture_output=True, timeout=60).stdout
    return dict(json.loads(out))


def master_location(settings: dict[str, Any], asset_id: str) -> str:
    if settings["storage"]["backend"] == "filesystem":
        return str(Path(settings["storage"]["filesystem"]["root"]) / "objects" / "assets" / asset_id / "master.mp4")
    from minio import Minio
    s3 = settings["storage"]["s3"]
    client = Minio(s3["endpoint"].split("//")[1], access_key=s3["access_key"], secret_key=s3["secret_key"],
                   secure=False, region="us-east-1")
    return str(client.presigned_get_object(s3["bucket"], f"{s3['prefix']}objects/assets/{asset_id}/master.mp4"))


def test_standard_upload_becomes_ready_with_its_description(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], standard_clip: Path) -> None:
    gateway = gateway_factory()
    worker_factory()
    upload = api(gateway.url, "POST", "/video/v1/uploads", {
        "cors_origin": "*", "new_asset_settings": {"playback_policies": ["public"], "passthrough": "x"}})["data"]
    put_file(upload["url"], standard_clip)
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"})
    assert asset["status"] == "ready", asset
    assert abs(asset["duration"] - 3.0) < 0.2 and asset["aspect_ratio"] == "16:9"
    assert asset["resolution_tier"] == "720p" and asset["max_stored_frame_rate"] == 30
    kinds = {t["type"]: t for t in asset["tracks"]}
    assert kinds["video"]["max_width"] == 640 and kinds["video"]["max_height"] == 360
    assert kinds["audio"]["max_channels"] == 2 and all(t.get("id") for t in asset["tracks"])
    assert "non_standard_input_reasons" not in asset and asset["passthrough"] == "x"
    assert asset["progress"] == {"state": "completed", "progress": 100}
    master = probe(master_location(settings_data, asset["id"]))
    assert sorted(s["codec_name"] for s in master["streams"]) == ["aac", "h264"]
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.created") == 1 and types.count("video.asset.ready") == 1
    assert "video.asset.non_standard_input_detected" not in types
    with urllib.request.urlopen(gateway.url + "/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'upgw_job_duration_seconds_count{outcome="ready"} 1.0' in metrics
    assert "upgw_uploads_finished_total 1.0" in metrics


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_tuspy_upload_of_random_bytes_errors_the_asset(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], tmp_path: Path) -> None:
    gateway = gateway_factory()
    worker_factory()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 4096)
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    uploader = tus_client.TusClient(upload["tus_endpoint"]).uploader(str(junk), chunk_size=256 * 1024)
    uploader.upload()
    assert uploader.url == upload["url"]
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"})
    assert asset["status"] == "errored" and asset["errors"]["type"] == "invalid_input"
    assert asset["errors"]["messages"] and asset["progress"]["state"] == "errored"
    assert "video.asset.errored" in events(settings_data, asset["id"])


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_killed_worker_mid_transcode_is_finished_once_by_another(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any],
        long_nonstandard_clip: Path) -> None:
    gateway = gateway_factory()
    first = worker_factory(log={"level": "INFO"})
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    put_file(upload["url"], long_nonstandard_clip)
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"},
                       check=lambda a: a.get("progress", {}).get("state") == "transcoding")
    assert asset["status"] == "preparing", "the transcode finished before the worker could be killed"
    assert asset["non_standard_input_reasons"]["unsupported_pixel_format"] == "yuv422p"
    first.stop(kill=True)
    worker_factory(log={"level": "INFO"})
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"}, timeout=120)
    assert asset["status"] == "ready", asset
    master = probe(master_location(settings_data, asset["id"]))
    video = next(s for s in master["streams"] if s["codec_type"] == "video")
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.ready") == 1 and types.count("video.asset.non_standard_input_detected") == 1


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_sigterm_mid_transcode_stops_promptly_and_the_job_finishes_elsewhere(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any],
        long_nonstandard_clip: Path) -> None:
    gateway = gateway_factory()
    first = worker_factory()
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    put_file(upload["url"], long_nonstandard_clip)
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"},
                       check=lambda a: a.get("progress", {}).get("state") == "transcoding")
    assert asset["status"] == "preparing"
    assert first.proc is not None
    root = str(settings_data["storage"]["filesystem"]["root"])

    def transcoders() -> bool:   # an ffmpeg reading from this test's storage
        return subprocess.run(["pgrep", "-f", f"ffmpeg .*{root}"], capture_output=True).returncode == 0

    assert transcoders()
    started = time.monotonic()
    first.proc.terminate()
    assert first.proc.wait(15) == 0 and time.monotonic() - started < 15
    assert not transcoders()      # the job's ffmpeg went with it
    worker_factory()
    asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"}, timeout=120)
    assert asset["status"] == "ready", asset
    assert events(settings_data, asset["id"]).count("video.asset.ready") == 1


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_storage_down_during_a_job_is_retried_not_an_error(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], standard_clip: Path) -> None:
    private = start_seaweedfs()       # an S3 server of this test's own, to stop and start again
    try:
        settings_data["storage"]["s3"]["endpoint"] = private.endpoint
        settings_data["jobs"] = {**settings_data["jobs"], "retries": 12}
        gateway = gateway_factory()
        upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
        put_file(upload["url"], standard_clip)
        asset_id = api(gateway.url, "GET", f"/video/v1/uploads/{upload['id']}")["data"]["asset_id"]
        private.halt()
        worker_factory()
        client = queue_redis(settings_data)
        job_key = f"saq:job:{Keys(settings_data['redis']['key_prefix']).queue}:asset-{asset_id}"

        def attempts() -> int:   # saq keeps each job as JSON under this key
            raw = client.get(job_key)
            return 0 if raw is None else int(json.loads(raw).get("attempts", 0))   # defaults are left out

        deadline = time.monotonic() + 30
        while attempts() < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert attempts() >= 2                       # tried, failed on storage, tried again
        asset = api(gateway.url, "GET", f"/video/v1/assets/{asset_id}")["data"]
        assert asset["status"] == "preparing"         # not errored: the file is not at fault
        private.resume()
        asset = wait_asset(gateway.url, upload["id"], {"ready", "errored"}, timeout=90)
        assert asset["status"] == "ready", asset
    finally:
        private.stop()
