"""The upload collection (``/files/``) and an upload's own URL (``/files/<id>``), whatever the dialect:
the one place a request on them is matched to its dialect, and to the upload's CORS origin.

A request carrying ``Upload-Draft-Interop-Version`` is the IETF dialect's (:mod:`.rufh`); on an upload's
URL, one that the PUT dialect claims (PUT, or Content-Range, without ``Tus-Resumable``) is
:mod:`.resumable_put`'s; tus takes the rest. The upload's ``cors_origin`` is checked here once for every
dialect: a request from another origin gets 403 with nothing read or stored.
"""

from __future__ import annotations

from aiohttp import web

from gateway.body import expect_handler
from gateway.core.rufh import INTEROP
from gateway.http import DIALECT
from gateway.protocols import origins, resumable_put, rufh, tus
from gateway.service import UploadService


class UploadResource:
    def __init__(self, service: UploadService, tus_protocol: tus.TusProtocol, rufh_protocol: rufh.RufhProtocol,
                 *, base_path: str = "/files") -> None:
        self.service = service
        self.tus = tus_protocol
        self.rufh = rufh_protocol
        self.base_path = base_path

    def routes(self) -> list[web.RouteDef]:
        # a body is read only once the request is accepted, so 100 Continue waits for that (body.py)
        return [web.route("*", self.base_path + path, handler, expect_handler=expect_handler)
                for path, handler in (("", self.collection), ("/", self.collection),
                                      ("/{upload_id}", self.handle))]

    async def collection(self, request: web.Request) -> web.StreamResponse:
        await origins.allow(request, self.service)
        if INTEROP in request.headers:
            return await self.rufh.collection(request)
        return await self.tus.collection(request)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        preflight = request.method == "OPTIONS"
        if INTEROP in request.headers:
            await origins.allow(request, self.service, check=not preflight)
            return await self.rufh.resource(request)
        if resumable_put.claims(request):
            request[DIALECT] = resumable_put.PUT
            await origins.allow(request, self.service)
            return await resumable_put.handle_put(request, self.service)
        request[DIALECT] = tus.TUS
        await origins.allow(request, self.service, check=not preflight)   # preflights pass
        return await self.tus.resource(request)
