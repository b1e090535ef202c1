"""Opening a playback id for one request: the id resolved to its asset (404 when unknown), the asset ready
to play (412 while it prepares, as Mux answers), and a signed id's token checked for the audience."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.catalog.assets import AssetStore
from gateway.catalog.models import AssetStatus, RungStatus
from gateway.catalog.playback import Playback
from gateway.errors import NotFound, PreconditionFailed
from gateway.playback.keys import SigningKeys
from gateway.playback.tokens import authorize


@dataclass(frozen=True)
class Opened:
    playback: Playback
    claims: Mapping[str, Any]   # a signed id's token claims (thumbnail parameters may be among them)
    token: str | None           # the token as given: inner URLs of a signed id carry it on

    def carry(self, url: str) -> str:
        """``url`` with the token a player needs to follow it (unchanged for a public id)."""
        if self.token is None or self.playback.policy == "public":
            return url
        return f"{url}{'&' if '?' in url else '?'}token={self.token}"


class PlaybackAccess:
    def __init__(self, assets: AssetStore, signing: SigningKeys) -> None:
        self.assets = assets
        self.signing = signing

    async def open(self, request: web.Request, playback_id: str, audience: str) -> Opened:
        playback = await self.assets.playback(playback_id)
        if playback is None:
            raise NotFound("no such playback id")
        asset = playback.asset
        if asset.status is AssetStatus.ERRORED:
            raise NotFound("the asset of this playback id errored and has nothing to play")
        playable = asset.status is AssetStatus.READY and any(r.status is RungStatus.READY for r in asset.hls or ())
        if not playable:
            raise PreconditionFailed("the asset of this playback id is still preparing")
        token = request.query.get("token")
        claims = await authorize(self.signing, playback, audience, token)
        return Opened(playback, claims, token)
