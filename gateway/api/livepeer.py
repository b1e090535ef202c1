"""Livepeer Studio's direct upload: ``POST /api/asset/request-upload`` returns ``url`` (a whole-file
PUT), ``tusEndpoint``, ``asset`` and ``task``; a file sent to either completes the asset.

Errors carry Livepeer's ``errors`` list beside the gateway's usual ``error`` object.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.schemas import LivepeerRequestUpload, parse_body
from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore
from gateway.catalog.records import new_id
from gateway.catalog.uploads import DirectUploads
from gateway.errors import GatewayError, NotFound
from gateway.http import DIALECT

PHASES = {"preparing": "processing", "ready": "ready", "errored": "failed"}


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
                web.get("/api/asset/{id:(?!request-upload$)[^/]+}", self.get_asset)]

    async def request_upload(self, request: web.Request) -> web.Response:
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "uploads")
        body = await parse_body(request, LivepeerRequestUpload)
        livepeer = {"name": body.name, "playbackId": new_id(16).lower(), "task": new_id(32).lower()}
        record = await self.uploads.create(
            timeout=self.default_timeout, cors_origin="*",
            new_asset_settings={"meta": {"title": body.name[:512]}, "playback_policies": ["public"]},
            extra={"_livepeer": livepeer})
        await self.uploads.redis.set(self.uploads.keys.livepeer(record["_asset_id"]), record["id"])
        view = self.uploads.view(record)
        return web.json_response({"url": view["url"], "tusEndpoint": view["tus_endpoint"],
                                  "asset": self._asset_view(record, None),
                                  "task": {"id": livepeer["task"]}})

    async def get_asset(self, request: web.Request) -> web.Response:
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "assets:read")
        asset_id = request.match_info["id"]
        upload_id = await self.uploads.redis.get(self.uploads.keys.livepeer(asset_id))
        if upload_id is None:
            raise NotFound("asset not found")
        record = await self.uploads.get(upload_id.decode())
        return web.json_response(self._asset_view(record, await self.assets.get(asset_id)))

    def _asset_view(self, record: dict[str, Any], asset: dict[str, Any] | None) -> dict[str, Any]:
        livepeer = record["_livepeer"]
        created = int(record["_created"] * 1000)
        status: dict[str, Any] = {"phase": "waiting", "updatedAt": created}
        if asset is not None:
            status["phase"] = PHASES.get(asset["status"], "processing")
            if asset.get("errors"):
                status["errorMessage"] = "; ".join(asset["errors"].get("messages", []))
            if asset.get("progress", {}).get("progress", 0) > 0:
                status["progress"] = asset["progress"]["progress"] / 100
        elif record["status"] in ("cancelled", "timed_out", "errored"):
            status.update(phase="failed", errorMessage=f"upload {record['status']}")
        view: dict[str, Any] = {"id": record["_asset_id"], "playbackId": livepeer["playbackId"],
                                "name": livepeer["name"], "source": {"type": "directUpload"},
                                "status": status, "createdAt": created}
        if asset is not None and asset.get("duration") is not None:
            view["videoSpec"] = {"duration": asset["duration"]}
        return view
