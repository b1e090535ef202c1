"""The ``Mux-Signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

Signed again on every attempt (the timestamp is the attempt's), so receivers that reject signatures
older than five minutes, as the official SDKs do, accept retries sent hours after the event.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Mux-Signature"
SCHEME = "v1"
TOLERANCE = 300.0   # seconds; what @mux/mux-node's verifySignature allows


class SignatureError(ValueError):
    """A ``Mux-Signature`` that is missing, malformed, does not match, or is too old."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The lower-case hex ``v1`` value for ``body`` signed at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The full header value for ``body``, signed now unless ``timestamp`` is given."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={signature(secret, t, body)}"


def verify(header: str, body: bytes, secret: str, *, tolerance: float = TOLERANCE,
           now: float | None = None) -> int:
    """Check ``header`` the way the Mux SDKs do (any of several ``v1`` values may match); returns ``t``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("no timestamp or no v1 signature in the header")
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no signature matches the body")
    if (time.time() if now is None else now) - timestamp > tolerance:
        raise SignatureError("the signature's timestamp is too old")
    return timestamp
