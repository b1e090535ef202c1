"""Filesystem backend: one file per upload under ``root``, appended in place.

``<root>/<id>`` holds the bytes. The Redis offset is the authority: a write first truncates the file to
it (bytes a crashed writer left past the offset were never acknowledged), and commits only after
``fdatasync``, every ``commit_every`` bytes and at the end, so an acknowledged byte is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import aiofiles
import aiofiles.os

from gateway.models import Commit, Upload
from gateway.storage.base import Journal

COMMIT_EVERY = 64 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024   # recorded on each upload; the filesystem itself appends in place
WRITE_BATCH = 256 * 1024


class FilesystemStorage:
    presigned_downloads = False
    preferred_part_size = PART_SIZE

    def __init__(self, root: Path, *, commit_every: int = COMMIT_EVERY) -> None:
        self.root = root.resolve()
        self.commit_every = commit_every
        self.root.mkdir(parents=True, exist_ok=True)
        self.disk_path = str(self.root)
        self.write_footprint = commit_every

    async def prepare(self) -> None:
        """Nothing to do: the root was made when the backend was built."""

    def path(self, upload_id: str) -> Path:
        return self.root / upload_id

    async def create(self, upload: Upload) -> dict[str, str]:
        async with aiofiles.open(self.path(upload.id), "ab"):
            pass
        return {}

    async def write(self, upload: Upload, body: AsyncIterable[bytes], journal: Journal) -> int:
        offset = committed = upload.offset
        async with aiofiles.open(self.path(upload.id), "r+b") as f:
            await f.truncate(offset)
            await f.seek(offset)
            batch: list[bytes] = []
            batched = 0
            async for chunk in body:
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH:
                    await f.write(b"".join(batch) if len(batch) > 1 else batch[0])
                    offset += batched
                    batch, batched = [], 0
                    if offset - committed >= self.commit_every:
                        committed = await self._commit(f.fileno(), journal, committed, offset)
            if batch:
                await f.write(b"".join(batch))
                offset += batched
            await f.flush()
            if offset != committed:
                committed = await self._commit(f.fileno(), journal, committed, offset)
        return committed

    @staticmethod
    async def _commit(fd: int, journal: Journal, old: int, new: int) -> int:
        await asyncio.to_thread(os.fdatasync, fd)
        await journal.commit(Commit(old_offset=old, new_offset=new))
        return new

    async def finish(self, upload: Upload, journal: Journal) -> None:
        return None  # the file is already whole

    async def concat(self, final: Upload, partials: list[Upload], journal: Journal) -> None:
        def copy() -> int:
            with open(self.path(final.id), "wb") as out:
                for partial in partials:
                    with open(self.path(partial.id), "rb") as src:
                        shutil.copyfileobj(src, out, 4 * 1024 * 1024)
                out.flush()
                os.fdatasync(out.fileno())
                return out.tell()

        size = await asyncio.to_thread(copy)
        await journal.commit(Commit(old_offset=final.offset, new_offset=size))

    def read(self, upload: Upload, start: int, end: int) -> AsyncIterator[bytes]:
        return _read_range(self.path(upload.id), start, end)

    async def delete(self, upload: Upload, journal: Journal) -> None:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(self.path(upload.id))

    def object_path(self, name: str) -> Path:
        path = (self.root / "objects" / name).resolve()
        if not path.is_relative_to(self.root / "objects"):
            raise ValueError(f"object name escapes the storage root: {name!r}")
        return path

    async def locate(self, upload: Upload, ttl: float = 6 * 3600) -> str:
        return str(self.path(upload.id))

    async def put_object(self, name: str, path: str) -> int:
        target = self.object_path(name)

        def place() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(path, partial)
            with open(partial, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(partial, target)   # readers see the whole file or none
            return target.stat().st_size

        return await asyncio.to_thread(place)

    async def copy_object(self, source: str, target: str) -> None:
        origin, copy = self.object_path(source), self.object_path(target)

        def link() -> None:
            copy.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.remove(copy)
            try:
                os.link(origin, copy)    # instant, and the inode lives until both names are gone
            except OSError as exc:
                if isinstance(exc, FileNotFoundError):
                    raise
                shutil.copyfile(origin, copy)

        await asyncio.to_thread(link)

    async def locate_object(self, name: str, ttl: float = 6 * 3600) -> str:
        return str(self.object_path(name))

    def read_object(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        return _read_range(self.object_path(name), start, end)

    async def object_size(self, name: str) -> int | None:
        try:
            return (await aiofiles.os.stat(self.object_path(name))).st_size
        except FileNotFoundError:
            return None

    async def delete_object(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(self.object_path(name))

    async def delete_prefix(self, prefix: str) -> None:
        if not prefix.endswith("/") or prefix.strip("/") == "":
            raise ValueError(f"not a folder prefix: {prefix!r}")
        folder = self.object_path(prefix.rstrip("/"))
        await asyncio.to_thread(shutil.rmtree, folder, True)

    async def ping(self) -> None:
        probe = self.root / ".healthz"
        async with aiofiles.open(probe, "wb") as f:
            await f.write(b"ok")
        await aiofiles.os.remove(probe)

    async def close(self) -> None:
        return None


async def _read_range(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    async with aiofiles.open(path, "rb") as f:
        await f.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = await f.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
