"""S3 part arithmetic: part sizes that fit 10,000 parts, and the plan for concatenating partial uploads."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
MIN_PART = 5 * MiB            # S3: every part but the last is at least this big
MAX_PART = 5 * 1024 * MiB     # S3: no part is bigger
MAX_PARTS = 10_000


def part_size_for(length: int | None, *, max_size: int, preferred: int) -> int:
    """A fixed part size, a whole number of MiB, so that ``length`` (or ``max_size`` when the length is
    deferred) fits in 10,000 parts. Fixed sizes keep the ceiling predictable (and Cloudflare R2 happy)."""
    target = max_size if length is None else length
    needed = -(-target // MAX_PARTS)
    size = max(preferred, MIN_PART, needed)
    size = -(-size // MiB) * MiB
    if size > MAX_PART:
        raise ValueError(f"{target} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB")
    return size


@dataclass(frozen=True)
class Piece:
    source: int   # index of the partial upload
    start: int
    end: int      # exclusive

    @property
    def size(self) -> int:
        return self.end - self.start


def plan_concat(sizes: list[int], *, min_part: int = MIN_PART, max_part: int = MAX_PART) -> list[list[Piece]]:
    """Group the partials' bytes into S3 parts, in order.

    A part made of one piece can be copied server-side (UploadPartCopy); a part made of several pieces
    must be streamed through the gateway. Every part but the last is at least ``min_part`` bytes, none is
    above ``max_part``, and small partials are merged with their neighbours.
    """
    parts: list[list[Piece]] = []
    pending: list[Piece] = []
    pending_size = 0
    for index, size in enumerate(sizes):
        start = 0
        if pending and size:
            take = min(size, min_part - pending_size)
            pending.append(Piece(index, 0, take))
            pending_size += take
            start = take
            if pending_size >= min_part:
                parts.append(pending)
                pending, pending_size = [], 0
        rest = size - start
        is_last = index == len(sizes) - 1
        while rest >= min_part or (is_last and rest > 0 and not pending):
            chunk = min(rest, max_part)
            if rest - chunk and rest - chunk < min_part and not is_last:
                chunk = rest - min_part  # leave a tail big enough to stand as a part of its own
            parts.append([Piece(index, start, start + chunk)])
            start += chunk
            rest -= chunk
        if rest > 0:
            pending.append(Piece(index, start, start + rest))
            pending_size += rest
    if pending:
        parts.append(pending)
    return parts
