"""tus 1.0.0 conformance against the in-process gateway, on both storage backends.

Ids in the test names refer to the checklist in shared/reference/tus-and-anchors.md §3.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import zlib
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import AUTH, TUS

Client = TestClient[Any, Any]
OCTET = {"Content-Type": "application/offset+octet-stream"}


async def create(client: Client, length: int | None = None, **headers: str) -> str:
    h = {**TUS, **AUTH, **headers}
    if length is not None:
        h["Upload-Length"] = str(length)
    resp = await client.post("/files/", headers=h)
    assert resp.status == 201, await resp.text()
    return resp.headers["Location"]


async def patch(client: Client, url: str, offset: int, data: bytes, **headers: str) -> Any:
    return await client.patch(url, data=data, headers={**TUS, **OCTET, "Upload-Offset": str(offset), **headers})


async def head(client: Client, url: str) -> Any:
    return await client.head(url, headers=TUS)


# -- core --------------------------------------------------------------------------------------------


async def test_options_advertises_version_extensions_and_limits(client: Client) -> None:  # C6-C11, CK7
    resp = await client.options("/files/")
    assert resp.status == 204
    assert resp.headers["Tus-Version"] == "1.0.0"
    assert set(resp.headers["Tus-Extension"].split(",")) == {
        "creation", "creation-with-upload", "creation-defer-length", "expiration", "checksum",
        "termination", "concatenation", "concatenation-unfinished"}
    assert resp.headers["Tus-Max-Size"] == str(1024**3)
    assert {"sha1", "sha256", "md5", "crc32"} <= set(resp.headers["Tus-Checksum-Algorithm"].split(","))


async def test_options_ignores_tus_resumable(client: Client) -> None:  # C5
    resp = await client.options("/files/", headers={"Tus-Resumable": "0.2.2"})
    assert resp.status == 204


async def test_wrong_or_missing_version_gets_412_with_tus_version(client: Client) -> None:  # C3, C4
    for headers, says in (({"Tus-Resumable": "0.2.2"}, "'0.2.2' is not supported"),
                          ({}, "the Tus-Resumable header is missing")):
        resp = await client.post("/files/", headers={**AUTH, "Upload-Length": "5", **headers})
        assert resp.status == 412
        assert says in await resp.text() and "None" not in await resp.text()
        assert resp.headers["Tus-Version"] == "1.0.0"
        assert resp.headers["Tus-Resumable"] == "1.0.0"  # C2 on errors too
    assert (await client.get("/files/")).status in (405, 412)


async def test_full_upload_and_head(client: Client) -> None:  # C14, C15, C17, C18, C22
    url = await create(client, 11, **{"Upload-Metadata": "filename aGVsbG8udHh0,empty"})
    resp = await head(client, url)
    assert resp.status == 200
    assert resp.headers["Upload-Offset"] == "0"
    assert resp.headers["Upload-Length"] == "11"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Upload-Metadata"] == "filename aGVsbG8udHh0,empty"  # CR7: exactly as sent
    resp = await patch(client, url, 0, b"hello")
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "5"
    resp = await patch(client, url, 5, b" world")
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "11"
    resp = await head(client, url)
    assert resp.headers["Upload-Offset"] == "11"
    assert "Upload-Expires" not in resp.headers
    resp = await client.get(url, headers=AUTH)
    assert resp.status == 200 and await resp.read() == b"hello world"


async def test_offset_mismatch_is_409_and_changes_nothing(client: Client) -> None:  # C21
    url = await create(client, 10)
    assert (await patch(client, url, 0, b"abc")).status == 204
    resp = await patch(client, url, 1, b"xyz")
    assert resp.status == 409
    assert (await head(client, url)).headers["Upload-Offset"] == "3"


async def test_patch_needs_offset_octet_stream(client: Client) -> None:  # C20
    url = await create(client, 10)
    resp = await client.patch(url, data=b"abc", headers={**TUS, "Upload-Offset": "0",
                                                         "Content-Type": "application/octet-stream"})
    assert resp.status == 415
    assert (await head(client, url)).headers["Upload-Offset"] == "0"


async def test_malformed_numbers_are_400(client: Client) -> None:  # C13
    url = await create(client, 10)
    for bad in ("-1", "abc", "1.5", "", "0x10", "99999999999999999999999"):
        resp = await patch(client, url, 0, b"abc", **{"Upload-Offset": bad})
        assert resp.status == 400, bad
        body = await resp.json()
        assert body["error"]["type"] == "invalid_header"
    for bad in ("-5", "ten", "1e3"):
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": bad})
        assert resp.status == 400
    resp = await client.patch(url, data=b"abc", headers={**TUS, **OCTET})
    assert resp.status == 400  # missing Upload-Offset


async def test_unknown_upload_is_404_without_offset(client: Client) -> None:  # C16, C23
    resp = await head(client, "/files/doesnotexist")
    assert resp.status == 404 and "Upload-Offset" not in resp.headers
    assert (await patch(client, "/files/doesnotexist", 0, b"x")).status == 404


async def test_method_override(client: Client) -> None:  # C12
    url = await create(client, 8)
    resp = await client.post(url, data=b"abcd", headers={
        **TUS, **OCTET, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert resp.status == 204 and resp.headers["Upload-Offset"] == "4"
    resp = await client.post(url, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert resp.status == 204
    assert (await head(client, url)).status == 404


async def test_bytes_beyond_length_are_413_and_nothing_is_stored(client: Client) -> None:
    url = await create(client, 4)
    resp = await patch(client, url, 0, b"abcdef")
    assert resp.status == 413
    assert (await head(client, url)).headers["Upload-Offset"] == "0"


async def test_upload_id_is_an_unguessable_capability(client: Client) -> None:
    url = await create(client, 1)
    upload_id = url.rsplit("/", 1)[1]
    assert len(base64.urlsafe_b64decode(upload_id + "=" * (-len(upload_id) % 4))) >= 16


# -- creation ----------------------------------------------------------------------------------------


async def test_creation_needs_a_token(client: Client) -> None:
    resp = await client.post("/files/", headers={**TUS, "Upload-Length": "5"})
    assert resp.status == 401 and "WWW-Authenticate" in resp.headers
    resp = await client.post("/files/", headers={**TUS, "Upload-Length": "5", "Authorization": "Bearer nope"})
    assert resp.status == 401
    basic = base64.b64encode(b"test:test-secret").decode()
    resp = await client.post("/files/", headers={**TUS, "Upload-Length": "5", "Authorization": f"Basic {basic}"})
    assert resp.status == 201


async def test_creation_length_rules(client: Client) -> None:  # CR2, CR3, CR8
    assert (await client.post("/files/", headers={**TUS, **AUTH})).status == 400
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Defer-Length": "2"})
    assert resp.status == 400
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "5", "Upload-Defer-Length": "1"})
    assert resp.status == 400
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": str(1024**3 + 1)})
    assert resp.status == 413


async def test_metadata_validation(client: Client) -> None:  # CR5
    for bad in ("key", "key !!!notbase64", "a YQ==,a Yg==", "bad key YQ==", "k YQ== extra"):
        if bad == "key":
            continue  # a key without a value is valid
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "1", "Upload-Metadata": bad})
        assert resp.status == 400, bad
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "1", "Upload-Metadata": ""})
    assert resp.status == 201  # tuspy sends an empty header


async def test_zero_length_upload_is_complete_at_once(client: Client) -> None:  # CR10
    url = await create(client, 0)
    resp = await head(client, url)
    assert resp.headers["Upload-Offset"] == "0" and resp.headers["Upload-Length"] == "0"
    resp = await client.get(url, headers=AUTH)
    assert resp.status == 200 and await resp.read() == b""


async def test_creation_with_upload(client: Client) -> None:  # CU2, CU3
    resp = await client.post("/files/", data=b"0123456789", headers={
        **TUS, **AUTH, **OCTET, "Upload-Length": "20"})
    assert resp.status == 201
    assert resp.headers["Upload-Offset"] == "10"
    assert (await head(client, resp.headers["Location"])).headers["Upload-Offset"] == "10"


async def test_defer_length(client: Client) -> None:  # DL2, DL3
    url = await create(client, None, **{"Upload-Defer-Length": "1"})
    resp = await head(client, url)
    assert resp.headers["Upload-Defer-Length"] == "1" and "Upload-Length" not in resp.headers
    assert (await patch(client, url, 0, b"abc")).status == 204
    assert (await head(client, url)).headers["Upload-Defer-Length"] == "1"
    resp = await patch(client, url, 3, b"de", **{"Upload-Length": "5"})
    assert resp.status == 204
    resp = await head(client, url)
    assert resp.headers["Upload-Length"] == "5" and "Upload-Defer-Length" not in resp.headers
    resp = await patch(client, url, 5, b"", **{"Upload-Length": "6"})
    assert resp.status == 400  # the length never changes
    assert await (await client.get(url, headers=AUTH)).read() == b"abcde"


# -- expiration --------------------------------------------------------------------------------------


async def test_expires_header_on_post_and_patch(client: Client) -> None:  # EX2-EX4
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "10"})
    expires = parsedate_to_datetime(resp.headers["Upload-Expires"])
    assert resp.headers["Upload-Expires"].endswith(" GMT")
    assert 3500 < expires.timestamp() - time.time() < 3700
    resp = await patch(client, resp.headers["Location"], 0, b"abc")
    assert "Upload-Expires" in resp.headers


async def test_expired_upload_is_410_and_swept(client: Client) -> None:  # EX5
    from tests.conftest import service_of

    service = service_of(client)
    url = await create(client, 10)
    await patch(client, url, 0, b"abc")
    upload_id = url.rsplit("/", 1)[1]
    await service.state.touch_expiry(upload_id, time.time() - 1)
    assert (await head(client, url)).status == 410
    assert (await patch(client, url, 3, b"d")).status == 410
    assert await service.sweep() == 1
    assert await service.state.get(upload_id) is None
    assert (await head(client, url)).status == 410  # the tombstone still says why


# -- checksum ----------------------------------------------------------------------------------------


def _digest(algorithm: str, data: bytes) -> str:
    raw = zlib.crc32(data).to_bytes(4, "big") if algorithm == "crc32" else hashlib.new(algorithm, data).digest()
    return f"{algorithm} {base64.b64encode(raw).decode()}"


async def test_checksums_accept_matching_bodies(client: Client) -> None:  # CK2, CK5
    data = os.urandom(5000)
    url = await create(client, len(data) * 4)
    for i, algorithm in enumerate(("sha1", "sha256", "md5", "crc32")):
        resp = await patch(client, url, i * len(data), data, **{"Upload-Checksum": _digest(algorithm, data)})
        assert resp.status == 204, (algorithm, await resp.text())
    assert await (await client.get(url, headers=AUTH)).read() == data * 4


async def test_checksum_mismatch_is_460_and_discards_the_chunk(client: Client) -> None:  # CK3, CK4
    url = await create(client, 10)
    resp = await patch(client, url, 0, b"abcde", **{"Upload-Checksum": _digest("sha1", b"other")})
    assert resp.status == 460
    assert (await head(client, url)).headers["Upload-Offset"] == "0"
    assert (await patch(client, url, 0, b"abcde", **{"Upload-Checksum": _digest("sha1", b"abcde")})).status == 204


async def test_bad_checksum_headers_are_400(client: Client) -> None:  # CK3, CK6, CK9
    url = await create(client, 10)
    for bad in ("sha1", "SHA1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "whirlpool YWJj", "sha1 !!!", "sha1 YWJj"):
        resp = await patch(client, url, 0, b"abc", **{"Upload-Checksum": bad})
        assert resp.status == 400, bad
    assert (await head(client, url)).headers["Upload-Offset"] == "0"


# -- termination ---------------------------------------------------------------------------------------


async def test_termination(client: Client) -> None:  # T2, T3
    url = await create(client, 10)
    await patch(client, url, 0, b"abc")
    resp = await client.delete(url, headers=TUS)
    assert resp.status == 204
    assert (await head(client, url)).status == 404
    assert (await patch(client, url, 3, b"d")).status == 404
    assert (await client.delete(url, headers=TUS)).status == 404


# -- concatenation -----------------------------------------------------------------------------------


async def test_concatenation_of_finished_partials(client: Client) -> None:  # CC3, CC4, CC6, CC9, CC11
    a = await create(client, 3, **{"Upload-Concat": "partial", "Upload-Metadata": "name YQ=="})
    b = await create(client, 4, **{"Upload-Concat": "partial"})
    await patch(client, a, 0, b"abc")
    await patch(client, b, 0, b"defg")
    relative_b = "/files/" + b.rsplit("/", 1)[1]
    header = f"final;{a} {relative_b}"
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Concat": header})
    assert resp.status == 201
    final = resp.headers["Location"]
    resp = await head(client, final)
    assert resp.headers["Upload-Offset"] == "7" and resp.headers["Upload-Length"] == "7"
    assert resp.headers["Upload-Concat"] == header
    assert "Upload-Metadata" not in resp.headers
    assert (await head(client, a)).headers["Upload-Concat"] == "partial"  # CC10, CC11
    assert await (await client.get(final, headers=AUTH)).read() == b"abcdefg"
    assert (await patch(client, final, 7, b"x")).status == 403  # CC7


async def test_concatenation_unfinished(client: Client) -> None:  # CC5, CC8
    a = await create(client, 3, **{"Upload-Concat": "partial"})
    b = await create(client, 2, **{"Upload-Concat": "partial"})
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Concat": f"final;{a} {b}"})
    final = resp.headers["Location"]
    resp = await head(client, final)
    assert "Upload-Offset" not in resp.headers
    await patch(client, a, 0, b"abc")
    await patch(client, b, 0, b"de")
    for _ in range(100):
        resp = await head(client, final)
        if "Upload-Offset" in resp.headers:
            break
        await _sleep()
    assert resp.headers["Upload-Offset"] == "5"
    assert await (await client.get(final, headers=AUTH)).read() == b"abcde"


async def test_concatenation_rejects_unknown_and_non_partial(client: Client) -> None:
    plain = await create(client, 1)
    for header in (f"final;{plain}", "final;/files/nope", "final;http://elsewhere/x/y", "final;", "bogus"):
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Concat": header})
        assert resp.status == 400, header


# -- downloads -----------------------------------------------------------------------------------------


async def test_download_needs_token_finished_upload_and_honours_ranges(client: Client) -> None:
    url = await create(client, 10)
    await patch(client, url, 0, b"01234")
    assert (await client.get(url)).status == 401
    assert (await client.get(url, headers=AUTH)).status == 409
    await patch(client, url, 5, b"56789")
    resp = await client.get(url, headers={**AUTH, "Range": "bytes=3-5"})
    assert resp.status == 206 and await resp.read() == b"345"
    assert resp.headers["Content-Range"] == "bytes 3-5/10"
    resp = await client.get(url, headers={**AUTH, "Range": "bytes=-2"})
    assert await resp.read() == b"89"
    resp = await client.get(url, headers={**AUTH, "Range": "bytes=20-"})
    assert resp.status == 416


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_healthz(client: Client) -> None:
    resp = await client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["checks"] == {"redis": "ok", "storage": "ok"}


async def test_healthz_is_503_when_redis_is_down(settings_data: dict[str, Any]) -> None:
    from gateway.app import create_app
    from gateway.settings import Settings
    from tests.conftest import _Server
    from tests.servers import free_port

    settings_data["redis"]["url"] = f"redis://127.0.0.1:{free_port()}/0"
    async with TestClient(_Server(create_app(Settings(**settings_data)))) as broken:
        resp = await broken.get("/healthz")
        assert resp.status == 503
        assert (await resp.json())["checks"]["redis"].startswith("error")
        # mapped at the state adapter: a clear 503 to retry, never a 500
        for method, headers in (("POST", {**TUS, **AUTH, "Upload-Length": "5"}),
                                ("HEAD", TUS), ("PATCH", {**TUS, "Upload-Offset": "0",
                                                          "Content-Type": "application/offset+octet-stream"})):
            resp = await broken.request(method, "/files/" if method == "POST" else "/files/abc", headers=headers)
            assert resp.status == 503 and resp.headers["Retry-After"] == "1", method
            if method != "HEAD":
                assert (await resp.json())["error"]["type"] == "state_unavailable"


async def test_a_burst_of_creations_never_fails(client: Client) -> None:
    import asyncio

    async def one() -> int:
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "10"})
        return int(resp.status)

    assert set(await asyncio.gather(*(one() for _ in range(300)))) == {201}
