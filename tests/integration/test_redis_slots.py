"""Every MULTI block and Lua script of ours touches keys of one Redis Cluster slot, and the steps that
span slots (an upload record and the expiry index) are ordered so a crash between them leaks nothing.

The first test watches a real redis-server with MONITOR while uploads, direct uploads, assets,
concatenation, termination, expiry and webhook deliveries run, and checks each transaction's and each
script's keys. saq's own keys (``saq:...``) are left out: saq spans slots, which is one reason Redis
Cluster is not supported yet (docs/scaling.md).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from redis.crc import key_slot

from gateway.app import KEYS, REDIS
from gateway.state.redis import RedisState
from gateway.webhooks.envelope import Event
from gateway.webhooks.store import DeliveryStore, Endpoint
from tests.conftest import AUTH, TUS, service_of

Client = TestClient[Any, Any]
OCTET = {"Content-Type": "application/offset+octet-stream"}
ALL_ARGS_ARE_KEYS = {"DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH"}
NO_KEYS = {"MULTI", "EXEC", "DISCARD", "PING", "ECHO", "SCRIPT", "CLIENT", "SELECT", "HELLO", "INFO"}

pytestmark = pytest.mark.parametrize("backend", ["filesystem"])


def command_keys(command: str) -> list[str]:
    parts = command.split(" ")
    name = parts[0].upper()
    if name in ("EVALSHA", "EVAL"):
        return parts[3:3 + int(parts[2])]
    if name in NO_KEYS:
        return []
    return parts[1:] if name in ALL_ARGS_ARE_KEYS else parts[1:2]


@contextmanager
def monitored(url: str) -> Iterator[list[list[str]]]:
    """Yields a list that, on exit, holds the key lists of every MULTI block and every script run."""
    lines: list[dict[str, Any]] = []
    ready, stop = threading.Event(), f"stop-{uuid.uuid4().hex}"

    def watch() -> None:
        with redis.Redis.from_url(url).monitor() as monitor:
            ready.set()
            for line in monitor.listen():
                if line["command"] == f"ECHO {stop}":
                    return
                lines.append(line)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    assert ready.wait(10)
    groups: list[list[str]] = []
    try:
        yield groups
    finally:
        redis.Redis.from_url(url).echo(stop)
        thread.join(10)
    open_multi: dict[str, list[str]] = {}
    script: list[str] | None = None
    for line in lines:
        client, command = f"{line['client_address']}:{line['client_port']}", line["command"]
        if line["client_type"] == "lua":
            assert script is not None, command
            script += command_keys(command)
            continue
        name = command.split(" ", 1)[0].upper()
        if name == "MULTI":
            open_multi[client] = []
        elif name == "EXEC":
            groups.append(open_multi.pop(client))
        elif client in open_multi:
            open_multi[client] += command_keys(command)
        if name == "EVALSHA":
            script = command_keys(command)
            groups.append(script)


async def create(client: Client, length: int, **headers: str) -> str:
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": str(length), **headers})
    assert resp.status == 201, await resp.text()
    return resp.headers["Location"]


async def patch(client: Client, url: str, offset: int, data: bytes) -> None:
    resp = await client.patch(url, data=data, headers={**TUS, **OCTET, "Upload-Offset": str(offset)})
    assert resp.status == 204, await resp.text()


async def test_every_transaction_and_script_touches_one_slot(client: Client,
                                                             settings_data: dict[str, Any]) -> None:
    service = service_of(client)
    with monitored(settings_data["redis"]["url"]) as groups:
        plain = await create(client, 10)                         # tus: create, write, finish -> asset
        await patch(client, plain, 0, b"12345")
        await patch(client, plain, 5, b"67890")
        doomed = await create(client, 10)                        # tus termination
        await patch(client, doomed, 0, b"123")
        assert (await client.delete(doomed, headers=TUS)).status == 204
        a = await create(client, 3, **{"Upload-Concat": "partial"})   # concatenation, unfinished partials
        b = await create(client, 2, **{"Upload-Concat": "partial"})
        resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Concat": f"final;{a} {b}"})
        assert resp.status == 201
        await patch(client, a, 0, b"abc")
        await patch(client, b, 0, b"de")
        resp = await client.post("/video/v1/uploads", json={"cors_origin": "*"}, headers=AUTH)   # Mux API
        direct = (await resp.json())["data"]
        assert (await client.put(direct["url"], data=b"movie")).status == 200
        direct = (await (await client.get(f"/video/v1/uploads/{direct['id']}", headers=AUTH)).json())["data"]
        asset_id = direct["asset_id"]
        resp = await client.put(f"/video/v1/assets/{asset_id}/master-access", json={"master_access": "temporary"},
                                headers=AUTH)
        assert resp.status == 200, await resp.text()
        assert (await client.delete(f"/video/v1/assets/{asset_id}", headers=AUTH)).status == 204
        resp = await client.post("/video/v1/uploads", json={"cors_origin": "*"}, headers=AUTH)
        cancel = (await resp.json())["data"]
        assert (await client.put(f"/video/v1/uploads/{cancel['id']}/cancel", headers=AUTH)).status == 200
        await create(client, 10)                                 # expiry, by the sweeper
        assert await service.sweep(now=time.time() + 7 * 86400) >= 1
        app = client.app
        assert app is not None
        store = DeliveryStore(app[REDIS], app[KEYS])             # webhook deliveries
        event = Event(id=str(uuid.uuid4()), type="video.asset.ready", object_type="asset", object_id="a",
                      created_at="2024-01-01T00:00:00.000000Z", data={})
        await store.create(event, [Endpoint(1, "http://127.0.0.1:9/a"), Endpoint(2, "http://127.0.0.1:9/b")],
                           now=time.time(), deadline=time.time() + 60)
        for delivery in await store.claim(now=time.time() + 1, limit=10, lease=5):
            await store.record(delivery, {"attempt": 1}, status="failed", next_at=None, entry={})
    ours = [keys for keys in groups if keys and not any(k.startswith("saq:") for k in keys)]
    assert len(ours) > 20 and any(len(keys) > 1 for keys in ours)
    for keys in ours:
        assert len({key_slot(k.encode()) for k in keys}) == 1, keys


async def test_a_crash_between_index_and_record_at_creation_leaves_nothing(client: Client,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The expiry index entry is written first: without its record the sweeper just drops it."""
    service = service_of(client)
    state = service.state
    assert isinstance(state, RedisState)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the gateway died between the two writes")

    monkeypatch.setattr(state.redis, "hset", crash)
    with pytest.raises(ConnectionError):
        await service.create(length=10)
    monkeypatch.undo()
    later = time.time() + 7 * 86400
    orphans = await state.expired(now=later)
    assert len(orphans) == 1 and await state.get(orphans[0]) is None
    assert await service.sweep(now=later) == 0
    assert await state.expired(now=later) == []


async def test_a_crash_between_record_and_index_at_deletion_leaves_nothing(client: Client,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The record goes first, the index entry after: the sweeper drops an entry left behind."""
    service = service_of(client)
    state = service.state
    assert isinstance(state, RedisState)
    upload = await service.create(length=10)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the gateway died between the two writes")

    monkeypatch.setattr(state.redis, "zrem", crash)
    with pytest.raises(ConnectionError):
        await service.terminate(upload.id)
    monkeypatch.undo()
    assert await state.get(upload.id) is None and await state.tombstone(upload.id) == "terminated"
    later = time.time() + 7 * 86400
    assert await state.expired(now=later) == [upload.id]
    assert await service.sweep(now=later) == 0
    assert await state.expired(now=later) == []
