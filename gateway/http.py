"""HTTP plumbing shared by the protocol modules: the one error-to-response mapping, request ids, CORS.

Handlers raise; :func:`error_middleware` turns every error into an answer in one place, and
:func:`on_response_prepare` gives every answer (streamed ones included) the headers of the request's
dialect (``request[DIALECT]``: tus's ``Tus-Resumable``, the PUT dialect's ``Range``, ...), its CORS
headers (``request[CORS_ORIGIN]``, set on upload URLs) and its request id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from redis.exceptions import RedisError

from gateway.body import settle
from gateway.errors import BadRequest, ClientGone, GatewayError, StateUnavailable, StorageUnavailable
from gateway.state.errors import unavailable

log = logging.getLogger("gateway.http")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
upload_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("upload_id", default="")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BACKEND_ERROR = web.RequestKey("backend_error", str)   # which backend failed ("redis" / "storage"), for metrics


class Dialect(Protocol):
    """How one wire dialect shapes every answer, errors included."""

    def error_extra(self, error: GatewayError) -> dict[str, object]:
        """Top-level keys an error body carries beside ``error`` (e.g. Livepeer's ``errors``)."""
        ...

    def decorate(self, request: web.Request, response: web.StreamResponse, error: GatewayError | None) -> None:
        """Headers every answer of the dialect carries, set just before the answer is sent."""
        ...


DIALECT = web.RequestKey("dialect", Dialect)
ERROR = web.RequestKey("error", GatewayError)
CORS_ORIGIN = web.RequestKey("cors_origin", str)    # ``*`` or the one origin an upload URL allows


def error_response(exc: GatewayError, **extra: object) -> web.Response:
    """The only place an error becomes HTTP: ``{"error": {"type", "messages"}}`` with its status
    (plus ``extra`` top-level keys a dialect adds, e.g. Livepeer's ``errors``)."""
    body = json.dumps({"error": {"type": exc.type, "messages": exc.messages}, **extra})
    return web.Response(status=exc.status, text=body, content_type="application/json",
                        headers=exc.headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-ID", "")[:64] or secrets.token_hex(8)
    request_id_var.set(request_id)
    upload_id_var.set(request.match_info.get("upload_id", ""))
    started = time.perf_counter()
    try:
        check_content_type(request.headers.get("Content-Type", ""))
        response = await handler(request)
    except GatewayError as exc:
        if isinstance(exc, StorageUnavailable | StateUnavailable):
            request[BACKEND_ERROR] = "storage" if isinstance(exc, StorageUnavailable) else "redis"
        request[ERROR] = exc
        dialect = request.get(DIALECT)
        response = error_response(exc, **(dialect.error_extra(exc) if dialect is not None else {}))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http_exception(exc))
    except RedisError as exc:   # the catalog and queue clients: the same answer as the state adapters give
        request[BACKEND_ERROR] = "redis"
        log.warning("request.redis_error", extra={"error": repr(exc)})
        response = error_response(unavailable(exc))
    except ConnectionError as exc:   # the client hung up: ordinary, not a server fault
        log.info("request.client_gone", extra={"error": exc.__class__.__name__})
        response = error_response(ClientGone("the client closed the connection"))
    except Exception:
        log.exception("request.failed", extra={"method": request.method, "path": request.path})
        response = error_response(GatewayError("internal error; the request id is " + request_id))
    await settle(request, response)   # bounded: drain what is left of the body, or close after answering
    log.info("request", extra={"method": request.method, "path": request.path, "status": response.status,
                               "ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def check_content_type(value: str) -> None:
    """Refuse a Content-Type no client sends before anything parses it: the stdlib parser behind
    ``request.content_type`` recurses into nested comments until RecursionError."""
    if len(value) > 512 or value.count("(") > 8:
        raise BadRequest("the Content-Type header is malformed")


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    if (dialect := request.get(DIALECT)) is not None:
        dialect.decorate(request, response, request.get(ERROR))
    if (allowed := request.get(CORS_ORIGIN)) is not None:
        response.headers.update(cors_headers(request, allowed))
    if request_id := request_id_var.get():
        response.headers.setdefault("X-Request-ID", request_id)


def _from_http_exception(exc: web.HTTPException) -> GatewayError:
    keep = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    error = GatewayError(exc.reason, headers=keep)
    error.status = exc.status
    error.type = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "invalid_request")
    return error


TUS_ALLOW_HEADERS = (
    "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, Content-Type, "
    "Content-Range, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Upload-Checksum, Upload-Complete, Upload-Incomplete, Upload-Draft-Interop-Version"
)
EXPOSE_HEADERS = (
    "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, "
    "Tus-Checksum-Algorithm, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, "
    "Upload-Complete, Upload-Incomplete, Upload-Limit, Upload-Draft-Interop-Version, Range, Content-Range, "
    "X-Request-ID"
)
ALLOW_METHODS = "POST, HEAD, PATCH, PUT, OPTIONS, GET, DELETE"


def cors_headers(request: web.Request, allowed_origin: str = "*") -> dict[str, str]:
    """CORS for an upload URL; ``allowed_origin`` is ``*`` or one origin (an upload's ``cors_origin``)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return {}
    headers = {"Vary": "Origin", "Access-Control-Expose-Headers": EXPOSE_HEADERS}
    if allowed_origin in ("*", origin):
        headers["Access-Control-Allow-Origin"] = origin
    if request.method == "OPTIONS":
        headers.update({"Access-Control-Allow-Methods": ALLOW_METHODS,
                        "Access-Control-Allow-Headers": TUS_ALLOW_HEADERS,
                        "Access-Control-Max-Age": "86400"})
    return headers
