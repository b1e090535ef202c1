"""``stream.<domain>`` and ``image.<domain>`` (``playback.host_routing``). TO BE FILLED IN (helper B)."""

from __future__ import annotations

from aiohttp import web

from gateway.http import Handler


@web.middleware
async def host_routing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)
