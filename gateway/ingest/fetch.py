"""Import a URL's bytes into an upload, resumably: the same storage path as an upload's body.

:func:`import_url` GETs the source through the guard (:class:`~gateway.ingest.guard.GuardedClient`) and
hands the body to :meth:`UploadService.append <gateway.service.UploadService.append>`, so the bytes are
committed as they arrive and a killed process resumes from the upload's stored offset: the next call asks
for ``Range: bytes=<offset>-``. The upload's length is declared from the first answer's
``Content-Length`` (or the ``Content-Range`` total), so progress is the upload's offset over its length.

**The source must not change under a resumed import.** The first answer's strong ``ETag`` (else its
``Last-Modified``) is kept in the upload record (``extra["src_etag"]``, ``extra["src_last_modified"]``,
written with ``service.state.update``) and sent back as ``If-Range``; every later answer's validator and
total length are compared with the kept ones as well (a server may ignore ``If-Range``). When they differ
the upload is emptied in place (:func:`restart`) and filled again from byte 0. A source with no validator
at all is compared by length only.

A server that ignores ``Range`` (a 200 to a ranged GET) still works: the bytes already stored are read
and dropped. A body that breaks off raises :class:`~gateway.ingest.errors.SourceInterrupted` with the
bytes that arrived kept; calling :func:`import_url` again resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from gateway.core import rules
from gateway.core.content_range import parse_content_range
from gateway.core.parts import part_size_for
from gateway.errors import ClientGone, GatewayError, PayloadTooLarge, ReadTimeout
from gateway.ingest.errors import (
    IngestRefused,
    SourceInterrupted,
    SourceInvalid,
    SourceStatus,
    SourceTooLarge,
)
from gateway.ingest.guard import GuardedClient, where
from gateway.journal import RedisJournal
from gateway.models import ConcatKind, Upload, UploadState
from gateway.service import UploadService
from gateway.settings import IngestSettings

log = logging.getLogger("gateway.ingest")

READ_SIZE = 1024 * 1024
MAX_RESTARTS = 3          # a source that changes more often than this within one call is given up on
SOURCE_FIELDS = ("src_etag", "src_last_modified")   # kept in Upload.extra (``x.<name>`` in the record)


@dataclass(frozen=True)
class Validator:
    """What identifies one version of the source: a strong ETag, else Last-Modified."""

    etag: str = ""
    last_modified: str = ""

    @classmethod
    def of_response(cls, headers: Mapping[str, str]) -> Validator:
        etag = headers.get("ETag", "").strip()
        if etag.startswith("W/"):   # a weak ETag says nothing about bytes: it cannot guard a range
            etag = ""
        return cls(etag=etag, last_modified=headers.get("Last-Modified", "").strip())

    @classmethod
    def of_upload(cls, upload: Upload) -> Validator:
        return cls(etag=upload.extra.get("src_etag", ""), last_modified=upload.extra.get("src_last_modified", ""))

    @property
    def if_range(self) -> str | None:
        return self.etag or self.last_modified or None

    def changed_to(self, seen: Validator) -> bool:
        """``seen`` is another version of the source (unknown when nothing was kept: not a change)."""
        if self.etag:
            return seen.etag != self.etag
        if self.last_modified:
            return seen.last_modified != self.last_modified
        return False

    def fields(self) -> dict[str, str]:
        return {"x.src_etag": self.etag, "x.src_last_modified": self.last_modified}


class _Changed(Exception):
    """The source is not the one the stored bytes came from, and must be asked for again from byte 0."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


async def import_url(service: UploadService, upload_id: str, url: str, *, settings: IngestSettings,
                     client: GuardedClient | None = None) -> Upload:
    """Fetch ``url`` into the upload ``upload_id`` (made by ``service.create(length=None)``) from its stored
    offset to the end, and return the finished upload. Without ``client`` one is made from ``settings``
    and closed afterwards.

    Raises :class:`~gateway.ingest.errors.IngestRefused` (the guard said no; SourceTooLarge past
    ``uploads.max_size``), :class:`~gateway.ingest.errors.SourceStatus` (404, 500, ...),
    :class:`~gateway.ingest.errors.SourceInvalid`, :class:`~gateway.ingest.errors.SourceUnreachable` or
    :class:`~gateway.ingest.errors.SourceInterrupted` (``offset``: the bytes kept; call again to resume),
    and the service's own errors (``NotFound``, ``Gone``, ``Locked``, ...)."""
    owned = client is None
    guarded = client if client is not None else GuardedClient(settings)
    try:
        return await _import(service, upload_id, guarded.check(url), guarded)
    finally:
        if owned:
            await guarded.close()


async def _import(service: UploadService, upload_id: str, url: URL, client: GuardedClient) -> Upload:
    restarts = 0
    while True:
        upload = await service.get(upload_id)
        if upload.complete:
            return upload
        if upload.concat is not ConcatKind.NONE:
            raise IngestRefused("a URL is imported into a plain upload, not into a part of a concatenation")
        try:
            upload = await _fetch_once(service, upload, url, client)
        except _Changed as change:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise SourceInvalid("the source keeps changing during the import") from None
            log.warning("ingest.source_changed", extra={**where(url), "upload_id": upload_id,
                                                         "offset": upload.offset, "why": change.why})
            await restart(service, upload_id)
            continue
        if upload.complete:
            log.info("ingest.finished", extra={**where(url), "upload_id": upload_id, "length": upload.length})
            return upload


async def _fetch_once(service: UploadService, upload: Upload, url: URL,
                      client: GuardedClient) -> Upload:
    """One GET from the stored offset, its body appended. Returns the upload as it then is (complete, or
    not when the source sent a shorter range than asked). An answer that is the whole new source (a 200
    with another validator) is taken after emptying the upload; one that is not (a 206 or 416 of another
    version) raises :class:`_Changed`, and the caller empties the upload and asks again."""
    offset, kept = upload.offset, Validator.of_upload(upload)
    headers: dict[str, str] = {}
    if offset > 0:
        headers["Range"] = f"bytes={offset}-"
        if kept.if_range is not None:
            headers["If-Range"] = kept.if_range
    response = await client.get(url, headers=headers)
    try:
        plan = _plan(service, upload, response, kept)
        if plan.restart_first:
            await restart(service, upload.id)
            upload = await service.get(upload.id)
            offset = 0
        if offset == 0 or plan.restart_first:
            await service.state.update(upload.id, plan.seen.fields())
        if plan.skip and not await _skip(response.content, plan.skip):
            raise _Changed("the source ended before the bytes already stored")
        log.info("ingest.fetch", extra={**where(url), "upload_id": upload.id, "offset": offset,
                                        "status": response.status, "total": plan.total})
        try:
            upload = await service.append(upload.id, offset, _chunks(response.content), content_length=plan.size,
                                          declare_length=plan.total if upload.length is None else None)
        except (ClientGone, ReadTimeout) as exc:
            raise _interrupted(exc, f"the source's body broke off ({exc.message})") from exc
        except PayloadTooLarge as exc:
            raise _too_large(exc, f"the source sent more than the upload may hold ({exc.message})") from exc
    finally:
        response.release()
    if not upload.complete and plan.size is None:   # the body ended where the source does: that is its length
        upload = await service.append(upload.id, upload.offset, None, content_length=0,
                                      declare_length=upload.offset)
    elif not upload.complete and upload.offset == offset:
        raise SourceInvalid("the source sent no bytes")
    return upload


@dataclass(frozen=True)
class _Plan:
    seen: Validator
    total: int | None          # the source's length, when known
    size: int | None           # the bytes this answer carries past ``skip`` (None: to its end)
    skip: int = 0              # bytes to drop first (a server that ignored Range)
    restart_first: bool = False   # the answer is the whole new source: empty the upload, then take it


def _plan(service: UploadService, upload: Upload, response: aiohttp.ClientResponse, kept: Validator) -> _Plan:
    """What to do with an answer, judged from its status and headers alone."""
    offset, status, seen = upload.offset, response.status, Validator.of_response(response.headers)
    if status == 416 and offset > 0:
        raise _Changed("the source is now shorter than the bytes already stored")
    if status not in (200, 206):
        raise SourceStatus(f"the source answered {status} {response.reason or ''}".rstrip(), source_status=status)
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "none"):   # asked for identity; the stored bytes would be encoded ones
        raise SourceInvalid(f"the source sent its bytes with Content-Encoding {encoding[:40]!r}")
    if status == 206:
        if offset == 0:
            raise SourceInvalid("the source answered 206 to a request without Range")
        try:
            content_range = parse_content_range(response.headers.get("Content-Range", ""))
        except GatewayError:
            raise SourceInvalid("the source's 206 has no usable Content-Range") from None
        if content_range.start != offset:
            raise SourceInvalid(f"the source sent bytes from {content_range.start}, not {offset} as asked")
        total = content_range.total
        if kept.changed_to(seen) or _other_length(upload, total):
            raise _Changed("the validator or the length differs")
        plan = _Plan(seen=seen, total=total, size=content_range.size)
    else:
        total = response.content_length   # None when chunked
        shorter = total is not None and total < offset
        restart_first = offset > 0 and (kept.changed_to(seen) or _other_length(upload, total) or shorter)
        skip = offset if offset > 0 and not restart_first else 0
        if skip:
            log.info("ingest.range_ignored", extra={"upload_id": upload.id, "skip": skip})
        plan = _Plan(seen=seen, total=total, skip=skip, restart_first=restart_first,
                     size=None if total is None else total - skip)
    if plan.total is not None and plan.total > service.settings.max_size:
        raise SourceTooLarge(f"the source is {plan.total} bytes, above the maximum upload size of "
                             f"{service.settings.max_size}")
    if not plan.restart_first and _other_length(upload, plan.total):
        raise SourceInvalid(f"the source is {plan.total} bytes but the upload is {upload.length}")
    return plan


def _other_length(upload: Upload, total: int | None) -> bool:
    return upload.length is not None and total is not None and total != upload.length


async def _skip(content: aiohttp.StreamReader, count: int) -> bool:
    """Read and drop ``count`` bytes; False when the body ends first."""
    left = count
    try:
        while left > 0:
            chunk = await content.read(min(left, READ_SIZE))
            if not chunk:
                return False
            left -= len(chunk)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SourceInterrupted(f"the source's body broke off before the bytes already stored "
                                f"({exc.__class__.__name__})") from exc
    return True


async def _chunks(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    async for chunk in content.iter_chunked(READ_SIZE):
        yield chunk


def _interrupted(cause: GatewayError, message: str) -> SourceInterrupted:
    error = SourceInterrupted(message)
    error.offset, error.expires_at = cause.offset, cause.expires_at
    return error


def _too_large(cause: GatewayError, message: str) -> SourceTooLarge:
    error = SourceTooLarge(message)
    error.offset, error.expires_at = cause.offset, cause.expires_at
    return error


async def restart(service: UploadService, upload_id: str) -> Upload:
    """Empty an unfinished upload in place, for a source that changed: under the upload's lock its stored
    bytes are deleted and its record replaced by a fresh one (offset 0, length unknown, no ``src_*``
    fields) with the same id, creation time, metadata and other ``extra`` fields.

    This is :meth:`UploadService.terminate` followed by :meth:`UploadService.create` at the level of the
    service's seams (storage, record store, lock), without the listeners: the upload is not ended, so a
    direct upload that owns it is not cancelled and no termination or creation is counted."""
    async with service.locker.hold(upload_id, service.settings.lock_timeout) as lease:
        old = await service.get(upload_id)
        if old.state is not UploadState.RECEIVING:
            raise IngestRefused("only an upload still receiving bytes can be restarted")
        await service.storage.delete(old, RedisJournal(service.state, upload_id, lease.token))
        fresh = Upload(
            id=old.id, offset=0, length=None,
            part_size=part_size_for(None, max_size=service.settings.max_size,
                                    preferred=service.preferred_part_size),
            created_at=old.created_at,
            expires_at=rules.expiry(time.time(), service.settings.expiration, service.deadline_of(old)),
            metadata=old.metadata,
            extra={k: v for k, v in old.extra.items() if k not in SOURCE_FIELDS},
        )
        fresh = fresh.with_(storage=await service.storage.create(fresh))
        await service.state.delete(upload_id, "restarted")   # the record, its parts and segments
        await service.state.create(fresh)
    log.info("ingest.restarted", extra={"upload_id": upload_id, "dropped": old.offset})
    return fresh
