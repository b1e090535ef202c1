"""GET of a finished upload's bytes, with single-range support (as tusd serves downloads)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

from aiohttp import web

from gateway.core.tus_headers import parse_metadata, parse_range
from gateway.errors import BadRequest, Conflict, GatewayError, RangeNotSatisfiable
from gateway.models import Upload
from gateway.service import UploadService

Reader = Callable[[int, int], AsyncIterator[bytes]]

# A stored file is served with exactly one of these types, else application/octet-stream, whatever its
# metadata claims; audio and video play inline, everything else is a download. No stored byte is ever
# rendered as a document or script on our origin (CSP sandbox, nosniff), even if a type slips through.
MEDIA_TYPES = frozenset({
    "video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/mp2t", "video/mpeg",
    "video/ogg", "video/x-msvideo", "video/3gpp", "video/x-flv", "video/x-ms-wmv",
    "audio/mpeg", "audio/mp4", "audio/x-m4a", "audio/aac", "audio/wav", "audio/x-wav", "audio/ogg",
    "audio/webm", "audio/flac",
    "image/jpeg", "image/png", "image/gif", "image/webp",
})
WRITE_TIMEOUT = 60.0   # seconds a download may wait for its reader to take more bytes
INERT = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}


def inert_type(declared: str) -> str:
    """The allow-listed media type ``declared`` is exactly (case aside), else octet-stream."""
    candidate = declared.strip().lower()
    return candidate if candidate in MEDIA_TYPES else "application/octet-stream"


def disposition(content_type: str, filename: str = "", *, inline: bool = True) -> str:
    """``inline`` only for audio and video; a filename as plain ASCII plus RFC 6266 ``filename*``."""
    kind = "inline" if inline and content_type.startswith(("video/", "audio/")) else "attachment"
    name = "".join(c for c in filename if c.isprintable() and c not in "\"\\;\r\n")[:200]
    if not name:
        return kind
    ascii_name = "".join(c if c.isascii() else "_" for c in name)
    header = f'{kind}; filename="{ascii_name}"'
    if ascii_name != name:
        header += "; filename*=UTF-8''" + quote(name, safe="")
    return header


def _described(upload: Upload) -> tuple[str, str]:
    try:
        meta = parse_metadata(upload.metadata)
    except GatewayError:
        meta = {}
    declared = (meta.get("filetype") or meta.get("contentType") or b"").decode(errors="replace")
    filename = (meta.get("filename") or meta.get("name") or b"").decode(errors="replace")
    content_type = inert_type(declared)
    return content_type, disposition(content_type, filename)


async def serve_download(request: web.Request, service: UploadService, upload: Upload) -> web.StreamResponse:
    if not upload.complete or upload.length is None:
        raise Conflict("the upload is not finished yet")
    content_type, shown_as = _described(upload)
    return await stream_range(request, upload.length, lambda start, end: service.read(upload, start, end),
                              content_type=content_type, disposition=shown_as)


async def stream_range(request: web.Request, size: int, read: Reader, *, content_type: str,
                       disposition: str) -> web.StreamResponse:
    """Stream ``size`` bytes from ``read`` honouring a single ``Range`` (206, or 416 when unsatisfiable).

    Every byte-serving route goes through here, so every one is inert: the type is re-checked against
    :data:`MEDIA_TYPES` and the CSP sandbox and nosniff are always sent."""
    content_type = inert_type(content_type)
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except BadRequest as exc:
        raise RangeNotSatisfiable(exc.message, headers={"Content-Range": f"bytes */{size}"}) from None
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200, headers={
        "Content-Type": content_type, "Content-Disposition": disposition, "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store", **INERT,
    })
    response.content_length = end - start
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    await response.prepare(request)
    if request.method != "HEAD":
        try:
            async for chunk in read(start, end):
                async with asyncio.timeout(WRITE_TIMEOUT):   # a reader that stops reading is let go
                    await response.write(chunk)
        except TimeoutError:
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    return response
