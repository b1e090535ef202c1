"""The gateway on a real Redis Cluster (3 primaries started by ``tests/servers.start_redis_cluster``):
uploads go on while slots migrate between nodes (``redis-cli --cluster reshard``), and every upload ends
whole, with the right bytes and offsets. The job queue stays on a plain Redis (``jobs.redis_url``); a
cluster without one is refused at start-up.

The rest of the suite runs on a cluster too with ``UPGW_TEST_REDIS=cluster`` (scripts/test.sh does, for
the tus, PUT, IETF, direct-upload and worker tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from tests.conftest import AUTH, TUS, _Server, make_settings
from tests.servers import RedisClusterService, RedisService, free_port

MiB = 1024 * 1024
OCTET = {**TUS, **AUTH, "Content-Type": "application/offset+octet-stream"}


def node_ids(cluster: RedisClusterService) -> dict[int, str]:
    """port -> node id, for the primaries that hold slots."""
    ids: dict[int, str] = {}
    for line in cluster.cli("-p", str(cluster.ports[0]), "cluster", "nodes").splitlines():
        node_id, address = line.split(" ")[:2]
        ids[int(address.split(":")[1].split("@")[0])] = node_id
    return ids


def settled(cluster: RedisClusterService, timeout: float = 30) -> None:
    """Until every node agrees on the slot map (``redis-cli --cluster check`` refuses to reshard before)."""
    deadline = time.monotonic() + timeout
    while True:
        done = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{cluster.ports[0]}"],
                              capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and "[ERR]" not in done.stdout and "[WARNING]" not in done.stdout:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the cluster did not settle: {done.stdout[-2000:]}")
        time.sleep(0.2)


def reshard(cluster: RedisClusterService, source: int, target: int, slots: int) -> None:
    settled(cluster)
    ids = node_ids(cluster)
    cluster.cli("--cluster", "reshard", f"127.0.0.1:{cluster.ports[0]}", "--cluster-from", ids[source],
                "--cluster-to", ids[target], "--cluster-slots", str(slots), "--cluster-yes",
                "--cluster-pipeline", "10", timeout=300)


def slots_of(cluster: RedisClusterService, port: int) -> int:
    line = next(raw for raw in cluster.cli("-p", str(cluster.ports[0]), "cluster", "nodes").splitlines()
                if f":{port}@" in raw)
    count = 0
    for part in line.split(" ")[8:]:
        if re.fullmatch(r"[0-9]+-[0-9]+", part):
            low, high = map(int, part.split("-"))
            count += high - low + 1
        elif part.isdigit():
            count += 1
    return count


async def test_uploads_survive_slot_migrations(tmp_path: Path, redis_service: RedisService,
                                               redis_cluster: RedisClusterService) -> None:
    data = make_settings(tmp_path, redis_service, "filesystem", None)
    data["redis"]["url"] = redis_cluster.url
    data["jobs"]["redis_url"] = redis_service.url
    port = free_port()
    data["server"].update(port=port, public_url=f"http://127.0.0.1:{port}")
    from gateway.app import create_app

    bodies = [os.urandom(3 * MiB + n) for n in range(24)]
    chunk = 128 * 1024
    first, second, third = redis_cluster.ports
    before = slots_of(redis_cluster, first)
    async with TestClient(_Server(create_app(Settings(**data)), host="127.0.0.1", port=port)) as client:
        async def upload(body: bytes) -> str:
            created = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": str(len(body))})
            assert created.status == 201, await created.text()
            url = created.headers["Location"]
            offset = 0
            while offset < len(body):
                if offset + chunk >= len(body):   # the last piece only once every migration is over
                    await migrations_over.wait()
                resp = await client.patch(url, data=body[offset:offset + chunk],
                                          headers={**OCTET, "Upload-Offset": str(offset)})
                if resp.status == 503:   # the documented answer while Redis cannot be reached: resume
                    head = await client.head(url, headers={**TUS, **AUTH})
                    offset = int(head.headers["Upload-Offset"])
                    await asyncio.sleep(0.05)
                    continue
                assert resp.status == 204, (resp.status, await resp.text())
                offset = int(resp.headers["Upload-Offset"])
                await asyncio.sleep(0.05)   # spread each upload over the migrations
            return url

        moved: list[BaseException] = []
        migrations_over = asyncio.Event()
        loop = asyncio.get_running_loop()

        def migrate() -> None:
            # 3000 slots round the ring and back (a primary left with none would turn into a replica:
            # cluster-allow-replica-migration), so many uploads' slots move while they are written
            try:
                reshard(redis_cluster, first, second, 3000)
                reshard(redis_cluster, second, third, 3000)
                reshard(redis_cluster, third, first, 3000)
            except BaseException as exc:   # reported by the test below
                moved.append(exc)
            finally:
                loop.call_soon_threadsafe(migrations_over.set)

        mover = threading.Thread(target=migrate)
        mover.start()
        urls = await asyncio.gather(*(upload(body) for body in bodies))
        await asyncio.to_thread(mover.join, 300)
        assert not moved, moved
        assert slots_of(redis_cluster, first) == before   # the slots did travel round and come back
        for url, body in zip(urls, bodies, strict=True):
            head = await client.head(url, headers={**TUS, **AUTH})
            assert head.status == 200 and int(head.headers["Upload-Offset"]) == len(body)
            got = await client.get(url, headers=AUTH)
            assert got.status == 200
            assert hashlib.sha256(await got.read()).hexdigest() == hashlib.sha256(body).hexdigest()


def test_a_cluster_needs_a_plain_redis_for_the_job_queue(tmp_path: Path, redis_service: RedisService) -> None:
    data: dict[str, Any] = make_settings(tmp_path, redis_service, "filesystem", None)
    data["redis"]["url"] = "redis+cluster://127.0.0.1:7000"
    with pytest.raises(ValueError, match=r"jobs\.redis_url"):
        Settings(**data)
    data["jobs"]["redis_url"] = "redis+cluster://127.0.0.1:7001"
    with pytest.raises(ValueError, match=r"jobs\.redis_url"):
        Settings(**data)
    data["jobs"]["redis_url"] = redis_service.url
    settings = Settings(**data)
    assert settings.redis.is_cluster and settings.redis.plain_url == "redis://127.0.0.1:7000"
    assert settings.queue_redis_url == redis_service.url
    flagged = Settings(**{**data, "redis": {**data["redis"], "url": "redis://127.0.0.1:7000", "cluster": True}})
    assert flagged.redis.is_cluster
    plain = make_settings(tmp_path, redis_service, "filesystem", None)
    assert not Settings(**plain).redis.is_cluster and Settings(**plain).queue_redis_url == redis_service.url
