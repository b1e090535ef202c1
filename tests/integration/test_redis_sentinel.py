"""The gateway behind Redis Sentinel (one primary, one replica, three sentinels: real ``redis-server``
processes from ``tests/servers.start_redis_sentinel``): the primary is killed with SIGKILL during 20
concurrent uploads. While no primary answers, requests get 503 (never another 5xx); after the failover
every upload completes with the right sha256.

With ``redis.replica_acks`` (the default: one replica once the primary has one) an offset the gateway
acknowledged is never lost: every offset a client is told afterwards (HEAD) is at least the highest one
it was acknowledged before. With ``replica_acks: 0`` offsets may go back, and the upload is still whole:
the client resends from the lower offset and storage is rewritten from there (state/replicas.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import AUTH, TUS, _Server, make_settings
from tests.servers import RedisSentinelService, RedisService, free_port, start_redis_sentinel

MiB = 1024 * 1024
OCTET = {**TUS, **AUTH, "Content-Type": "application/offset+octet-stream"}
RETRY = {423, 409, 503}   # locked by a request cut short, offset moved, Redis unreachable: ask and go on


@pytest.fixture
def sentinel() -> Any:
    service = start_redis_sentinel()
    yield service
    service.stop()


class Uploader:
    def __init__(self, client: TestClient[Any, Any], body: bytes) -> None:
        self.client, self.body = client, body
        self.statuses: list[int] = []
        self.acknowledged = 0      # the highest offset a 204 told us
        self.regressions: list[tuple[int, int]] = []   # (told by HEAD, acknowledged before)

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, str], str]:
        resp = await self.client.request(method, url, **kwargs)
        text = await resp.text()
        self.statuses.append(resp.status)
        return resp.status, dict(resp.headers), text

    async def offset(self, url: str) -> int:
        while True:
            status, headers, _ = await self.request("HEAD", url, headers={**TUS, **AUTH})
            if status == 200:
                told = int(headers["Upload-Offset"])
                if told < self.acknowledged:
                    self.regressions.append((told, self.acknowledged))
                return told
            assert status in RETRY, status
            await asyncio.sleep(0.1)

    async def run(self, chunk: int = 128 * 1024) -> str:
        while True:
            status, headers, text = await self.request("POST", "/files/",
                                                       headers={**TUS, **AUTH, "Upload-Length": str(len(self.body))})
            if status == 201:
                break
            assert status == 503, (status, text)
            await asyncio.sleep(0.1)
        url = headers["Location"]
        offset = 0
        while offset < len(self.body):
            status, headers, text = await self.request(
                "PATCH", url, data=self.body[offset:offset + chunk], headers={**OCTET, "Upload-Offset": str(offset)})
            if status == 204:
                offset = int(headers["Upload-Offset"])
                self.acknowledged = max(self.acknowledged, offset)
                await asyncio.sleep(0.02)
                continue
            assert status in RETRY, (status, text)
            await asyncio.sleep(0.1)
            offset = await self.offset(url)
        return url


@pytest.mark.parametrize("replica_acks", [None, 0], ids=["acks-auto", "acks-off"])
async def test_uploads_survive_a_failover(tmp_path: Path, redis_service: RedisService,
                                          sentinel: RedisSentinelService, replica_acks: int | None) -> None:
    data = make_settings(tmp_path, redis_service, "filesystem", None)
    data["redis"].update(url=sentinel.url, replica_acks=replica_acks)
    data["uploads"]["lock_timeout"] = "1s"
    port = free_port()
    data["server"].update(port=port, public_url=f"http://127.0.0.1:{port}")
    bodies = [os.urandom(2 * MiB + n) for n in range(20)]
    async with TestClient(_Server(create_app(Settings(**data)), host="127.0.0.1", port=port)) as client:
        uploaders = [Uploader(client, body) for body in bodies]
        running = asyncio.gather(*(u.run() for u in uploaders))
        while sum(u.acknowledged for u in uploaders) < 8 * MiB:   # noqa: ASYNC110 - well under way
            await asyncio.sleep(0.02)
        sentinel.primary.proc.kill()   # SIGKILL: no goodbye to the replica or the sentinels
        killed = time.monotonic()
        urls = await asyncio.wait_for(running, timeout=90)
        assert sentinel.current_primary_port() == sentinel.replica.port   # the replica took over
        print(f"uploads done {time.monotonic() - killed:.1f} s after the kill")
        for url, body in zip(urls, bodies, strict=True):
            got = await client.get(url, headers=AUTH)
            assert got.status == 200
            assert hashlib.sha256(await got.read()).hexdigest() == hashlib.sha256(body).hexdigest()
    statuses = [s for u in uploaders for s in u.statuses]
    assert 503 in statuses, "no request ever saw the primary gone: the kill came too late to test anything"
    assert not [s for s in statuses if s >= 500 and s != 503], sorted(set(statuses))
    if replica_acks is None:
        assert not [r for u in uploaders for r in u.regressions], "an acknowledged offset was lost"
