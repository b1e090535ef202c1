"""Opening a playback id for one request: the id resolved to its asset (404 when unknown), the asset ready
to play (412 while it prepares, as Mux answers), and a signed id's token checked for the audience.

:class:`PlaybackDialect` is how every playback answer is shaped (``request[DIALECT]``, applied by
gateway/http.py's ``on_response_prepare`` to answers and errors alike): CORS for any origin (players load
from any page), ``nosniff``, and the ``Cache-Control`` the route chose for a success (errors: no-store)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from gateway.catalog.assets import AssetStore
from gateway.catalog.models import AssetStatus, RungStatus
from gateway.catalog.playback import Playback
from gateway.errors import GatewayError, NotFound, PreconditionFailed
from gateway.http import DIALECT
from gateway.playback.keys import SigningKeys
from gateway.playback.tokens import authorize

NO_STORE = "no-store"
EXPOSE = "Content-Length, Content-Range, Accept-Ranges, Content-Type, X-Request-ID"


@dataclass(frozen=True)
class PlaybackDialect:
    """Headers of every playback answer; ``cache`` is a success's Cache-Control."""

    cache: str = NO_STORE

    def error_extra(self, error: GatewayError) -> dict[str, object]:
        return {}

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        headers = response.headers
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = EXPOSE
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Cache-Control"] = NO_STORE if error is not None or response.status >= 400 else self.cache
        if request.method == "OPTIONS":
            headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            headers["Access-Control-Allow-Headers"] = "Range, If-Range, Origin, Accept, X-Request-ID"
            headers["Access-Control-Max-Age"] = "86400"


def playback_answer(request: web.Request, cache: str = NO_STORE) -> None:
    """Mark ``request`` as a playback request: its answer (and any error) gets :class:`PlaybackDialect`."""
    request[DIALECT] = PlaybackDialect(cache)


@dataclass(frozen=True)
class Opened:
    playback: Playback
    claims: Mapping[str, Any]   # a signed id's token claims (thumbnail parameters may be among them)
    token: str | None           # the token as given: inner URLs of a signed id carry it on

    def carry(self, url: str) -> str:
        """``url`` with the token a player needs to follow it (unchanged for a public id)."""
        if self.token is None or self.playback.policy == "public":
            return url
        return f"{url}{'&' if '?' in url else '?'}token={quote(self.token, safe='')}"

    def cache(self, public: str) -> str:
        """``public`` (a Cache-Control) for a public id; ``private`` instead of ``public`` for a signed one."""
        return public if self.playback.policy == "public" else public.replace("public", "private")


class PlaybackAccess:
    def __init__(self, assets: AssetStore, signing: SigningKeys) -> None:
        self.assets = assets
        self.signing = signing

    async def open(self, request: web.Request, playback_id: str, audience: str, *, need_hls: bool = True) -> Opened:
        """``need_hls=False``: an asset READY is enough (static renditions need no HLS rung)."""
        playback = await self.assets.playback(playback_id)
        if playback is None:
            raise NotFound("no such playback id")
        asset = playback.asset
        if asset.status is AssetStatus.ERRORED:
            raise NotFound("the asset of this playback id errored and has nothing to play")
        playable = asset.status is AssetStatus.READY and (
            not need_hls or any(r.status is RungStatus.READY for r in asset.hls or ()))
        if not playable:
            raise PreconditionFailed("the asset of this playback id is still preparing")
        token = request.query.get("token")
        claims = await authorize(self.signing, playback, audience, token)
        return Opened(playback, claims, token)
