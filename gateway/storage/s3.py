"""S3 backend (MinIO or any S3 API): one multipart upload per upload, fixed-size parts.

Bucket layout::

    <prefix><id>                      the object (an open multipart upload until finished)
    <prefix><id>.seg/<offset>-<rand>  durable segments of the part being filled

Body bytes are spooled to a temp file until a whole part (the upload's fixed ``part_size``) is there,
then streamed to UploadPart while the next part fills (``concurrent_parts`` in flight, bounded disk).
Bytes that do not fill a part when a request ends are PUT once as a *segment* object and committed;
when a later request completes the part, the segments are read once and streamed into it, and only
after that part is committed are they deleted. So each byte is written to S3 at most twice, whatever
the client's chunk size (tusd re-uploads its whole ``.part`` tail on every PATCH), and the offset never
goes backwards (tusd deletes ``.part`` before the merged data is safe).

The ``minio`` client is blocking: control calls run in a bounded thread pool. Data moves through
presigned URLs with aiohttp, streaming, so a part is never held in memory and no thread waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiofiles
import aiofiles.os
import aiohttp
import certifi
import urllib3
from minio import Minio
from minio.commonconfig import ComposeSource, CopySource
from minio.datatypes import Part as MinioPart
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from gateway.core.parts import plan_concat
from gateway.errors import StorageUnavailable
from gateway.models import Commit, Part, Segment, Upload
from gateway.settings import S3Settings
from gateway.storage.base import Journal

T = TypeVar("T")
CHUNK = 512 * 1024
URL_TTL = timedelta(hours=1)
COPY_LIMIT = 5 * 1024**3   # the largest object one CopyObject may copy


def connection_pool(size: int) -> urllib3.PoolManager:
    """minio's own pool settings, but one connection per thread of ours (minio keeps 10, and every
    call past that opened and dropped a connection: "Connection pool is full" under load)."""
    timeout = timedelta(minutes=5).total_seconds()
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout), maxsize=size,
        cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]))


class S3Storage:
    presigned_downloads = True

    def __init__(self, settings: S3Settings, *, spool_dir: str = "") -> None:
        url = urlsplit(settings.endpoint)
        self.settings = settings
        self.preferred_part_size = settings.part_size
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.spool_dir = spool_dir or None
        self.disk_path = spool_dir or tempfile.gettempdir()
        self.write_footprint = (settings.concurrent_parts + 1) * settings.part_size
        self.client = Minio(url.netloc, access_key=settings.access_key,
                            secret_key=settings.secret_key.get_secret_value(),
                            secure=url.scheme == "https", region=settings.region,
                            http_client=connection_pool(settings.threads))
        public = urlsplit(settings.public_endpoint) if settings.public_endpoint else url
        # presigned download URLs handed to users name the endpoint they can reach
        self.public_client = Minio(public.netloc, access_key=settings.access_key,
                                   secret_key=settings.secret_key.get_secret_value(),
                                   secure=public.scheme == "https", region=settings.region)
        self.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="s3")
        self.puts = asyncio.Semaphore(settings.max_concurrent_puts)
        self._http: aiohttp.ClientSession | None = None

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60),
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0))
        return self._http

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.pool, lambda: fn(*args, **kwargs))
        except S3Error:
            raise
        except Exception as exc:  # urllib3 connection errors and the like
            raise StorageUnavailable(f"S3 is unreachable: {exc.__class__.__name__}") from exc

    def key(self, upload_id: str) -> str:
        return f"{self.prefix}{upload_id}"

    def _url(self, method: str, key: str, **query: str) -> str:
        params: dict[str, Any] = dict(query)
        return self.client.get_presigned_url(method, self.bucket, key, expires=URL_TTL,
                                             extra_query_params=params or None)

    async def prepare(self) -> None:
        await self.ensure_bucket()

    async def ensure_bucket(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            with contextlib.suppress(S3Error):  # another gateway may have made it meanwhile
                await self._call(self.client.make_bucket, self.bucket, self.settings.region)

    async def _put(self, url: str, size: int, body: AsyncIterator[bytes]) -> str:
        """PUT a part or segment (its body is always spooled or stored bytes, never a client's: a
        slot of ``max_concurrent_puts`` is never held waiting for a client)."""
        try:
            async with self.puts, self.http.put(url, data=body, headers={"Content-Length": str(size),
                                     "Content-Type": "application/octet-stream"}) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise StorageUnavailable(f"S3 answered {resp.status} to a PUT: {text[:200]}")
                return resp.headers.get("ETag", "").strip('"')
        except aiohttp.ClientError as exc:
            raise StorageUnavailable(f"S3 PUT failed: {exc.__class__.__name__}") from exc

    async def _get(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        try:
            async with self.http.get(self._url("GET", key),
                                     headers={"Range": f"bytes={start}-{end - 1}"}) as resp:
                if resp.status not in (200, 206):
                    raise StorageUnavailable(f"S3 answered {resp.status} to a GET of {key}")
                async for chunk in resp.content.iter_chunked(CHUNK):
                    yield chunk
        except aiohttp.ClientError as exc:
            raise StorageUnavailable(f"S3 GET failed: {exc.__class__.__name__}") from exc

    # -- the Storage interface ------------------------------------------------------------------

    async def create(self, upload: Upload) -> dict[str, str]:
        mpu = await self._call(self.client._create_multipart_upload, self.bucket, self.key(upload.id),
                               {"Content-Type": "application/octet-stream"})
        return {"mpu": mpu}

    async def write(self, upload: Upload, body: AsyncIterable[bytes], journal: Journal) -> int:
        writer = _PartWriter(self, upload, await journal.segments(), journal)
        try:
            async for chunk in body:
                await writer.add(chunk)
        finally:
            await writer.close()
        return writer.committed

    async def finish(self, upload: Upload, journal: Journal) -> None:
        segments = await journal.segments()
        parts = await journal.parts()
        if segments or not parts:
            number = len(parts) + 1
            size = sum(s.size for s in segments)
            etag = await self._put(self._url("PUT", self.key(upload.id), partNumber=str(number),
                                             uploadId=upload.storage["mpu"]), size,
                                   self._concat_segments(segments))
            await journal.commit(Commit(upload.offset, upload.offset, part=Part(number, etag, size),
                                        clear_segments=True))
            parts.append(Part(number, etag, size))
        try:
            await self._call(self.client._complete_multipart_upload, self.bucket, self.key(upload.id),
                             upload.storage["mpu"], [MinioPart(p.number, p.etag) for p in parts])
        except S3Error as exc:
            if exc.code != "NoSuchUpload":  # already completed by an earlier try
                raise StorageUnavailable(f"completing the multipart upload failed: {exc.code}") from exc
        journal.on_durable(lambda: self._remove_segments(upload.id))

    async def concat(self, final: Upload, partials: list[Upload], journal: Journal) -> None:
        mpu = final.storage["mpu"]
        offset = final.offset
        for number, pieces in enumerate(plan_concat([p.offset for p in partials]), start=1):
            size = sum(piece.size for piece in pieces)
            if len(pieces) == 1:
                piece = pieces[0]
                source = f"/{self.bucket}/{self.key(partials[piece.source].id)}"
                etag, _ = await self._call(
                    self.client._upload_part_copy, self.bucket, self.key(final.id), mpu, number,
                    {"x-amz-copy-source": source,
                     "x-amz-copy-source-range": f"bytes={piece.start}-{piece.end - 1}"})
            else:
                async def stream(pieces: list[Any] = pieces) -> AsyncIterator[bytes]:
                    for piece in pieces:
                        async for chunk in self._get(self.key(partials[piece.source].id),
                                                     piece.start, piece.end):
                            yield chunk
                etag = await self._put(self._url("PUT", self.key(final.id), partNumber=str(number),
                                                 uploadId=mpu), size, stream())
            await journal.commit(Commit(offset, offset + size, part=Part(number, etag.strip('"'), size)))
            offset += size

    def read(self, upload: Upload, start: int, end: int) -> AsyncIterator[bytes]:
        return self._get(self.key(upload.id), start, end)

    async def delete(self, upload: Upload, journal: Journal) -> None:
        key = self.key(upload.id)
        if "mpu" in upload.storage and not upload.complete:
            with contextlib.suppress(S3Error):
                await self._call(self.client._abort_multipart_upload, self.bucket, key, upload.storage["mpu"])
        with contextlib.suppress(S3Error):
            await self._call(self.client.remove_object, self.bucket, key)
        await self._remove_segments(upload.id)

    async def _remove_segments(self, upload_id: str, keys: list[str] | None = None) -> None:
        def remove() -> None:
            names = keys if keys is not None else [
                o.object_name for o in self.client.list_objects(
                    self.bucket, prefix=f"{self.key(upload_id)}.seg/", recursive=True)]
            if names:
                list(self.client.remove_objects(self.bucket, [DeleteObject(n) for n in names if n]))
        with contextlib.suppress(S3Error, StorageUnavailable):
            await self._call(remove)

    async def _concat_segments(self, segments: list[Segment]) -> AsyncIterator[bytes]:
        for segment in segments:
            async for chunk in self._get(segment.key, 0, segment.size):
                yield chunk

    # -- derived objects -------------------------------------------------------------------------

    def object_key(self, name: str) -> str:
        return f"{self.prefix}objects/{name}"

    async def locate(self, upload: Upload, ttl: float = 6 * 3600) -> str:
        return await self._call(self.client.presigned_get_object, self.bucket, self.key(upload.id),
                                expires=timedelta(seconds=ttl))

    async def put_object(self, name: str, path: str) -> int:
        await self._call(self.client.fput_object, self.bucket, self.object_key(name), path,
                         content_type="video/mp4" if name.endswith(".mp4") else "application/octet-stream",
                         part_size=64 * 1024 * 1024)
        return (await aiofiles.os.stat(path)).st_size

    async def copy_object(self, source: str, target: str) -> None:
        size = await self.object_size(source)
        if size is None:
            raise FileNotFoundError(source)
        origin = CopySource(self.bucket, self.object_key(source))
        if size <= COPY_LIMIT:
            await self._call(self.client.copy_object, self.bucket, self.object_key(target), origin)
        else:   # CopyObject stops at 5 GiB; compose copies in parts (UploadPartCopy)
            await self._call(self.client.compose_object, self.bucket, self.object_key(target),
                             [ComposeSource(self.bucket, self.object_key(source))])

    async def locate_object(self, name: str, ttl: float = 6 * 3600) -> str:
        return await self._call(self.public_client.presigned_get_object, self.bucket, self.object_key(name),
                                expires=timedelta(seconds=min(ttl, 7 * 86400)))

    def read_object(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        return self._get(self.object_key(name), start, end)

    async def object_size(self, name: str) -> int | None:
        try:
            stat = await self._call(self.client.stat_object, self.bucket, self.object_key(name))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            raise
        return int(stat.size) if stat.size is not None else None

    async def delete_object(self, name: str) -> None:
        with contextlib.suppress(S3Error):
            await self._call(self.client.remove_object, self.bucket, self.object_key(name))

    async def delete_prefix(self, prefix: str) -> None:
        if not prefix.endswith("/") or prefix.strip("/") == "":
            raise ValueError(f"not a folder prefix: {prefix!r}")

        def remove() -> None:
            listed = self.client.list_objects(self.bucket, prefix=self.object_key(prefix), recursive=True)
            doomed = (DeleteObject(o.object_name) for o in listed if o.object_name is not None)
            for failure in self.client.remove_objects(self.bucket, doomed):
                raise OSError(f"S3 refused to delete {failure.name}: {failure.code} {failure.message}")

        await self._call(remove)

    async def ping(self) -> None:
        await self.ensure_bucket()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _PartWriter:
    """Fills parts from one request's body; see the module docstring."""

    def __init__(self, store: S3Storage, upload: Upload, segments: list[Segment], journal: Journal) -> None:
        self.store = store
        self.upload = upload
        self.journal = journal
        self.part_size = upload.part_size
        self.segments = segments                       # committed segments heading the current part
        self.tail = sum(s.size for s in segments)
        self.number = (upload.offset - self.tail) // self.part_size  # committed parts so far
        self.committed = upload.offset
        self.received = upload.offset                  # bytes taken in, committed or not
        self.spool: _Spool | None = None
        self.slots = asyncio.Semaphore(store.settings.concurrent_parts)
        self.pending: list[tuple[asyncio.Task[str], int, int, list[Segment], _Spool]] = []

    async def add(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            if self.spool is None:
                self.spool = await _Spool.open(self.store.spool_dir)
            room = self.part_size - self.tail - self.spool.size
            take = view[:room]
            await self.spool.write(take)
            self.received += len(take)
            view = view[len(take):]
            if self.tail + self.spool.size == self.part_size:
                await self._launch_part()
            await self._commit_done(wait=False)

    async def _launch_part(self) -> None:
        assert self.spool is not None
        await self.slots.acquire()
        self.number += 1
        spool, segments = self.spool, self.segments
        size = self.tail + spool.size
        task = asyncio.create_task(self._upload_part(self.number, segments, spool, size))
        self.pending.append((task, self.number, size, segments, spool))
        self.spool, self.segments, self.tail = None, [], 0

    async def _upload_part(self, number: int, segments: list[Segment], spool: _Spool, size: int) -> str:
        try:
            async def body() -> AsyncIterator[bytes]:
                async for chunk in self.store._concat_segments(segments):
                    yield chunk
                async for chunk in spool.chunks():
                    yield chunk
            url = self.store._url("PUT", self.store.key(self.upload.id), partNumber=str(number),
                                  uploadId=self.upload.storage["mpu"])
            return await self.store._put(url, size, body())
        finally:
            await spool.discard()
            self.slots.release()

    async def _commit_done(self, wait: bool) -> None:
        while self.pending and (wait or self.pending[0][0].done()):
            task, number, size, segments, _ = self.pending[0]
            etag = await task
            self.pending.pop(0)
            new = self.committed + size - sum(s.size for s in segments)
            await self.journal.commit(Commit(self.committed, new, part=Part(number, etag, size),
                                             clear_segments=True))
            self.committed = new
            if segments:
                self.journal.on_durable(functools.partial(
                    self.store._remove_segments, self.upload.id, [s.key for s in segments]))

    async def close(self) -> None:
        """Commit finished parts in order, then keep the rest of the spool as a segment."""
        try:
            await self._commit_done(wait=True)
            spool = self.spool
            if spool is None or spool.size == 0:
                return
            if self.upload.length is not None and self.received == self.upload.length:
                await self._launch_part()  # the last part: no need to pass through a segment
                await self._commit_done(wait=True)
                return
            key = f"{self.store.key(self.upload.id)}.seg/{self.committed:016x}-{secrets.token_hex(4)}"
            await self.store._put(self.store._url("PUT", key), spool.size, spool.chunks())
            segment = Segment(key=key, offset=self.committed, size=spool.size)
            await self.journal.commit(Commit(self.committed, self.committed + spool.size, segment=segment))
            self.committed += spool.size
        finally:
            for task, *_ in self.pending:
                task.cancel()
            await asyncio.gather(*(t for t, *_ in self.pending), return_exceptions=True)
            for *_, spool in self.pending:
                await spool.discard()
            if self.spool is not None:
                await self.spool.discard()


class _Spool:
    """A temp file holding (part of) one part on its way to S3."""

    def __init__(self, path: str, file: Any) -> None:
        self.path = path
        self.file = file
        self.size = 0

    @classmethod
    async def open(cls, directory: str | None) -> _Spool:
        fd, path = tempfile.mkstemp(prefix="upgw-part-", dir=directory)
        os.close(fd)
        return cls(path, await aiofiles.open(path, "w+b"))

    async def write(self, data: memoryview) -> None:
        await self.file.write(data)
        self.size += len(data)

    async def chunks(self) -> AsyncIterator[bytes]:
        await self.file.flush()
        async with aiofiles.open(self.path, "rb") as f:
            while chunk := await f.read(CHUNK):
                yield chunk

    async def discard(self) -> None:
        with contextlib.suppress(Exception):
            await self.file.close()
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(self.path)
