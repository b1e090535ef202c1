"""Thumbnails, storyboards and animations of a playback id, under Mux's URL shapes (image.mux.com):

    GET /image/<playback id>/thumbnail.{jpg,png,webp}    audience t   (gateway/playback/imaging.py)
    GET /image/<playback id>/storyboard.{jpg,png,webp}   audience s   (gateway/playback/storyboard.py)
    GET /image/<playback id>/storyboard.{vtt,json}       audience s   (no rendering: the geometry alone)
    GET /image/<playback id>/animated.{gif,webp}         audience g

Images are made on demand from the asset's master (``assets/<id>/master.mp4``) by the gateway's render
pool (gateway/playback/render.py: bounded, single flight) and cached in storage as
``assets/<id>/images/<key>.<ext>`` (deleted with the asset), the key a hash of what ffmpeg is asked to
do; a cached image is served without ffmpeg. A signed id's token claims may carry the parameters (they
win over the query). Answers are shaped by the playback dialect (gateway/playback/access.py: CORS for
any origin, nosniff, ``Cache-Control`` public for a public id, private for a signed one); image bytes are
served inert (allow-listed type, CSP sandbox) with single ``Range`` and ``If-None-Match`` support.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web

from gateway.catalog.masters import MASTER, object_name
from gateway.catalog.models import Asset
from gateway.catalog.playback import image_object
from gateway.core.tus_headers import parse_range
from gateway.errors import BadRequest, NotFound, RangeNotSatisfiable
from gateway.playback import imaging
from gateway.playback.access import Opened, PlaybackAccess, playback_answer
from gateway.playback.render import RenderPool
from gateway.playback.storyboard import storyboard_of
from gateway.protocols.download import INERT, inert_type
from gateway.settings import Settings
from gateway.storage.base import Storage

CACHE = "public, max-age=86400"   # a day: the same URL always gives the same picture
LOCATE_TTL = 600.0                # seconds a presigned master URL handed to ffmpeg lives
ArgvsOf = Callable[[str, str], list[list[str]]]   # (where the master is, the output path) -> argvs


class ImageRoutes:
    def __init__(self, access: PlaybackAccess, storage: Storage, settings: Settings) -> None:
        self.access = access
        self.storage = storage
        self.settings = settings
        playback = settings.playback
        self.pool = RenderPool(concurrency=playback.render_concurrency, queue=playback.render_queue,
                               timeout=playback.render_timeout, spool_dir=settings.storage.spool_dir)

    def routes(self) -> list[web.RouteDef]:
        base = "/image/{playback_id}"
        return [web.get(base + "/thumbnail.{ext:jpg|png|webp}", self.thumbnail),
                web.get(base + "/storyboard.{ext:jpg|png|webp}", self.storyboard),
                web.get(base + "/storyboard.{ext:vtt|json}", self.storyboard_meta),
                web.get(base + "/animated.{ext:gif|webp}", self.animated)]

    async def close(self) -> None:
        """Stop renders under way (called on shutdown)."""
        await self.pool.close()

    async def _open(self, request: web.Request, audience: str) -> Opened:
        playback_answer(request)   # errors too get the playback dialect's headers
        opened = await self.access.open(request, request.match_info["playback_id"], audience, need_hls=False)
        playback_answer(request, opened.cache(CACHE))
        return opened

    async def thumbnail(self, request: web.Request) -> web.Response:
        opened = await self._open(request, "t")
        ext = request.match_info["ext"]
        asset = opened.playback.asset
        params = imaging.merged(request.query, opened.claims)
        shot = imaging.thumbnail(params, imaging.source_of(asset), ext)
        return await self._image(request, asset, shot.key, ext, shot.argvs)

    async def animated(self, request: web.Request) -> web.Response:
        opened = await self._open(request, "g")
        ext = request.match_info["ext"]
        asset = opened.playback.asset
        params = imaging.merged(request.query, opened.claims)
        clip = imaging.animation(params, imaging.source_of(asset), ext)
        return await self._image(request, asset, clip.key, ext, clip.argvs)

    async def storyboard(self, request: web.Request) -> web.Response:
        opened = await self._open(request, "s")
        ext = request.match_info["ext"]
        asset = opened.playback.asset
        board = storyboard_of(imaging.source_of(asset))
        return await self._image(request, asset, board.key(ext), ext,
                                 lambda source, output: [board.argv(source, output, ext)])

    async def storyboard_meta(self, request: web.Request) -> web.Response:
        opened = await self._open(request, "s")
        params = imaging.merged(request.query, opened.claims)
        image = imaging.choice(params, "format", ("jpg", "png", "webp"), "jpg")
        board = storyboard_of(imaging.source_of(opened.playback.asset))
        base = self.settings.playback.base_url(self.settings.server)
        url = opened.carry(f"{base}/image/{opened.playback.id}/storyboard.{image}")
        if request.match_info["ext"] == "vtt":
            body, content_type = board.vtt(url).encode(), "text/vtt; charset=utf-8"
        else:
            body, content_type = json.dumps(board.json(url)).encode(), "application/json"
        return web.Response(body=body, headers={"Content-Type": content_type, **INERT})

    async def _image(self, request: web.Request, asset: Asset, key: str, ext: str, argvs_of: ArgvsOf) -> web.Response:
        name = image_object(asset.id, key, ext)
        etag = f'"{key}"'
        if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
            return web.Response(status=304, headers={"ETag": etag})
        body = await self._cached(name)
        if body is None:
            async def argv_for(output: str) -> list[list[str]]:
                return argvs_of(await self._master(asset), output)

            async def store(output: str) -> int:
                return await self.storage.put_object(name, output)

            body = await self.pool.render(name, argv_for, ext, store)
        return _ranged(request, body, imaging.CONTENT_TYPES[ext], etag)

    async def _cached(self, name: str) -> bytes | None:
        size = await self.storage.object_size(name)
        if not size:
            return None
        return b"".join([chunk async for chunk in self.storage.read_object(name, 0, size)])

    async def _master(self, asset: Asset) -> str:
        master = object_name(asset.id, MASTER)
        if await self.storage.object_size(master) is None:
            raise NotFound("this asset's master file is missing: no images can be made of it")
        return await self.storage.locate_object(master, ttl=LOCATE_TTL)


def _ranged(request: web.Request, body: bytes, content_type: str, etag: str) -> web.Response:
    """``body`` whole (200) or the one ``Range`` asked for (206; 416 when it cannot be satisfied)."""
    size = len(body)
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except BadRequest as exc:
        raise RangeNotSatisfiable(exc.message, headers={"Content-Range": f"bytes */{size}"}) from None
    headers = {"Content-Type": inert_type(content_type), "Accept-Ranges": "bytes", "ETag": etag, **INERT}
    if wanted is None:
        return web.Response(body=body, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return web.Response(status=206, body=body[start:end], headers=headers)
