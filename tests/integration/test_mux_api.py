"""The Mux-compatible upload and asset API, Livepeer's request-upload, and what completion produces
(Asset, events, one queued job), against the in-process gateway with real Redis (and S3)."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import ASSETS, EVENTS, JOBS, SERVICE, UPLOADS
from gateway.catalog.models import AssetStatus, Progress, ProgressState, UploadStatus
from tests.conftest import AUTH, TOKEN_ID, TOKEN_SECRET, TUS

Client = TestClient[Any, Any]
BASIC = {"Authorization": "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN_SECRET}".encode()).decode()}
KiB = 1024


async def create(client: Client, **body: Any) -> dict[str, Any]:
    resp = await client.post("/video/v1/uploads", json=body, headers=BASIC)
    assert resp.status == 201, await resp.text()
    return dict((await resp.json())["data"])


async def get_upload(client: Client, upload_id: str) -> dict[str, Any]:
    resp = await client.get(f"/video/v1/uploads/{upload_id}", headers=AUTH)
    assert resp.status == 200, await resp.text()
    return dict((await resp.json())["data"])


async def event_types(client: Client, object_id: str | None = None) -> list[str]:
    events = await client.app[EVENTS].recent(1000)
    return [e["type"] for e in events if object_id is None or e["object_id"] == object_id]


async def test_create_returns_the_mux_upload_shape(client: Client) -> None:
    settings = {"playback_policies": ["public"], "passthrough": "user-42", "video_quality": "basic",
                "meta": {"title": "Holiday"}, "master_access": "temporary"}
    upload = await create(client, cors_origin="https://app.example.com", new_asset_settings=settings)
    assert upload["status"] == "waiting" and upload["timeout"] == 3600 and upload["test"] is False
    assert upload["cors_origin"] == "https://app.example.com"
    assert upload["new_asset_settings"] == settings
    assert upload["url"].startswith(f"http://127.0.0.1:{client.port}/files/")
    assert upload["tus_endpoint"] == upload["url"] + "/tus"
    assert len(upload["url"].rsplit("/", 1)[1]) >= 22 and upload["id"] not in upload["url"]
    assert "asset_id" not in upload and not any(k.startswith("_") for k in upload)
    assert await get_upload(client, upload["id"]) == upload
    assert await event_types(client, upload["id"]) == ["video.upload.created"]


@pytest.mark.parametrize(("body", "fragment"), [
    ({"timeout": 59}, "timeout"),
    ({"timeout": 604801}, "timeout"),
    ({"timeout": "3600"}, "timeout"),
    ({"cors_origin": 5}, "cors_origin"),
    ({"colour": "red"}, "colour: unknown field"),
    ({"new_asset_settings": {"playback_policies": ["everyone"]}}, "playback_policies"),
    ({"new_asset_settings": {"playback_policy": "everyone"}}, "playback_policy"),
    ({"new_asset_settings": {"playback_policies": 5}}, "playback_policies"),
    ({"new_asset_settings": {"passthrough": "x" * 256}}, "passthrough"),
    ({"new_asset_settings": {"max_resolution_tier": "4k"}}, "max_resolution_tier"),
    ({"new_asset_settings": {"input": [{"url": "https://example.com/a.mp4"}], "bogus": 1}}, "bogus"),
    ({"test": "yes"}, "test"),
])
async def test_bad_create_bodies_are_400_with_clear_messages(client: Client, body: dict[str, Any],
                                                             fragment: str) -> None:
    resp = await client.post("/video/v1/uploads", json=body, headers=AUTH)
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["type"] == "invalid_parameters" and any(fragment in m for m in error["messages"])


async def test_malformed_json_and_non_objects_are_400(client: Client) -> None:
    for raw in (b"{", b"[1, 2]", b"\xff\xfe"):
        resp = await client.post("/video/v1/uploads", data=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert resp.status == 400, raw
        assert (await resp.json())["error"]["type"] == "invalid_parameters"
    assert (await client.get("/video/v1/uploads", headers=AUTH)).status == 200


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + base64.b64encode(b"test:nope").decode()},
    {"Authorization": "Basic !!!"}, {"Authorization": "Token x"},
])
async def test_api_requires_a_valid_token(client: Client, headers: dict[str, str]) -> None:
    for method, path in (("POST", "/video/v1/uploads"), ("GET", "/video/v1/uploads"),
                         ("GET", "/video/v1/uploads/x"), ("PUT", "/video/v1/uploads/x/cancel"),
                         ("GET", "/video/v1/assets"), ("DELETE", "/video/v1/assets/x"),
                         ("POST", "/api/asset/request-upload")):
        resp = await client.request(method, path, json={}, headers=headers)
        assert resp.status == 401, (method, path)
        assert (await resp.json())["error"]["type"] == "unauthorized"


async def test_list_pages_and_ends_with_an_empty_page(client: Client) -> None:
    made = [(await create(client, cors_origin="*"))["id"] for _ in range(5)]
    seen: list[str] = []
    page = 1
    while True:
        resp = await client.get(f"/video/v1/uploads?limit=2&page={page}", headers=AUTH)
        batch = (await resp.json())["data"]
        if not batch:
            break
        assert len(batch) <= 2
        seen += [u["id"] for u in batch]
        page += 1
    assert seen == list(reversed(made)) and page == 4
    for query in ("limit=0", "limit=101", "limit=x", "page=0", "page=-1"):
        resp = await client.get(f"/video/v1/uploads?{query}", headers=AUTH)
        assert resp.status == 400, query


async def test_unknown_ids_are_404(client: Client) -> None:
    for path in ("/video/v1/uploads/nope", "/video/v1/assets/nope"):
        resp = await client.get(path, headers=AUTH)
        assert resp.status == 404 and (await resp.json())["error"]["type"] == "not_found"
    assert (await client.put("/video/v1/uploads/nope/cancel", headers=AUTH)).status == 404


async def test_whole_file_put_creates_one_asset_once(client: Client) -> None:
    upload = await create(client, cors_origin="*", new_asset_settings={
        "playback_policy": ["public"], "passthrough": "p-1", "meta": {"title": "T", "creator_id": "c"},
        "max_resolution_tier": "2160p", "video_quality": "plus"})
    body = os.urandom(300 * KiB)
    resp = await client.put(upload["url"], data=body)
    assert resp.status == 200
    done = await get_upload(client, upload["id"])
    assert done["status"] == "asset_created" and done["asset_id"]
    resp = await client.get(f"/video/v1/assets/{done['asset_id']}", headers=AUTH)
    asset = (await resp.json())["data"]
    assert asset["status"] == "preparing" and asset["upload_id"] == upload["id"]
    assert asset["ingest_type"] == "on_demand_direct_upload"
    assert asset["passthrough"] == "p-1" and asset["meta"] == {"title": "T", "creator_id": "c"}
    assert asset["max_resolution_tier"] == "2160p" and asset["video_quality"] == "plus"
    assert asset["encoding_tier"] == "smart" and asset["playback_ids"][0]["policy"] == "public"
    assert isinstance(asset["created_at"], str) and not any(k.startswith("_") for k in asset)
    # a client retry of the whole file, and a status check, change nothing
    assert (await client.put(upload["url"], data=body)).status == 200
    assert (await client.put(upload["url"], headers={"Content-Range": f"bytes */{len(body)}"})).status == 200
    await client.app[UPLOADS].reconcile()
    assert (await get_upload(client, upload["id"]))["asset_id"] == done["asset_id"]
    types = await event_types(client)
    assert types.count("video.asset.created") == 1 and types.count("video.upload.asset_created") == 1
    assert await client.app[JOBS].depth() == 1
    job = await client.app[JOBS].queue.job(f"asset-{done['asset_id']}")
    assert job is not None and job.kwargs == {"asset_id": done["asset_id"]}
    # the stored bytes are the file
    resp = await client.get(upload["url"], headers=AUTH)
    assert await resp.read() == body


async def test_chunked_put_then_tus_finish_the_same_upload(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    body = os.urandom(700 * KiB)
    total = len(body)
    resp = await client.put(upload["url"], data=body[: 256 * KiB],
                            headers={"Content-Range": f"bytes 0-{256 * KiB - 1}/{total}"})
    assert resp.status == 308 and resp.headers["Range"] == f"bytes=0-{256 * KiB - 1}"
    assert "Location" not in resp.headers and await resp.read() == b""
    resp = await client.head(upload["url"], headers=TUS)
    assert resp.headers["Upload-Offset"] == str(256 * KiB) and resp.headers["Upload-Length"] == str(total)
    resp = await client.patch(upload["url"], data=body[256 * KiB:], headers={
        **TUS, "Upload-Offset": str(256 * KiB), "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204 and resp.headers["Upload-Offset"] == str(total)
    assert (await get_upload(client, upload["id"]))["status"] == "asset_created"
    assert await (await client.get(upload["url"], headers=AUTH)).read() == body


async def test_tus_endpoint_is_a_creation_endpoint_bound_to_the_upload(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    body = os.urandom(100 * KiB)
    resp = await client.post(upload["tus_endpoint"], headers={
        **TUS, "Upload-Length": str(len(body)), "Upload-Metadata": "filename YS5tcDQ="})
    assert resp.status == 201 and resp.headers["Location"] == upload["url"]
    resp = await client.post(upload["tus_endpoint"], headers={**TUS, "Upload-Length": "5"})
    assert resp.status == 400   # the length cannot change
    resp = await client.patch(upload["url"], data=body, headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204
    assert (await get_upload(client, upload["id"]))["status"] == "asset_created"
    resp = await client.head(upload["url"], headers=TUS)
    assert resp.headers["Upload-Metadata"] == "filename YS5tcDQ="


async def test_tus_endpoint_with_creation_with_upload(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    resp = await client.post(upload["tus_endpoint"], data=b"abc", headers={
        **TUS, "Upload-Length": "3", "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 201 and resp.headers["Upload-Offset"] == "3"
    assert (await get_upload(client, upload["id"]))["status"] == "asset_created"


async def test_cancel_stops_the_url_and_creates_nothing(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    resp = await client.put(upload["url"], data=b"x" * 256 * KiB,
                            headers={"Content-Range": f"bytes 0-{256 * KiB - 1}/{512 * KiB}"})
    assert resp.status == 308
    resp = await client.put(f"/video/v1/uploads/{upload['id']}/cancel", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "cancelled"
    resp = await client.put(f"/video/v1/uploads/{upload['id']}/cancel", headers=AUTH)
    assert resp.status == 403 and (await resp.json())["error"]["type"] == "forbidden"
    resp = await client.put(upload["url"], data=b"y" * 256 * KiB,
                            headers={"Content-Range": f"bytes {256 * KiB}-{512 * KiB - 1}/{512 * KiB}"})
    assert resp.status == 410
    assert (await client.head(upload["url"], headers=TUS)).status == 410
    assert (await get_upload(client, upload["id"]))["status"] == "cancelled"
    assert "video.upload.cancelled" in await event_types(client, upload["id"])
    assert (await client.get("/video/v1/assets", headers=AUTH)).status == 200
    assert (await (await client.get("/video/v1/assets", headers=AUTH)).json())["data"] == []


async def test_cancel_after_completion_is_403(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    assert (await client.put(upload["url"], data=b"done")).status == 200
    resp = await client.put(f"/video/v1/uploads/{upload['id']}/cancel", headers=AUTH)
    assert resp.status == 403
    assert (await get_upload(client, upload["id"]))["status"] == "asset_created"


async def test_timed_out_upload_refuses_bytes(client: Client) -> None:
    upload = await create(client, cors_origin="*", timeout=60)
    resp = await client.put(upload["url"], data=b"a" * 256 * KiB,
                            headers={"Content-Range": f"bytes 0-{256 * KiB - 1}/{1024 * KiB}"})
    assert resp.status == 308
    # jump past the deadline: what the clock would do in 60 s
    uploads, service = client.app[UPLOADS], client.app[SERVICE]
    record = await uploads.store.get(upload["id"])
    assert record is not None
    past = time.time() - 1
    assert await uploads.store.write(record, replace(record, deadline=past)) is not None
    await service.state.touch_expiry(record.storage_upload, past)
    resp = await client.put(upload["url"], data=b"b" * 256 * KiB,
                            headers={"Content-Range": f"bytes {256 * KiB}-{512 * KiB - 1}/{1024 * KiB}"})
    assert resp.status == 410
    assert (await get_upload(client, upload["id"]))["status"] == "timed_out"
    await service.sweep(now=time.time() + 1)
    assert await service.state.get(record.storage_upload) is None   # data removed by the sweeper
    assert (await get_upload(client, upload["id"]))["status"] == "timed_out"


async def test_cors_follows_the_uploads_cors_origin(client: Client) -> None:
    upload = await create(client, cors_origin="https://app.example.com")
    good, bad = {"Origin": "https://app.example.com"}, {"Origin": "https://evil.example.com"}
    preflight = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-range"}
    resp = await client.options(upload["url"], headers={**good, **preflight})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "PUT" in resp.headers["Access-Control-Allow-Methods"]
    assert "Content-Range" in resp.headers["Access-Control-Allow-Headers"]
    resp = await client.options(upload["url"], headers={**bad, **preflight})
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.put(upload["url"], data=b"z" * 256 * KiB,
                            headers={**bad, "Content-Range": f"bytes 0-{256 * KiB - 1}/{512 * KiB}"})
    assert resp.status == 403 and "Access-Control-Allow-Origin" not in resp.headers
    assert (await client.head(upload["url"], headers=TUS)).headers["Upload-Offset"] == "0"
    resp = await client.put(upload["url"], data=b"z" * 256 * KiB,
                            headers={**good, "Content-Range": f"bytes 0-{256 * KiB - 1}/{512 * KiB}"})
    assert resp.status == 308 and resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Range", "Upload-Offset", "Location", "Upload-Length"} <= exposed
    resp = await client.head(upload["url"], headers={**bad, **TUS})
    assert resp.status == 403


async def test_plain_tus_uploads_become_assets_too(client: Client) -> None:
    resp = await client.post("/files/", data=b"hello", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 201
    uploads = (await (await client.get("/video/v1/uploads", headers=AUTH)).json())["data"]
    assert len(uploads) == 1 and uploads[0]["url"] == resp.headers["Location"]
    assert uploads[0]["status"] == "asset_created" and 60 <= uploads[0]["timeout"] <= 604800


async def test_partial_uploads_are_not_assets_but_their_final_is(client: Client) -> None:
    locations = []
    for part in (b"ab", b"cd"):
        resp = await client.post("/files/", data=part, headers={
            **TUS, **AUTH, "Upload-Length": "2", "Upload-Concat": "partial",
            "Content-Type": "application/offset+octet-stream"})
        locations.append(resp.headers["Location"].split("/files/")[1])
    resp = await client.post("/files/", headers={
        **TUS, **AUTH, "Upload-Concat": "final;" + " ".join(f"/files/{i}" for i in locations)})
    assert resp.status == 201
    uploads = (await (await client.get("/video/v1/uploads", headers=AUTH)).json())["data"]
    assert [u["status"] for u in uploads] == ["asset_created"]


async def test_interrupted_completion_is_finished_by_reconcile(client: Client) -> None:
    uploads = client.app[UPLOADS]
    upload = await create(client, cors_origin="*")
    assert (await client.put(upload["url"], data=b"data")).status == 200
    record = await uploads.store.get(upload["id"])
    assert record is not None and record.status is UploadStatus.ASSET_CREATED
    # a gateway died after flipping the status but before creating the asset
    await client.app[ASSETS].delete(record.asset_id)
    await uploads.redis.sadd(uploads.completing, upload["id"])
    await uploads.reconcile()
    await uploads.reconcile()
    asset = await client.app[ASSETS].get(record.asset_id)
    assert asset is not None and asset.status is AssetStatus.PREPARING
    assert (await event_types(client)).count("video.asset.created") == 1
    assert not await uploads.redis.smembers(uploads.completing)


async def test_assets_list_with_cursor_and_upload_filter_and_delete(client: Client) -> None:
    made = []
    for _ in range(3):
        upload = await create(client, cors_origin="*")
        assert (await client.put(upload["url"], data=b"v")).status == 200
        made.append((await get_upload(client, upload["id"]))["asset_id"])
    resp = await client.get("/video/v1/assets?limit=2", headers=AUTH)
    first = await resp.json()
    assert [a["id"] for a in first["data"]] == made[::-1][:2] and first["next_cursor"]
    resp = await client.get(f"/video/v1/assets?limit=2&cursor={first['next_cursor']}", headers=AUTH)
    second = await resp.json()
    assert [a["id"] for a in second["data"]] == [made[0]] and not second.get("next_cursor")
    resp = await client.get(f"/video/v1/assets?upload_id={upload['id']}", headers=AUTH)
    assert [a["id"] for a in (await resp.json())["data"]] == [made[2]]
    resp = await client.delete(f"/video/v1/assets/{made[2]}", headers=AUTH)
    assert resp.status == 204 and await resp.read() == b""
    assert (await client.get(f"/video/v1/assets/{made[2]}", headers=AUTH)).status == 404
    assert (await client.get(upload["url"], headers=AUTH)).status == 404   # the bytes went too
    assert "video.asset.deleted" in await event_types(client, made[2])


async def test_livepeer_request_upload(client: Client) -> None:
    resp = await client.post("/api/asset/request-upload", json={"name": "holiday.mp4"}, headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body["url"].startswith(f"http://127.0.0.1:{client.port}/files/")
    assert body["tusEndpoint"] == body["url"] + "/tus"
    asset = body["asset"]
    assert asset["status"]["phase"] == "waiting" and asset["playbackId"] and asset["name"] == "holiday.mp4"
    assert body["task"]["id"]
    resp = await client.get(f"/api/asset/{asset['id']}", headers=AUTH)
    assert (await resp.json())["status"]["phase"] == "waiting"
    assert (await client.put(body["url"], data=b"movie")).status == 200
    resp = await client.get(f"/api/asset/{asset['id']}", headers=AUTH)
    assert (await resp.json())["status"]["phase"] == "processing"
    resp = await client.get(f"/video/v1/assets/{asset['id']}", headers=AUTH)
    assert (await resp.json())["data"]["meta"] == {"title": "holiday.mp4"}
    # its playbackId names the asset for playback (412 while it prepares, not an unknown id's 404)
    resp = await client.get(f"/api/playback/{asset['playbackId']}", headers=AUTH)
    assert resp.status == 412, await resp.text()
    resp = await client.get(f"/api/asset/{asset['id']}", headers=AUTH)
    assert (await resp.json())["source"] == {"type": "directUpload"}


async def test_livepeer_errors(client: Client) -> None:
    resp = await client.post("/api/asset/request-upload", json={}, headers=AUTH)
    assert resp.status == 400
    body = await resp.json()
    assert body["errors"] and body["error"]["type"] == "invalid_parameters"
    resp = await client.get("/api/asset/unknown", headers=AUTH)
    assert resp.status == 404 and (await resp.json())["errors"]


async def test_an_empty_file_errors_the_upload_without_an_asset(client: Client) -> None:
    upload = await create(client, cors_origin="*")
    assert (await client.put(upload["url"], data=b"")).status == 200
    done = await get_upload(client, upload["id"])
    assert done["status"] == "errored" and "asset_id" not in done
    assert done["error"] == {"type": "invalid_input", "message": "The uploaded file is empty"}
    assert "video.upload.errored" in await event_types(client, upload["id"])
    assert (await (await client.get("/video/v1/assets", headers=AUTH)).json())["data"] == []


async def test_update_asset_passthrough_and_meta(client: Client) -> None:
    upload = await create(client, cors_origin="*", new_asset_settings={"passthrough": "old", "meta": {"title": "A"}})
    assert (await client.put(upload["url"], data=b"v")).status == 200
    asset_id = (await get_upload(client, upload["id"]))["asset_id"]
    resp = await client.patch(f"/video/v1/assets/{asset_id}", json={"passthrough": "new",
                                                                    "meta": {"title": "B", "creator_id": "c"}},
                              headers=AUTH)
    assert resp.status == 200
    asset = (await resp.json())["data"]
    assert asset["passthrough"] == "new" and asset["meta"] == {"title": "B", "creator_id": "c"}
    resp = await client.patch(f"/video/v1/assets/{asset_id}", json={"passthrough": None}, headers=AUTH)
    assert "passthrough" not in (await resp.json())["data"]
    for bad in ({"status": "ready"}, {"passthrough": 5}, {"meta": {"title": "x" * 513}}):
        resp = await client.patch(f"/video/v1/assets/{asset_id}", json=bad, headers=AUTH)
        assert resp.status == 400, bad
    assert (await event_types(client, asset_id)).count("video.asset.updated") == 2
    assert (await client.patch("/video/v1/assets/nope", json={}, headers=AUTH)).status == 404


@pytest.mark.parametrize("key", ["playback_policy", "playback_policies"])
async def test_a_playback_policy_may_be_one_string(client: Client, key: str) -> None:
    """Mux's Node example sends ``new_asset_settings: {playback_policy: 'public'}``."""
    upload = await create(client, cors_origin="*", new_asset_settings={key: "public"})
    assert upload["new_asset_settings"] == {key: ["public"]}
    assert (await client.put(upload["url"], data=b"v")).status == 200
    asset_id = (await get_upload(client, upload["id"]))["asset_id"]
    asset = (await (await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)).json())["data"]
    assert [p["policy"] for p in asset["playback_ids"]] == ["public"]
    both = await create(client, new_asset_settings={key: ["public", "signed"]})
    assert both["new_asset_settings"] == {key: ["public", "signed"]}


async def test_livepeer_updated_at_moves_with_the_phase_and_progress(client: Client) -> None:
    resp = await client.post("/api/asset/request-upload", json={"name": "clip.mp4"}, headers=AUTH)
    body = await resp.json()
    asset_id = body["asset"]["id"]

    async def status() -> dict[str, Any]:
        resp = await client.get(f"/api/asset/{asset_id}", headers=AUTH)
        return dict((await resp.json())["status"])

    waiting = await status()
    assert waiting["phase"] == "waiting" and waiting["updatedAt"] == body["asset"]["status"]["updatedAt"]
    await asyncio.sleep(0.01)
    assert (await client.put(body["url"], data=b"movie")).status == 200
    processing = await status()
    assert processing["phase"] == "processing" and processing["updatedAt"] > waiting["updatedAt"]
    assert await status() == processing   # nothing changed: nor does updatedAt
    await asyncio.sleep(0.01)
    assets = client.app[ASSETS]
    asset = await assets.get(asset_id)
    assert asset is not None
    await assets.write(asset, replace(asset, progress=Progress(ProgressState.TRANSCODING, 40)))
    moving = await status()
    assert moving["progress"] == 0.4 and moving["updatedAt"] > processing["updatedAt"]


TITLE = "Holiday in Lisbon \u00e9t\u00e9.mov"   # not ASCII: the metadata is base64 of UTF-8
FILENAME = "filename " + base64.b64encode(TITLE.encode()).decode()


async def test_the_uploaded_file_name_titles_the_asset(client: Client) -> None:
    """Assets from tus uploads carry the ``filename`` a tus client sends, unless a title was given."""
    resp = await client.post("/files/", data=b"hello", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Upload-Metadata": FILENAME,
        "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 201
    uploads = (await (await client.get("/video/v1/uploads", headers=AUTH)).json())["data"]
    asset_id = uploads[0]["asset_id"]
    asset = (await (await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)).json())["data"]
    assert asset["meta"] == {"title": TITLE}
    for settings, meta in (({"meta": {"title": "Given"}}, {"title": "Given"}),
                           ({"meta": {"creator_id": "c"}}, {"creator_id": "c", "title": TITLE})):
        upload = await create(client, cors_origin="*", new_asset_settings=settings)
        resp = await client.post(upload["tus_endpoint"], data=b"abc", headers={
            **TUS, "Upload-Length": "3", "Upload-Metadata": FILENAME,
            "Content-Type": "application/offset+octet-stream"})
        assert resp.status == 201
        asset_id = (await get_upload(client, upload["id"]))["asset_id"]
        asset = (await (await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)).json())["data"]
        assert asset["meta"] == meta
    upload = await create(client, cors_origin="*")   # a plain PUT names no file: no title
    assert (await client.put(upload["url"], data=b"v")).status == 200
    asset_id = (await get_upload(client, upload["id"]))["asset_id"]
    asset = (await (await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)).json())["data"]
    assert "meta" not in asset
