"""tus 1.0.0 at ``/files/``: core, creation, creation-with-upload, creation-defer-length, expiration,
checksum, termination, concatenation and concatenation-unfinished; plus GET downloads (as tusd offers).

Handlers parse headers, call :class:`~gateway.service.UploadService`, and format responses. Every
response carries ``Tus-Resumable``; ``X-HTTP-Method-Override`` replaces the request method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from gateway.auth import Authenticator
from gateway.body import RequestBody, expect_handler
from gateway.catalog.records import new_id
from gateway.core.checksum import ALGORITHMS, parse_upload_checksum
from gateway.core.tus_headers import (
    OFFSET_OCTET_STREAM,
    TUS_VERSION,
    http_date,
    parse_concat,
    parse_metadata,
    parse_uint,
)
from gateway.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    InvalidHeader,
    MethodNotAllowed,
    UnsupportedMediaType,
    UnsupportedVersion,
)
from gateway.http import Handler, cors_headers, error_response
from gateway.models import ConcatKind, Upload, UploadState
from gateway.protocols import resumable_put
from gateway.protocols.download import serve_download
from gateway.service import AppendResult, UploadService

EXTENSIONS = ("creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,"
              "concatenation,concatenation-unfinished")


Adopt = Callable[[Upload], Awaitable[None]]


class TusProtocol:
    def __init__(self, service: UploadService, auth: Authenticator, *, base_url: str,
                 base_path: str = "/files", adopt: Adopt | None = None) -> None:
        self.service = service
        self.auth = auth
        self.base_url = base_url
        self.base_path = base_path
        self.adopt = adopt   # gives uploads created here a direct-upload record (so they become Assets)

    def routes(self) -> list[web.RouteDef]:
        # a body is read only once the request is accepted, so 100 Continue waits for that (body.py)
        return [web.route("*", self.base_path + path, handler, expect_handler=expect_handler)
                for path, handler in (("", self.collection), ("/", self.collection),
                                      ("/{upload_id}", self.resource), ("/{upload_id}/tus", self.bound_collection))]

    def location(self, upload_id: str) -> str:
        return f"{self.base_url}{self.base_path}/{upload_id}"

    # -- dispatch -------------------------------------------------------------------------------

    async def collection(self, request: web.Request) -> web.StreamResponse:
        handlers = {"OPTIONS": self.options, "POST": self.post}
        return await self._dispatch(request, handlers)

    async def resource(self, request: web.Request) -> web.StreamResponse:
        allowed = await self._allowed_origin(request)
        response: web.StreamResponse
        if resumable_put.claims(request):  # one upload, any dialect: PUT + Content-Range or curl -T
            if not origin_ok(request, allowed):
                response = error_response(_origin_refused(request))
            else:
                response = await resumable_put.handle_put(request, self.service)
            response.headers.update(cors_headers(request, allowed))
            return response
        handlers = {"OPTIONS": self.options, "HEAD": self.head, "PATCH": self.patch,
                    "DELETE": self.delete, "GET": self.get}
        return await self._dispatch(request, handlers, allowed)

    async def bound_collection(self, request: web.Request) -> web.StreamResponse:
        """A tus creation endpoint bound to one existing upload (a direct upload's ``tus_endpoint``):
        POST declares the length (and metadata) and answers with the upload's URL as ``Location``."""
        return await self._dispatch(request, {"OPTIONS": self.options, "POST": self.post_bound},
                                    await self._allowed_origin(request))

    async def _allowed_origin(self, request: web.Request) -> str:
        """The upload's ``cors_origin`` (``*`` for uploads without one); read only for CORS requests."""
        if "Origin" not in request.headers:
            return "*"
        upload = await self.service.state.get(request.match_info["upload_id"])
        return "*" if upload is None else upload.extra.get("cors_origin", "*")

    async def _dispatch(self, request: web.Request, handlers: Mapping[str, Handler],
                        allowed: str = "*") -> web.StreamResponse:
        method = request.headers.get("X-HTTP-Method-Override", request.method).strip().upper()
        try:
            if method != "OPTIONS" and not origin_ok(request, allowed):
                raise _origin_refused(request)
            handler = handlers.get(method)
            if handler is None:
                raise MethodNotAllowed(f"{method} is not allowed here",
                                       headers={"Allow": ", ".join(handlers)})
            if method not in ("OPTIONS", "GET"):
                version = request.headers.get("Tus-Resumable")
                if version != TUS_VERSION:
                    problem = ("the Tus-Resumable header is missing" if version is None
                               else f"Tus-Resumable {version[:20]!r} is not supported")
                    raise UnsupportedVersion(f"{problem}; send Tus-Resumable: {TUS_VERSION}",
                                             headers={"Tus-Version": TUS_VERSION})
            response: web.StreamResponse = await handler(request)
        except GatewayError as exc:
            response = error_response(exc)
        response.headers["Tus-Resumable"] = TUS_VERSION
        response.headers.update(cors_headers(request, allowed))
        return response

    # -- handlers -------------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(self.service.settings.max_size),
            "Tus-Checksum-Algorithm": ",".join(ALGORITHMS),
        })

    async def post(self, request: web.Request) -> web.StreamResponse:
        self.auth.check(request, "uploads")
        metadata = request.headers.get("Upload-Metadata", "")
        parse_metadata(metadata)
        concat = parse_concat(request.headers.get("Upload-Concat"), self.location(""))
        length = parse_uint("Upload-Length", request.headers.get("Upload-Length"))
        defer = request.headers.get("Upload-Defer-Length")
        if defer is not None and defer.strip() != "1":
            raise BadRequest("Upload-Defer-Length must be 1")
        if concat is not None and concat.final:
            if length is not None or defer is not None:
                raise BadRequest("a final upload takes its length from its partial uploads")
            upload = await self.service.create_final(
                list(concat.upload_ids), concat_header=request.headers["Upload-Concat"].strip(),
                metadata=metadata.strip(), extra=self._direct_extra())
            await self._adopt(upload)
            return self._created(upload, with_offset=False)
        if (length is None) == (defer is None):
            raise BadRequest("send exactly one of Upload-Length and Upload-Defer-Length: 1")
        checksum = parse_upload_checksum(request.headers.get("Upload-Checksum"))
        upload = await self.service.create(
            length=length, metadata=metadata.strip(),
            concat=ConcatKind.PARTIAL if concat is not None else ConcatKind.NONE,
            concat_header="partial" if concat is not None else "",
            extra=self._direct_extra() if concat is None else None)
        if concat is None:
            await self._adopt(upload)
        if request.content_type != OFFSET_OCTET_STREAM or upload.complete:
            return self._created(upload, with_offset=False)
        result = await self.service.append(upload.id, 0, RequestBody.of(request),
                                           content_length=request.content_length, checksum=checksum)
        return self._created(result.upload, with_offset=True)

    def _direct_extra(self) -> dict[str, str] | None:
        return {"direct": new_id()} if self.adopt is not None else None

    async def _adopt(self, upload: Upload) -> None:
        if self.adopt is not None:
            await self.adopt(await self.service.get(upload.id))

    async def post_bound(self, request: web.Request) -> web.StreamResponse:
        upload_id = request.match_info["upload_id"]
        upload = await self.service.head(upload_id)
        metadata = request.headers.get("Upload-Metadata", "").strip()
        parse_metadata(metadata)
        if "Upload-Concat" in request.headers:
            raise InvalidHeader("a direct upload cannot be part of a concatenation (Upload-Concat)")
        length = parse_uint("Upload-Length", request.headers.get("Upload-Length"))
        defer = request.headers.get("Upload-Defer-Length")
        if defer is not None and defer.strip() != "1":
            raise BadRequest("Upload-Defer-Length must be 1")
        if (length is None) == (defer is None):
            raise BadRequest("send exactly one of Upload-Length and Upload-Defer-Length: 1")
        if upload.concat is not ConcatKind.NONE:
            raise Forbidden("this upload is part of a concatenation")
        if length is not None and upload.length is not None and length != upload.length:
            raise BadRequest(f"this upload's length is already {upload.length}, not {length}")
        if metadata and not upload.metadata:
            await self.service.state.update(upload_id, {"metadata": metadata})
        with_body = request.content_type == OFFSET_OCTET_STREAM and upload.offset == 0
        if (length is not None and upload.length is None) or with_body:
            checksum = parse_upload_checksum(request.headers.get("Upload-Checksum"))
            result = await self.service.append(
                upload_id, upload.offset, RequestBody.of(request) if with_body else None,
                checksum=checksum,
                content_length=request.content_length if with_body else 0,
                declare_length=length if upload.length is None else None)
            upload = result.upload
        return self._created(upload, with_offset=with_body)

    def _created(self, upload: Upload, *, with_offset: bool) -> web.Response:
        headers = {"Location": self.location(upload.id)}
        if with_offset:
            headers["Upload-Offset"] = str(upload.offset)
        if upload.expires_at is not None:
            headers["Upload-Expires"] = http_date(upload.expires_at)
        return web.Response(status=201, headers=headers)

    async def head(self, request: web.Request) -> web.StreamResponse:
        upload = await self.service.head(request.match_info["upload_id"])
        headers = {"Cache-Control": "no-store"}
        if upload.state is not UploadState.CONCATENATING:
            headers["Upload-Offset"] = str(upload.offset)
        if upload.length is not None:
            headers["Upload-Length"] = str(upload.length)
        elif upload.concat is not ConcatKind.FINAL:
            headers["Upload-Defer-Length"] = "1"
        if upload.metadata:
            headers["Upload-Metadata"] = upload.metadata
        if upload.concat_header:
            headers["Upload-Concat"] = upload.concat_header
        if upload.expires_at is not None:
            headers["Upload-Expires"] = http_date(upload.expires_at)
        return web.Response(status=200, headers=headers)

    async def patch(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != OFFSET_OCTET_STREAM:
            raise UnsupportedMediaType(f"PATCH needs Content-Type: {OFFSET_OCTET_STREAM}")
        offset = parse_uint("Upload-Offset", request.headers.get("Upload-Offset"))
        if offset is None:
            raise BadRequest("Upload-Offset is required")
        declared = parse_uint("Upload-Length", request.headers.get("Upload-Length"))
        checksum = parse_upload_checksum(request.headers.get("Upload-Checksum"))
        result = await self.service.append(request.match_info["upload_id"], offset, RequestBody.of(request),
                                           content_length=request.content_length, checksum=checksum,
                                           declare_length=declared)
        return self._patched(result)

    def _patched(self, result: AppendResult) -> web.Response:
        upload = result.upload
        headers = {"Upload-Offset": str(upload.offset)}
        if upload.expires_at is not None:
            headers["Upload-Expires"] = http_date(upload.expires_at)
        if result.error is not None:
            response = error_response(result.error)
            response.headers.update(headers)
            return response
        return web.Response(status=204, headers=headers)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        await self.service.terminate(request.match_info["upload_id"], by_client=True)
        return web.Response(status=204)

    async def get(self, request: web.Request) -> web.StreamResponse:
        self.auth.check(request, "assets:read")
        upload = await self.service.get(request.match_info["upload_id"])
        return await serve_download(request, self.service, upload)


def origin_ok(request: web.Request, allowed: str) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or allowed in ("*", origin)


def _origin_refused(request: web.Request) -> Forbidden:
    return Forbidden(f"origin {request.headers.get('Origin')} is not allowed to use this upload URL")
