"""UploadService: create, describe, append, finish, concatenate, terminate, expire.

No dialect owns it: tus, PUT + Content-Range and the JSON APIs call these methods with plain values and
an ``AsyncIterable[bytes]`` body, and shape their own answers. It applies the rules of
:mod:`gateway.core.rules` under the upload's lock, over three seams: the record store and the lock
(:mod:`gateway.state.base`) and a storage backend (:mod:`gateway.storage.base`). Every failure is raised
as a :class:`~gateway.errors.GatewayError`; one that ends a body early carries the upload's new offset
(``error.offset``), since the bytes that arrived are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from gateway.backpressure import WriteGate
from gateway.body import BodySource
from gateway.core import rules
from gateway.core.checksum import Checksum
from gateway.core.parts import part_size_for
from gateway.errors import BadRequest, ChecksumMismatch, Gone, NotFound
from gateway.journal import DeferredJournal, RedisJournal
from gateway.models import ConcatKind, Upload, UploadState
from gateway.settings import UploadSettings
from gateway.state.base import UploadLocks, UploadStore
from gateway.state.lock import Lease
from gateway.storage.base import Storage

log = logging.getLogger("gateway.service")
Listener = Callable[[Upload], Awaitable[None]]
EndListener = Callable[[Upload, str], Awaitable[None]]   # (upload, "terminated" | "expired" | "cancelled")


def new_upload_id() -> str:
    """An unguessable capability: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


ANNOUNCE = "announce"      # Upload.extra key: "pending" from COMPLETE until every listener has run
PENDING = "pending"


def stranded(upload: Upload) -> bool:
    """Its finishing was cut short: every byte is stored but it is not COMPLETE, or the listeners
    (Asset creation) never finished hearing of it."""
    return (rules.is_finished(upload) and not upload.complete) or upload.extra.get(ANNOUNCE) == PENDING


class UploadService:
    def __init__(self, state: UploadStore, locker: UploadLocks, storage: Storage, settings: UploadSettings,
                 *, preferred_part_size: int) -> None:
        self.gate = WriteGate(max_writes=settings.max_concurrent_writes, disk_path=storage.disk_path,
                              min_free=settings.min_free_disk, footprint=storage.write_footprint)
        self.state = state
        self.locker = locker
        self.storage = storage
        self.settings = settings
        self.preferred_part_size = preferred_part_size
        self.on_create: list[Listener] = []
        self.on_bytes: list[Callable[[int], None]] = []   # bytes durably stored by one request
        self.on_complete: list[Listener] = []
        self.on_terminate: list[EndListener] = []
        self._background: set[asyncio.Task[None]] = set()

    def _expiry(self, deadline: float | None = None) -> float:
        return rules.expiry(time.time(), self.settings.expiration, deadline)

    @staticmethod
    def deadline_of(upload: Upload) -> float | None:
        value = upload.extra.get("deadline")
        return float(value) if value else None

    # -- reading --------------------------------------------------------------------------------

    async def get(self, upload_id: str) -> Upload:
        upload = await self.state.get(upload_id)
        if upload is None:
            reason = await self.state.tombstone(upload_id)
            if reason == "expired":
                raise Gone("this upload expired and its data was removed")
            if reason == "cancelled":
                raise Gone("this upload was cancelled")
            raise NotFound("no such upload")
        if upload.expires_at is not None and not upload.complete and upload.expires_at < time.time():
            raise Gone("this upload expired")
        return upload

    async def find(self, upload_id: str) -> Upload | None:
        """The upload's record as it is, or None (no expiry or tombstone checks)."""
        return await self.state.get(upload_id)

    async def set_metadata(self, upload_id: str, metadata: str) -> None:
        """``Upload-Metadata`` for an upload created without any (a direct upload's tus endpoint)."""
        await self.state.update(upload_id, {"metadata": metadata}, only_if=("metadata", ""))

    async def head(self, upload_id: str) -> Upload:
        """Current state; a request still writing is asked to stop first, so the offset is final.

        An upload holding all its bytes but not finished (its gateway died between storing the last
        byte and finishing) is finished here: the client is about to be told it has nothing left to
        send, so no later request of its would do it."""
        if await self.locker.is_locked(upload_id):
            await self.locker.wait_released(upload_id, timeout=min(self.settings.lock_timeout, 5.0))
        upload = await self.get(upload_id)
        if stranded(upload):
            upload = await self.finish_stranded(upload_id)
        return upload

    async def finish_stranded(self, upload_id: str) -> Upload:
        """Finish an upload whose bytes are all stored but whose finishing was cut short."""
        async with self.locker.hold(upload_id, self.settings.lock_timeout) as lease:
            upload = await self.get(upload_id)
            return await self._resume_finish(upload, lease) if stranded(upload) else upload

    async def _resume_finish(self, upload: Upload, lease: Lease) -> Upload:
        log.warning("upload.finish_resumed", extra={"upload_id": upload.id})
        return await self._finish(upload, lease)

    # -- creating -------------------------------------------------------------------------------

    async def create(self, *, length: int | None, metadata: str = "", concat: ConcatKind = ConcatKind.NONE,
                     concat_header: str = "", partials: tuple[str, ...] = (),
                     extra: dict[str, str] | None = None, upload_id: str | None = None,
                     deadline: float | None = None) -> Upload:
        if length is not None:
            rules.check_length(length, self.settings.max_size)
        upload = Upload(
            id=upload_id or new_upload_id(), offset=0, length=length,
            part_size=part_size_for(length, max_size=self.settings.max_size,
                                    preferred=self.preferred_part_size),
            created_at=time.time(), expires_at=self._expiry(deadline), metadata=metadata, concat=concat,
            concat_header=concat_header, partials=partials,
            extra={**(extra or {}), **({"deadline": repr(deadline)} if deadline is not None else {})},
            state=UploadState.CONCATENATING if concat is ConcatKind.FINAL else UploadState.RECEIVING,
        )
        upload = upload.with_(storage=await self.storage.create(upload))
        try:
            await self.state.create(upload)
        except BaseException:   # no stored bytes without a record: undo the storage side
            with contextlib.suppress(Exception):
                await self.storage.delete(upload, RedisJournal(self.state, upload.id, ""))
            raise
        log.info("upload.created", extra={"upload_id": upload.id, "length": length})
        for listener in self.on_create:
            await listener(upload)
        if length == 0 and concat is not ConcatKind.FINAL:
            async with self.locker.hold(upload.id, self.settings.lock_timeout) as lease:
                upload = await self._finish(upload, lease)
        return upload

    async def create_final(self, partial_ids: list[str], *, concat_header: str, metadata: str = "",
                           extra: dict[str, str] | None = None) -> Upload:
        rules.check_partials(partial_ids, max_parts=self.settings.max_concat_parts)
        partials = []
        for pid in partial_ids:
            try:
                partial = await self.get(pid)
            except (NotFound, Gone):
                raise BadRequest(f"partial upload {pid} does not exist") from None
            rules.check_partial(partial)
            partials.append(partial)
        rules.concat_total(partials, self.settings.max_size)
        lengths = [p.length for p in partials]
        total = None if None in lengths else sum(x for x in lengths if x is not None)
        final = await self.create(length=total, metadata=metadata, concat=ConcatKind.FINAL,
                                  concat_header=concat_header, partials=tuple(partial_ids), extra=extra)
        for partial in partials:
            if not partial.complete:
                await self.state.add_final_waiter(partial.id, final.id)
        return await self._concatenate_if_ready(final.id)

    async def _concatenate_if_ready(self, final_id: str) -> Upload:
        async with self.locker.hold(final_id, self.settings.lock_timeout) as lease:
            final = await self.get(final_id)
            if final.state is not UploadState.CONCATENATING:
                return final
            partials = [await self.get(pid) for pid in final.partials]
            if not all(p.complete for p in partials):
                return final
            total = rules.concat_total(partials, self.settings.max_size)   # a backstop: checked all along
            journal = RedisJournal(self.state, final.id, lease.token)
            await self.storage.concat(final, partials, journal)
            await self.state.update(final.id, {"length": str(total)})
            return await self._finish(await self.get(final.id), lease)

    # -- writing --------------------------------------------------------------------------------

    async def append(self, upload_id: str, offset: int, body: AsyncIterable[bytes] | None, *,
                     content_length: int | None, checksum: Checksum | None = None,
                     declare_length: int | None = None) -> Upload:
        """Store ``body`` at ``offset`` and return the upload as it now is. ``content_length`` is what
        the request claims to carry (None when unknown, e.g. chunked): a claim past what the upload may
        still take is refused before anything is read, and no more than the claim is ever stored.

        A body that ends early (a broken connection, a stall, a newer writer, too many bytes) keeps what
        arrived and raises why, with ``error.offset`` set to the new offset. Refused with 503 before
        anything is read while this gateway is at its write limit or short of disk (backpressure.py)."""
        with self.gate.admit():
            return await self._append(upload_id, offset, body, content_length=content_length, checksum=checksum,
                                      declare_length=declare_length)

    async def _append(self, upload_id: str, offset: int, body: AsyncIterable[bytes] | None, *,
                      content_length: int | None, checksum: Checksum | None,
                      declare_length: int | None) -> Upload:
        async with self.locker.hold(upload_id, self.settings.lock_timeout) as lease:
            upload = await self.get(upload_id)
            room = await self._room_in_finals(upload)
            rules.append_limit(upload, offset, None, room)      # where it may start, before anything else
            if declare_length is not None and (
                    length := rules.declared_length(upload, declare_length, max_size=self.settings.max_size,
                                                    room=room)) is not None:
                await self.state.update(upload.id, {"length": str(length)}, only_if=("length", ""))
                upload = upload.with_(length=length)
            limit = rules.append_limit(upload, offset, content_length, room)
            if upload.complete:   # nothing may be added; a body of unknown length must prove empty
                if content_length is None and body is not None:
                    await self._refuse_more(upload, body, lease)
                return upload
            journal = (DeferredJournal if checksum else RedisJournal)(self.state, upload_id, lease.token)
            source = BodySource(body, limit=limit, lease=lease, hasher=checksum.hasher if checksum else None,
                                idle_timeout=self.settings.idle_timeout)
            await self.storage.write(upload, source, journal)
            error = source.error
            if isinstance(journal, DeferredJournal):
                if error is None and checksum is not None and not checksum.matches():
                    error = ChecksumMismatch(f"the body does not match its {checksum.algorithm} checksum")
                if error is None:
                    await journal.flush()
                else:
                    journal.discard()
            await journal.run_actions()
            upload = await self.get(upload_id)
            for count in self.on_bytes:
                count(upload.offset - offset)
            if rules.is_finished(upload):
                upload = await self._finish(upload, lease)
            elif upload.offset != offset:
                upload = upload.with_(expires_at=self._expiry(self.deadline_of(upload)))
                await self.state.touch_expiry(upload_id, upload.expires_at)
            if error is not None:
                error.offset = upload.offset
                error.expires_at = upload.expires_at
                raise error
            return upload

    async def _refuse_more(self, upload: Upload, body: AsyncIterable[bytes], lease: Lease) -> None:
        source = BodySource(body, limit=0, lease=lease, idle_timeout=self.settings.idle_timeout)
        async for _ in source:
            pass
        if source.error is not None:
            source.error.offset = upload.offset
            raise source.error

    async def _room_in_finals(self, upload: Upload) -> int:
        """How many more bytes a deferred upload may take (by max_size, and by every final upload that
        lists it)."""
        others_by_final: list[list[Upload]] = []
        if upload.concat is ConcatKind.PARTIAL and upload.length is None:
            for final_id in await self.state.final_waiters(upload.id):
                final = await self.state.get(final_id)
                if final is not None:
                    others = [await self.state.get(pid) for pid in final.partials if pid != upload.id]
                    others_by_final.append([p for p in others if p is not None])
        return rules.room_in_finals(upload, others_by_final, self.settings.max_size)

    async def _finish(self, upload: Upload, lease: Lease) -> Upload:
        """Make the object whole, record COMPLETE with the announcement pending, tell the listeners (an
        Asset is made and queued: the worker needs COMPLETE), then mark it announced. Each step is
        idempotent, so a gateway that dies anywhere in here leaves an upload that the next status check
        (``head``) or the sweeper finishes again (``stranded``), never one stuck at its full length."""
        journal = RedisJournal(self.state, upload.id, lease.token)
        if not upload.complete:
            await self.storage.finish(upload, journal)
            await journal.run_actions()
            await self.state.update(upload.id, {"state": UploadState.COMPLETE.value, f"x.{ANNOUNCE}": PENDING})
        upload = upload.with_(state=UploadState.COMPLETE, expires_at=None)
        log.info("upload.finished", extra={"upload_id": upload.id, "length": upload.length})
        for listener in self.on_complete:
            await listener(upload)
        await self.state.update(upload.id, {f"x.{ANNOUNCE}": ""})
        await self.state.touch_expiry(upload.id, None)   # last: until here the sweeper can find it
        upload = upload.with_(extra={k: v for k, v in upload.extra.items() if k != ANNOUNCE})
        if upload.concat is ConcatKind.PARTIAL:
            for final_id in await self.state.final_waiters(upload.id):
                task = asyncio.create_task(self._concatenate_later(final_id))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return upload

    async def _concatenate_later(self, final_id: str) -> None:
        try:
            await self._concatenate_if_ready(final_id)
        except Exception:
            log.exception("upload.concat_failed", extra={"upload_id": final_id})

    # -- reading bytes back, removing ---------------------------------------------------------

    def read(self, upload: Upload, start: int, end: int) -> AsyncIterator[bytes]:
        return self.storage.read(upload, start, end)

    async def terminate(self, upload_id: str, reason: str = "terminated", *, by_client: bool = False) -> None:
        """Remove an upload and its data; its URL answers 410 afterwards. A client (tus termination)
        may not remove an upload that became an Asset: those bytes belong to the asset now."""
        async with self.locker.hold(upload_id, self.settings.lock_timeout) as lease:
            upload = await self.state.get(upload_id)
            if upload is None:
                raise NotFound("no such upload")
            rules.terminable(upload, by_client=by_client)
            await self.storage.delete(upload, RedisJournal(self.state, upload_id, lease.token))
            await self.state.delete(upload_id, reason)
        log.info("upload.%s", reason, extra={"upload_id": upload_id})
        for listener in self.on_terminate:
            await listener(upload, reason)

    async def sweep(self, now: float | None = None) -> int:
        """Remove expired unfinished uploads; returns how many were removed."""
        removed = 0
        for upload_id in await self.state.expired(now):
            token = await self.locker.try_acquire(upload_id)
            if token is None:
                continue  # being written right now: not abandoned
            try:
                upload = await self.state.get(upload_id)
                if upload is not None and stranded(upload):   # every byte was acknowledged: finish it
                    await self._resume_finish(upload, Lease(upload_id, token))
                    continue
                if upload is None or upload.complete or upload.expires_at is None:
                    await self.state.touch_expiry(upload_id, None)   # only the index entry is left
                    continue
                if upload.expires_at > (now or time.time()):
                    await self.state.touch_expiry(upload_id, upload.expires_at)
                    continue
                await self.storage.delete(upload, RedisJournal(self.state, upload_id, token))
                await self.state.delete(upload_id, "expired")
                removed += 1
                log.info("upload.expired", extra={"upload_id": upload_id})
                for listener in self.on_terminate:
                    await listener(upload, "expired")
            finally:
                await self.locker.release(upload_id, token)
        return removed
