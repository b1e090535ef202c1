"""Master access and static renditions with real gateway and worker processes: the URL's bytes equal the
stored master's, Range works, expired or tampered URLs are refused (by the S3 server for presigned
URLs), the ``master`` object disappears on expiry and comes back fresh when asked again."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.e2e.test_worker import api, events, master_location, probe, put_file, standard_clip, wait_asset

__all__ = ["standard_clip"]   # the module-scoped fixture, shared


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def stored_master(settings: dict[str, Any], asset_id: str) -> bytes:
    location = master_location(settings, asset_id)
    if location.startswith("http"):
        return fetch(location)[1]
    return Path(location).read_bytes()


def tamper(url: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    key = "X-Amz-Signature" if "X-Amz-Signature" in query else "signature"
    query[key] = ("0" if query[key][0] != "0" else "1") + query[key][1:]
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_master_and_static_renditions(gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any],
                                      standard_clip: Path) -> None:
    settings_data["master_access"] = {"ttl": "4s"}
    gateway = gateway_factory()
    worker_factory()
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*", "new_asset_settings": {
        "master_access": "temporary",
        "static_renditions": [{"resolution": "highest"}, {"resolution": "audio-only"}]}})["data"]
    put_file(upload["url"], standard_clip)
    # master.ready follows asset.ready (as with Mux): wait for both
    asset = wait_asset(gateway.url, upload["id"], {"errored"},
                       check=lambda a: a["status"] == "ready" and a.get("master", {}).get("status") == "ready")
    assert asset["status"] == "ready", asset
    preparing = asset.get("master")
    assert preparing is not None and preparing["status"] == "ready"
    status, body, headers = fetch(preparing["url"])
    assert status == 200 and body == stored_master(settings_data, asset["id"])
    status, part, headers = fetch(preparing["url"], {"Range": "bytes=100-1099"})
    assert status == 206 and part == body[100:1100]
    assert headers["Content-Range"] == f"bytes 100-1099/{len(body)}"
    assert fetch(tamper(preparing["url"]))[0] == 403     # a wrong signature (the S3 server checks presigned ones)

    renditions = asset["static_renditions"]
    assert renditions["status"] == "ready"
    files = {f["name"]: f for f in renditions["files"]}
    assert set(files) == {"highest.mp4", "audio.m4a"}
    highest, audio = files["highest.mp4"], files["audio.m4a"]
    assert highest["status"] == "ready" and highest["width"] == 640 and highest["height"] == 360
    assert highest["ext"] == "mp4" and highest["resolution"] == "highest" and int(highest["filesize"]) > 0
    status, audio_bytes, _ = fetch(audio["url"])
    assert status == 200 and len(audio_bytes) == int(audio["filesize"])
    assert hashlib.sha256(fetch(highest["url"])[1]).hexdigest() == hashlib.sha256(body).hexdigest()
    types = events(settings_data, asset["id"])
    assert types.index("video.asset.master.preparing") < types.index("video.asset.master.ready")

    # the URL expires (ttl 4 s): refused, and the master object disappears from the asset
    time.sleep(4.5)
    assert fetch(preparing["url"])[0] == 403
    asset = api(gateway.url, "GET", f"/video/v1/assets/{asset['id']}")["data"]
    assert "master" not in asset and asset["master_access"] == "temporary"
    assert "video.asset.master.deleted" in events(settings_data, asset["id"])
    # asking again gives a fresh URL at once (the master is stored)
    asset = api(gateway.url, "PUT", f"/video/v1/assets/{asset['id']}/master-access",
                {"master_access": "temporary"})["data"]
    assert asset["master"]["status"] == "ready" and asset["master"]["url"] != preparing["url"]
    fresh = asset["master"]["url"]
    status, fresh_body, headers = fetch(fresh)
    assert status == 200 and fresh_body == body
    if settings_data["storage"]["backend"] == "filesystem":   # served by the gateway: inert
        assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert headers["X-Content-Type-Options"] == "nosniff"
    asset = api(gateway.url, "PUT", f"/video/v1/assets/{asset['id']}/master-access",
                {"master_access": "none"})["data"]
    assert "master" not in asset and asset["master_access"] == "none"
    # revoking kills the link already handed out (a presigned S3 URL too), and the master stays stored
    assert fetch(fresh)[0] == 404
    assert stored_master(settings_data, asset["id"]) == body


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_master_access_requested_while_preparing_and_bad_requests(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], standard_clip: Path) -> None:
    gateway = gateway_factory()
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    put_file(upload["url"], standard_clip)
    asset_id = api(gateway.url, "GET", f"/video/v1/uploads/{upload['id']}")["data"]["asset_id"]
    asset = api(gateway.url, "PUT", f"/video/v1/assets/{asset_id}/master-access",
                {"master_access": "temporary"})["data"]
    assert asset["status"] == "preparing" and asset["master"] == {"status": "preparing"}
    for body in ({"master_access": "forever"}, {}, {"master_access": "temporary", "x": 1}):
        try:
            api(gateway.url, "PUT", f"/video/v1/assets/{asset_id}/master-access", body)
            raise AssertionError("accepted " + repr(body))
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
    worker_factory()           # the worker starts only now: the master is published when it is made
    asset = wait_asset(gateway.url, upload["id"], {"errored"},
                       check=lambda a: a.get("master", {}).get("status") == "ready")
    assert asset["status"] == "ready" and asset["master"]["status"] == "ready"
    video = next(s for s in probe(master_location(settings_data, asset_id))["streams"]
                 if s["codec_type"] == "video")
    assert video["codec_name"] == "h264"
    base = asset["master"]["url"].split("?")[0]
    assert fetch(base)[0] == 403 and fetch(base + "?expires=1&signature=00")[0] == 403
