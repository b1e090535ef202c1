"""Parsing and formatting tus 1.0.0 header values (no I/O)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

from gateway.errors import BadRequest, InvalidHeader

TUS_VERSION = "1.0.0"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
_UINT = re.compile(r"[0-9]{1,19}")
_KEY = re.compile(r"[^\s,]+")


def parse_uint(name: str, value: str | None) -> int | None:
    """A non-negative integer header (``Upload-Offset``, ``Upload-Length``); None when absent."""
    if value is None:
        return None
    value = value.strip()
    if not _UINT.fullmatch(value):
        raise InvalidHeader(f"{name} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def parse_metadata(value: str | None) -> dict[str, bytes]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs; keys unique, value optional.

    An empty header (tuspy sends one when there is no metadata) is no metadata."""
    result: dict[str, bytes] = {}
    if value is None or not value.strip():
        return result
    if not value.isascii():   # keys are ASCII and values base64: anything else is not tus metadata
        raise InvalidHeader("Upload-Metadata must be ASCII: keys, then base64-encoded values")
    for pair in value.split(","):
        pieces = pair.strip().split(" ")
        key = pieces[0]
        if not key or not _KEY.fullmatch(key) or len(pieces) > 2:
            raise InvalidHeader(f"Upload-Metadata has a malformed pair: {pair.strip()[:60]!r}")
        if key in result:
            raise InvalidHeader(f"Upload-Metadata repeats the key {key!r}")
        encoded = pieces[1] if len(pieces) == 2 else ""
        try:
            result[key] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidHeader(f"Upload-Metadata value of {key!r} is not valid base64") from None
    return result


@dataclass(frozen=True)
class ConcatHeader:
    final: bool
    upload_ids: tuple[str, ...] = ()


def parse_concat(value: str | None, base_url: str) -> ConcatHeader | None:
    """``Upload-Concat: partial`` or ``final;<url> <url> ...``: URLs relative to this server, or absolute
    on exactly its ``base_url`` (scheme, host and port); no upload may be listed twice."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii():
        raise InvalidHeader("Upload-Concat must be ASCII")
    base = urlsplit(base_url)
    base_path = base.path
    if value == "partial":
        return ConcatHeader(final=False)
    if not value.startswith("final;"):
        raise InvalidHeader("Upload-Concat must be 'partial' or 'final;<urls>'")
    ids = []
    for url in value[len("final;"):].split():
        try:
            parts = urlsplit(url)
        except ValueError:
            raise InvalidHeader(f"Upload-Concat names {url[:80]!r}, which is not a URL") from None
        if parts.netloc and (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
            raise InvalidHeader(f"Upload-Concat names {url[:80]!r}, which is on another host than this server")
        path = parts.path
        prefix = base_path.rstrip("/") + "/"
        if not path.startswith(prefix) or "/" in path[len(prefix):] or len(path) == len(prefix):
            raise InvalidHeader(f"Upload-Concat names {url[:80]!r}, which is not an upload of this server")
        if path[len(prefix):] in ids:
            raise InvalidHeader(f"Upload-Concat lists {url[:80]!r} more than once")
        ids.append(path[len(prefix):])
    if not ids:
        raise InvalidHeader("Upload-Concat: final needs at least one partial upload URL")
    return ConcatHeader(final=True, upload_ids=tuple(ids))


def http_date(timestamp: float) -> str:
    """RFC 9110 IMF-fixdate, e.g. ``Wed, 25 Jun 2014 16:00:00 GMT``."""
    return formatdate(timestamp, usegmt=True)


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range of a ``size``-byte object as (start, end exclusive); None for the whole.

    Raises BadRequest (mapped to 416 by the caller) when it cannot be satisfied."""
    if value is None:
        return None
    match = re.fullmatch(r"\s*bytes=([0-9]{0,19})-([0-9]{0,19})\s*", value)
    if not match or (not match.group(1) and not match.group(2)):
        return None  # multiple, unknown or absurd ranges: RFC 9110 lets us send the whole representation
    if size == 0:
        raise BadRequest("an empty representation has no ranges")
    first, last = match.group(1), match.group(2)
    if not first:
        length = int(last)
        if length == 0:
            raise BadRequest("empty suffix range")
        return max(0, size - length), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        raise BadRequest(f"range not satisfiable for {size} bytes")
    return start, end
