"""tus 1.0.0: core, creation, creation-with-upload, creation-defer-length, expiration, checksum,
termination, concatenation and concatenation-unfinished; plus GET downloads (as tusd offers).

A direct upload's bound creation endpoint (``/files/<id>/tus``) is routed here; requests on the
collection (``/files/``) and on an upload's own URL come through :mod:`gateway.protocols.resource`,
which picks the dialect.
Handlers parse headers, call :class:`~gateway.service.UploadService` and raise on failure;
:data:`TUS` shapes every answer (``Tus-Resumable``, and ``Upload-Offset`` after a body that ended early).
``X-HTTP-Method-Override`` replaces the request method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.auth import Authenticator
from gateway.body import RequestBody, expect_handler
from gateway.catalog.records import new_id
from gateway.core.checksum import ALGORITHMS, Checksum, parse_upload_checksum
from gateway.core.tus_headers import (
    OFFSET_OCTET_STREAM,
    TUS_VERSION,
    ConcatHeader,
    http_date,
    parse_concat,
    parse_metadata,
    parse_uint,
)
from gateway.errors import (
    BadRequest,
    ChecksumMismatch,
    Forbidden,
    GatewayError,
    InvalidHeader,
    MethodNotAllowed,
    UnsupportedMediaType,
    UnsupportedVersion,
)
from gateway.http import DIALECT, Handler
from gateway.models import ConcatKind, Upload, UploadState
from gateway.protocols import origins
from gateway.protocols.download import serve_download
from gateway.service import UploadService

EXTENSIONS = ("creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,"
              "concatenation,concatenation-unfinished")

Adopt = Callable[[Upload], Awaitable[None]]


class TusDialect:
    def error_extra(self, error: GatewayError) -> dict[str, object]:
        return {}

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        response.headers["Tus-Resumable"] = TUS_VERSION
        if error is not None and error.offset is not None:   # a body that ended early: what was kept
            response.headers["Upload-Offset"] = str(error.offset)
            if error.expires_at is not None:
                response.headers["Upload-Expires"] = http_date(error.expires_at)


TUS = TusDialect()


def claims(request: web.Request) -> bool:
    """Any request on an upload URL that no other dialect claims is tus's."""
    return True


@dataclass(frozen=True)
class Creation:
    """The headers of a creation request, checked once for both creation endpoints."""

    metadata: str
    length: int | None
    deferred: bool
    concat: ConcatHeader | None
    checksum: Checksum | None
    with_body: bool

    @classmethod
    def parse(cls, request: web.Request, base_url: str) -> Creation:
        metadata = request.headers.get("Upload-Metadata", "").strip()
        parse_metadata(metadata)
        concat = parse_concat(request.headers.get("Upload-Concat"), base_url)
        length = parse_uint("Upload-Length", request.headers.get("Upload-Length"))
        defer = request.headers.get("Upload-Defer-Length")
        if defer is not None and defer.strip() != "1":
            raise BadRequest("Upload-Defer-Length must be 1")
        final = concat is not None and concat.final
        if final and (length is not None or defer is not None):
            raise BadRequest("a final upload takes its length from its partial uploads")
        if not final and (length is None) == (defer is None):
            raise BadRequest("send exactly one of Upload-Length and Upload-Defer-Length: 1")
        return cls(metadata=metadata, length=length, deferred=defer is not None, concat=concat,
                   checksum=parse_upload_checksum(request.headers.get("Upload-Checksum")),
                   with_body=request.content_type == OFFSET_OCTET_STREAM)


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
        return [web.route("*", self.base_path + "/{upload_id}/tus", self.bound_collection,
                          expect_handler=expect_handler)]

    def location(self, upload_id: str) -> str:
        return f"{self.base_url}{self.base_path}/{upload_id}"

    # -- dispatch -------------------------------------------------------------------------------

    async def collection(self, request: web.Request) -> web.StreamResponse:
        """``/files/`` (routed by :mod:`gateway.protocols.resource`)."""
        return await self.handle(request, {"OPTIONS": self.options, "POST": self.post})

    async def bound_collection(self, request: web.Request) -> web.StreamResponse:
        """A tus creation endpoint bound to one existing upload (a direct upload's ``tus_endpoint``):
        POST declares the length (and metadata) and answers with the upload's URL as ``Location``."""
        request[DIALECT] = TUS
        method = request.headers.get("X-HTTP-Method-Override", request.method).strip().upper()
        await origins.allow(request, self.service, check=method != "OPTIONS")
        return await self.handle(request, {"OPTIONS": self.options, "POST": self.post_bound})

    async def resource(self, request: web.Request) -> web.StreamResponse:
        """A request on an upload's own URL (routed by :mod:`gateway.protocols.resource`)."""
        return await self.handle(request, {"OPTIONS": self.options, "HEAD": self.head, "PATCH": self.patch,
                                           "DELETE": self.delete, "GET": self.get})

    async def handle(self, request: web.Request, handlers: Mapping[str, Handler]) -> web.StreamResponse:
        request[DIALECT] = TUS
        method = request.headers.get("X-HTTP-Method-Override", request.method).strip().upper()
        handler = handlers.get(method)
        if handler is None:
            raise MethodNotAllowed(f"{method[:20]} is not allowed here", headers={"Allow": ", ".join(handlers)})
        if method not in ("OPTIONS", "GET"):
            version = request.headers.get("Tus-Resumable")
            if version != TUS_VERSION:
                problem = ("the Tus-Resumable header is missing" if version is None
                           else f"Tus-Resumable {version[:20]!r} is not supported")
                raise UnsupportedVersion(f"{problem}; send Tus-Resumable: {TUS_VERSION}",
                                         headers={"Tus-Version": TUS_VERSION})
        return await handler(request)

    # -- creation -------------------------------------------------------------------------------

    async def options(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(self.service.settings.max_size),
            "Tus-Checksum-Algorithm": ",".join(ALGORITHMS),
        })

    async def post(self, request: web.Request) -> web.StreamResponse:
        self.auth.check(request, "uploads")
        creation = Creation.parse(request, self.location(""))
        concat = creation.concat
        if concat is not None and concat.final:
            upload = await self.service.create_final(
                list(concat.upload_ids), concat_header=request.headers["Upload-Concat"].strip(),
                metadata=creation.metadata, extra=self._direct_extra())
            await self._adopt(upload)
            return self._created(upload, with_offset=False)
        if concat is None:
            upload = await self.new_upload(length=creation.length, metadata=creation.metadata)
        else:
            upload = await self.service.create(length=creation.length, metadata=creation.metadata,
                                               concat=ConcatKind.PARTIAL, concat_header="partial")
        if not creation.with_body or upload.complete:
            return self._created(upload, with_offset=False)
        upload = await self._append_on_creation(request, upload, creation)
        return self._created(upload, with_offset=True)

    async def post_bound(self, request: web.Request) -> web.StreamResponse:
        upload_id = request.match_info["upload_id"]
        upload = await self.service.head(upload_id)
        if "Upload-Concat" in request.headers:
            raise InvalidHeader("a direct upload cannot be part of a concatenation (Upload-Concat)")
        creation = Creation.parse(request, self.location(""))
        if upload.concat is not ConcatKind.NONE:
            raise Forbidden("this upload is part of a concatenation")
        if creation.length is not None and upload.length is not None and creation.length != upload.length:
            raise BadRequest(f"this upload's length is already {upload.length}, not {creation.length}")
        if creation.metadata and not upload.metadata:
            await self.service.set_metadata(upload_id, creation.metadata)
        with_body = creation.with_body and upload.offset == 0
        if with_body or (creation.length is not None and upload.length is None):
            upload = await self._append_on_creation(request, upload, creation, with_body=with_body)
        return self._created(upload, with_offset=with_body)

    async def _append_on_creation(self, request: web.Request, upload: Upload, creation: Creation, *,
                                  with_body: bool = True) -> Upload:
        """creation-with-upload: the upload exists whatever happens to its body, so a body that ends
        early still gets 201 with the offset kept (a checksum mismatch stays an error: nothing kept)."""
        try:
            return await self.service.append(
                upload.id, upload.offset, RequestBody.of(request) if with_body else None,
                content_length=request.content_length if with_body else 0, checksum=creation.checksum,
                declare_length=creation.length if upload.length is None else None)
        except GatewayError as exc:
            if exc.offset is None or isinstance(exc, ChecksumMismatch):
                raise
            return await self.service.get(upload.id)

    async def new_upload(self, *, length: int | None, metadata: str) -> Upload:
        """An upload created on the collection (any dialect): it becomes an Asset when it finishes."""
        upload = await self.service.create(length=length, metadata=metadata, extra=self._direct_extra())
        await self._adopt(upload)
        return upload

    def _direct_extra(self) -> dict[str, str] | None:
        return {"direct": new_id()} if self.adopt is not None else None

    async def _adopt(self, upload: Upload) -> None:
        if self.adopt is not None:
            await self.adopt(await self.service.get(upload.id))

    def _created(self, upload: Upload, *, with_offset: bool) -> web.Response:
        headers = {"Location": self.location(upload.id)}
        if with_offset:
            headers["Upload-Offset"] = str(upload.offset)
        if upload.expires_at is not None:
            headers["Upload-Expires"] = http_date(upload.expires_at)
        return web.Response(status=201, headers=headers)

    # -- an upload's own URL --------------------------------------------------------------------

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
        upload = await self.service.append(request.match_info["upload_id"], offset, RequestBody.of(request),
                                           content_length=request.content_length, checksum=checksum,
                                           declare_length=declared)
        headers = {"Upload-Offset": str(upload.offset)}
        if upload.expires_at is not None:
            headers["Upload-Expires"] = http_date(upload.expires_at)
        return web.Response(status=204, headers=headers)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        await self.service.terminate(request.match_info["upload_id"], by_client=True)
        return web.Response(status=204)

    async def get(self, request: web.Request) -> web.StreamResponse:
        self.auth.check(request, "assets:read")
        upload = await self.service.get(request.match_info["upload_id"])
        return await serve_download(request, self.service, upload)
