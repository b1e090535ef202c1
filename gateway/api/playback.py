"""Playback ids and signing keys under Mux's shapes, and Livepeer's playback info.

    POST   /video/v1/assets/{id}/playback-ids          {"policy": "public"|"signed"} -> 201 {id, policy}
    GET    /video/v1/assets/{id}/playback-ids/{pid}    {id, policy}
    DELETE /video/v1/assets/{id}/playback-ids/{pid}    204; the id no longer plays
    GET    /video/v1/playback-ids/{pid}                {id, policy, object: {type: "asset", id}}
    POST   /video/v1/signing-keys                      201 {id, private_key, created_at} (the only time
                                                       the private key is shown), and GET (a page), GET
                                                       {kid}, DELETE {kid}; the same under /system/v1
    GET    /api/playback/{pid}                         Livepeer: {type: "vod", meta: {source: [...]}}

Reading needs the ``assets:read`` scope, changing ``assets:write``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.api.bodies import parse_body, query_int, require_json
from gateway.api.livepeer import LIVEPEER
from gateway.api.schemas import CreatePlaybackId
from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore
from gateway.catalog.models import Asset, AssetStatus, FileStatus, PlaybackId, RungStatus
from gateway.catalog.playback import Playback
from gateway.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from gateway.http import DIALECT
from gateway.playback.keys import SigningKeys
from gateway.settings import Settings

ATTEMPTS = 5               # compare-and-set rounds on an asset's playback ids before giving up (409)
MAX_PLAYBACK_IDS = 100     # per asset: the asset record holds them all
SIGNING_KEYS = ("/video/v1/signing-keys", "/system/v1/signing-keys")


def data(value: Any, status: int = 200) -> web.Response:
    return web.json_response({"data": value}, status=status)


def _view(playback: PlaybackId) -> dict[str, str]:
    return {"id": playback.id, "policy": playback.policy}


class PlaybackApi:
    def __init__(self, assets: AssetStore, signing: SigningKeys, auth: Authenticator, settings: Settings) -> None:
        self.assets = assets
        self.signing = signing
        self.auth = auth
        self.settings = settings
        self.base = settings.playback.base_url(settings.server)

    def routes(self) -> list[web.RouteDef]:
        ids = "/video/v1/assets/{id}/playback-ids"
        routes = [web.post(ids, self.create_playback_id),
                  web.get(ids + "/{pid}", self.get_playback_id),
                  web.delete(ids + "/{pid}", self.delete_playback_id),
                  web.get("/video/v1/playback-ids/{pid}", self.lookup),
                  web.get("/api/playback/{pid}", self.livepeer_playback)]
        for base in SIGNING_KEYS:
            routes += [web.post(base, self.create_key), web.get(base, self.list_keys),
                       web.get(base + "/{kid}", self.get_key), web.delete(base + "/{kid}", self.delete_key)]
        return routes

    # -- playback ids ---------------------------------------------------------------------------

    async def _asset(self, asset_id: str) -> Asset:
        asset = await self.assets.get(asset_id)
        if asset is None:
            raise NotFound("asset not found")
        return asset

    @staticmethod
    def _find(asset: Asset, playback_id: str) -> PlaybackId:
        found = next((p for p in asset.playback_ids or () if p.id == playback_id), None)
        if found is None:
            raise NotFound("this asset has no such playback id")
        return found

    async def create_playback_id(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        body = await parse_body(request, CreatePlaybackId)
        asset = await self._asset(request.match_info["id"])
        for _ in range(ATTEMPTS):
            if len(asset.playback_ids or ()) >= MAX_PLAYBACK_IDS:
                raise BadRequest(f"an asset has at most {MAX_PLAYBACK_IDS} playback ids; delete one first")
            added = await self.assets.add_playback_id(asset, body.policy)
            if added is not None:
                return data(_view(added[1]), status=201)
            asset = await self._asset(asset.id)   # changed meanwhile (or deleted: 404)
        raise Conflict("the asset's playback ids kept changing; try again")

    async def get_playback_id(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        asset = await self._asset(request.match_info["id"])
        return data(_view(self._find(asset, request.match_info["pid"])))

    async def delete_playback_id(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        require_json(request)
        asset = await self._asset(request.match_info["id"])
        playback_id = request.match_info["pid"]
        for _ in range(ATTEMPTS):
            self._find(asset, playback_id)
            if await self.assets.remove_playback_id(asset, playback_id) is not None:
                return web.Response(status=204)
            asset = await self._asset(asset.id)
        raise Conflict("the asset's playback ids kept changing; try again")

    async def _playback(self, playback_id: str) -> Playback:
        playback = await self.assets.playback(playback_id)
        if playback is None:
            raise NotFound("no such playback id")
        return playback

    async def lookup(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        playback = await self._playback(request.match_info["pid"])
        return data({"id": playback.id, "policy": playback.policy,
                     "object": {"type": "asset", "id": playback.asset.id}})

    # -- signing keys ---------------------------------------------------------------------------

    async def create_key(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        require_json(request)   # no body is needed, but one that is sent must be JSON like any other
        created = await self.signing.create()
        return data(created.mux(), status=201)

    async def list_keys(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        limit = query_int(request, "limit", 25, low=1, high=100)
        page = query_int(request, "page", 1, low=1, high=1_000_000)
        return data([key.mux() for key in await self.signing.page(limit=limit, page=page)])

    async def get_key(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:read")
        key = await self.signing.get(request.match_info["kid"])
        if key is None:
            raise NotFound("signing key not found")
        return data(key.mux())

    async def delete_key(self, request: web.Request) -> web.Response:
        self.auth.check(request, "assets:write")
        if not await self.signing.delete(request.match_info["kid"]):
            raise NotFound("signing key not found")
        return web.Response(status=204)

    # -- Livepeer -------------------------------------------------------------------------------

    async def livepeer_playback(self, request: web.Request) -> web.Response:
        """Livepeer's playback info: where a ready asset plays (HLS, the MP4 once made, thumbnails)."""
        request[DIALECT] = LIVEPEER
        self.auth.check(request, "assets:read")
        playback_id = request.match_info["pid"]
        playback = await self.assets.playback(playback_id)
        if playback is None or playback.asset.status is AssetStatus.ERRORED:
            raise NotFound(f"No playback URL found for {playback_id}")
        asset = playback.asset
        if asset.status is not AssetStatus.READY or not any(r.status is RungStatus.READY for r in asset.hls or ()):
            raise PreconditionFailed("asset is not ready for playback")
        stream, image = f"{self.base}/stream/{playback.id}", f"{self.base}/image/{playback.id}"
        source: list[dict[str, str]] = []
        files = asset.static_renditions.files if asset.static_renditions is not None else ()
        if any(f.name == "highest.mp4" and f.status is FileStatus.READY for f in files):
            source.append({"hrn": "MP4", "type": "html5/video/mp4", "url": f"{stream}/highest.mp4"})
        source += [
            {"hrn": "HLS (TS)", "type": "html5/application/vnd.apple.mpegurl", "url": f"{stream}.m3u8"},
            {"hrn": "Thumbnail (JPEG)", "type": "image/jpeg", "url": f"{image}/thumbnail.jpg"},
            {"hrn": "Thumbnails", "type": "text/vtt", "url": f"{image}/storyboard.vtt"}]
        return web.json_response({"type": "vod", "meta": {"playbackPolicy": None, "source": source}})
