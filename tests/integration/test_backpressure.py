"""Backpressure (gateway/backpressure.py): past ``uploads.max_concurrent_writes`` bodies at once, or with
less free disk than ``uploads.min_free_disk`` where bytes land (the filesystem root, the S3 spool), a new
body is answered 503 with Retry-After before a byte of it is stored; the upload resumes afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.app import SERVICE
from tests.conftest import AUTH, TUS

OCTET = {**TUS, **AUTH, "Content-Type": "application/offset+octet-stream"}


async def create(client: Any, length: int) -> str:
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": str(length)})
    assert resp.status == 201, await resp.text()
    return str(resp.headers["Location"])


async def offset_of(client: Any, url: str) -> int:
    resp = await client.head(url, headers={**TUS, **AUTH})
    return int(resp.headers["Upload-Offset"])


async def test_writes_past_the_limit_are_refused_before_anything_is_stored(client_factory: Any) -> None:
    client = await client_factory(uploads={"max_concurrent_writes": 2})
    size = 1024 * 1024
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"x" * 1024
        await release.wait()
        yield b"x" * (size - 1024)

    slow_urls = [await create(client, size) for _ in range(2)]
    slow = [asyncio.create_task(client.patch(url, data=slow_body(), headers={**OCTET, "Upload-Offset": "0"}))
            for url in slow_urls]
    url = await create(client, 5)
    gate = client.server.app[SERVICE].gate
    for _ in range(500):   # until both slow bodies are being stored
        if gate.active == 2:
            break
        await asyncio.sleep(0.02)
    assert gate.active == 2
    refused = await client.patch(url, data=b"hello", headers={**OCTET, "Upload-Offset": "0"})
    assert refused.status == 503, await refused.text()
    assert refused.headers["Retry-After"] == "1"
    assert "limit" in (await refused.text())
    assert await offset_of(client, url) == 0
    release.set()
    for task in slow:
        assert (await task).status == 204
    accepted = await client.patch(url, data=b"hello", headers={**OCTET, "Upload-Offset": "0"})
    assert accepted.status == 204 and accepted.headers["Upload-Offset"] == "5"


async def test_a_nearly_full_disk_refuses_new_bodies(client_factory: Any) -> None:
    client = await client_factory(uploads={"min_free_disk": "1000000GiB"})   # more than any disk here
    url = await create(client, 5)
    for method, headers in (("PATCH", {**OCTET, "Upload-Offset": "0"}),
                            ("PUT", {**AUTH, "Content-Range": "bytes 0-4/5"})):
        resp = await client.request(method, url, data=b"hello", headers=headers)
        assert resp.status == 503, (method, await resp.text())
        assert resp.headers["Retry-After"] == "1" and "disk" in await resp.text()
    assert await offset_of(client, url) == 0
