"""HTTP plumbing shared by the protocol modules: the one error-to-response mapping, request ids, CORS."""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

from gateway.body import settle
from gateway.errors import ClientGone, GatewayError, StorageUnavailable, Unavailable

log = logging.getLogger("gateway.http")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
upload_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("upload_id", default="")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BACKEND_ERROR = "backend_error"   # request key: which backend failed ("redis" / "storage"), for metrics


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
        response = await handler(request)
    except GatewayError as exc:
        if isinstance(exc, StorageUnavailable):
            request[BACKEND_ERROR] = "storage"
        response = error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(_from_http_exception(exc))
    except RedisError as exc:
        request[BACKEND_ERROR] = "redis"
        log.warning("request.redis_error", extra={"error": repr(exc)})
        response = error_response(Unavailable("the state store (Redis) is unavailable; retry shortly",
                                              headers={"Retry-After": "1"}))
    except ConnectionError as exc:   # the client hung up: ordinary, not a server fault
        log.info("request.client_gone", extra={"error": exc.__class__.__name__})
        response = error_response(ClientGone("the client closed the connection"))
    except Exception:
        log.exception("request.failed", extra={"method": request.method, "path": request.path})
        response = error_response(GatewayError("internal error; the request id is " + request_id))
    await settle(request, response)   # bounded: drain what is left of the body, or close after answering
    response.headers.setdefault("X-Request-ID", request_id)
    log.info("request", extra={"method": request.method, "path": request.path, "status": response.status,
                               "ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def _from_http_exception(exc: web.HTTPException) -> GatewayError:
    keep = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    error = GatewayError(exc.reason, headers=keep)
    error.status = exc.status
    error.type = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "invalid_request")
    return error


TUS_ALLOW_HEADERS = (
    "Authorization, Origin, X-Requested-With, X-Request-ID, X-HTTP-Method-Override, Content-Type, "
    "Content-Range, Upload-Length, Upload-Offset, Tus-Resumable, Upload-Metadata, Upload-Defer-Length, "
    "Upload-Concat, Upload-Checksum, Upload-Complete, Upload-Draft-Interop-Version"
)
EXPOSE_HEADERS = (
    "Upload-Offset, Location, Upload-Length, Tus-Version, Tus-Resumable, Tus-Max-Size, Tus-Extension, "
    "Tus-Checksum-Algorithm, Upload-Metadata, Upload-Defer-Length, Upload-Concat, Upload-Expires, "
    "Upload-Complete, Range, Content-Range, X-Request-ID"
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
