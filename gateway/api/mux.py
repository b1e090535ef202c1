"""The Mux-compatible JSON API: ``/video/v1/uploads`` and ``/video/v1/assets``.

Shapes follow Mux so the official SDKs work with a changed base URL: every body is ``{"data": ...}``,
uploads page with ``page``/``limit`` (an empty ``data`` past the end), assets with ``next_cursor``.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from aiohttp import web

from gateway.api.bodies import parse_body, query_int, require_json
from gateway.api.schemas import CreateAsset, CreateUpload, UpdateAsset, UpdateMasterAccess, settings_dump
from gateway.auth import Authenticator
from gateway.catalog import schema
from gateway.catalog.assets import BAD_CURSOR, AssetStore, parse_cursor
from gateway.catalog.events import EventLog
from gateway.catalog.masters import DownloadLinks, MasterAccess, delete_asset_files, downloadable, object_name
from gateway.catalog.models import Asset, UploadStatus
from gateway.catalog.uploads import DirectUploads
from gateway.catalog.wire import mux_asset, mux_upload
from gateway.errors import BadRequest, Forbidden, NotFound
from gateway.protocols.download import stream_range
from gateway.service import UploadService


def data(value: Any, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"data": value, **extra}, status=status)


class MuxApi:
    def __init__(self, uploads: DirectUploads, assets: AssetStore, events: EventLog,
                 service: UploadService, auth: Authenticator, masters: MasterAccess) -> None:
        self.masters = masters
        self.links: DownloadLinks = masters.links
        self.uploads = uploads
        self.assets = assets
        self.events = events
        self.service = service
        self.storage = service.storage
        self.auth = auth

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/video/v1/uploads", self.create_upload),
            web.get("/video/v1/uploads", self.list_uploads),
            web.get("/video/v1/uploads/{id}", self.get_upload),
            web.put("/video/v1/uploads/{id}/cancel", self.cancel_upload),
            web.post("/video/v1/assets", self.create_asset),
            web.get("/video/v1/assets", self.list_assets),
            web.get("/video/v1/assets/{id}", self.get_asset),
            web.delete("/video/v1/assets/{id}", self.delete_asset),
            web.patch("/video/v1/assets/{id}", self.update_asset),
            web.put("/video/v1/assets/{id}/master-access", self.update_master_access),
            web.get("/downloads/{id}/{file}", self.download),
        ]

    # -- uploads --------------------------------------------------------------------------------

    async def create_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request, "uploads")
        body = await parse_body(request, CreateUpload)
        settings = settings_dump(body.new_asset_settings)
        record = await self.uploads.create(timeout=body.timeout, cors_origin=body.cors_origin,
                                           new_asset_settings=settings,
                                           test=body.test or bool(settings.get("test")))
        return data(mux_upload(record, self.uploads.base_url), status=201)

    async def list_uploads(self, request: web.Request) -> web.Response:
        self.auth.check(request, "uploads")
        limit = query_int(request, "limit", 25, low=1, high=100)
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        records = await self.uploads.list(page=page, limit=limit)
        return data([mux_upload(r, self.uploads.base_url) for r in records])

    async def get_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request, "uploads")
        return data(mux_upload(await self.uploads.get(request.match_info["id"]), self.uploads.base_url))

    async def cancel_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request, "uploads")
        require_json(request)   # no body is needed, but one that is sent must be JSON like any other
        return data(mux_upload(await self.uploads.cancel(request.match_info["id"]), self.uploads.base_url))

    # -- assets ---------------------------------------------------------------------------------

    async def _asset(self, asset_id: str) -> Asset:
        asset = await self.assets.get(asset_id)
        if asset is None:
            raise NotFound("asset not found")
        return await self.masters.check(asset)

    async def create_asset(self, request: web.Request) -> web.Response:
        """An asset from a URL (``inputs: [{url}]``): 201 ``preparing`` at once; the worker fetches the URL
        (through the SSRF guard) and processes it like an upload."""
        self.auth.check(request, "assets:write")
        body = await parse_body(request, CreateAsset)
        settings = body.settings()
        asset = await self.uploads.import_url(body.url, settings, test=bool(settings.get("test")))
        return data(mux_asset(asset), status=201)

    async def list_assets(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        limit = query_int(request, "limit", 25, low=1, high=100)
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        cursors = request.query.getall("cursor", [])
        if len(cursors) > 1:
            raise BadRequest("cursor is given more than once")
        cursor = cursors[0] if cursors else None
        if cursor and parse_cursor(cursor) is None:   # refused with upload_id too, where it is unused
            raise BadRequest(BAD_CURSOR)
        if upload_id := request.query.get("upload_id"):
            try:
                record = await self.uploads.get(upload_id)
            except NotFound:
                return data([])
            created = record.status is UploadStatus.ASSET_CREATED
            asset = await self.assets.get(record.asset_id) if created else None
            return data([mux_asset(asset)] if asset and page == 1 else [])
        assets, next_cursor = await self.assets.page(limit=limit, cursor=cursor, page=page)
        return data([mux_asset(await self.masters.check(a)) for a in assets], next_cursor=next_cursor)

    async def get_asset(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        return data(mux_asset(await self._asset(request.match_info["id"])))

    async def delete_asset(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        asset = await self._asset(request.match_info["id"])
        with contextlib.suppress(NotFound):
            await self.service.terminate(asset.source, reason="terminated")
        await delete_asset_files(self.storage, asset.id)
        await self.masters.withdraw(asset.id)
        await self.assets.delete(asset.id)
        await self.events.record("video.asset.deleted", "asset", asset.id, {**mux_asset(asset), "status": "deleted"})
        return web.Response(status=204)

    async def update_asset(self, request: web.Request) -> web.Response:
        """Mux's asset update: ``passthrough`` and ``meta`` (``video.asset.updated``)."""
        self.auth.check(request, "assets:write")
        asset = await self._asset(request.match_info["id"])
        body = await parse_body(request, UpdateAsset)
        changes = body.model_dump(exclude_unset=True, exclude_none=False, mode="json")
        changed = asset
        if "passthrough" in changes:
            changed = replace(changed, passthrough=changes["passthrough"])
        if "meta" in changes:
            meta = changes["meta"]
            changed = replace(changed, meta=None if meta is None else schema.meta_from(meta))
        await self.assets.write(asset, changed)
        updated = mux_asset(await self._asset(asset.id))
        await self.events.record("video.asset.updated", "asset", asset.id, updated, once=False)
        return data(updated)

    async def update_master_access(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        asset = await self._asset(request.match_info["id"])
        body = await parse_body(request, UpdateMasterAccess)
        if body.master_access == "temporary":
            await self.masters.request(asset)
        else:
            await self.masters.withdraw(asset.id)
        return data(mux_asset(await self._asset(asset.id)))

    async def download(self, request: web.Request) -> web.StreamResponse:
        """A signed, expiring download of an asset's master or static rendition (filesystem backend)."""
        asset_id, file = request.match_info["id"], request.match_info["file"]
        if not downloadable(file) or not self.links.verify(
                asset_id, file, request.query.get("expires", ""), request.query.get("signature", "")):
            raise Forbidden("this download link is invalid or has expired")
        name = object_name(asset_id, file)
        size = await self.storage.object_size(name)
        if size is None:
            raise NotFound("this file no longer exists")
        content_type = "video/mp4" if file.endswith(".mp4") else "audio/mp4"
        return await stream_range(request, size, lambda start, end: self.storage.read_object(name, start, end),
                                  content_type=content_type, disposition=f'attachment; filename="{file}"')
