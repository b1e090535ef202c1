"""The official ``mux_python`` SDK (PyPI) pointed at a real ``python -m gateway``: direct uploads
created, read, listed page by page, cancelled, and read again after curl uploaded the file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mux_python
import pytest
from mux_python.rest import ApiException

from tests.browser.api import MuxApi, download_sha256, sha256_hex
from tests.conftest import TOKEN_ID, TOKEN_SECRET

pytestmark = pytest.mark.parametrize("backend", ["filesystem"])
ASSET_STATUSES = {"preparing", "ready", "errored"}


@pytest.fixture
def sdk(gateway_factory: Any) -> Iterator[tuple[mux_python.ApiClient, str]]:
    base = gateway_factory().url
    configuration = mux_python.Configuration(host=base, username=TOKEN_ID, password=TOKEN_SECRET)
    with mux_python.ApiClient(configuration) as client:
        yield client, base


def create_request(i: int) -> mux_python.CreateUploadRequest:
    settings = mux_python.CreateAssetRequest(
        playback_policies=[mux_python.PlaybackPolicy.PUBLIC], passthrough=f"py-{i}",
        meta=mux_python.AssetMetadata(title=f"clip {i}", creator_id="py-sdk"))
    return mux_python.CreateUploadRequest(cors_origin="https://app.example.com", timeout=900,
                                          new_asset_settings=settings)


def test_create_get_list_and_cancel(sdk: tuple[mux_python.ApiClient, str]) -> None:
    client, base = sdk
    uploads = mux_python.DirectUploadsApi(client)
    created = [uploads.create_direct_upload(create_request(i)).data for i in range(5)]
    first = created[0]
    assert first.status == "waiting" and first.timeout == 900, first
    assert first.cors_origin == "https://app.example.com" and first.url.startswith(base + "/files/"), first
    assert first.new_asset_settings.passthrough == "py-0", first
    assert first.new_asset_settings.playback_policies == ["public"], first
    assert first.new_asset_settings.meta.title == "clip 0", first
    assert len({u.id for u in created}) == len({u.url for u in created}) == 5

    got = uploads.get_direct_upload(first.id).data
    assert (got.id, got.url, got.status, got.new_asset_settings.passthrough) == (first.id, first.url, "waiting", "py-0")

    seen: list[str] = []
    sizes: list[int] = []
    for page in range(1, 20):  # limit/page as the SDK sends them, until the first empty page
        data = uploads.list_direct_uploads(limit=2, page=page).data
        sizes.append(len(data))
        seen.extend(u.id for u in data)
        if not data:
            break
    assert sizes == [2, 2, 1, 0], sizes
    assert sorted(seen) == sorted(u.id for u in created)

    cancelled = uploads.cancel_direct_upload(created[1].id).data
    assert (cancelled.id, cancelled.status) == (created[1].id, "cancelled")
    assert uploads.get_direct_upload(created[1].id).data.status == "cancelled"
    with pytest.raises(ApiException) as again:
        uploads.cancel_direct_upload(created[1].id)
    assert again.value.status == 403, again.value.body
    # the cancelled upload's URL takes no more bytes
    put = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT",
                          "--data-binary", "x" * 10, created[1].url], capture_output=True, text=True, check=True)
    assert put.stdout in ("404", "410"), put.stdout
    assert uploads.get_direct_upload(created[2].id).data.status == "waiting"  # the others are untouched

    with pytest.raises(ApiException) as unknown:
        uploads.get_direct_upload("no-such-upload")
    assert unknown.value.status == 404, unknown.value.body


def test_wrong_credentials_are_refused(sdk: tuple[mux_python.ApiClient, str]) -> None:
    _, base = sdk
    configuration = mux_python.Configuration(host=base, username=TOKEN_ID, password="wrong")
    with mux_python.ApiClient(configuration) as client, pytest.raises(ApiException) as refused:
        mux_python.DirectUploadsApi(client).create_direct_upload(create_request(0))
    assert refused.value.status == 401, refused.value.body


def test_sdk_reads_an_upload_that_curl_completed(sdk: tuple[mux_python.ApiClient, str], tmp_path: Path) -> None:
    client, base = sdk
    uploads = mux_python.DirectUploadsApi(client)
    upload = uploads.create_direct_upload(create_request(7)).data
    media = tmp_path / "clip.bin"
    media.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(media), upload.url],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    assert status in ("200", "201"), status
    assert download_sha256(upload.url) == (media.stat().st_size, sha256_hex(media))

    done = MuxApi(base).wait_for_status(upload.id, "asset_created")  # completion may land a moment later
    read = uploads.get_direct_upload(upload.id).data
    assert read.status == "asset_created" and read.asset_id == done["asset_id"], read
    asset = mux_python.AssetsApi(client).get_asset(read.asset_id).data
    assert (asset.id, asset.upload_id) == (read.asset_id, upload.id), asset
    assert asset.status in ASSET_STATUSES, asset
    assert asset.passthrough == "py-7", asset
    assert asset.meta.title == "clip 7", asset
    assert [p.policy for p in asset.playback_ids or []] == ["public"], asset
    # the upload is no longer waiting: it cannot be cancelled
    with pytest.raises(ApiException) as late:
        uploads.cancel_direct_upload(upload.id)
    assert late.value.status == 403, late.value.body


def test_create_asset_from_a_url_becomes_ready(sdk: tuple[mux_python.ApiClient, str], worker_factory: Any,
                                               tmp_path: Path) -> None:
    """``AssetsApi.create_asset(CreateAssetRequest(input=[InputSettings(url=...)]))``, then get_asset until
    the worker has fetched and processed the clip from a loopback source in ``ingest.allow_hosts``."""
    import time

    from tests.e2e.test_url_ingest import ThreadedSource
    from tests.ingest.conftest import SourceFile

    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=120)
    served = ThreadedSource().start()
    try:
        served.source.files["clip.mp4"] = SourceFile(clip.read_bytes())
        client, _ = sdk
        worker_factory(ingest=served.allow)
        assets = mux_python.AssetsApi(client)
        request = mux_python.CreateAssetRequest(
            input=[mux_python.InputSettings(url=served.source.url("/files/clip.mp4"))],
            playback_policies=[mux_python.PlaybackPolicy.PUBLIC], passthrough="py-url")
        created = assets.create_asset(request).data
        assert created.status == "preparing" and created.ingest_type == "on_demand_url", created
        assert created.passthrough == "py-url" and created.upload_id is None, created
        deadline, asset = time.monotonic() + 90, created
        while asset.status == "preparing" and time.monotonic() < deadline:
            time.sleep(0.2)
            asset = assets.get_asset(created.id).data
        assert asset.status == "ready", asset
        assert abs(asset.duration - 2.0) < 0.2 and [p.policy for p in asset.playback_ids] == ["public"]
        with pytest.raises(ApiException) as caught:
            assets.create_asset(mux_python.CreateAssetRequest(input=[mux_python.InputSettings(url="file:///x")]))
        assert caught.value.status == 400
    finally:
        served.stop()
