"""Resumable Uploads for HTTP (the IETF successor to tus; URLSession speaks it natively), interop versions
3 to 8 (the per-version rules are in :mod:`gateway.core.rufh`), on the same resources as tus:

- **Creation**: ``POST /files/`` (API token), or POST/PUT on a direct upload's URL (the capability
  starts that upload), with the completeness header. A ``104 Upload Resumption Supported`` carrying
  ``Location`` and ``Upload-Limit`` goes out before the body is read. A request that completes the upload
  gets the resource's own answer (the collection's 201, a direct upload URL's 200 receipt); one that does
  not gets 201 with ``Location``.
- **Offset retrieval**: HEAD answers 204 with ``Upload-Offset``, completeness, ``Upload-Length`` when
  known, ``Upload-Limit`` and ``Cache-Control: no-store``.
- **Append**: PATCH with ``Upload-Offset`` (409 with the right offset on a mismatch, as a problem
  details object from version 6), ``application/partial-upload`` from version 6.
- **Cancellation**: DELETE. **OPTIONS**: 200 with ``Upload-Limit``.

Every answer echoes the request's interop version. The bytes go through the same service as tus and
PUT, so an upload started here can be finished by any dialect, and the reverse.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.http import HttpVersion11

from gateway.body import RequestBody
from gateway.core import rufh
from gateway.core.rufh import INTEROP, PARTIAL_UPLOAD, Version
from gateway.core.tus_headers import parse_metadata
from gateway.errors import BadRequest, GatewayError, MethodNotAllowed, OffsetMismatch, UnsupportedMediaType
from gateway.http import DIALECT
from gateway.models import Upload
from gateway.protocols import resumable_put
from gateway.protocols.tus import TusProtocol
from gateway.service import UploadService


class InconsistentLength(BadRequest):
    type = "inconsistent_upload_length"


class RufhDialect:
    """One request's answers: its interop version echoed; after a body that ended early, the offset
    kept; errors as the draft's problem details where the version defines them."""

    def __init__(self, version: Version, provided_offset: int | None = None) -> None:
        self.version = version
        self.provided_offset = provided_offset

    def error_extra(self, error: GatewayError) -> dict[str, object]:
        if isinstance(error, OffsetMismatch):
            expected = int(error.headers.get("Upload-Offset", "0"))
            members = {"expected-offset": expected}
            if self.provided_offset is not None:
                members["provided-offset"] = self.provided_offset
            return rufh.problem(self.version, "mismatching-upload-offset", error.message, **members)
        if isinstance(error, InconsistentLength):
            return rufh.problem(self.version, "inconsistent-upload-length", error.message)
        return {}

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        response.headers[INTEROP] = str(self.version.number)
        if error is None:
            return
        if error.offset is not None:   # a body that ended early: what was kept
            response.headers["Upload-Offset"] = str(error.offset)
            response.headers[self.version.complete_header] = self.version.complete_value(False)
        if self.error_extra(error):
            response.content_type = "application/problem+json"


class RufhProtocol:
    def __init__(self, service: UploadService, tus: TusProtocol, *, interim_responses: bool = True) -> None:
        self.service = service
        self.tus = tus   # creation on the collection makes the same adopted uploads as tus does
        self.interim_responses = interim_responses   # off behind proxies that do not forward a 104

    def _start(self, request: web.Request) -> Version:
        version = rufh.version_of(request.headers.get(INTEROP))
        assert version is not None   # the dispatcher routes only requests that carry the header
        offset = request.headers.get("Upload-Offset")
        request[DIALECT] = RufhDialect(version, rufh.integer_of("Upload-Offset", offset) if offset else None)
        return version

    def _limits(self, version: Version) -> dict[str, str]:
        settings = self.service.settings
        return {"Upload-Limit": rufh.limits(version, max_size=settings.max_size, max_age=settings.expiration)}

    # -- the collection: /files/ ----------------------------------------------------------------

    async def collection(self, request: web.Request) -> web.StreamResponse:
        version = self._start(request)
        if request.method == "OPTIONS":
            return web.Response(status=200, headers=self._limits(version))
        if request.method != "POST":
            raise MethodNotAllowed(f"{request.method} is not allowed here", headers={"Allow": "OPTIONS, POST"})
        self.tus.auth.check(request, "uploads")
        complete, length = self._creation(request, version)
        metadata = request.headers.get("Upload-Metadata", "").strip()   # tus-style, as tus-js-client sends
        parse_metadata(metadata)
        upload = await self.tus.new_upload(length=length, metadata=metadata)
        location = self.tus.location(upload.id)
        await self._resumption_supported(request, version, location)
        upload = await self._receive(request, version, upload, complete, length)
        response = web.Response(status=201, headers={"Location": location, **self._limits(version)})
        return self._progress(response, version, upload)

    # -- an upload's own URL: /files/<id> --------------------------------------------------------

    async def resource(self, request: web.Request) -> web.StreamResponse:
        version = self._start(request)
        upload_id = request.match_info["upload_id"]
        if request.method == "OPTIONS":
            return web.Response(status=200, headers=self._limits(version))
        if request.method == "HEAD":
            upload = await self.service.head(upload_id)
            response = web.Response(status=204, headers={"Cache-Control": "no-store", **self._limits(version)})
            if upload.length is not None:
                response.headers["Upload-Length"] = str(upload.length)
            return self._progress(response, version, upload)
        if request.method == "DELETE":
            await self.service.terminate(upload_id, by_client=True)
            return web.Response(status=204)
        if request.method == "PATCH":
            return await self._append(request, version, upload_id)
        if request.method in ("POST", "PUT"):   # a direct upload's URL: this request starts that upload
            return await self._start_direct(request, version, upload_id)
        raise MethodNotAllowed(f"{request.method} is not allowed here",
                               headers={"Allow": "OPTIONS, HEAD, PATCH, DELETE, POST, PUT"})

    async def _start_direct(self, request: web.Request, version: Version, upload_id: str) -> web.StreamResponse:
        complete, length = self._creation(request, version)
        upload = await self.service.head(upload_id)
        if upload.offset != 0 and not upload.complete:
            raise OffsetMismatch(f"this upload already holds {upload.offset} bytes; resume it with PATCH",
                                 headers={"Upload-Offset": str(upload.offset)})
        if length is not None and upload.length is not None and length != upload.length:
            raise InconsistentLength(f"this upload's length is {upload.length} bytes, not {length}")
        await self._resumption_supported(request, version, self.tus.location(upload_id))
        if not upload.complete:
            upload = await self._receive(request, version, upload, complete, length)
        if upload.complete:   # the resource's own answer: what its PUT gets
            return self._progress(resumable_put.progress_response(upload), version, upload)
        response = web.Response(status=201, headers={"Location": self.tus.location(upload_id),
                                                     **self._limits(version)})
        return self._progress(response, version, upload)

    async def _append(self, request: web.Request, version: Version, upload_id: str) -> web.StreamResponse:
        offset = rufh.integer_of("Upload-Offset", request.headers.get("Upload-Offset"))
        if offset is None:
            raise BadRequest("an append needs Upload-Offset")
        if version.partial_content_type and request.content_type != PARTIAL_UPLOAD:
            raise UnsupportedMediaType(f"an append needs Content-Type: {PARTIAL_UPLOAD} (interop version "
                                       f"{version.number})")
        complete = rufh.complete_of(version, dict(request.headers))
        length = rufh.integer_of("Upload-Length", request.headers.get("Upload-Length"))
        upload = await self.service.get(upload_id)
        upload = await self._receive(request, version, upload.with_(offset=offset), complete is not False, length)
        if upload.complete:
            return self._progress(resumable_put.progress_response(upload), version, upload)
        return self._progress(web.Response(status=204), version, upload)

    # -- shared steps ---------------------------------------------------------------------------

    @staticmethod
    def _creation(request: web.Request, version: Version) -> tuple[bool, int | None]:
        """A creation request's completeness and length (``Upload-Length``, or the body's own length
        when this request carries the whole upload)."""
        complete = rufh.complete_of(version, dict(request.headers))
        if complete is None:
            raise BadRequest(f"a creation request needs {version.complete_header}")
        if rufh.integer_of("Upload-Offset", request.headers.get("Upload-Offset")) not in (None, 0):
            raise BadRequest("a creation request starts at Upload-Offset: 0")
        length = rufh.integer_of("Upload-Length", request.headers.get("Upload-Length"))
        body = request.content_length
        if complete and body is not None:
            if length is not None and length != body:
                raise InconsistentLength(f"Upload-Length {length} differs from the {body} bytes of a request "
                                         "that completes the upload")
            length = body
        return complete, length

    async def _resumption_supported(self, request: web.Request, version: Version, location: str) -> None:
        """104 Upload Resumption Supported, before the body is read (HTTP/1.1 only: 1.0 has no 1xx).
        aiohttp has no API for 1xx (aio-libs/aiohttp#7878); this writes it as its own 100 Continue is."""
        if request.version < HttpVersion11 or not self.interim_responses:
            return
        head = (f"HTTP/1.1 104 Upload Resumption Supported\r\n{INTEROP}: {version.number}\r\n"
                f"Location: {location}\r\nUpload-Limit: {self._limits(version)['Upload-Limit']}\r\n\r\n")
        await request.writer.write(head.encode("ascii"))
        request.writer.output_size = 0   # the interim answer is not the response

    async def _receive(self, request: web.Request, version: Version, upload: Upload, complete: bool,
                       length: int | None) -> Upload:
        """Store the body at the upload's offset; a request that says it completes the upload fixes
        the length (``Upload-Length``, or what is stored after its body) and finishes it."""
        declare = length
        if complete and declare is None and request.content_length is not None:
            declare = upload.offset + request.content_length
        if complete and declare is not None and upload.length is not None and declare != upload.length:
            raise InconsistentLength(f"the request completes the upload at {declare} bytes, but its length "
                                     f"is {upload.length}")
        upload = await self.service.append(upload.id, upload.offset, RequestBody.of(request),
                                           content_length=request.content_length, declare_length=declare)
        if complete and not upload.complete:
            if upload.length is None:   # a chunked body: its end is the upload's end
                upload = await self.service.append(upload.id, upload.offset, None, content_length=0,
                                                   declare_length=upload.offset)
            if not upload.complete:
                error = InconsistentLength(f"the request completes the upload, but {upload.offset} of "
                                           f"{upload.length} bytes are stored")
                error.offset = upload.offset   # what was kept: the client resumes from there
                raise error
        return upload

    @staticmethod
    def _progress(response: web.Response, version: Version, upload: Upload) -> web.Response:
        response.headers["Upload-Offset"] = str(upload.offset)
        response.headers[version.complete_header] = version.complete_value(upload.complete)
        return response
