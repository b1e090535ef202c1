"""What the worker reads back from the rungs ffmpeg's HLS muxer wrote: the RFC 6381 ``CODECS`` of a rung,
from its ``init.mp4``; where a media segment starts, from its ``moof``; its playlist's segments and
EXTINFs, and from those its bandwidth figures (:func:`read_rung`) and the times lower rungs must cut at
(:func:`cut_offsets`). Bytes and local files in; nothing runs.

Why read boxes rather than ask ffprobe: the codec string must carry the exact bytes a player matches
(``avc1.PPCCLL`` is profile, constraint flags and level as the ``avcC`` box holds them; ffprobe reports a
profile name and a level, not the constraint flags), and neither read costs a process on the path to a
playable asset. The tests check the strings against ffprobe's profile and level.

A segment's start is the presentation time of its first video sample: ``tfdt`` (baseMediaDecodeTime)
plus the first sample's composition offset from ``trun``, in the track's timescale (``mdhd``). Only the
head of a segment is needed (the ``moof`` comes first).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workers.media.errors import MediaError

PLAYLIST, INIT = "index.m3u8", "init.mp4"
HEAD_BYTES = 64 * 1024   # enough for any moof ffmpeg writes for one segment of one or two tracks
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf"})
_SAMPLE_ENTRY = {b"avc1": 78, b"avc3": 78, b"hvc1": 78, b"hev1": 78, b"mp4a": 28}   # bytes before children


@dataclass(frozen=True)
class Track:
    id: int
    handler: str       # "vide" or "soun"
    timescale: int
    codec: str | None  # the RFC 6381 string of its sample entry


@dataclass(frozen=True)
class Init:
    tracks: tuple[Track, ...]

    @property
    def video(self) -> Track | None:
        return next((t for t in self.tracks if t.handler == "vide"), None)

    @property
    def codecs(self) -> str:
        """Video first, then audio: ``avc1.64001f,mp4a.40.2``."""
        ordered = sorted(self.tracks, key=lambda t: t.handler != "vide")
        return ",".join(t.codec for t in ordered if t.codec)


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box in ``data[start:end]``; stops at a malformed box."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _find(data: bytes, start: int, end: int, *path: bytes) -> list[tuple[int, int]]:
    """Payload spans of every box at ``path`` below [start, end)."""
    found = [(start, end)]
    for kind in path:
        found = [(s, e) for fs, fe in found for k, s, e in boxes(data, fs, fe) if k == kind]
    return found


def parse_init(data: bytes) -> Init:
    tracks = []
    for start, end in _find(data, 0, len(data), b"moov", b"trak"):
        tkhd = _find(data, start, end, b"tkhd")
        mdhd = _find(data, start, end, b"mdia", b"mdhd")
        hdlr = _find(data, start, end, b"mdia", b"hdlr")
        stsd = _find(data, start, end, b"mdia", b"minf", b"stbl", b"stsd")
        if not (tkhd and mdhd and hdlr):
            continue
        track_id = _field(data, tkhd[0][0], 12, 20)
        timescale = _field(data, mdhd[0][0], 12, 20)
        handler = data[hdlr[0][0] + 8:hdlr[0][0] + 12].decode("latin-1")
        codec = _sample_codec(data, stsd[0][0] + 8, stsd[0][1]) if stsd else None
        tracks.append(Track(track_id, handler, timescale, codec))
    return Init(tuple(tracks))


def _field(data: bytes, payload: int, v0_offset: int, v1_offset: int) -> int:
    """A 32-bit field of a full box whose offset depends on its version (tkhd, mdhd)."""
    offset = payload + (v1_offset if data[payload] == 1 else v0_offset)
    return int(struct.unpack(">I", data[offset:offset + 4])[0])


def _sample_codec(data: bytes, start: int, end: int) -> str | None:
    for kind, payload, box_end in boxes(data, start, end):
        skip = _SAMPLE_ENTRY.get(kind)
        if skip is None:
            continue
        for child, child_start, child_end in boxes(data, payload + skip, box_end):
            if child == b"avcC" and child_end - child_start >= 4:
                profile, flags, level = data[child_start + 1:child_start + 4]
                return f"{kind.decode()}.{profile:02x}{flags:02x}{level:02x}"
            if child == b"esds":
                return _aac_codec(data[child_start + 4:child_end])
        return kind.decode()
    return None


def _aac_codec(descriptors: bytes) -> str:
    """``mp4a.40.<audio object type>`` from an esds' DecoderConfig and DecoderSpecificInfo."""
    pos, object_type, aot = 0, 0x40, 2
    while pos + 2 <= len(descriptors):
        tag = descriptors[pos]
        pos, length = _descriptor_length(descriptors, pos + 1)
        if tag == 3:     # ES_Descriptor: id, flags (and what they add), then nested descriptors
            flags = descriptors[pos + 2]
            pos += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
            if flags & 0x40:
                pos += 1 + descriptors[pos]
            continue
        if tag == 4:     # DecoderConfigDescriptor: objectTypeIndication, then 12 bytes, then children
            object_type = descriptors[pos]
            pos += 13
            continue
        if tag == 5 and length:   # AudioSpecificConfig: 5 bits of object type (31: 6 more follow)
            aot = descriptors[pos] >> 3
            if aot == 31 and pos + 1 < len(descriptors):
                aot = 32 + (((descriptors[pos] & 0x07) << 3) | (descriptors[pos + 1] >> 5))
            break
        pos += length
    return f"mp4a.{object_type:02x}.{aot}" if object_type == 0x40 else f"mp4a.{object_type:02x}"


def _descriptor_length(data: bytes, pos: int) -> tuple[int, int]:
    length = 0
    for _ in range(4):
        byte = data[pos]
        pos += 1
        length = (length << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return pos, length


def segment_start(data: bytes, track_id: int) -> int | None:
    """The presentation time (track timescale) of the first sample of ``track_id`` in a media segment."""
    for start, end in _find(data, 0, len(data), b"moof", b"traf"):
        tfhd = _find(data, start, end, b"tfhd")
        if not tfhd or struct.unpack(">I", data[tfhd[0][0] + 4:tfhd[0][0] + 8])[0] != track_id:
            continue
        tfdt, trun = _find(data, start, end, b"tfdt"), _find(data, start, end, b"trun")
        if not tfdt:
            return None
        at = tfdt[0][0]
        decode = (struct.unpack(">Q", data[at + 4:at + 12])[0] if data[at] == 1
                  else struct.unpack(">I", data[at + 4:at + 8])[0])
        return int(decode) + (_first_offset(data, trun[0][0]) if trun else 0)
    return None


def _first_offset(data: bytes, at: int) -> int:
    """The first sample's composition time offset in a ``trun`` (0 when it carries none)."""
    version, flags = data[at], int.from_bytes(data[at + 1:at + 4], "big")
    if not flags & 0x800 or struct.unpack(">I", data[at + 4:at + 8])[0] == 0:
        return 0
    pos = at + 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    pos += sum(4 for bit in (0x100, 0x200, 0x400) if flags & bit)
    return int(struct.unpack(">i" if version == 1 else ">I", data[pos:pos + 4])[0])


@dataclass(frozen=True)
class Made:
    """A rung as written: its files in upload order (``index.m3u8`` last) and its numbers."""

    files: tuple[str, ...]
    durations: tuple[float, ...]
    bandwidth: int            # the busiest segment's bits per second (of those a second or longer)
    average_bandwidth: int    # all segments' bits over the rung's duration
    codecs: str


def segments(playlist: str) -> list[tuple[str, float]]:
    """(URI, EXTINF seconds) of each segment of a media playlist."""
    found, duration = [], 0.0
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",", 1)[0])
        elif line and not line.startswith("#"):
            found.append((line, duration))
    return found


def read_rung(directory: str) -> Made:
    """Measure a finished rung directory (each segment's size over its EXTINF; the init's codecs)."""
    root = Path(directory)
    listed = segments((root / PLAYLIST).read_text())
    if not listed or any("/" in uri or ":" in uri for uri, _ in listed):
        raise MediaError("internal", "The HLS muxer wrote an unexpected playlist", (root / PLAYLIST).read_text())
    sizes = [(root / uri).stat().st_size for uri, _ in listed]
    durations = tuple(duration for _, duration in listed)
    # a last segment of a few frames would claim a keyframe's bits per second: the peak is taken over
    # segments of at least a second (all of them when none is)
    rated = [(size, duration) for size, duration in zip(sizes, durations, strict=True) if duration >= 1.0]
    peak = max(size * 8 / max(duration, 0.001) for size, duration in rated or zip(sizes, durations, strict=True))
    average = sum(sizes) * 8 / max(sum(durations), 0.001)
    codecs = parse_init((root / INIT).read_bytes()).codecs
    return Made(files=(INIT, *(uri for uri, _ in listed), PLAYLIST), durations=durations,
                bandwidth=round(peak), average_bandwidth=round(average), codecs=codecs)


def cut_offsets(playlist: str, init: bytes, first: bytes, second: bytes | None) -> list[float]:
    """When each segment after the first starts, in seconds after the first one does (the first video
    sample of segments 0 and 1, read from their ``moof``s; then each later EXTINF, which ffmpeg writes as
    the difference of two cut keyframes' times). The first EXTINF is not used: it counts from the first
    packet of any stream, which may be audio."""
    listed = segments(playlist)
    video = parse_init(init).video
    if video is None or second is None or len(listed) < 2:
        return []
    start, next_start = segment_start(first, video.id), segment_start(second, video.id)
    if start is None or next_start is None or video.timescale <= 0:
        raise MediaError("internal", "The top rung's segments have no video timing to align the ladder to")
    offsets = [(next_start - start) / video.timescale]
    for _, duration in listed[1:-1]:
        offsets.append(offsets[-1] + duration)
    return offsets


def head(path: str, size: int = HEAD_BYTES) -> bytes:
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
        return f.read(size)
    return b""
