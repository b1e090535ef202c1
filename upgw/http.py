"""HTTP for the CLI: one request over urllib (error statuses are answers, not exceptions) and a retry
loop with exponential backoff that turns "no answer after every retry" into :class:`GatewayUnreachable`.

A body is bytes or a binary stream (read as it is sent; give ``Content-Length``). Interim answers
(1xx other than 101, such as the IETF draft's ``104 Upload Resumption Supported``) are skipped:
http.client skips only ``100 Continue`` and would take any other 1xx for the final answer."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from upgw.errors import GatewayUnreachable

# statuses worth asking again: the gateway or its Redis/S3 is briefly away, or another request holds the lock
RETRYABLE_STATUSES = frozenset({408, 423, 429, 500, 502, 503, 504})

Notice = Callable[[str], None]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Backoff:
    retries: int = 5      # attempts after the first one
    first: float = 0.5    # seconds before the first retry; doubles each time
    cap: float = 8.0

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.first * 2**attempt))


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]   # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def error_text(self) -> str:
        """``type: message; message`` from the gateway's ``{"error": ...}`` body, or the raw body."""
        try:
            error = self.json()["error"]
            return f"{error['type']}: {'; '.join(map(str, error['messages']))}"
        except (ValueError, KeyError, TypeError):
            return self.body.decode(errors="replace").strip()[:300]


class _FinalResponse(http.client.HTTPResponse):
    """A response that reads past interim answers (1xx but 101) to the final one."""

    def _read_status(self) -> tuple[str, int, str]:
        while True:   # CPython's status-line reader (private, not in typeshed); begin() itself skips a 100
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            http.client.parse_headers(self.fp)   # the interim answer's header fields: not the response's


def _final_responses(connection_class: Any) -> Callable[..., http.client.HTTPConnection]:
    def connect(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection = connection_class(host, **kwargs)
        connection.response_class = _FinalResponse
        return connection
    return connect


class _HttpHandler(urllib.request.HTTPHandler):
    def do_open(self, http_class: Any, req: urllib.request.Request, **http_conn_args: Any) -> http.client.HTTPResponse:
        return super().do_open(_final_responses(http_class), req, **http_conn_args)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: Any, req: urllib.request.Request, **http_conn_args: Any) -> http.client.HTTPResponse:
        return super().do_open(_final_responses(http_class), req, **http_conn_args)


_OPENER = urllib.request.build_opener(_HttpHandler, _HttpsHandler)


def send(method: str, url: str, *, headers: Mapping[str, str], body: bytes | Readable | None = None,
         timeout: float = 30.0) -> Response:
    """One request. Raises ``OSError`` / ``http.client.HTTPException`` when there is no answer."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def with_retries(attempt: Callable[[], Response], *, backoff: Backoff, notice: Notice, what: str) -> Response:
    """Run ``attempt`` until it gets an answer that is not retryable, sleeping between tries."""
    for n in range(backoff.retries + 1):
        try:
            response = attempt()
        except (OSError, http.client.HTTPException) as exc:
            problem = f"{what}: {describe_failure(exc)}"
        else:
            if response.status not in RETRYABLE_STATUSES:
                return response
            problem = f"{what}: HTTP {response.status} {response.error_text()}".rstrip()
        if n == backoff.retries:
            raise GatewayUnreachable(f"{problem} (gave up after {n + 1} attempts)")
        delay = backoff.delay(n)
        notice(f"{problem}; retrying in {delay:.1f}s")
        time.sleep(delay)
    raise AssertionError("unreachable")
