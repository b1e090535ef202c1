"""GET of a finished upload's bytes, with single-range support (as tusd serves downloads)."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tus_headers import parse_metadata, parse_range
from gateway.errors import BadRequest, Conflict, GatewayError
from gateway.models import Upload
from gateway.service import UploadService

# Types a browser may render inline; anything else is served as a download (tusd's allowlist idea).
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
    size = upload.length
    try:
        wanted = parse_range(request.headers.get("Range"), size)
    except BadRequest as exc:
        raise RangeNotSatisfiable(exc.message, headers={"Content-Range": f"bytes */{size}"}) from None
    start, end = wanted or (0, size)
    content_type, disposition = _content_type(upload)
    response = web.StreamResponse(status=206 if wanted else 200, headers={
        "Content-Type": content_type, "Content-Disposition": disposition, "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
    })
    response.content_length = end - start
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in service.read(upload, start, end):
            await response.write(chunk)
    await response.write_eof()
    return response
