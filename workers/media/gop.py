"""Keyframe intervals, per-GOP bitrates and open GOPs, measured from a stream's packets (pure).

Packets come in decode order from `ffprobe -show_packets`, one list per scanned window. Packets the
container's edit list discards (flag `D`) are counted and otherwise left out.

- interval: keyframe to next keyframe (presentation times); the last keyframe of a window counts up to
  the window's last packet, so a file with one keyframe in 30 s has a 30 s interval.
- GOP bitrate: a GOP's bytes over its duration. GOPs shorter than MIN_SPAN are merged with the next one
  (a short trailing one with the previous), so a lone I-frame at the end is not read as a burst, and a
  window shorter than MIN_SPAN is measured over MIN_SPAN.
- open GOP: a keyframe followed, before the next keyframe, by a packet presented before it (leading
  pictures that reference the previous GOP). In a closed GOP every later packet is presented after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_SPAN = 1.0
EPSILON = 1e-6


@dataclass(frozen=True)
class Packet:
    pts: float | None
    duration: float
    size: int
    key: bool
    discard: bool


@dataclass(frozen=True)
class GopStats:
    keyframes: int
    max_interval: float
    max_bitrate: float
    average_bitrate: float
    open_gop: bool
    discarded: int
    packets: int
    span: float

    @property
    def frame_rate(self) -> float | None:
        """Packets per second over the scanned span (None when too little was seen)."""
        return self.packets / self.span if self.packets > 1 and self.span > 0 else None


@dataclass(frozen=True)
class _Gop:
    start: float
    end: float
    bits: int


def measure(windows: Sequence[Sequence[Packet]]) -> GopStats:
    keyframes = discarded = packets = 0
    max_interval = max_bitrate = 0.0
    open_gop = False
    bits = 0
    span = 0.0
    for window in windows:
        discarded += sum(1 for p in window if p.discard)
        shown = [p for p in window if not p.discard and p.pts is not None]
        if not shown:
            continue
        packets += len(shown)
        bits += 8 * sum(p.size for p in shown)
        end = max(_pts(p) + p.duration for p in shown)
        span += end - min(_pts(p) for p in shown)
        gops = _gops(shown, end)
        keyframes += len(gops)
        open_gop = open_gop or _has_open_gop(shown)
        if not gops:  # no keyframe at all in this window
            max_interval = max(max_interval, end - min(_pts(p) for p in shown))
            continue
        max_interval = max(max_interval, *(g.end - g.start for g in gops))
        max_bitrate = max(max_bitrate, *(g.bits / max(g.end - g.start, MIN_SPAN) for g in _merged(gops)))
    return GopStats(keyframes=keyframes, max_interval=max_interval, max_bitrate=max_bitrate,
                    average_bitrate=bits / max(span, MIN_SPAN), open_gop=open_gop, discarded=discarded,
                    packets=packets, span=span)


def _pts(packet: Packet) -> float:
    assert packet.pts is not None
    return packet.pts


def _gops(shown: Sequence[Packet], end: float) -> list[_Gop]:
    starts = [i for i, p in enumerate(shown) if p.key]
    gops = []
    for n, first in enumerate(starts):
        last = starts[n + 1] if n + 1 < len(starts) else len(shown)
        gop_end = _pts(shown[last]) if last < len(shown) else end
        gops.append(_Gop(_pts(shown[first]), gop_end, 8 * sum(p.size for p in shown[first:last])))
    return gops


def _merged(gops: Sequence[_Gop]) -> list[_Gop]:
    merged: list[_Gop] = []
    pending: _Gop | None = None
    for gop in gops:
        pending = gop if pending is None else _Gop(pending.start, gop.end, pending.bits + gop.bits)
        if pending.end - pending.start >= MIN_SPAN:
            merged.append(pending)
            pending = None
    if pending is not None:
        if merged:
            last = merged.pop()
            pending = _Gop(last.start, pending.end, last.bits + pending.bits)
        merged.append(pending)
    return merged


def _has_open_gop(shown: Sequence[Packet]) -> bool:
    key_pts: float | None = None
    for packet in shown:
        if packet.key:
            key_pts = _pts(packet)
        elif key_pts is not None and _pts(packet) < key_pts - EPSILON:
            return True
    return False
