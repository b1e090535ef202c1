"""CORS on upload URLs: each upload allows ``*`` or the one origin it was created with (``cors_origin``).

The allowed origin goes into ``request[CORS_ORIGIN]`` (so every answer carries the right CORS headers,
see :mod:`gateway.http`); a request from another origin gets 403 before anything is read or stored.
"""

from __future__ import annotations

from aiohttp import web

from gateway.errors import Forbidden
from gateway.http import CORS_ORIGIN
from gateway.service import UploadService


async def allow(request: web.Request, service: UploadService, *, check: bool = True) -> None:
    """Record the upload's allowed origin on the request, and refuse another origin when ``check``."""
    origin = request.headers.get("Origin")
    allowed = "*"
    if origin is not None and (upload_id := request.match_info.get("upload_id")):
        upload = await service.find(upload_id)
        allowed = "*" if upload is None else upload.extra.get("cors_origin", "*")
    request[CORS_ORIGIN] = allowed
    if check and origin is not None and allowed not in ("*", origin):
        raise Forbidden(f"origin {origin[:100]} is not allowed to use this upload URL")
