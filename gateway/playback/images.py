"""Thumbnails, storyboards and animations of a playback id. TO BE FILLED IN (helper C)."""

from __future__ import annotations

from aiohttp import web

from gateway.playback.access import PlaybackAccess
from gateway.settings import Settings
from gateway.storage.base import Storage


class ImageRoutes:
    def __init__(self, access: PlaybackAccess, storage: Storage, settings: Settings) -> None:
        self.access = access
        self.storage = storage
        self.settings = settings

    def routes(self) -> list[web.RouteDef]:
        return []

    async def close(self) -> None:
        """Stop renders under way (called on shutdown)."""
