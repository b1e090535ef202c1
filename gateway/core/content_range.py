"""``Content-Range`` for PUT-resumable uploads (Google Cloud Storage / Mux UpChunk semantics). No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.errors import InvalidHeader

_RANGE = re.compile(r"bytes (?:([0-9]{1,19})-([0-9]{1,19})|\*)/([0-9]{1,19}|\*)")


@dataclass(frozen=True)
class ContentRange:
    start: int | None       # None for a status check (``bytes */N``)
    end: int | None         # inclusive
    total: int | None       # None for ``*`` (length not known yet)

    @property
    def size(self) -> int:
        return 0 if self.start is None or self.end is None else self.end - self.start + 1


def parse_content_range(value: str) -> ContentRange:
    match = _RANGE.fullmatch(value.strip())
    if not match:
        raise InvalidHeader(f"Content-Range must be 'bytes a-b/N', 'bytes a-b/*' or 'bytes */N', got {value[:60]!r}")
    first, last, total = match.groups()
    parsed = ContentRange(
        start=int(first) if first is not None else None,
        end=int(last) if last is not None else None,
        total=None if total == "*" else int(total),
    )
    if parsed.start is not None and parsed.end is not None and parsed.end < parsed.start:
        raise InvalidHeader("Content-Range ends before it starts")
    if parsed.total is not None and parsed.end is not None and parsed.end >= parsed.total:
        raise InvalidHeader("Content-Range goes past its total")
    return parsed


def stored_range(offset: int) -> str | None:
    """The ``Range`` header a 308 carries: what is stored, or None when nothing is."""
    return f"bytes=0-{offset - 1}" if offset > 0 else None
