"""GET of a finished upload's bytes, with single-range support (as tusd serves downloads)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from gateway.core.tus_headers import parse_metadata, parse_range
from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.models import Upload
from gateway.service import UploadService

# Types a browser may render inline; anything else is served as a download (tusd's allowlist idea).
Reader = Callable[[int, int], AsyncIterator[bytes]]
INLINE_TYPES = ("video/", "audio/", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain")


class RangeNotSatisfiable(GatewayError):
    status = 416
    type = "range_not_satisfiable"


def _content_type(upload: Upload) -> tuple[str, str]:
    try:
        meta = parse_metadata(upload.metadata)
    except GatewayError:
        meta = {}
    declared = (meta.get("filetype") or meta.get("contentType") or b"").decode(errors="replace").strip()
    filename = (meta.get("filename") or meta.get("name") or b"").decode(errors="replace")
    safe_name = "".join(c for c in filename if c.isprintable() and c not in '"\\;')[:200]
    disposition = f'attachment; filename="{safe_name}"' if safe_name else "attachment"
    if declared.startswith(INLINE_TYPES) and "\n" not in declared and ";" not in declared:
        return declared, disposition.replace("attachment", "inline", 1)
    return "application/octet-stream", disposition


async def serve_download(request: web.Request, service: UploadService, upload: Upload) -> web.StreamResponse:
    if not upload.complete or upload.length is None:
        raise Conflict("the upload is not finished yet")
    content_type, disposition = _content_type(upload)
    return await stream_range(request, upload.length, lambda start, end: service.read(upload, start, end),
                              content_type=content_type, disposition=disposition)


async def stream_range(request: web.Request, size: int, read: Reader, *, content_type: str,
                       disposition: str) -> web.StreamResponse:
    """Stream ``size`` bytes from ``read`` honouring a single ``Range`` (206, or 416 when unsatisfiable)."""
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except BadRequest as exc:
        raise RangeNotSatisfiable(exc.message, headers={"Content-Range": f"bytes */{size}"}) from None
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200, headers={
        "Content-Type": content_type, "Content-Disposition": disposition, "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
    })
    response.content_length = end - start
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in read(start, end):
            await response.write(chunk)
    await response.write_eof()
    return response
