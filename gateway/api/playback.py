"""Playback ids, signing keys (Mux) and Livepeer's playback info. TO BE FILLED IN (helper D)."""

from __future__ import annotations

from aiohttp import web

from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore
from gateway.playback.keys import SigningKeys
from gateway.settings import Settings


class PlaybackApi:
    def __init__(self, assets: AssetStore, signing: SigningKeys, auth: Authenticator, settings: Settings) -> None:
        self.assets = assets
        self.signing = signing
        self.auth = auth
        self.settings = settings

    def routes(self) -> list[web.RouteDef]:
        return []
