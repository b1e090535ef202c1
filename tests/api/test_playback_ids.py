"""Playback ids, signing keys and Livepeer's playback info over HTTP, against the in-process gateway with
real Redis: Mux's shapes and status codes, 404s for unknown and foreign ids, 400 for bad policies and for
drm (also in asset settings), scopes, and what deleting an id or its asset leaves."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import ASSETS
from gateway.catalog.models import AssetStatus, FileStatus, RenditionsStatus, Rung, RungStatus, StaticRenditions
from tests.conftest import AUTH, TOKEN_SECRET

pytestmark = pytest.mark.parametrize("backend", ["filesystem"])
Client = TestClient[Any, Any]


async def make_asset(client: Client, **settings: Any) -> dict[str, Any]:
    settings.setdefault("playback_policies", ["public"])
    resp = await client.post("/video/v1/uploads", json={"new_asset_settings": settings}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    upload = (await resp.json())["data"]
    assert (await client.put(upload["url"], data=b"movie")).status == 200
    resp = await client.get(f"/video/v1/uploads/{upload['id']}", headers=AUTH)
    asset_id = (await resp.json())["data"]["asset_id"]
    resp = await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)
    return dict((await resp.json())["data"])


async def call(client: Client, method: str, path: str, status: int, headers: dict[str, str] | None = None,
               **kwargs: Any) -> Any:
    resp = await client.request(method, path, headers=AUTH if headers is None else headers, **kwargs)
    assert resp.status == status, f"{method} {path}: {resp.status} {await resp.text()}"
    return None if status == 204 else await resp.json()


async def test_create_get_lookup_and_delete(client: Client) -> None:
    asset = await make_asset(client)
    ids = f"/video/v1/assets/{asset['id']}/playback-ids"
    created = (await call(client, "POST", ids, 201, json={"policy": "signed"}))["data"]
    assert created["policy"] == "signed" and set(created) == {"id", "policy"}
    assert (await call(client, "GET", f"{ids}/{created['id']}", 200))["data"] == created
    listed = (await call(client, "GET", f"/video/v1/assets/{asset['id']}", 200))["data"]["playback_ids"]
    assert listed == [*asset["playback_ids"], created]
    lookup = (await call(client, "GET", f"/video/v1/playback-ids/{created['id']}", 200))["data"]
    assert lookup == {**created, "object": {"type": "asset", "id": asset["id"]}}

    assert await call(client, "DELETE", f"{ids}/{created['id']}", 204) is None
    for method, path in (("GET", f"{ids}/{created['id']}"), ("DELETE", f"{ids}/{created['id']}"),
                         ("GET", f"/video/v1/playback-ids/{created['id']}")):
        error = (await call(client, method, path, 404))["error"]
        assert error["type"] == "not_found" and error["messages"], error
    assert (await call(client, "GET", f"/video/v1/assets/{asset['id']}", 200))["data"]["playback_ids"] == \
        asset["playback_ids"]


async def test_ids_from_asset_creation_resolve(client: Client) -> None:
    asset = await make_asset(client, playback_policies=["public", "signed"])
    assert [p["policy"] for p in asset["playback_ids"]] == ["public", "signed"]
    for playback in asset["playback_ids"]:
        found = (await call(client, "GET", f"/video/v1/playback-ids/{playback['id']}", 200))["data"]
        assert found == {**playback, "object": {"type": "asset", "id": asset["id"]}}


async def test_unknown_and_foreign_ids_are_404(client: Client) -> None:
    mine, theirs = await make_asset(client), await make_asset(client)
    foreign = theirs["playback_ids"][0]["id"]
    await call(client, "POST", "/video/v1/assets/nope/playback-ids", 404, json={"policy": "public"})
    await call(client, "GET", f"/video/v1/assets/nope/playback-ids/{foreign}", 404)
    await call(client, "GET", f"/video/v1/assets/{mine['id']}/playback-ids/nope", 404)
    await call(client, "GET", f"/video/v1/assets/{mine['id']}/playback-ids/{foreign}", 404)
    await call(client, "DELETE", f"/video/v1/assets/{mine['id']}/playback-ids/{foreign}", 404)
    await call(client, "GET", f"/video/v1/playback-ids/{foreign}", 200)   # untouched
    for odd in ("nope", "a" * 65, "..%2F..", "%00"):
        await call(client, "GET", f"/video/v1/playback-ids/{odd}", 404)


@pytest.mark.parametrize(("body", "fragment"), [
    ({"policy": "everyone"}, "policy"),
    ({}, "policy"),
    ({"policy": ["public"]}, "policy"),
    ({"policy": "public", "colour": "red"}, "colour: unknown field"),
    ({"policy": "drm"}, "no DRM"),
])
async def test_bad_policies_are_400(client: Client, body: dict[str, Any], fragment: str) -> None:
    asset = await make_asset(client)
    error = (await call(client, "POST", f"/video/v1/assets/{asset['id']}/playback-ids", 400, json=body))["error"]
    assert error["type"] == "invalid_parameters" and any(fragment in m for m in error["messages"]), error


@pytest.mark.parametrize("settings", [{"playback_policies": ["public", "drm"]}, {"playback_policy": "drm"}])
async def test_drm_is_refused_in_asset_settings(client: Client, settings: dict[str, Any]) -> None:
    for path, body in (("/video/v1/uploads", {"new_asset_settings": settings}),
                       ("/video/v1/assets", {"inputs": [{"url": "https://example.com/a.mp4"}], **settings})):
        error = (await call(client, "POST", path, 400, json=body))["error"]
        assert any("no DRM" in m for m in error["messages"]), error


async def test_deleting_the_asset_retires_its_ids(client: Client) -> None:
    asset = await make_asset(client, playback_policies=["public", "signed"])
    added = (await call(client, "POST", f"/video/v1/assets/{asset['id']}/playback-ids", 201,
                        json={"policy": "public"}))["data"]
    await call(client, "DELETE", f"/video/v1/assets/{asset['id']}", 204)
    for playback in [*asset["playback_ids"], added]:
        await call(client, "GET", f"/video/v1/playback-ids/{playback['id']}", 404)
        assert await client.app[ASSETS].playback(playback["id"]) is None


async def test_signing_keys(client: Client) -> None:
    made = [(await call(client, "POST", f"{base}/signing-keys", 201))["data"]
            for base in ("/video/v1", "/system/v1")]
    for key in made:
        assert set(key) == {"id", "private_key", "created_at"} and key["created_at"].isdigit(), key
        assert base64.b64decode(key["private_key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    for base in ("/video/v1", "/system/v1"):
        listed = (await call(client, "GET", f"{base}/signing-keys", 200))["data"]
        assert listed == [{"id": k["id"], "created_at": k["created_at"]} for k in made[::-1]]
        got = (await call(client, "GET", f"{base}/signing-keys/{made[0]['id']}", 200))["data"]
        assert got == {"id": made[0]["id"], "created_at": made[0]["created_at"]}   # never the private key
    pages = [(await call(client, "GET", f"/video/v1/signing-keys?limit=1&page={p}", 200))["data"] for p in (1, 2, 3)]
    assert [[k["id"] for k in page] for page in pages] == [[made[1]["id"]], [made[0]["id"]], []]
    await call(client, "GET", "/video/v1/signing-keys?limit=0", 400)
    await call(client, "DELETE", f"/system/v1/signing-keys/{made[0]['id']}", 204)
    for method in ("GET", "DELETE"):
        await call(client, method, f"/video/v1/signing-keys/{made[0]['id']}", 404)
    await call(client, "GET", "/video/v1/signing-keys/no-such-key", 404)


async def test_scopes(client_factory: Any) -> None:
    tokens = [{"id": "reader", "secret": "read-secret", "scopes": ["assets:read"]},
              {"id": "uploader", "secret": "upload-secret", "scopes": ["uploads"]},
              {"id": "test", "secret": TOKEN_SECRET}]
    client = await client_factory(auth={"tokens": tokens})
    asset = await make_asset(client)
    pid = asset["playback_ids"][0]["id"]
    reader, uploader = {"Authorization": "Bearer read-secret"}, {"Authorization": "Bearer upload-secret"}
    reads = [f"/video/v1/assets/{asset['id']}/playback-ids/{pid}", f"/video/v1/playback-ids/{pid}",
             "/video/v1/signing-keys", "/system/v1/signing-keys/x", f"/api/playback/{pid}"]
    writes = [("POST", f"/video/v1/assets/{asset['id']}/playback-ids"),
              ("DELETE", f"/video/v1/assets/{asset['id']}/playback-ids/{pid}"),
              ("POST", "/video/v1/signing-keys"), ("DELETE", "/system/v1/signing-keys/x")]
    for path in reads:
        await call(client, "GET", path, 401, headers={})
        await call(client, "GET", path, 403, headers=uploader)
        assert (await client.get(path, headers=reader)).status not in (401, 403), path
    for method, path in writes:
        await call(client, method, path, 401, headers={}, json={"policy": "public"})
        error = (await call(client, method, path, 403, headers=reader, json={"policy": "public"}))["error"]
        assert "assets:write" in error["messages"][0], error


async def make_ready(client: Client, asset_id: str, *, mp4: bool = False) -> None:
    """What the worker leaves: the asset ready with one HLS rung (and its static rendition, with ``mp4``)."""
    store = client.app[ASSETS]
    stored = await store.get(asset_id)
    assert stored is not None
    ready = replace(stored, status=AssetStatus.READY, hls=(Rung("480p", RungStatus.READY),))
    if mp4:
        assert stored.static_renditions is not None
        files = tuple(replace(f, status=FileStatus.READY) for f in stored.static_renditions.files)
        ready = replace(ready, static_renditions=StaticRenditions(RenditionsStatus.READY, files))
    assert await store.write(stored, ready) is not None


def sources(base: str, pid: str) -> list[dict[str, str]]:
    return [
        {"hrn": "HLS (TS)", "type": "html5/application/vnd.apple.mpegurl", "url": f"{base}/stream/{pid}.m3u8"},
        {"hrn": "Thumbnail (JPEG)", "type": "image/jpeg", "url": f"{base}/image/{pid}/thumbnail.jpg"},
        {"hrn": "Thumbnails", "type": "text/vtt", "url": f"{base}/image/{pid}/storyboard.vtt"}]


async def test_livepeer_playback_info(client: Client) -> None:
    asset = await make_asset(client, static_renditions=[{"resolution": "highest"}])
    pid = asset["playback_ids"][0]["id"]
    body = await call(client, "GET", f"/api/playback/{pid}", 412)
    assert body["errors"] == ["asset is not ready for playback"], body
    body = await call(client, "GET", "/api/playback/unknown", 404)
    assert body["errors"] == ["No playback URL found for unknown"], body

    await make_ready(client, asset["id"])   # the MP4 is still being made
    base = f"http://127.0.0.1:{client.port}"
    info = await call(client, "GET", f"/api/playback/{pid}", 200)
    assert info == {"type": "vod", "meta": {"playbackPolicy": None, "source": sources(base, pid)}}


async def test_livepeer_playback_info_lists_the_mp4_and_uses_the_playback_url(client_factory: Any) -> None:
    client = await client_factory(playback={"public_url": "https://play.example.com/"})
    made = await call(client, "POST", "/api/asset/upload/url", 200,
                      json={"name": "clip.mp4", "url": "https://example.com/clip.mp4"})
    await make_ready(client, made["asset"]["id"])
    pid = made["asset"]["playbackId"]   # Livepeer's own playback id
    info = await call(client, "GET", f"/api/playback/{pid}", 200)
    assert info["meta"]["source"] == sources("https://play.example.com", pid)

    asset = await make_asset(client, static_renditions=[{"resolution": "highest"}])
    await make_ready(client, asset["id"], mp4=True)
    pid = asset["playback_ids"][0]["id"]
    info = await call(client, "GET", f"/api/playback/{pid}", 200)
    mp4 = {"hrn": "MP4", "type": "html5/video/mp4", "url": f"https://play.example.com/stream/{pid}/highest.mp4"}
    assert info["meta"]["source"] == [mp4, *sources("https://play.example.com", pid)]
