"""Direct uploads (Mux's Upload object) and what happens when their last byte lands.

Each direct upload owns one storage upload (the resumable resource behind its ``url``). The state
machine is ``waiting`` → ``asset_created`` | ``errored`` | ``cancelled`` | ``timed_out``
(``UPLOAD_TRANSITIONS``, catalog/models.py); every transition is checked against that table and written
as a compare-and-set on the ``status`` field, so a cancel racing a completion has one winner.

Completing is a sequence of idempotent steps behind a write-ahead intent (the ``completing`` set): flip
the status, create the Asset (NX), record the events (once per type), queue the job (deduplicated by
asset id). A crash anywhere in between is finished by :meth:`DirectUploads.reconcile`.

Keys (gateway/state/keys.py): the record ``<p>:{<id>}:upload`` and its index ``<p>:uploads``, the
deadlines of waiting uploads ``<p>:uploads:waiting`` and the intents ``<p>:uploads:completing``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from gateway.catalog import schema
from gateway.catalog.assets import AssetStore, initial_asset, new_asset
from gateway.catalog.events import EventLog
from gateway.catalog.models import (
    UPLOAD_INITIAL,
    Asset,
    DirectUpload,
    LivepeerExtras,
    UploadError,
    UploadStatus,
    check_upload,
)
from gateway.catalog.records import Guard, RecordStore, new_id
from gateway.catalog.wire import mux_asset, mux_upload
from gateway.core.tus_headers import parse_metadata
from gateway.errors import Forbidden, GatewayError, InvalidTransition, NotFound
from gateway.models import ConcatKind, Upload
from gateway.service import UploadService
from gateway.state.keys import Keys

log = logging.getLogger("gateway.uploads")
Enqueue = Callable[[str], Awaitable[None]]
WAITING, ASSET_CREATED, CANCELLED, TIMED_OUT, ERRORED = (
    UploadStatus.WAITING, UploadStatus.ASSET_CREATED, UploadStatus.CANCELLED, UploadStatus.TIMED_OUT,
    UploadStatus.ERRORED)


def file_title(upload: Upload | None) -> str | None:
    """The uploaded file's name from its tus ``Upload-Metadata`` (``filename``), printable, else None."""
    if upload is None:
        return None
    try:
        name = parse_metadata(upload.metadata).get("filename", b"")
    except GatewayError:
        return None
    title = "".join(c for c in name.decode("utf-8", "replace") if c.isprintable()).strip()
    return title or None


class DirectUploadStore:
    """Direct uploads as typed records; every change is a :meth:`write`, checked against
    ``UPLOAD_TRANSITIONS`` and a compare-and-set on the old status when the status changes."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.records = RecordStore(redis, keys, "upload")

    async def create(self, upload: DirectUpload) -> bool:
        if upload.status is not UPLOAD_INITIAL:
            raise InvalidTransition(f"upload {upload.id}: an upload is created {UPLOAD_INITIAL}, not {upload.status}")
        fields = schema.upload_fields(upload)
        del fields["id"]
        return await self.records.create(upload.id, fields, upload.created)

    async def get(self, upload_id: str) -> DirectUpload | None:
        raw = await self.records.get(upload_id)
        return None if raw is None else schema.upload_from(raw)

    async def write(self, old: DirectUpload, new: DirectUpload, *, now: float | None = None) -> DirectUpload | None:
        """Turn ``old`` (as read) into ``new``; the upload as written, or None when it is gone or its status
        is no longer ``old``'s."""
        check_upload(old, new)
        guard = None
        if new.status != old.status:
            guard = Guard("status", str(old.status))
            new = replace(new, updated=now or time.time())
        fields, removed = schema.changes(schema.upload_fields(old), schema.upload_fields(new))
        if not fields and not removed:
            return new
        return new if await self.records.write(old.id, fields, remove=removed, guard=guard) else None

    async def page(self, *, offset: int, limit: int) -> list[str]:
        return await self.records.page(offset=offset, limit=limit)


class DirectUploads:
    def __init__(self, redis: Redis, keys: Keys, service: UploadService, assets: AssetStore,
                 events: EventLog, *, base_url: str, enqueue: Enqueue | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.store = DirectUploadStore(redis, keys)
        self.waiting = keys.waiting_uploads
        self.completing = keys.completing_uploads
        self.service = service
        self.assets = assets
        self.events = events
        self.base_url = base_url
        self.enqueue = enqueue
        service.on_complete.append(self._on_complete)
        service.on_terminate.append(self._on_terminate)

    async def _record(self, event_type: str, record: DirectUpload) -> None:
        await self.events.record(event_type, "upload", record.id, mux_upload(record, self.base_url))

    # -- lifecycle ------------------------------------------------------------------------------

    async def create(self, *, timeout: int, cors_origin: str | None, new_asset_settings: Mapping[str, Any],
                     test: bool = False, livepeer: LivepeerExtras | None = None) -> DirectUpload:
        now = time.time()
        upload_id = new_id()
        upload = await self.service.create(
            length=None, deadline=now + timeout,
            extra={"direct": upload_id, "cors_origin": cors_origin or "*"})
        record = DirectUpload(
            id=upload_id, status=UPLOAD_INITIAL, timeout=timeout, new_asset_settings=dict(new_asset_settings),
            test=test, storage_upload=upload.id, asset_id=new_id(), created=now, deadline=now + timeout,
            cors_origin=cors_origin, livepeer=livepeer)
        await self.store.create(record)
        await self.redis.zadd(self.waiting, {upload_id: now + timeout})
        await self._record("video.upload.created", record)
        log.info("direct_upload.created", extra={"upload_id": upload.id, "direct_upload": upload_id})
        return record

    async def import_url(self, url: str, settings: Mapping[str, Any], *, test: bool = False,
                         livepeer: LivepeerExtras | None = None) -> Asset:
        """An Asset whose input is fetched from ``url`` by the worker (Mux ``POST /video/v1/assets``,
        Livepeer ``upload/url``): an empty storage upload of unknown length becomes its source, the asset is
        stored ``preparing`` with ``url`` kept, and its job is queued. The URL's shape was checked by the
        API; whether it may be contacted is decided when it is fetched (gateway/ingest)."""
        asset_id = new_id()
        upload = await self.service.create(length=None, extra={"asset": asset_id})
        asset = new_asset(asset_id, settings, source=upload.id, test=test, source_url=url, livepeer=livepeer)
        await self.assets.create(asset)
        stored = await self.assets.get(asset_id) or asset
        await self.events.record("video.asset.created", "asset", asset_id, mux_asset(stored))
        if stored.master is not None:
            await self.events.record("video.asset.master.preparing", "asset", asset_id, mux_asset(stored))
        if self.enqueue is not None:
            await self.enqueue(asset_id)
        log.info("asset.import_created", extra={"asset_id": asset_id, "upload_id": upload.id})
        return stored

    async def adopt(self, upload: Upload, *, timeout: int) -> DirectUpload:
        """Give an upload created through tus (``POST /files/``) a direct-upload record of its own, so
        it becomes an Asset when it finishes like any other."""
        now = time.time()
        record = DirectUpload(
            id=upload.extra["direct"], status=UPLOAD_INITIAL, timeout=timeout, new_asset_settings={}, test=False,
            storage_upload=upload.id, asset_id=new_id(), created=now, deadline=None, cors_origin="*")
        await self.store.create(record)
        await self._record("video.upload.created", record)
        if upload.complete:
            await self._complete(record)
        return record

    async def get(self, upload_id: str) -> DirectUpload:
        record = await self.store.get(upload_id)
        if record is None:
            raise NotFound("upload not found")
        if record.status is WAITING and record.deadline and record.deadline < time.time():
            return await self._time_out(record)
        return record

    async def list(self, *, page: int, limit: int) -> list[DirectUpload]:
        records = []
        for upload_id in await self.store.page(offset=(page - 1) * limit, limit=limit):
            try:
                records.append(await self.get(upload_id))
            except NotFound:   # deleted between the index read and now
                continue
        return records

    async def cancel(self, upload_id: str) -> DirectUpload:
        record = await self.get(upload_id)
        cancelled = None
        if record.status is WAITING:
            cancelled = await self.store.write(record, replace(record, status=CANCELLED))
        if cancelled is None:
            raise Forbidden(f"Cancellation no longer possible: the upload is {(await self.get(upload_id)).status}")
        await self.redis.zrem(self.waiting, upload_id)
        with contextlib.suppress(NotFound):
            await self.service.terminate(record.storage_upload, reason="cancelled")
        await self._record("video.upload.cancelled", cancelled)
        return cancelled

    async def _time_out(self, record: DirectUpload) -> DirectUpload:
        upload = await self.service.state.get(record.storage_upload)
        if upload is not None and upload.complete:   # its last byte made it: finish, don't time out
            return await self._complete(record)
        if record.status is WAITING and await self.store.write(record, replace(record, status=TIMED_OUT)) is not None:
            await self.redis.zrem(self.waiting, record.id)
            log.info("direct_upload.timed_out", extra={"direct_upload": record.id})
        return await self.store.get(record.id) or record

    # -- completion -----------------------------------------------------------------------------

    async def _on_complete(self, upload: Upload) -> None:
        direct = upload.extra.get("direct")
        if not direct or upload.concat is ConcatKind.PARTIAL:
            return
        record = await self.store.get(direct)
        if record is not None:
            await self._complete(record)

    async def _on_terminate(self, upload: Upload, reason: str) -> None:
        direct = upload.extra.get("direct")
        if not direct or reason == "cancelled":
            return
        record = await self.store.get(direct)
        if record is None:
            return
        if reason == "expired":
            await self._time_out(record)
        elif record.status is WAITING and (
                cancelled := await self.store.write(record, replace(record, status=CANCELLED))) is not None:
            await self.redis.zrem(self.waiting, direct)   # tus termination of a direct upload cancels it
            await self._record("video.upload.cancelled", cancelled)

    async def _complete(self, record: DirectUpload) -> DirectUpload:
        upload = await self.service.state.get(record.storage_upload)
        if upload is not None and upload.length == 0:
            return await self._error(record, "invalid_input", "The uploaded file is empty")
        await self.redis.sadd(self.completing, record.id)
        created = None
        if record.status is WAITING:
            created = await self.store.write(record, replace(record, status=ASSET_CREATED))
        if created is None:
            current = await self.store.get(record.id) or record
            if current.status is not ASSET_CREATED:   # cancelled or timed out first: no asset
                await self.redis.srem(self.completing, record.id)
                return current
            created = current
        upload_id, asset_id = created.id, created.asset_id
        asset = initial_asset(created, title=file_title(upload))
        await self.assets.create(asset)
        stored = await self.assets.get(asset_id) or asset
        await self.events.record("video.asset.created", "asset", asset_id, mux_asset(stored))
        if stored.master is not None:
            await self.events.record("video.asset.master.preparing", "asset", asset_id, mux_asset(stored))
        await self._record("video.upload.asset_created", created)
        if self.enqueue is not None:
            await self.enqueue(asset_id)
        await self.redis.zrem(self.waiting, upload_id)
        await self.redis.srem(self.completing, upload_id)
        log.info("direct_upload.asset_created", extra={"direct_upload": upload_id, "asset_id": asset_id})
        return created

    async def _error(self, record: DirectUpload, error_type: str, message: str) -> DirectUpload:
        """The upload could not become an asset (Mux's ``errored`` upload with ``error``)."""
        errored = None
        if record.status is WAITING:
            errored = await self.store.write(
                record, replace(record, status=ERRORED, error=UploadError(type=error_type, message=message)))
        if errored is not None:
            await self.redis.zrem(self.waiting, record.id)
            await self._record("video.upload.errored", errored)
        return await self.store.get(record.id) or record

    async def reconcile(self, now: float | None = None) -> None:
        """Finish interrupted completions and time out overdue uploads (run by the sweeper)."""
        for raw in await self.redis.smembers(self.completing):
            record = await self.store.get(raw.decode())
            if record is None:
                await self.redis.srem(self.completing, raw)
            else:
                await self._complete(record)
        overdue = await self.redis.zrangebyscore(self.waiting, "-inf", now or time.time(), start=0, num=500)
        for raw in overdue:
            record = await self.store.get(raw.decode())
            if record is None or record.status is not WAITING:
                await self.redis.zrem(self.waiting, raw)
            else:
                await self._time_out(record)
