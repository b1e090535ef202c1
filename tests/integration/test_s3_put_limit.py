"""``storage.s3.max_concurrent_puts``: one gateway never has more part or segment PUTs open against S3
than this; the rest wait on the spool disk, and every upload still completes whole. (Without it, 1,000
uploads in bench/fleet.py put ~1,000 PUTs on SeaweedFS at once and they timed out into 503s.)"""

from __future__ import annotations

import asyncio
import hashlib
import os
import warnings
from typing import Any

import aiohttp
import pytest

from tests.conftest import AUTH, TUS, service_of

MiB = 1024 * 1024


class CountingSession(aiohttp.ClientSession):
    """The storage's HTTP session, counting the requests open at once."""

    active = 0
    peak = 0

    async def _request(self, *args: Any, **kwargs: Any) -> aiohttp.ClientResponse:
        type(self).active += 1
        type(self).peak = max(type(self).peak, type(self).active)
        try:
            return await super()._request(*args, **kwargs)
        finally:
            type(self).active -= 1


@pytest.mark.parametrize("backend", ["s3"])
@pytest.mark.parametrize("limit", [1, 16])
async def test_s3_puts_at_once_stay_within_the_limit(client_factory: Any, settings_data: dict[str, Any],
                                                     limit: int) -> None:
    s3 = {**settings_data["storage"]["s3"], "part_size": "5MiB", "max_concurrent_puts": limit}
    client = await client_factory(storage={**settings_data["storage"], "s3": s3})
    storage = service_of(client).storage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # aiohttp discourages subclassing the session
        CountingSession.active = CountingSession.peak = 0
        storage._http = CountingSession(connector=aiohttp.TCPConnector(limit=0))  # type: ignore[attr-defined]
    bodies = [os.urandom(12 * MiB + n) for n in range(4)]
    urls = []
    for body in bodies:
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": str(len(body))})
        assert resp.status == 201
        urls.append(resp.headers["Location"])

    async def send(url: str, body: bytes) -> None:
        resp = await client.patch(url, data=body, headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert resp.status == 204, await resp.text()

    await asyncio.gather(*(send(u, b) for u, b in zip(urls, bodies, strict=True)))
    service = service_of(client)
    for url, body in zip(urls, bodies, strict=True):
        upload = await service.find(url.rsplit("/", 1)[1])
        assert upload is not None and upload.complete
        stored = b"".join([c async for c in service.read(upload, 0, len(body))])
        assert hashlib.sha256(stored).digest() == hashlib.sha256(body).digest()
    if limit == 1:
        assert CountingSession.peak == 1
    else:   # the counter does see PUTs side by side when they are allowed
        assert CountingSession.peak > 1
