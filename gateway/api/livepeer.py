"""Livepeer Studio's direct upload: ``POST /api/asset/request-upload`` returns ``url`` (a whole-file
PUT), ``tusEndpoint``, ``asset`` and ``task``; a file sent to either completes the asset. Its import from
a URL: ``POST /api/asset/upload/url`` returns ``asset`` and ``task``; the worker fetches the URL.

Errors carry Livepeer's ``errors`` list beside the gateway's usual ``error`` object.
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.bodies import parse_body
from gateway.api.schemas import LivepeerRequestUpload, LivepeerUploadUrl
from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore
from gateway.catalog.models import LivepeerExtras
from gateway.catalog.records import new_id
from gateway.catalog.uploads import DirectUploads
from gateway.catalog.wire import livepeer_asset, livepeer_url_asset, mux_upload
from gateway.errors import GatewayError, NotFound
from gateway.http import DIALECT


class LivepeerDialect:
    """Livepeer's errors carry its ``errors`` list beside the gateway's usual ``error`` object."""

    def error_extra(self, error: GatewayError) -> dict[str, object]:
        return {"errors": error.messages}

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        return None


LIVEPEER = LivepeerDialect()


class LivepeerApi:
    def __init__(self, uploads: DirectUploads, assets: AssetStore, auth: Authenticator,
                 *, default_timeout: int) -> None:
        self.uploads = uploads
        self.assets = assets
        self.auth = auth
        self.default_timeout = default_timeout

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/asset/request-upload", self.request_upload),
                web.post("/api/asset/upload/url", self.upload_url),
                web.get("/api/asset/{id:(?!request-upload$)[^/]+}", self.get_asset)]

    async def request_upload(self, request: web.Request) -> web.Response:
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "uploads")
        body = await parse_body(request, LivepeerRequestUpload)
        livepeer = LivepeerExtras(name=body.name, playback_id=new_id(16).lower(), task=new_id(32).lower())
        record = await self.uploads.create(
            timeout=self.default_timeout, cors_origin="*",
            new_asset_settings={"meta": {"title": body.name[:512]}, "playback_policies": ["public"]},
            livepeer=livepeer)
        await self.uploads.redis.set(self.uploads.keys.livepeer(record.asset_id), record.id)
        view = mux_upload(record, self.uploads.base_url)
        return web.json_response({"url": view["url"], "tusEndpoint": view["tus_endpoint"],
                                  "asset": livepeer_asset(record, None), "task": {"id": livepeer.task}})

    async def upload_url(self, request: web.Request) -> web.Response:
        """An asset imported from ``url`` by the worker (as Mux's ``POST /video/v1/assets``)."""
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "assets:write")
        body = await parse_body(request, LivepeerUploadUrl)
        livepeer = LivepeerExtras(name=body.name, playback_id=new_id(16).lower(), task=new_id(32).lower())
        settings: dict[str, object] = {"meta": {"title": body.name[:512]}, "playback_policies": ["public"]}
        if body.staticMp4:
            settings["static_renditions"] = [{"resolution": "highest"}]
        asset = await self.uploads.import_url(body.url, settings, livepeer=livepeer)
        return web.json_response({"asset": livepeer_url_asset(asset), "task": {"id": livepeer.task}})

    async def get_asset(self, request: web.Request) -> web.Response:
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "assets:read")
        asset_id = request.match_info["id"]
        imported = await self.assets.get(asset_id)
        if imported is not None and imported.livepeer is not None and imported.source_url is not None:   # upload/url
            return web.json_response(livepeer_url_asset(imported))
        upload_id = await self.uploads.redis.get(self.uploads.keys.livepeer(asset_id))
        if upload_id is None:
            raise NotFound("asset not found")
        record = await self.uploads.get(upload_id.decode())
        if record.livepeer is None:
            raise NotFound("asset not found")
        return web.json_response(livepeer_asset(record, await self.assets.get(asset_id)))
