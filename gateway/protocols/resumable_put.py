"""PUT + Content-Range resumption on an upload URL (Google Cloud Storage semantics, as Mux upload URLs
and @mux/upchunk speak them), and single-shot ``curl -T``.

- ``PUT`` (or POST/PATCH) without Content-Range: the whole file; 200 when stored.
- ``Content-Range: bytes a-b/N`` (or ``/*``): one chunk; ``308`` with ``Range: bytes=0-k`` (no Location,
  empty body) while incomplete, ``200`` once the last byte is stored.
- ``Content-Range: bytes */N``: a status check, answered like a chunk that sent nothing.
- A chunk that starts before the stored offset has its already-stored bytes skipped; one that starts
  past it (a gap) gets 503, which UpChunk retries; a changed total gets 400.
- A chunk stores exactly its range: a (chunked) body longer than it is refused past the range, and a
  shorter one keeps what arrived (the 308's ``Range`` says how much).
- A request that cannot succeed (a total past ``uploads.max_size``, a wrong Content-Length) is refused
  before its body is read; other errors drain the body within bounds first (``gateway.body.settle``).
"""

from __future__ import annotations

from aiohttp import web

from gateway.body import RequestBody
from gateway.core.content_range import ContentRange, parse_content_range, stored_range
from gateway.errors import BadRequest, GatewayError, LengthRequired, PayloadTooLarge, Unavailable
from gateway.http import DIALECT
from gateway.models import Upload
from gateway.service import UploadService


class PutDialect:
    def error_extra(self, error: GatewayError) -> dict[str, object]:
        return {}

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        if error is not None and error.offset is not None and (stored := stored_range(error.offset)):
            response.headers["Range"] = stored   # a chunk that ended early: what was kept


PUT = PutDialect()


def claims(request: web.Request) -> bool:
    """Is this request for the PUT dialect (rather than tus) on an upload URL?"""
    if "Tus-Resumable" in request.headers:
        return False
    return request.method == "PUT" or (request.method in ("POST", "PATCH") and "Content-Range" in request.headers)


def progress_response(upload: Upload) -> web.Response:
    if upload.complete:   # a short JSON receipt (curl -T shows it); UpChunk only reads the status
        return web.json_response({"id": upload.extra.get("direct") or upload.id, "status": "complete",
                                  "size": upload.length})
    # an explicit type: browsers parse an untyped empty XHR answer as XML (and report the parse error)
    response = web.Response(status=308, reason="Resume Incomplete", content_type="text/plain")
    if (header := stored_range(upload.offset)) is not None:
        response.headers["Range"] = header
    return response


async def handle_put(request: web.Request, service: UploadService) -> web.StreamResponse:
    request[DIALECT] = PUT
    upload_id = request.match_info["upload_id"]
    header = request.headers.get("Content-Range")
    if header is not None:
        wanted = parse_content_range(header)
    elif request.content_length is None:
        raise LengthRequired("send Content-Length, or Content-Range with each chunk")
    else:
        size = request.content_length
        wanted = ContentRange(0, size - 1, size) if size else ContentRange(None, None, 0)
    if wanted.start is not None and request.content_length not in (None, wanted.size):
        raise BadRequest(f"Content-Length {request.content_length} does not match Content-Range ({wanted.size} bytes)")
    if wanted.total is not None and wanted.total > service.settings.max_size:
        raise PayloadTooLarge(f"{wanted.total} bytes are above the maximum upload size of {service.settings.max_size}")
    upload = await service.head(upload_id)
    if wanted.total is not None and upload.length is not None and wanted.total != upload.length:
        raise BadRequest(f"the upload's total is {upload.length} bytes, not {wanted.total}")
    declare = wanted.total if upload.length is None else None
    if wanted.start is None or upload.complete:  # a status check, or nothing left to do
        if declare is not None:   # a total below what is stored is refused (400)
            upload = await service.append(upload_id, upload.offset, None, content_length=0, declare_length=declare)
        return progress_response(upload)
    assert wanted.end is not None
    if wanted.start > upload.offset:
        raise Unavailable(f"this chunk starts at {wanted.start} but only {upload.offset} bytes are stored; "
                          "resend from there", headers={"Retry-After": "1"})
    if wanted.end < upload.offset:  # already stored: acknowledge with the full stored range
        return progress_response(upload)
    body = RequestBody.of(request)
    skip = upload.offset - wanted.start
    if await body.skip(skip) < skip:  # the body ended inside the part already stored
        return progress_response(upload)
    # exactly the claimed range, never more: a longer (chunked) body is refused past its range
    upload = await service.append(upload_id, upload.offset, body, content_length=wanted.size - skip,
                                  declare_length=declare)
    return progress_response(upload)
