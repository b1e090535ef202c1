"""The Mux-compatible JSON API: ``/video/v1/uploads`` and ``/video/v1/assets``.

Shapes follow Mux so the official SDKs work with a changed base URL: every body is ``{"data": ...}``,
uploads page with ``page``/``limit`` (an empty ``data`` past the end), assets with ``next_cursor``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from gateway.api.schemas import CreateUpload, parse_body, query_int, settings_dump
from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore, public
from gateway.catalog.events import EventLog
from gateway.catalog.uploads import DirectUploads
from gateway.errors import NotFound
from gateway.service import UploadService


def data(value: Any, status: int = 200, **extra: Any) -> web.Response:
    return web.json_response({"data": value, **extra}, status=status)


class MuxApi:
    def __init__(self, uploads: DirectUploads, assets: AssetStore, events: EventLog,
                 service: UploadService, auth: Authenticator) -> None:
        self.uploads = uploads
        self.assets = assets
        self.events = events
        self.service = service
        self.auth = auth

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/video/v1/uploads", self.create_upload),
            web.get("/video/v1/uploads", self.list_uploads),
            web.get("/video/v1/uploads/{id}", self.get_upload),
            web.put("/video/v1/uploads/{id}/cancel", self.cancel_upload),
            web.get("/video/v1/assets", self.list_assets),
            web.get("/video/v1/assets/{id}", self.get_asset),
            web.delete("/video/v1/assets/{id}", self.delete_asset),
        ]

    # -- uploads --------------------------------------------------------------------------------

    async def create_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        body = await parse_body(request, CreateUpload)
        settings = settings_dump(body.new_asset_settings)
        record = await self.uploads.create(timeout=body.timeout, cors_origin=body.cors_origin,
                                           new_asset_settings=settings,
                                           test=body.test or bool(settings.get("test")))
        return data(self.uploads.view(record), status=201)

    async def list_uploads(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        limit = query_int(request, "limit", 25, low=1, high=100)
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        records = await self.uploads.list(page=page, limit=limit)
        return data([self.uploads.view(r) for r in records])

    async def get_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        return data(self.uploads.view(await self.uploads.get(request.match_info["id"])))

    async def cancel_upload(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        return data(self.uploads.view(await self.uploads.cancel(request.match_info["id"])))

    # -- assets ---------------------------------------------------------------------------------

    async def _asset(self, asset_id: str) -> dict[str, Any]:
        asset = await self.assets.get(asset_id)
        if asset is None:
            raise NotFound("asset not found")
        return asset

    async def list_assets(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        limit = query_int(request, "limit", 25, low=1, high=100)
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        if upload_id := request.query.get("upload_id"):
            try:
                record = await self.uploads.get(upload_id)
            except NotFound:
                return data([])
            asset = await self.assets.get(record["asset_id"]) if record.get("asset_id") else None
            return data([public(asset)] if asset and page == 1 else [])
        assets, cursor = await self.assets.page(limit=limit, cursor=request.query.get("cursor"), page=page)
        return data([public(a) for a in assets], next_cursor=cursor)

    async def get_asset(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        return data(public(await self._asset(request.match_info["id"])))

    async def delete_asset(self, request: web.Request) -> web.Response:
        self.auth.check(request)
        asset = await self._asset(request.match_info["id"])
        for upload_id in (asset.get("_source"), asset.get("_master")):
            if upload_id:
                with contextlib.suppress(NotFound):
                    await self.service.terminate(upload_id, reason="terminated")
        await self.assets.delete(asset["id"])
        await self.events.record("video.asset.deleted", "asset", asset["id"],
                                 {**public(asset), "status": "deleted"})
        return web.Response(status=204)
