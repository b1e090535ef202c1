"""Edit lists (`elst` boxes) read from an MP4/MOV `moov`, with a small bounded box walk.

ffprobe's JSON has no edit-list field, so the worker reads the boxes itself: top-level box headers up to
`moov`, then `mvhd` (movie timescale) and, per `trak`, `tkhd` (track ID), `edts/elst` and `mdia/mdhd`
(media timescale). Only headers and these small boxes are read: the sample tables (`stbl`) and `mdat` are
skipped over, so a remote source costs a few Range requests. At most MAX_BOXES headers are visited and
MAX_EDITS entries read per list; a malformed box ends the walk with what was found so far.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass

from workers.media.source import ByteReader

MAX_BOXES = 4096
MAX_EDITS = 1024
MOV_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class Edit:
    """One edit-list entry, in seconds. `media_time` is None for an empty edit (a delay)."""

    duration: float
    media_time: float | None
    rate: float


class _Walk:
    def __init__(self, reader: ByteReader) -> None:
        self.reader = reader
        self.visited = 0

    async def children(self, start: int, end: int) -> AsyncGenerator[tuple[bytes, int, int], None]:
        """(type, payload start, box end) for each box in [start, end)."""
        pos = start
        while pos + 8 <= end and self.visited < MAX_BOXES:
            self.visited += 1
            head = await self.reader.read(pos, 16)
            if len(head) < 8:
                return
            size, kind = struct.unpack(">I4s", head[:8])
            header = 8
            if size == 1 and len(head) == 16:
                size, header = struct.unpack(">Q", head[8:16])[0], 16
            elif size == 0:
                size = end - pos
            if size < header or pos + size > end:
                return
            yield kind, pos + header, pos + size
            pos += size

    async def payload(self, start: int, end: int, limit: int) -> bytes:
        return await self.reader.read(start, min(end - start, limit))


def _timescale(payload: bytes) -> int:
    """Timescale of an `mvhd` or `mdhd` payload (version 0 or 1)."""
    offset = 20 if payload[:1] == b"\x01" else 12
    return int(struct.unpack(">I", payload[offset:offset + 4])[0]) if len(payload) >= offset + 4 else 0


def _track_id(payload: bytes) -> int:
    offset = 20 if payload[:1] == b"\x01" else 12
    return int(struct.unpack(">I", payload[offset:offset + 4])[0]) if len(payload) >= offset + 4 else 0


def _entries(payload: bytes) -> list[tuple[int, int, float]]:
    """(segment duration, media time, rate) raw entries of an `elst` payload."""
    if len(payload) < 8:
        return []
    wide = payload[0] == 1
    count = min(struct.unpack(">I", payload[4:8])[0], MAX_EDITS)
    layout, step = (">Qqhh", 20) if wide else (">Iihh", 12)
    entries = []
    for i in range(count):
        chunk = payload[8 + i * step:8 + (i + 1) * step]
        if len(chunk) < step:
            break
        duration, media_time, rate_int, rate_frac = struct.unpack(layout, chunk)
        entries.append((duration, media_time, rate_int + rate_frac / 65536))
    return entries


async def edit_lists(reader: ByteReader) -> dict[int, tuple[Edit, ...]]:
    """Track ID -> its edit list (tracks without `edts` are left out)."""
    walk = _Walk(reader)
    async with aclosing(walk.children(0, reader.size)) as boxes:
        async for kind, start, end in boxes:
            if kind == b"moov":
                return await _moov(walk, start, end)
    return {}


async def _moov(walk: _Walk, start: int, end: int) -> dict[int, tuple[Edit, ...]]:
    movie_scale = 0
    raw: dict[int, tuple[list[tuple[int, int, float]], int]] = {}
    async for kind, payload_start, box_end in walk.children(start, end):
        if kind == b"mvhd":
            movie_scale = _timescale(await walk.payload(payload_start, box_end, 32))
        elif kind == b"trak":
            track_id, entries, media_scale = await _trak(walk, payload_start, box_end)
            if entries is not None:
                raw[track_id] = (entries, media_scale)
    result = {}
    for track_id, (entries, media_scale) in raw.items():
        if movie_scale <= 0 or media_scale <= 0:
            continue
        result[track_id] = tuple(
            Edit(duration / movie_scale, None if media_time == -1 else media_time / media_scale, rate)
            for duration, media_time, rate in entries)
    return result


async def _trak(walk: _Walk, start: int, end: int) -> tuple[int, list[tuple[int, int, float]] | None, int]:
    track_id, entries, media_scale = 0, None, 0
    async for kind, payload_start, box_end in walk.children(start, end):
        if kind == b"tkhd":
            track_id = _track_id(await walk.payload(payload_start, box_end, 32))
        elif kind == b"edts":
            async for inner, elst_start, elst_end in walk.children(payload_start, box_end):
                if inner == b"elst":
                    entries = _entries(await walk.payload(elst_start, elst_end, 8 + MAX_EDITS * 20))
        elif kind == b"mdia":
            async for inner, mdhd_start, mdhd_end in walk.children(payload_start, box_end):
                if inner == b"mdhd":
                    media_scale = _timescale(await walk.payload(mdhd_start, mdhd_end, 32))
    return track_id, entries, media_scale
