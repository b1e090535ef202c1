"""HLS and static renditions of a playback id, under Mux's ``stream.mux.com`` URL shapes.

    GET /stream/<pid>.m3u8                   the multivariant playlist, written per request from the READY
                                             rungs (playlists.py: max_resolution, min_resolution,
                                             rendition_order)
    GET /stream/<pid>/<rung>/index.m3u8      the rung's stored media playlist (a signed id's token carried
                                             on to its URIs)
    GET /stream/<pid>/<rung>/init.mp4        the CMAF init segment; ``seg<n>.m4s`` the media segments
    GET /stream/<pid>/highest.mp4            static renditions (``audio.m4a``, ``<n>p.mp4``): READY files
                                             of ``static_renditions`` only, without HLS being ready
    OPTIONS /stream/...                      the CORS preflight

Every name in a URL is matched whole against a regular expression (RUNG_NAME, SEGMENT_NAME, STATIC_NAME)
before an object name is built from it, so ``..``, an encoded ``/`` or anything else never reaches
storage: it is 404. HEAD works on every GET (aiohttp), Range on every file (protocols/download.py's
``stream_range``: 206, 416). Every answer, errors included, is shaped by access.PlaybackDialect: CORS for
any origin, nosniff, and the Cache-Control chosen here (``private`` for a signed id).
"""

from __future__ import annotations

import re

from aiohttp import web

from gateway.catalog.masters import object_name
from gateway.catalog.models import Asset, FileStatus, Rung, RungStatus
from gateway.catalog.playback import PLAYBACK_ID, RUNG_NAME, SEGMENT_NAME, hls_object
from gateway.errors import MethodNotAllowed, NotFound
from gateway.playback import playlists
from gateway.playback.access import Opened, PlaybackAccess, playback_answer
from gateway.protocols.download import stream_range
from gateway.settings import Settings
from gateway.storage.base import Storage

AUDIENCE = "v"
PLAYLIST_CACHE = "public, max-age=10"
SEGMENT_CACHE = "public, max-age=31536000, immutable"
STATIC_CACHE = "public, max-age=3600"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
PLAYLIST_CAP = 2 << 20   # bytes of a stored media playlist read at most
STATIC_NAME = re.compile(r"highest\.mp4|audio\.m4a|[0-9]{3,4}p\.mp4")
ALLOWED = "GET, HEAD, OPTIONS"


def _playback_id(value: str) -> str:
    if PLAYBACK_ID.fullmatch(value) is None:
        raise NotFound("no such playback id")
    return value


def ready_rung(asset: Asset, name: str) -> Rung:
    rung = next((r for r in asset.hls or () if r.name == name), None)
    if rung is None or rung.status is not RungStatus.READY:
        raise NotFound(f"this asset has no ready {name} rendition")
    return rung


def _static_type(name: str) -> str:
    return "audio/mp4" if name.endswith(".m4a") else "video/mp4"


class StreamRoutes:
    def __init__(self, access: PlaybackAccess, storage: Storage, settings: Settings) -> None:
        self.access = access
        self.storage = storage
        self.settings = settings

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/stream/{pid}.m3u8", self.multivariant),
            web.get("/stream/{pid}/{rung}/{file}", self.rung_file),
            web.get("/stream/{pid}/{file}", self.static_file),
            web.route("*", "/stream/{tail:.*}", self.other),
            web.route("*", "/stream", self.other),
        ]

    async def _open(self, request: web.Request, *, need_hls: bool = True) -> Opened:
        playback_answer(request)
        return await self.access.open(request, _playback_id(request.match_info["pid"]), AUDIENCE,
                                      need_hls=need_hls)

    async def multivariant(self, request: web.Request) -> web.Response:
        opened = await self._open(request)
        # a signed id's modifiers may be claims of its token instead (Mux's way); the claims win
        modifiers = {**request.query, **{k: str(v) for k, v in opened.claims.items() if k in playlists.MODIFIERS}}
        rungs = playlists.select(opened.playback.asset.hls or (), modifiers)
        body = playlists.multivariant(opened.playback.id, rungs, opened.carry)
        return self._playlist(request, opened, body)

    async def rung_file(self, request: web.Request) -> web.StreamResponse:
        playback_answer(request)
        rung_name, file = request.match_info["rung"], request.match_info["file"]
        if RUNG_NAME.fullmatch(rung_name) is None or SEGMENT_NAME.fullmatch(file) is None:
            raise NotFound("no such file: a rendition is <height>p or audio, a file index.m3u8, init.mp4 "
                           "or seg<n>.m4s")
        opened = await self._open(request)
        asset = opened.playback.asset
        rung = ready_rung(asset, rung_name)
        name = hls_object(asset.id, rung.name, file)
        if file == "index.m3u8":
            return self._playlist(request, opened, playlists.carry_tokens(await self._small(name), opened.carry))
        size = await self.storage.object_size(name)
        if size is None:
            raise NotFound(f"this asset's {rung.name} rendition has no {file}")
        playback_answer(request, opened.cache(SEGMENT_CACHE))
        return await stream_range(request, size, lambda start, end: self.storage.read_object(name, start, end),
                                  content_type="video/mp4", disposition="inline")

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        playback_answer(request)
        file = request.match_info["file"]
        if STATIC_NAME.fullmatch(file) is None:
            raise NotFound("no such file: a playback id serves <id>.m3u8, <id>/highest.mp4, <id>/audio.m4a "
                           "and <id>/<rung>/<file>")
        opened = await self._open(request, need_hls=False)
        asset = opened.playback.asset
        renditions = asset.static_renditions
        found = next((f for f in renditions.files if f.name == file), None) if renditions is not None else None
        if found is None or found.status is not FileStatus.READY:
            state = "was not asked for" if found is None else f"is {found.status}"
            raise NotFound(f"the static rendition {file} {state}: create the asset with static_renditions "
                           "(or mp4_support), or add one with POST /video/v1/assets/<id>/static-renditions")
        name = object_name(asset.id, file)
        size = await self.storage.object_size(name)
        if size is None:
            raise NotFound(f"the static rendition {file} no longer exists")
        playback_answer(request, opened.cache(STATIC_CACHE))
        return await stream_range(request, size, lambda start, end: self.storage.read_object(name, start, end),
                                  content_type=_static_type(file), disposition="inline")

    async def other(self, request: web.Request) -> web.StreamResponse:
        """The CORS preflight of every playback URL; 404 or 405 for anything else under /stream/."""
        playback_answer(request)
        if request.method == "OPTIONS":
            return web.Response(status=204, headers={"Allow": ALLOWED})
        if request.method in ("GET", "HEAD"):
            raise NotFound("no such playback URL: /stream/<id>.m3u8, /stream/<id>/<rung>/<file>, "
                           "/stream/<id>/highest.mp4 or /stream/<id>/audio.m4a")
        raise MethodNotAllowed(f"{request.method} is not allowed here", headers={"Allow": ALLOWED})

    async def _small(self, name: str) -> bytes:
        """A stored playlist, read whole (at most PLAYLIST_CAP bytes)."""
        size = await self.storage.object_size(name)
        if size is None:
            raise NotFound("this rendition has no media playlist")
        if size > PLAYLIST_CAP:
            raise NotFound(f"this rendition's media playlist is larger than {PLAYLIST_CAP} bytes")
        chunks = [chunk async for chunk in self.storage.read_object(name, 0, size)]
        return b"".join(chunks)

    def _playlist(self, request: web.Request, opened: Opened, body: bytes) -> web.Response:
        playback_answer(request, opened.cache(PLAYLIST_CACHE))
        return web.Response(body=body, headers={"Content-Type": PLAYLIST_TYPE})
