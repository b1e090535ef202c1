"""An upload's own URL (``/files/<id>``), whatever the dialect: the one place a request on it is
matched to its dialect, and to the upload's CORS origin.

Each dialect module offers ``claims(request)``; the first that claims the request handles it (tus
claims whatever is left). The upload's ``cors_origin`` is checked here once for every dialect: a request
from another origin gets 403 with nothing read or stored.
"""

from __future__ import annotations

from aiohttp import web

from gateway.body import expect_handler
from gateway.http import DIALECT
from gateway.protocols import origins, resumable_put, tus
from gateway.service import UploadService


class UploadResource:
    def __init__(self, service: UploadService, tus_protocol: tus.TusProtocol, *, base_path: str = "/files") -> None:
        self.service = service
        self.tus = tus_protocol
        self.base_path = base_path

    def routes(self) -> list[web.RouteDef]:
        return [web.route("*", self.base_path + "/{upload_id}", self.handle, expect_handler=expect_handler)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if resumable_put.claims(request):
            request[DIALECT] = resumable_put.PUT
            await origins.allow(request, self.service)
            return await resumable_put.handle_put(request, self.service)
        request[DIALECT] = tus.TUS
        await origins.allow(request, self.service, check=request.method != "OPTIONS")   # preflights pass
        return await self.tus.resource(request)
