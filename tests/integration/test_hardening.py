"""Hardening of the upload dialects: inert downloads, answers within bounded time, limits that hold,
no 500s and no stored bytes without a record. Raw sockets where the exact bytes on the wire matter."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.errors import GatewayError
from tests.conftest import AUTH, TUS, service_of

Client = TestClient[Any, Any]
OCTET = {"Content-Type": "application/offset+octet-stream"}


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


async def create(client: Client, length: int | None = None, /, **headers: str) -> str:
    h = {**TUS, **AUTH, **headers}
    if length is not None:
        h["Upload-Length"] = str(length)
    elif "Upload-Concat" not in h or h["Upload-Concat"] == "partial":
        h["Upload-Defer-Length"] = "1"
    resp = await client.post("/files/", headers=h)
    assert resp.status == 201, await resp.text()
    return str(resp.headers["Location"])


async def offset_of(client: Client, url: str) -> int:
    resp = await client.head(url, headers=TUS)
    assert resp.status == 200
    return int(resp.headers["Upload-Offset"])


class Raw:
    """One HTTP/1.1 connection driven byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, client: Client) -> Raw:
        assert client.port is not None
        return cls(*await asyncio.open_connection("127.0.0.1", client.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, path: str, headers: dict[str, str] | list[tuple[str, bytes]],
                      body: bytes = b"") -> None:
        items = headers.items() if isinstance(headers, dict) else headers
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        for name, value in items:
            head += name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()) + b"\r\n"
        await self.send(head + b"\r\n" + body)

    async def response(self, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        """The next response (interim ones included): status, headers (lower-cased names), body."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = b""
            if status >= 200 and "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            return status, headers, body

    async def closed_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
            return True
        except (TimeoutError, ConnectionError):
            return False

    def close(self) -> None:
        self.writer.close()


# -- every byte served back is inert --------------------------------------------------------------


@pytest.mark.parametrize("filetype, expected, shown", [
    ("video/mp4, text/html", "application/octet-stream", "attachment"),
    ("text/html", "application/octet-stream", "attachment"),
    ("image/svg+xml", "application/octet-stream", "attachment"),
    ("text/plain", "application/octet-stream", "attachment"),
    ("Video/MP4", "video/mp4", "inline"),
    ("image/png", "image/png", "attachment"),
])
async def test_downloads_are_inert_whatever_the_metadata_says(client: Client, filetype: str, expected: str,
                                                              shown: str) -> None:
    payload = b"<html><script>fetch('/video/v1/webhook-deliveries')</script></html>"
    meta = f"filetype {b64(filetype)},filename {b64('x<y>.html')}"
    url = await create(client, len(payload), **{"Upload-Metadata": meta})
    resp = await client.patch(url, data=payload, headers={**TUS, **OCTET, "Upload-Offset": "0"})
    assert resp.status == 204
    resp = await client.get(url, headers=AUTH)
    assert resp.status == 200 and await resp.read() == payload
    assert resp.headers["Content-Type"] == expected
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert resp.headers["Content-Disposition"].split(";")[0] == shown
    assert 'filename="x<y>.html"' in resp.headers["Content-Disposition"]


async def test_download_filename_cannot_break_the_header(client: Client) -> None:
    name = 'a";b\\c\u00e9.mp4'
    meta = f"filename {b64(name)},filetype {b64('video/mp4')}"
    url = await create(client, 1, **{"Upload-Metadata": meta})
    await client.patch(url, data=b"x", headers={**TUS, **OCTET, "Upload-Offset": "0"})
    resp = await client.get(url, headers=AUTH)
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"abc_.mp4\"; filename*=UTF-8''abc%C3%A9.mp4")


# -- every request is answered in bounded time ---------------------------------------------------


async def test_impossible_length_is_refused_at_once_without_100_continue(client: Client) -> None:
    url = await create(client)
    path = url.split(str(client.port), 1)[1]
    for headers in ({"Content-Length": str(10**15), "Expect": "100-continue"},
                    {"Content-Length": str(10**15)},
                    {"Content-Length": str(2 * 1024**3), "Expect": "100-continue"}):   # past max_size (1 GiB)
        raw = await Raw.open(client)
        await raw.request("PUT", path, headers)
        status, response_headers, body = await raw.response()
        assert status == 413, (status, body)       # the first answer is final: no 100 Continue
        assert response_headers.get("connection") == "close"
        assert b'"too_large"' in body
        raw.close()
    # the same for tus: a PATCH longer than the upload may take
    raw = await Raw.open(client)
    await raw.request("PATCH", path, {**TUS, **OCTET, "Upload-Offset": "0", "Content-Length": str(10**15),
                                      "Expect": "100-continue"})
    status, response_headers, _ = await raw.response()
    assert status == 413 and response_headers.get("connection") == "close"
    raw.close()
    assert await offset_of(client, url) == 0


async def test_100_continue_is_sent_once_the_body_is_wanted(client: Client) -> None:
    url = await create(client, 4)
    path = url.split(str(client.port), 1)[1]
    raw = await Raw.open(client)
    await raw.request("PATCH", path, {**TUS, **OCTET, "Upload-Offset": "0", "Content-Length": "4",
                                      "Expect": "100-continue"})
    status, _, _ = await raw.response()
    assert status == 100
    await raw.send(b"abcd")
    status, headers, _ = await raw.response()
    assert status == 204 and headers["upload-offset"] == "4"
    raw.close()
    # a refusal before reading (wrong offset) gets no 100 either, and keeps nothing
    url = await create(client, 4)
    raw = await Raw.open(client)
    await raw.request("PATCH", url.split(str(client.port), 1)[1],
                      {**TUS, **OCTET, "Upload-Offset": "2", "Content-Length": "2", "Expect": "100-continue"})
    status, headers, _ = await raw.response()
    assert status == 409 and headers["upload-offset"] == "0"
    raw.close()


async def test_unknown_expectation_gets_417(client: Client) -> None:
    url = await create(client, 4)
    raw = await Raw.open(client)
    await raw.request("PATCH", url.split(str(client.port), 1)[1],
                      {**TUS, **OCTET, "Upload-Offset": "0", "Content-Length": "4", "Expect": "teapot"})
    status, _, _ = await raw.response()
    assert status == 417
    raw.close()


async def test_stalled_bodies_are_answered_after_the_idle_timeout(client_factory: Any) -> None:
    client = await client_factory(uploads={"idle_timeout": "1s"})
    urls = [await create(client, 1000) for _ in range(20)]
    raws = []
    for url in urls:   # 20 uploads send 10 of 1000 bytes, then nothing
        raw = await Raw.open(client)
        await raw.request("PATCH", url.split(str(client.port), 1)[1],
                          {**TUS, **OCTET, "Upload-Offset": "0", "Content-Length": "1000"}, b"0123456789")
        raws.append(raw)
    started = time.monotonic()
    answers = await asyncio.gather(*(raw.response(timeout=8) for raw in raws))
    assert time.monotonic() - started < 6
    for status, headers, body in answers:
        assert status == 503 and b"read_timeout" in body and headers.get("connection") == "close"
    assert all(await asyncio.gather(*(raw.closed_within(12) for raw in raws)))
    for url in urls:   # every byte that arrived is kept
        assert await offset_of(client, url) == 10


async def test_ordinary_error_mid_chunk_drains_and_keeps_the_connection(client: Client) -> None:
    url = await create(client, 200_000)
    path = url.split(str(client.port), 1)[1]
    raw = await Raw.open(client)
    body = os.urandom(100_000)
    await raw.request("PATCH", path, {**TUS, **OCTET, "Upload-Offset": "5", "Content-Length": str(len(body))},
                      body)
    status, headers, _ = await raw.response()
    assert status == 409 and headers.get("connection") != "close"
    await raw.request("HEAD", path, TUS)   # the same connection still works: the body was drained
    status, headers, _ = await raw.response()
    assert status == 200 and headers["upload-offset"] == "0"
    raw.close()


async def test_client_hanging_up_during_a_drain_is_not_an_error(client: Client,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    url = await create(client)
    path = url.split(str(client.port), 1)[1]
    caplog.set_level(logging.INFO)
    for _ in range(5):
        raw = await Raw.open(client)
        # a gap (503, decided before reading) with a body that the client abandons half-way with a reset
        await raw.request("PUT", path, {"Content-Range": "bytes 100-199999/200000", "Content-Length": "199900"},
                          os.urandom(50_000))
        await asyncio.sleep(0.3)   # the gateway is draining the rest when the reset comes
        sock = raw.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
    await asyncio.sleep(0.5)
    assert await offset_of(client, url) == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# -- PUT + Content-Range stores exactly the claimed range ------------------------------------------


async def chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("content_range, sent", [("bytes 0-4/*", 1000), ("bytes 0-4/100", 50)])
async def test_chunked_body_longer_than_its_range_stores_only_the_range(client: Client, content_range: str,
                                                                        sent: int) -> None:
    url = await create(client)
    data = os.urandom(sent)
    resp = await client.put(url, data=chunks(data), headers={"Content-Range": content_range})
    assert resp.status == 413, await resp.text()
    assert resp.headers["Range"] == "bytes=0-4"
    assert await offset_of(client, url) == 5


async def test_chunked_body_shorter_than_its_range_keeps_what_arrived(client: Client) -> None:
    url = await create(client)
    data = os.urandom(500)
    resp = await client.put(url, data=chunks(data), headers={"Content-Range": "bytes 0-999/2000"},
                            allow_redirects=False)
    assert resp.status == 308 and resp.headers["Range"] == "bytes=0-499"
    # a resend that starts in the stored part and ends before it is past: no 500, nothing lost
    resp = await client.put(url, data=chunks(data[:300]), headers={"Content-Range": "bytes 0-999/2000"},
                            allow_redirects=False)
    assert resp.status == 308 and resp.headers["Range"] == "bytes=0-499"
    assert await offset_of(client, url) == 500


# -- concatenation stays within max_size ---------------------------------------------------------


async def test_concatenation_limits(client_factory: Any) -> None:
    client = await client_factory(uploads={"max_size": 1000, "max_concat_parts": 3})
    partial = await create(client, **{"Upload-Concat": "partial"})
    final = {**TUS, **AUTH}
    relative = partial.split(str(client.port), 1)[1]
    resp = await client.post("/files/", headers={**final, "Upload-Concat": "final;" + " ".join([relative] * 150)})
    assert resp.status == 400 and "more than once" in await resp.text()
    others = [await create(client, **{"Upload-Concat": "partial"}) for _ in range(3)]
    resp = await client.post("/files/", headers={**final, "Upload-Concat": "final;" + " ".join([partial, *others])})
    assert resp.status == 400 and "at most 3" in await resp.text()
    foreign = partial.replace("127.0.0.1", "localhost")
    resp = await client.post("/files/", headers={**final, "Upload-Concat": f"final;{foreign}"})
    assert resp.status == 400 and "another host" in await resp.text()
    # two deferred partials in one final: the second cannot declare a length past max_size in all
    a, b = others[0], others[1]
    resp = await client.post("/files/", headers={**final, "Upload-Concat": f"final;{a} {b}"})
    assert resp.status == 201
    resp = await client.patch(a, data=b"x" * 600, headers={**TUS, **OCTET, "Upload-Offset": "0",
                                                           "Upload-Length": "600"})
    assert resp.status == 204
    resp = await client.patch(b, data=b"y" * 500, headers={**TUS, **OCTET, "Upload-Offset": "0",
                                                           "Upload-Length": "500"})
    assert resp.status == 413 and await offset_of(client, b) == 0
    # nor send more than fits without declaring one
    resp = await client.patch(b, data=b"y" * 500, headers={**TUS, **OCTET, "Upload-Offset": "0"})
    assert resp.status == 413 and await offset_of(client, b) == 0
    # complete partials that add up past max_size cannot be concatenated
    c = await create(client, 600, **{"Upload-Concat": "partial"})
    await client.patch(c, data=b"z" * 600, headers={**TUS, **OCTET, "Upload-Offset": "0"})
    resp = await client.post("/files/", headers={**final, "Upload-Concat": f"final;{a} {c}"})
    assert resp.status == 413


# -- termination, non-UTF-8 headers, storage without a record -------------------------------------


async def test_finished_upload_that_became_an_asset_cannot_be_terminated(client: Client) -> None:
    url = await create(client, 3)
    await client.patch(url, data=b"abc", headers={**TUS, **OCTET, "Upload-Offset": "0"})
    resp = await client.delete(url, headers=TUS)
    assert resp.status == 403 and "asset" in await resp.text()
    assert (await client.get(url, headers=AUTH)).status == 200
    unfinished = await create(client, 3)
    assert (await client.delete(unfinished, headers=TUS)).status == 204


def stored_files(settings_data: dict[str, Any]) -> list[Path]:
    root = Path(settings_data["storage"]["filesystem"]["root"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("name, value", [
    ("Upload-Metadata", b"\xfffilename aGVsbG8="),
    ("Upload-Metadata", b"filename aGVsbG8=,\xc3\xa9t\xc3\xa9 YQ=="),
    ("Upload-Concat", b"final;/files/\xc3\xa9"),
    ("Upload-Concat", b"partial\xff"),
])
async def test_non_ascii_tus_headers_are_400_and_store_nothing(client: Client, settings_data: dict[str, Any],
                                                               name: str, value: bytes) -> None:
    upload = await client.post("/video/v1/uploads", json={"cors_origin": "*"}, headers=AUTH)
    bound = (await upload.json())["data"]["tus_endpoint"].split(str(client.port), 1)[1]
    before = stored_files(settings_data)
    for path, auth in (("/files/", AUTH), (bound, {})):
        raw = await Raw.open(client)
        headers: list[tuple[str, bytes]] = [(k, v.encode()) for k, v in {**TUS, **auth}.items()]
        await raw.request("POST", path, [*headers, ("Upload-Length", b"5"), (name, value)])
        status, _, body = await raw.response()
        assert status == 400, body
        assert b"Traceback" not in body and b"invalid_header" in body
        raw.close()
    assert stored_files(settings_data) == before


async def test_storage_is_undone_when_the_record_cannot_be_written(client: Client, backend: str,
                                                                   settings_data: dict[str, Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    service = service_of(client)
    created: list[str] = []
    real_create = service.storage.create

    async def remember(upload: Any) -> dict[str, str]:
        created.append(upload.id)
        return await real_create(upload)

    async def refuse(upload: Any) -> None:
        raise GatewayError("the record store refused the write")

    monkeypatch.setattr(service.storage, "create", remember)
    monkeypatch.setattr(service.state, "create", refuse)
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "5"})
    assert resp.status == 500 and b"Traceback" not in await resp.read()
    assert len(created) == 1
    if backend == "filesystem":
        assert stored_files(settings_data) == []
    else:   # the multipart upload was aborted: S3 no longer knows its id
        from gateway.storage.s3 import S3Storage
        storage = service.storage
        assert isinstance(storage, S3Storage)
        uploads = await storage._call(storage.client._list_multipart_uploads, storage.bucket,
                                      prefix=storage.key(created[0]))
        assert not uploads.uploads


async def test_a_download_whose_reader_stops_reading_is_let_go(client: Client,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.protocols import download
    monkeypatch.setattr(download, "WRITE_TIMEOUT", 1.0)
    size = 48 * 1024 * 1024
    url = await create(client, size)
    resp = await client.patch(url, data=b"\0" * size, headers={**TUS, **OCTET, "Upload-Offset": "0"})
    assert resp.status == 204
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setblocking(False)
    assert client.port is not None
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", client.port))
    raw = Raw(*await asyncio.open_connection(sock=sock))
    await raw.request("GET", url.split(str(client.port), 1)[1], AUTH)
    await asyncio.sleep(4)          # read nothing: the gateway's writes stall, then it lets go
    received = 0
    async with asyncio.timeout(10):
        while chunk := await raw.reader.read(1 << 20):
            received += len(chunk)
    assert received < size          # the connection ended before the whole file was sent
    raw.close()
