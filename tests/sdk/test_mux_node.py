"""The official ``@mux/mux-node`` SDK (npm) pointed at a real ``python -m gateway`` through its
``baseURL``: create, retrieve, auto-paginated list, cancel (twice), reading an upload and its asset
after curl uploaded the file, and Mux's own example (``playback_policy: 'public'``). The SDK runs under
Node (tests/js/mux_node_sdk.mjs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser.api import MuxApi, download_sha256, sha256_hex
from tests.conftest import ROOT, TOKEN_ID, TOKEN_SECRET

pytestmark = pytest.mark.parametrize("backend", ["filesystem"])
JS = ROOT / "tests" / "js"
ASSET_STATUSES = {"preparing", "ready", "errored"}


def mux_node(base: str, **options: Any) -> dict[str, Any]:
    if shutil.which("node") is None or not (JS / "node_modules" / "@mux" / "mux-node").exists():
        pytest.fail("node and tests/js/node_modules/@mux/mux-node are required (scripts/install.sh --test)")
    options = {"baseURL": base, "tokenId": TOKEN_ID, "tokenSecret": TOKEN_SECRET, **options}
    result = subprocess.run(["node", str(JS / "mux_node_sdk.mjs"), json.dumps(options)],
                            capture_output=True, text=True, timeout=60, cwd=JS)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_create_retrieve_paginate_and_cancel(gateway_factory: Any) -> None:
    base = gateway_factory().url
    out = mux_node(base, scenario="lifecycle", corsOrigin="https://app.example.com", count=5)
    created = out["created"]
    first = created[0]
    assert first["status"] == "waiting" and first["timeout"] == 3600, first
    assert first["cors_origin"] == "https://app.example.com" and first["url"].startswith(base + "/files/"), first
    settings = first["new_asset_settings"]
    assert settings["playback_policies"] == ["public"] and settings["passthrough"] == "node-0", first
    assert settings["meta"] == {"title": "clip 0", "creator_id": "node-sdk"}, first
    assert out["retrieved"]["id"] == first["id"] and out["retrieved"]["url"] == first["url"], out["retrieved"]

    # `for await` over list({limit: 2}) walks pages 1, 2, 3 and stops at the first empty page
    assert not out.get("runaway"), out["listed"]
    assert sorted(out["listed"]) == sorted(u["id"] for u in created)
    assert out["pageSizes"] == [2, 2, 1, 0], out["pageSizes"]

    assert (out["cancelled"]["id"], out["cancelled"]["status"]) == (created[1]["id"], "cancelled")
    assert out["afterCancel"]["status"] == "cancelled"
    again = out["cancelAgain"]
    assert not again["ok"] and again["status"] == 403 and again["name"] == "PermissionDeniedError", again
    assert again["error"]["error"]["type"] and again["error"]["error"]["messages"], again  # Mux error envelope
    unknown = out["unknown"]
    assert not unknown["ok"] and unknown["status"] == 404 and unknown["name"] == "NotFoundError", unknown


def test_reads_an_upload_that_curl_completed_and_its_asset(gateway_factory: Any, tmp_path: Path) -> None:
    api = MuxApi(gateway_factory().url)
    upload = api.create_upload(cors_origin="*", new_asset_settings={
        "playback_policies": ["public"], "passthrough": "curl-upload", "meta": {"title": "from curl"}})
    media = tmp_path / "clip.bin"
    media.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(media), upload["url"]],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    assert status in ("200", "201"), status
    assert download_sha256(upload["url"]) == (media.stat().st_size, sha256_hex(media))
    api.wait_for_status(upload["id"], "asset_created")

    out = mux_node(api.base, scenario="read", uploadId=upload["id"])
    read, asset = out["upload"], out["asset"]
    assert read["status"] == "asset_created" and read["asset_id"], read
    assert asset is not None and (asset["id"], asset["upload_id"]) == (read["asset_id"], upload["id"]), asset
    assert asset["status"] in ASSET_STATUSES, asset
    assert asset["passthrough"] == "curl-upload" and asset["meta"]["title"] == "from curl", asset
    assert [p["policy"] for p in asset["playback_ids"]] == ["public"], asset
    assert isinstance(asset["created_at"], str), asset


def test_mux_node_example_with_one_playback_policy(gateway_factory: Any) -> None:
    """Mux's Node example sends ``new_asset_settings: {playback_policy: 'public'}``: a string, not a list."""
    out = mux_node(gateway_factory().url, scenario="example")
    assert out["ok"], out
    assert out["value"]["status"] == "waiting" and out["value"]["new_asset_settings"] == {
        "playback_policy": ["public"]}, out


def test_assets_create_from_a_url(gateway_factory: Any, worker_factory: Any) -> None:
    """``mux.video.assets.create({inputs: [{url}], playback_policies: ['public']})`` as Mux documents it;
    the worker fetches the clip from a loopback source that ``ingest.allow_hosts`` lists."""
    from tests.e2e.test_url_ingest import ThreadedSource, wait
    from tests.ingest.conftest import SourceFile

    served = ThreadedSource().start()
    try:
        served.source.files["clip.mp4"] = SourceFile(bytes(range(256)) * 64)
        base = gateway_factory().url
        worker_factory(ingest=served.allow)
        out = mux_node(base, scenario="fromUrl", url=served.source.url("/files/clip.mp4"))
        created, retrieved, refused = out["created"], out["retrieved"], out["refused"]
        assert created["status"] == "preparing" and created["ingest_type"] == "on_demand_url", created
        assert [p["policy"] for p in created["playback_ids"]] == ["public"] and "upload_id" not in created
        assert retrieved["id"] == created["id"], retrieved
        assert not refused["ok"] and refused["status"] == 400 and refused["name"] == "BadRequestError", refused
        asset = wait(base, created["id"], {"ready", "errored"})
        assert asset["status"] == "errored" and asset["errors"]["type"] == "invalid_input", asset   # not media
        assert [h.status for h in served.source.hits] == [200]
    finally:
        served.stop()
