"""HTTP for the CLI: one request over urllib (error statuses are answers, not exceptions) and a retry
loop with exponential backoff that turns "no answer after every retry" into :class:`GatewayUnreachable`."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from upgw.errors import GatewayUnreachable

# statuses worth asking again: the gateway or its Redis/S3 is briefly away, or another request holds the lock
RETRYABLE_STATUSES = frozenset({408, 423, 429, 500, 502, 503, 504})

Notice = Callable[[str], None]


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


def send(method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None,
         timeout: float = 30.0) -> Response:
    """One request. Raises ``OSError`` / ``http.client.HTTPException`` when there is no answer."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
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
