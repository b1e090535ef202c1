"""Direct uploads (Mux's Upload object) and what happens when their last byte lands.

Each direct upload owns one storage upload (the resumable resource behind its ``url``). The state
machine is ``waiting`` → ``asset_created`` | ``errored`` | ``cancelled`` | ``timed_out``; every
transition is a compare-and-set on the ``status`` field, so a cancel racing a completion has one winner.

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
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from gateway.catalog.assets import AssetStore, initial_asset, public
from gateway.catalog.events import EventLog
from gateway.catalog.records import RecordStore, new_id
from gateway.errors import Forbidden, NotFound
from gateway.models import ConcatKind, Upload
from gateway.service import UploadService
from gateway.state.keys import Keys

log = logging.getLogger("gateway.uploads")
Enqueue = Callable[[str], Awaitable[None]]
WAITING, ASSET_CREATED, CANCELLED, TIMED_OUT, ERRORED = (
    "waiting", "asset_created", "cancelled", "timed_out", "errored")


class DirectUploads:
    def __init__(self, redis: Redis, keys: Keys, service: UploadService, assets: AssetStore,
                 events: EventLog, *, base_url: str, enqueue: Enqueue | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.records = RecordStore(redis, keys, "upload")
        self.waiting = keys.waiting_uploads
        self.completing = keys.completing_uploads
        self.service = service
        self.assets = assets
        self.events = events
        self.base_url = base_url
        self.enqueue = enqueue
        service.on_complete.append(self._on_complete)
        service.on_terminate.append(self._on_terminate)

    # -- views ----------------------------------------------------------------------------------

    def url(self, record: dict[str, Any]) -> str:
        return f"{self.base_url}/files/{record['_upload']}"

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The Mux Upload object (plus ``tus_endpoint``, a tus creation endpoint bound to it)."""
        out = {k: v for k, v in public(record).items() if k not in ("asset_id", "error")}
        out["url"] = self.url(record)
        out["tus_endpoint"] = self.url(record) + "/tus"
        if record["status"] == ASSET_CREATED:
            out["asset_id"] = record["asset_id"]
        if record.get("error"):
            out["error"] = record["error"]
        return out

    # -- lifecycle ------------------------------------------------------------------------------

    async def create(self, *, timeout: int, cors_origin: str | None, new_asset_settings: dict[str, Any],
                     test: bool = False, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        now = time.time()
        upload_id, asset_id = new_id(), new_id()
        upload = await self.service.create(
            length=None, deadline=now + timeout,
            extra={"direct": upload_id, "cors_origin": cors_origin or "*"})
        record: dict[str, Any] = {
            "id": upload_id, "status": WAITING, "timeout": timeout, "new_asset_settings": new_asset_settings,
            "test": test, "_upload": upload.id, "_asset_id": asset_id, "_deadline": now + timeout,
            "_created": now, **(extra or {})}
        if cors_origin is not None:
            record["cors_origin"] = cors_origin
        await self.records.create(upload_id, {k: v for k, v in record.items() if k != "id"}, now)
        await self.redis.zadd(self.waiting, {upload_id: now + timeout})
        await self.events.record("video.upload.created", "upload", upload_id, self.view(record))
        log.info("direct_upload.created", extra={"upload_id": upload.id, "direct_upload": upload_id})
        return record

    async def adopt(self, upload: Upload, *, timeout: int) -> dict[str, Any]:
        """Give an upload created through tus (``POST /files/``) a direct-upload record of its own, so
        it becomes an Asset when it finishes like any other."""
        now = time.time()
        record: dict[str, Any] = {
            "id": upload.extra["direct"], "status": WAITING, "timeout": timeout, "cors_origin": "*",
            "new_asset_settings": {}, "test": False, "_upload": upload.id, "_asset_id": new_id(),
            "_deadline": None, "_created": now}
        await self.records.create(record["id"], {k: v for k, v in record.items() if k != "id"}, now)
        await self.events.record("video.upload.created", "upload", record["id"], self.view(record))
        if upload.complete:
            await self._complete(record)
        return record

    async def get(self, upload_id: str) -> dict[str, Any]:
        record = await self.records.get(upload_id)
        if record is None:
            raise NotFound("upload not found")
        if record["status"] == WAITING and record.get("_deadline") and record["_deadline"] < time.time():
            return await self._time_out(record)
        return record

    async def list(self, *, page: int, limit: int) -> list[dict[str, Any]]:
        records = []
        for upload_id in await self.records.page(offset=(page - 1) * limit, limit=limit):
            try:
                records.append(await self.get(upload_id))
            except NotFound:   # deleted between the index read and now
                continue
        return records

    async def cancel(self, upload_id: str) -> dict[str, Any]:
        record = await self.get(upload_id)
        if not await self.records.replace_if(upload_id, "status", WAITING, {"status": CANCELLED}):
            raise Forbidden("Cancellation no longer possible: the upload is "
                            f"{(await self.get(upload_id))['status']}")
        record["status"] = CANCELLED
        await self.redis.zrem(self.waiting, upload_id)
        with contextlib.suppress(NotFound):
            await self.service.terminate(record["_upload"], reason="cancelled")
        await self.events.record("video.upload.cancelled", "upload", upload_id, self.view(record))
        return record

    async def _time_out(self, record: dict[str, Any]) -> dict[str, Any]:
        upload = await self.service.state.get(record["_upload"])
        if upload is not None and upload.complete:   # its last byte made it: finish, don't time out
            return await self._complete(record)
        if await self.records.replace_if(record["id"], "status", WAITING, {"status": TIMED_OUT}):
            await self.redis.zrem(self.waiting, record["id"])
            log.info("direct_upload.timed_out", extra={"direct_upload": record["id"]})
        return await self.records.get(record["id"]) or record

    # -- completion -----------------------------------------------------------------------------

    async def _on_complete(self, upload: Upload) -> None:
        direct = upload.extra.get("direct")
        if not direct or upload.concat is ConcatKind.PARTIAL:
            return
        record = await self.records.get(direct)
        if record is not None:
            await self._complete(record)

    async def _on_terminate(self, upload: Upload, reason: str) -> None:
        direct = upload.extra.get("direct")
        if not direct or reason == "cancelled":
            return
        record = await self.records.get(direct)
        if record is None:
            return
        if reason == "expired":
            await self._time_out(record)
        elif await self.records.replace_if(direct, "status", WAITING, {"status": CANCELLED}):
            record["status"] = CANCELLED   # tus termination of a direct upload cancels it
            await self.redis.zrem(self.waiting, direct)
            await self.events.record("video.upload.cancelled", "upload", direct, self.view(record))

    async def _complete(self, record: dict[str, Any]) -> dict[str, Any]:
        upload_id, asset_id = record["id"], record["_asset_id"]
        upload = await self.service.state.get(record["_upload"])
        if upload is not None and upload.length == 0:
            return await self._error(record, "invalid_input", "The uploaded file is empty")
        await self.redis.sadd(self.completing, upload_id)
        if not await self.records.replace_if(upload_id, "status", WAITING,
                                             {"status": ASSET_CREATED, "asset_id": asset_id}):
            current = await self.records.get(upload_id) or record
            if current["status"] != ASSET_CREATED:   # cancelled or timed out first: no asset
                await self.redis.srem(self.completing, upload_id)
                return current
        record = {**record, "status": ASSET_CREATED, "asset_id": asset_id}
        asset = initial_asset(asset_id, upload_id, record.get("new_asset_settings") or {},
                              source=record["_upload"])
        if record.get("test"):
            asset["test"] = True
        await self.assets.create(asset)
        stored = await self.assets.get(asset_id) or asset
        await self.events.record("video.asset.created", "asset", asset_id, public(stored))
        if stored.get("master"):
            await self.events.record("video.asset.master.preparing", "asset", asset_id, public(stored))
        await self.events.record("video.upload.asset_created", "upload", upload_id, self.view(record))
        if self.enqueue is not None:
            await self.enqueue(asset_id)
        await self.redis.zrem(self.waiting, upload_id)
        await self.redis.srem(self.completing, upload_id)
        log.info("direct_upload.asset_created", extra={"direct_upload": upload_id, "asset_id": asset_id})
        return record

    async def _error(self, record: dict[str, Any], error_type: str, message: str) -> dict[str, Any]:
        """The upload could not become an asset (Mux's ``errored`` upload with ``error``)."""
        error = {"type": error_type, "message": message}
        if await self.records.replace_if(record["id"], "status", WAITING, {"status": ERRORED, "error": error}):
            record = {**record, "status": ERRORED, "error": error}
            await self.redis.zrem(self.waiting, record["id"])
            await self.events.record("video.upload.errored", "upload", record["id"], self.view(record))
        return await self.records.get(record["id"]) or record

    async def reconcile(self, now: float | None = None) -> None:
        """Finish interrupted completions and time out overdue uploads (run by the sweeper)."""
        for raw in await self.redis.smembers(self.completing):
            record = await self.records.get(raw.decode())
            if record is None:
                await self.redis.srem(self.completing, raw)
            else:
                await self._complete(record)
        overdue = await self.redis.zrangebyscore(self.waiting, "-inf", now or time.time(), start=0, num=500)
        for raw in overdue:
            record = await self.records.get(raw.decode())
            if record is None or record["status"] != WAITING:
                await self.redis.zrem(self.waiting, raw)
            else:
                await self._time_out(record)
