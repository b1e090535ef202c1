"""A gateway that dies after storing an upload's last byte but before finishing it (found by
bench/fleet.py: a client's last PATCH went to the gateway killed with -9, the client asked another
gateway, heard "offset = length" and stopped; the upload was never made whole, no Asset was made, and
the sweeper would have deleted it). Now the next status check (tus HEAD, PUT ``bytes */N``) or the
sweeper finishes it, and finishing runs again from any step it died in.

The death is simulated in process: the first finish raises where the process would have stopped."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.models import Upload
from gateway.service import stranded
from tests.conftest import AUTH, TUS, service_of

Client = TestClient[Any, Any]
BODY = b"stranded bytes " * 1000


class Died(Exception):
    """Where the gateway process stopped."""


async def direct_upload(client: Client) -> tuple[str, str]:
    resp = await client.post("/video/v1/uploads", json={"cors_origin": "*"}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    data = (await resp.json())["data"]
    return str(data["id"]), str(data["url"])


async def upload_status(client: Client, upload_id: str) -> dict[str, Any]:
    resp = await client.get(f"/video/v1/uploads/{upload_id}", headers=AUTH)
    assert resp.status == 200
    return dict((await resp.json())["data"])


def die_once(client: Client, where: str) -> None:
    """Make the next finish stop at ``where``: in storage's finish, or in the completion listeners."""
    service = service_of(client)
    if where == "listeners":
        async def listener(upload: Upload) -> None:
            service.on_complete.remove(listener)
            raise Died
        service.on_complete.insert(0, listener)
        return
    finish: Callable[..., Awaitable[None]] = service.storage.finish

    async def dying(*args: Any) -> None:
        service.storage.finish = finish  # type: ignore[method-assign,assignment]
        raise Died
    service.storage.finish = dying  # type: ignore[method-assign,assignment]


async def strand(client: Client, url: str, where: str) -> None:
    """Send every byte through PUT; the gateway dies while finishing."""
    die_once(client, where)
    await client.put(url, data=BODY, headers={"Content-Length": str(len(BODY))})  # its answer: moot
    upload = await service_of(client).find(url.rsplit("/", 1)[1])
    assert upload is not None and upload.offset == len(BODY) and stranded(upload)
    assert upload.complete is (where == "listeners")    # the worker may only see COMPLETE uploads


async def read_back(client: Client, storage_id: str) -> bytes:
    service = service_of(client)
    upload = await service.find(storage_id)
    assert upload is not None and upload.complete
    return b"".join([chunk async for chunk in service.read(upload, 0, len(BODY))])


@pytest.mark.parametrize("where", ["storage", "listeners"])
async def test_a_tus_head_finishes_an_upload_stranded_at_its_full_length(client: Client, where: str) -> None:
    upload_id, url = await direct_upload(client)
    await strand(client, url, where)
    path = url.split(str(client.port), 1)[1]
    head = await client.head(path, headers=TUS)
    assert head.status == 200 and head.headers["Upload-Offset"] == str(len(BODY))
    done = await upload_status(client, upload_id)
    assert done["status"] == "asset_created" and done["asset_id"]
    assert await read_back(client, url.rsplit("/", 1)[1]) == BODY
    again = await client.head(path, headers=TUS)    # finished once: a second look changes nothing
    assert again.status == 200 and again.headers["Upload-Offset"] == str(len(BODY))


async def test_a_put_status_check_finishes_it_too(client: Client) -> None:
    upload_id, url = await direct_upload(client)
    await strand(client, url, "listeners")
    path = url.split(str(client.port), 1)[1]
    check = await client.put(path, headers={"Content-Range": f"bytes */{len(BODY)}", "Content-Length": "0"})
    assert check.status in (200, 201), await check.text()
    assert (await upload_status(client, upload_id))["status"] == "asset_created"


@pytest.mark.parametrize("where", ["storage", "listeners"])
async def test_the_sweeper_finishes_a_stranded_upload_instead_of_deleting_it(client: Client, where: str) -> None:
    upload_id, url = await direct_upload(client)
    await strand(client, url, where)
    service = service_of(client)
    assert await service.sweep(now=time.time() + 30 * 24 * 3600) == 0
    assert (await upload_status(client, upload_id))["status"] == "asset_created"
    assert await read_back(client, url.rsplit("/", 1)[1]) == BODY
    finished = await service.find(url.rsplit("/", 1)[1])
    assert finished is not None and not stranded(finished) and finished.expires_at is None


async def test_listeners_see_the_upload_complete_in_redis(client: Client) -> None:
    """The Asset's job is queued by a listener, and a worker refuses an upload not COMPLETE in Redis:
    so COMPLETE is recorded before any listener runs (an earlier order errored assets under load)."""
    service = service_of(client)
    seen: list[bool] = []

    async def look(upload: Upload) -> None:
        stored = await service.find(upload.id)
        seen.append(stored is not None and stored.complete)
    service.on_complete.insert(0, look)
    _, url = await direct_upload(client)
    resp = await client.put(url, data=BODY, headers={"Content-Length": str(len(BODY))})
    assert resp.status in (200, 201) and seen == [True]
