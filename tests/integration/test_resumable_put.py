"""PUT + Content-Range resumption (GCS / UpChunk semantics) and curl -T on the same upload URL as tus."""

from __future__ import annotations

import os
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import AUTH, TUS

Client = TestClient[Any, Any]
KiB = 1024


async def deferred(client: Client) -> str:
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Defer-Length": "1"})
    assert resp.status == 201
    return str(resp.headers["Location"])


async def put(client: Client, url: str, data: bytes, content_range: str | None = None) -> Any:
    headers = {"Content-Range": content_range} if content_range else {}
    return await client.put(url, data=data, headers=headers)


async def body(client: Client, url: str) -> bytes:
    return bytes(await (await client.get(url, headers=AUTH)).read())


async def test_whole_file_put_like_curl_T(client: Client) -> None:
    url = await deferred(client)
    data = os.urandom(700 * KiB)
    resp = await put(client, url, data)
    assert resp.status == 200
    assert await body(client, url) == data


async def test_chunks_get_308_with_range_then_200(client: Client) -> None:
    url = await deferred(client)
    data = os.urandom(256 * KiB * 3 + 1000)
    resp = await put(client, url, b"", f"bytes */{len(data)}")
    assert resp.status == 308 and "Range" not in resp.headers  # nothing stored yet
    chunk = 256 * KiB
    for start in range(0, len(data), chunk):
        end = min(start + chunk, len(data)) - 1
        resp = await put(client, url, data[start:end + 1], f"bytes {start}-{end}/{len(data)}")
        if end + 1 < len(data):
            assert resp.status == 308
            assert resp.headers["Range"] == f"bytes=0-{end}"
            assert "Location" not in resp.headers and await resp.read() == b""
    assert resp.status == 200
    assert await body(client, url) == data
    resp = await put(client, url, b"", f"bytes */{len(data)}")
    assert resp.status == 200


async def test_status_check_and_resend_of_stored_ranges(client: Client) -> None:
    url = await deferred(client)
    data = os.urandom(512 * KiB + 10)
    assert (await put(client, url, data[:256 * KiB], f"bytes 0-{256 * KiB - 1}/*")).status == 308
    resp = await put(client, url, b"", "bytes */*")
    assert resp.status == 308 and resp.headers["Range"] == f"bytes=0-{256 * KiB - 1}"
    # the same chunk again (a retry whose answer was lost): acknowledged, nothing duplicated
    resp = await put(client, url, data[:256 * KiB], f"bytes 0-{256 * KiB - 1}/*")
    assert resp.status == 308 and resp.headers["Range"] == f"bytes=0-{256 * KiB - 1}"
    # a chunk overlapping the stored bytes: the overlap is skipped
    start = 128 * KiB
    resp = await put(client, url, data[start:], f"bytes {start}-{len(data) - 1}/{len(data)}")
    assert resp.status == 200
    assert await body(client, url) == data


async def test_gap_changed_total_and_malformed_ranges(client: Client) -> None:
    url = await deferred(client)
    data = os.urandom(256 * KiB)
    assert (await put(client, url, data, f"bytes 0-{len(data) - 1}/{4 * len(data)}")).status == 308
    resp = await put(client, url, data, f"bytes {2 * len(data)}-{3 * len(data) - 1}/{4 * len(data)}")
    assert resp.status == 503  # a gap: retryable, nothing stored
    resp = await put(client, url, data, f"bytes {len(data)}-{2 * len(data) - 1}/{5 * len(data)}")
    assert resp.status == 400  # the total changed
    for bad in ("bytes 5-1/10", "bytes=0-1/2", "0-1/2", "bytes 0-10/5", "bytes a-b/c"):
        resp = await put(client, url, b"xx", bad)
        assert resp.status == 400, bad
        assert (await resp.json())["error"]["type"] == "invalid_header"
    resp = await put(client, url, b"short", f"bytes {len(data)}-{len(data) + 99}/{4 * len(data)}")
    assert resp.status == 400  # Content-Length does not match the range
    resp = await put(client, url, b"", "bytes */*")
    assert resp.headers["Range"] == f"bytes=0-{len(data) - 1}"


async def test_one_upload_any_dialect(client: Client) -> None:
    url = await deferred(client)
    data = os.urandom(600 * KiB)
    resp = await put(client, url, data[:256 * KiB], f"bytes 0-{256 * KiB - 1}/*")
    assert resp.status == 308
    resp = await client.head(url, headers=TUS)
    assert resp.headers["Upload-Offset"] == str(256 * KiB)
    resp = await client.patch(url, data=data[256 * KiB:512 * KiB], headers={
        **TUS, "Upload-Offset": str(256 * KiB), "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204
    resp = await put(client, url, data[512 * KiB:], f"bytes {512 * KiB}-{len(data) - 1}/{len(data)}")
    assert resp.status == 200
    assert await body(client, url) == data


async def test_put_without_length_is_411(client: Client) -> None:
    url = await deferred(client)

    async def gen() -> Any:
        yield b"abc"

    resp = await client.put(url, data=gen())
    assert resp.status == 411


async def test_curl_T_gets_a_json_receipt(client: Client) -> None:
    url = await deferred(client)
    resp = await put(client, url, b"x" * 1000)
    assert resp.status == 200 and resp.content_type == "application/json"
    receipt = await resp.json()
    assert receipt["status"] == "complete" and receipt["size"] == 1000
    # the id is the direct upload's, as the Mux API knows it
    found = await client.get(f"/video/v1/uploads/{receipt['id']}", headers=AUTH)
    assert found.status == 200 and (await found.json())["data"]["status"] == "asset_created"


async def test_put_errors_speak_of_ranges_not_tus_headers(client_factory: Any) -> None:
    client = await client_factory(uploads={"max_size": 1000})
    url = await deferred(client)
    assert (await put(client, url, b"a" * 10, "bytes 0-9/*")).status == 308
    for content_range, data in (("bytes 10-19/5000", b"b" * 10),     # a total past max_size
                                ("bytes */5", b""),                  # a total below what is stored
                                ("bytes 10-1009/*", b"c" * 1000)):   # more than may ever be stored
        resp = await put(client, url, data, content_range)
        text = await resp.text()
        assert 400 <= resp.status < 500 and "Upload-" not in text and "Tus" not in text, (content_range, text)
