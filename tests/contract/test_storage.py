"""One behaviour suite for every storage backend (filesystem and S3 against SeaweedFS), driven through
the real service, Redis state and lock."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.journal import RedisJournal
from gateway.models import Commit, ConcatKind, Upload
from gateway.service import UploadService
from gateway.storage.s3 import S3Storage
from tests.conftest import service_of

MiB = 1024 * 1024


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


class WatchedJournal(RedisJournal):
    """Records every commit so tests can check the offset never goes backwards."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.commits: list[Commit] = []

    async def commit(self, commit: Commit) -> None:
        await super().commit(commit)
        self.commits.append(commit)


async def write(service: UploadService, upload: Upload, body: AsyncIterator[bytes]) -> WatchedJournal:
    async with service.locker.hold(upload.id, 5) as lease:
        journal = WatchedJournal(service.state, upload.id, lease.token)
        await service.storage.write(upload, body, journal)
        await journal.run_actions()
    return journal


async def read_all(service: UploadService, upload: Upload) -> bytes:
    assert upload.length is not None
    return b"".join([c async for c in service.storage.read(upload, 0, upload.length)])


async def finish(service: UploadService, upload_id: str) -> Upload:
    async with service.locker.hold(upload_id, 5) as lease:
        upload = await service.state.get(upload_id)
        assert upload is not None
        return await service._finish(upload, lease)


async def test_small_chunks_are_stored_linearly_and_offsets_only_grow(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    data = os.urandom(21 * MiB + 12345)
    upload = await service.create(length=len(data))
    sent = {"bytes": 0}
    if isinstance(service.storage, S3Storage):
        original = service.storage._put

        async def counting_put(url: str, size: int, body: AsyncIterator[bytes]) -> str:
            sent["bytes"] += size
            return await original(url, size, body)

        service.storage._put = counting_put  # type: ignore[method-assign]
    offsets = [0]
    for i in range(0, len(data), MiB):  # one request per MiB, like a client with 1 MiB PATCHes
        current = await service.state.get(upload.id)
        assert current is not None and current.offset == i
        journal = await write(service, current, chunks(data[i:i + MiB], 64 * 1024))
        offsets += [c.new_offset for c in journal.commits]
    assert offsets == sorted(offsets)
    final = await finish(service, upload.id)
    assert final.offset == len(data)
    assert hashlib.sha256(await read_all(service, final)).digest() == hashlib.sha256(data).digest()
    if isinstance(service.storage, S3Storage):
        # each byte crosses to S3 at most twice (a segment, then its part), not once per PATCH
        assert sent["bytes"] <= 2 * len(data), sent
        assert await service.state.segments(upload.id) == []
        parts = await service.state.parts(upload.id)
        assert [p.number for p in parts] == list(range(1, len(parts) + 1))


async def test_one_big_request_streams_whole_parts(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    data = os.urandom(20 * MiB + 7)
    upload = await service.create(length=len(data))
    journal = await write(service, upload, chunks(data, MiB))
    assert journal.commits[-1].new_offset == len(data)
    final = await finish(service, upload.id)
    assert await read_all(service, final) == data


async def test_a_body_that_stops_early_keeps_what_arrived(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    data = os.urandom(11 * MiB)
    upload = await service.create(length=30 * MiB)

    async def broken() -> AsyncIterator[bytes]:
        async for chunk in chunks(data, MiB):
            yield chunk
        # the body ends here, as BodySource ends on a dropped connection

    await write(service, upload, broken())
    current = await service.state.get(upload.id)
    assert current is not None and current.offset == len(data)
    rest = os.urandom(30 * MiB - len(data))
    await write(service, current, chunks(rest, MiB))
    final = await finish(service, upload.id)
    assert await read_all(service, final) == data + rest


async def test_delete_removes_everything(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    upload = await service.create(length=10 * MiB)
    await write(service, upload, chunks(os.urandom(3 * MiB), MiB))
    await service.terminate(upload.id)
    assert await service.state.get(upload.id) is None
    if isinstance(service.storage, S3Storage):
        storage = service.storage
        names = await asyncio.to_thread(lambda: [o.object_name for o in storage.client.list_objects(
            storage.bucket, prefix=storage.key(upload.id), recursive=True)])
        assert names == []
    else:
        assert not service.storage.path(upload.id).exists()  # type: ignore[attr-defined]


async def test_concat_mixes_copied_and_streamed_parts(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    pieces = [os.urandom(n) for n in (6 * MiB, 1000, 7 * MiB, 3)]
    partials = []
    for piece in pieces:
        partial = await service.create(length=len(piece), concat=ConcatKind.PARTIAL, concat_header="partial")
        await write(service, partial, chunks(piece, MiB))
        partials.append(await finish(service, partial.id))
    final = await service.create_final([p.id for p in partials], concat_header="final;...")
    assert final.complete
    assert await read_all(service, final) == b"".join(pieces)


@pytest.mark.parametrize("backend", ["s3"])
async def test_s3_part_size_reaches_500_gib_within_10000_parts(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    service.settings.max_size = 500 * 1024**3
    upload = await service.create(length=None)  # deferred: sized for the maximum
    assert upload.part_size * 10_000 >= 500 * 1024**3
    await service.terminate(upload.id)


async def _fetch(location: str) -> bytes:
    """Read what ``locate``/``locate_object`` hands to media tools: a local path or an http URL."""
    if location.startswith("http"):
        import aiohttp
        async with aiohttp.ClientSession() as session, session.get(location) as resp:
            assert resp.status == 200
            return await resp.read()
    return await asyncio.to_thread(Path(location).read_bytes)


async def test_finished_upload_is_locatable_for_media_tools(client: TestClient[Any, Any]) -> None:
    service = service_of(client)
    data = os.urandom(3 * MiB + 7)
    upload = await service.create(length=len(data))
    await write(service, upload, chunks(data, MiB))
    upload = await finish(service, upload.id)
    assert await _fetch(await service.storage.locate(upload)) == data


async def test_objects_put_locate_read_size_delete(client: TestClient[Any, Any], tmp_path: Any) -> None:
    storage = service_of(client).storage
    data = os.urandom(2 * MiB + 3)
    source = tmp_path / "master.mp4"
    source.write_bytes(data)
    name = "assets/abc/master.mp4"
    assert await storage.object_size(name) is None
    assert await storage.put_object(name, str(source)) == len(data)
    assert await storage.object_size(name) == len(data)
    assert await _fetch(await storage.locate_object(name)) == data
    assert b"".join([c async for c in storage.read_object(name, 10, 1000)]) == data[10:1000]
    source.write_bytes(b"replaced")     # putting again replaces (idempotent job re-runs)
    assert await storage.put_object(name, str(source)) == 8
    await storage.delete_object(name)
    await storage.delete_object(name)
    assert await storage.object_size(name) is None


async def test_copy_object_is_independent_of_its_source(client: TestClient[Any, Any], tmp_path: Any) -> None:
    storage = service_of(client).storage
    data = os.urandom(MiB + 5)
    source = tmp_path / "master.mp4"
    source.write_bytes(data)
    await storage.put_object("assets/c/master.mp4", str(source))
    await storage.copy_object("assets/c/master.mp4", "assets/c/master.grant.mp4")
    await storage.copy_object("assets/c/master.mp4", "assets/c/master.grant.mp4")   # replaces
    assert await _fetch(await storage.locate_object("assets/c/master.grant.mp4")) == data
    await storage.delete_object("assets/c/master.grant.mp4")      # the copy goes, the source stays
    assert await storage.object_size("assets/c/master.grant.mp4") is None
    assert await storage.object_size("assets/c/master.mp4") == len(data)
    await storage.copy_object("assets/c/master.mp4", "assets/c/again.mp4")
    await storage.delete_object("assets/c/master.mp4")            # and the other way round
    assert await _fetch(await storage.locate_object("assets/c/again.mp4")) == data
    with pytest.raises(FileNotFoundError):
        await storage.copy_object("assets/c/missing.mp4", "assets/c/x.mp4")


async def test_the_backend_declares_its_capabilities(client: TestClient[Any, Any], tmp_path: Any) -> None:
    """What the rest of the gateway asks a backend instead of looking at its class or configured name."""
    service = service_of(client)
    storage = service.storage
    assert isinstance(storage.presigned_downloads, bool)
    assert isinstance(storage.preferred_part_size, int) and storage.preferred_part_size >= 5 * MiB   # S3's floor
    assert service.preferred_part_size == storage.preferred_part_size
    assert os.access(storage.disk_path, os.W_OK) and storage.write_footprint >= storage.preferred_part_size
    await storage.prepare()   # idempotent: the gateway already prepared it at start-up
    await storage.prepare()
    await storage.ping()
    source = tmp_path / "master.mp4"
    source.write_bytes(b"bytes")
    await storage.put_object("assets/cap/master.mp4", str(source))
    location = await storage.locate_object("assets/cap/master.mp4", ttl=60)
    # presigned downloads are URLs anyone holding them can fetch; otherwise a path only this host reads
    assert location.startswith("http") is storage.presigned_downloads
    assert await _fetch(location) == b"bytes"
    await storage.delete_object("assets/cap/master.mp4")


async def test_delete_prefix_removes_a_folder_of_objects_and_nothing_else(
        client: TestClient[Any, Any], tmp_path: Any) -> None:
    storage = service_of(client).storage
    source = tmp_path / "seg.m4s"
    source.write_bytes(b"segment")
    names = [f"assets/gone/hls/720p/seg{n:05d}.m4s" for n in range(3)] + ["assets/gone/master.mp4",
                                                                          "assets/gone/images/a.jpg"]
    for name in [*names, "assets/gone2/master.mp4", "assets/kept/master.mp4"]:
        await storage.put_object(name, str(source))
    await storage.delete_prefix("assets/gone/")
    await storage.delete_prefix("assets/gone/")   # idempotent
    for name in names:
        assert await storage.object_size(name) is None
    assert await storage.object_size("assets/gone2/master.mp4") == 7   # a sibling sharing the prefix's stem
    assert await storage.object_size("assets/kept/master.mp4") == 7
    with pytest.raises(ValueError):
        await storage.delete_prefix("assets/kept")   # not a folder: refused, nothing removed
    assert await storage.object_size("assets/kept/master.mp4") == 7
