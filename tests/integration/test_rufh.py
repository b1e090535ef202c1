"""IETF Resumable Uploads (interop versions 3 to 8) against the in-process gateway, on raw sockets where
the bytes on the wire matter (the 104, an interrupted creation), on both storage backends.

These stand in for Apple's URLSession (iOS 17: version 3, iOS 18: 5, iOS 18.1: 6), whose behaviour is
swift-nio-extras' NIOResumableUpload: creation by POST or PUT with the completeness header, an immediate
104 with the same version and an absolute Location, HEAD answered 204 with ``Upload-Offset``, the
completeness header and ``Cache-Control: no-store``, PATCH with ``application/partial-upload`` from
version 6 and 409 with ``Upload-Offset`` on a mismatch, OPTIONS 200 with ``Upload-Limit``, DELETE 204.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import http_sf
import pytest
from aiohttp.test_utils import TestClient

from gateway.core.rufh import VERSIONS, Version
from tests.conftest import AUTH, TUS
from tests.integration.test_hardening import Raw

Client = TestClient[Any, Any]
ALL = sorted(VERSIONS)


def interop(version: Version, complete: bool | None = None) -> dict[str, str]:
    headers = {"Upload-Draft-Interop-Version": str(version.number)}
    if complete is not None:
        headers[version.complete_header] = version.complete_value(complete)
    return headers


def completeness(version: Version, headers: Any) -> bool:
    parsed: Any = http_sf.parse(headers[version.complete_header].encode(), tltype="item")
    value = bool(parsed[0])
    return value if version.complete_header == "Upload-Complete" else not value


def path_of(client: Client, url: str) -> str:
    return url.split(str(client.port), 1)[1]


def append_headers(version: Version, offset: int, complete: bool) -> dict[str, str]:
    headers = {**interop(version, complete), "Upload-Offset": str(offset)}
    if version.partial_content_type:
        headers["Content-Type"] = "application/partial-upload"
    return headers


async def body_of(client: Client, url: str) -> bytes:
    return bytes(await (await client.get(url, headers=AUTH)).read())


@pytest.mark.parametrize("number", ALL)
async def test_creation_sends_104_then_an_interrupted_upload_resumes(client: Client, number: int) -> None:
    version = VERSIONS[number]
    data = os.urandom(300_000)
    raw = await Raw.open(client)
    await raw.request("POST", "/files/", {**AUTH, **interop(version, True), "Content-Length": str(len(data)),
                                          "Upload-Metadata": "filename YS5iaW4="}, data[:100_000])
    status, headers, _ = await raw.response()
    assert status == 104                       # before the body is read, with the request's version
    assert headers["upload-draft-interop-version"] == str(number)
    location = headers["location"]
    assert location.startswith(f"http://127.0.0.1:{client.port}/files/")
    limit: Any = http_sf.parse(headers["upload-limit"].encode(), tltype="dictionary")
    assert limit["max-size"][0] == 1024**3 and limit["min-size"][0] == 0 and version.age_key in limit
    await asyncio.sleep(0.3)
    raw.close()                                # the connection drops mid-body
    await asyncio.sleep(0.3)
    resp = await client.head(location, headers=interop(version))
    assert resp.status == 204 and resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Upload-Draft-Interop-Version"] == str(number)
    offset = int(resp.headers["Upload-Offset"])
    assert 0 < offset <= 100_000               # every byte received is kept
    assert not completeness(version, resp.headers) and resp.headers["Upload-Length"] == str(len(data))
    resp = await client.patch(location, data=data[offset:], headers=append_headers(version, offset, True))
    assert resp.status == 200, await resp.text()   # the resource's own answer: the upload's receipt
    assert completeness(version, resp.headers) and resp.headers["Upload-Offset"] == str(len(data))
    assert await body_of(client, location) == data


@pytest.mark.parametrize("number", ALL)
async def test_incomplete_creation_then_appends(client: Client, number: int) -> None:
    version = VERSIONS[number]
    data = os.urandom(64_000)
    resp = await client.post("/files/", data=data[:1000], headers={**AUTH, **interop(version, False)})
    assert resp.status == 201 and not completeness(version, resp.headers)
    assert resp.headers["Upload-Offset"] == "1000" and "max-size=" in resp.headers["Upload-Limit"]
    location = resp.headers["Location"]
    resp = await client.patch(location, data=data[1000:30_000], headers=append_headers(version, 1000, False))
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "30000"
    # a wrong offset: 409 with the right one (and the draft's problem details from version 6)
    resp = await client.patch(location, data=b"x", headers=append_headers(version, 5, False))
    assert resp.status == 409 and resp.headers["Upload-Offset"] == "30000"
    problem = await resp.json(content_type=None)
    if version.problem_details:
        assert resp.content_type == "application/problem+json"
        assert problem["type"].endswith("#mismatching-upload-offset")
        assert problem["expected-offset"] == 30_000 and problem["provided-offset"] == 5
    else:
        assert "type" not in problem
    resp = await client.patch(location, data=data[30_000:], headers=append_headers(version, 30_000, True))
    assert resp.status == 200 and completeness(version, resp.headers)
    assert await body_of(client, location) == data


@pytest.mark.parametrize("number", ALL)
async def test_options_head_delete_and_content_type(client: Client, number: int) -> None:
    version = VERSIONS[number]
    resp = await client.options("/files/", headers=interop(version))
    assert resp.status == 200 and "min-size=0" in resp.headers["Upload-Limit"]
    assert resp.headers["Upload-Draft-Interop-Version"] == str(number)
    resp = await client.post("/files/", headers={**AUTH, **interop(version, False), "Upload-Length": "10"})
    location = resp.headers["Location"]
    plain = {**interop(version, False), "Upload-Offset": "0"}      # no application/partial-upload
    resp = await client.patch(location, data=b"abc", headers=plain)
    if version.partial_content_type:
        assert resp.status == 415
    else:
        assert resp.status == 204 and resp.headers["Upload-Offset"] == "3"
    assert (await client.delete(location, headers=interop(version))).status == 204
    assert (await client.head(location, headers=interop(version))).status in (404, 410)


async def test_104_only_for_requests_that_carry_a_supported_version(client: Client) -> None:
    for headers in ({**TUS, "Upload-Length": "3"},                                   # tus creation
                    {"Upload-Draft-Interop-Version": "9", "Upload-Complete": "?1"},  # a version not spoken
                    {"Upload-Draft-Interop-Version": "2", "Upload-Complete": "?1"}):
        raw = await Raw.open(client)
        await raw.request("POST", "/files/", {**AUTH, **headers, "Content-Length": "3"}, b"abc")
        status, _, body = await raw.response()
        assert status != 104 and status in (201, 400), (headers, status, body)
        raw.close()


async def test_inconsistent_lengths_are_400(client: Client) -> None:
    version = VERSIONS[8]
    resp = await client.post("/files/", data=b"abc", headers={**AUTH, **interop(version, True), "Upload-Length": "5"})
    assert resp.status == 400 and (await resp.json(content_type=None))["type"].endswith("#inconsistent-upload-length")
    resp = await client.post("/files/", headers={**AUTH, **interop(version, False), "Upload-Length": "5"})
    location = resp.headers["Location"]
    resp = await client.patch(location, data=b"ab", headers=append_headers(version, 0, True))   # 2 of 5
    assert resp.status == 400 and (await resp.json(content_type=None))["type"].endswith("#inconsistent-upload-length")
    resp = await client.head(location, headers=interop(version))
    assert resp.headers["Upload-Offset"] == "0"      # refused before anything was stored
    resp = await client.post("/files/", headers={**AUTH, **interop(version)})    # no Upload-Complete
    assert resp.status == 400


async def test_a_direct_upload_started_with_rufh_answers_like_its_put(client: Client) -> None:
    created = await client.post("/video/v1/uploads", json={"cors_origin": "*"}, headers=AUTH)
    upload = (await created.json())["data"]
    data = os.urandom(50_000)
    version = VERSIONS[6]
    raw = await Raw.open(client)            # no token: the URL is the capability
    await raw.request("PUT", path_of(client, upload["url"]), {**interop(version, True),
                                                              "Content-Length": str(len(data))}, data)
    status, headers, _ = await raw.response()
    assert status == 104 and headers["location"] == upload["url"]
    status, headers, body = await raw.response()
    assert status == 200 and headers["upload-complete"] == "?1" and headers["upload-offset"] == str(len(data))
    assert b'"status": "complete"' in body or b'"status":"complete"' in body
    raw.close()
    found = (await (await client.get(f"/video/v1/uploads/{upload['id']}", headers=AUTH)).json())["data"]
    assert found["status"] == "asset_created"
    asset = (await (await client.get(f"/video/v1/assets/{found['asset_id']}", headers=AUTH)).json())["data"]
    assert asset["status"] == "preparing"


async def test_any_dialect_finishes_what_another_started(client: Client) -> None:
    data = os.urandom(90_000)
    version = VERSIONS[5]
    # RUFH starts, tus finishes
    resp = await client.post("/files/", data=data[:30_000], headers={**AUTH, **interop(version, False),
                                                                     "Upload-Length": str(len(data))})
    location = resp.headers["Location"]
    head = await client.head(location, headers=TUS)
    assert head.status == 200 and head.headers["Upload-Offset"] == "30000"
    resp = await client.patch(location, data=data[30_000:], headers={
        **TUS, "Upload-Offset": "30000", "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204
    assert await body_of(client, location) == data
    # tus starts, RUFH finishes; and Content-Range continues a RUFH upload
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Defer-Length": "1"})
    location = resp.headers["Location"]
    await client.patch(location, data=data[:10_000], headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    resp = await client.patch(location, data=data[10_000:60_000], headers=append_headers(version, 10_000, False))
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "60000"
    resp = await client.put(location, data=data[60_000:], headers={
        "Content-Range": f"bytes 60000-{len(data) - 1}/{len(data)}"})
    assert resp.status == 200
    assert hashlib.sha256(await body_of(client, location)).digest() == hashlib.sha256(data).digest()


async def test_cors_allows_and_exposes_the_rufh_headers(client: Client) -> None:
    resp = await client.options("/files/", headers={"Origin": "https://app.example",
                                                    "Access-Control-Request-Method": "POST"})
    allowed = resp.headers["Access-Control-Allow-Headers"]
    assert {"Upload-Draft-Interop-Version", "Upload-Complete", "Upload-Incomplete", "Upload-Offset",
            "Upload-Length"} <= {h.strip() for h in allowed.split(",")}
    resp = await client.post("/files/", headers={**AUTH, **interop(VERSIONS[6], False), "Origin": "https://app.example"})
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Upload-Draft-Interop-Version", "Upload-Complete", "Upload-Offset", "Upload-Length", "Upload-Limit",
            "Location"} <= exposed


async def test_no_104_when_interim_responses_are_off(client_factory: Any) -> None:
    client = await client_factory(server={"interim_responses": False})   # behind nginx, say
    raw = await Raw.open(client)
    await raw.request("POST", "/files/", {**AUTH, **interop(VERSIONS[6], True), "Content-Length": "3"}, b"abc")
    status, headers, _ = await raw.response()
    assert status == 201 and headers["upload-complete"] == "?1"
    raw.close()
