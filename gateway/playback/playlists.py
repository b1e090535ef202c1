"""HLS playlists, pure: the multivariant playlist written from an asset's ladder, and a stored media
playlist's URIs made to carry a signed id's token. No I/O here (gateway/playback/stream.py serves them).

The multivariant playlist lists the READY rungs only, each by a URI relative to the playlist itself
(``<pid>/<rung>/index.m3u8``: under ``/stream/<pid>.m3u8`` and under ``stream.<domain>/<pid>.m3u8``
alike). Mux's playback modifiers:

    max_resolution, min_resolution   270p 360p 480p 540p 720p 1080p 1440p 2160p (anything else: 400).
                                     A rung is kept when its tier (the number in its name, 720 for
                                     ``720p``) is within the bounds. When the bounds leave no video rung,
                                     the one rung closest to them is kept (the lowest for a maximum below
                                     the ladder, the highest for a minimum above it), as Mux delivers the
                                     nearest rendition rather than failing; min above max is 400.
    rendition_order                  ``desc``: highest first. Otherwise (absent, ``default``) lowest
                                     first, so a player that starts on the first variant starts fast.

A signed id may carry these modifiers as claims of its token instead (stream.py merges them, the
claims winning over the query).

An audio-only rung (``audio``, no resolution) is listed with audio codecs only and no RESOLUTION, and
no resolution bound removes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from gateway.catalog.models import Rung, RungStatus
from gateway.errors import BadRequest

RESOLUTIONS = ("270p", "360p", "480p", "540p", "720p", "1080p", "1440p", "2160p")
ORDERS = ("default", "desc")
MODIFIERS = ("max_resolution", "min_resolution", "rendition_order")
MAP_URI = re.compile(r'(#EXT-X-MAP:.*?URI=")([^"]*)(")')
Carry = Callable[[str], str]   # a URI as a player must fetch it (a signed id's token appended)


def tier(rung: Rung) -> int | None:
    """The rung's resolution tier, 720 for ``720p``; None for an audio-only rung."""
    return int(rung.name[:-1]) if rung.name.endswith("p") and rung.name[:-1].isdigit() else None


def _bound(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if value not in RESOLUTIONS:
        raise BadRequest(f"{name} must be one of {', '.join(RESOLUTIONS)}, not {value[:32]!r}")
    return int(value[:-1])


def select(rungs: Iterable[Rung], query: Mapping[str, str]) -> list[Rung]:
    """The READY rungs the query's ``max_resolution``, ``min_resolution`` and ``rendition_order`` leave,
    in the order they are listed."""
    highest, lowest = _bound(query, "max_resolution"), _bound(query, "min_resolution")
    order = query.get("rendition_order", "default")
    if order not in ORDERS:
        raise BadRequest(f"rendition_order must be one of {', '.join(ORDERS)}, not {order[:32]!r}")
    if highest is not None and lowest is not None and lowest > highest:
        raise BadRequest("min_resolution is above max_resolution")
    ready = [r for r in rungs if r.status is RungStatus.READY and r.bandwidth]
    video = sorted((r for r in ready if tier(r) is not None), key=lambda r: (tier(r) or 0, r.bandwidth or 0))
    audio = [r for r in ready if tier(r) is None]
    kept = [r for r in video if (highest is None or (tier(r) or 0) <= highest)
            and (lowest is None or (tier(r) or 0) >= lowest)]
    if video and not kept:   # the bounds miss the ladder: the nearest rung, not an empty playlist
        kept = [video[0]] if highest is not None and (tier(video[0]) or 0) > highest else [video[-1]]
    listed = kept + audio
    return listed[::-1] if order == "desc" else listed


def _attributes(rung: Rung) -> str:
    parts = [f"BANDWIDTH={rung.bandwidth}"]
    if rung.average_bandwidth:
        parts.append(f"AVERAGE-BANDWIDTH={rung.average_bandwidth}")
    if rung.codecs:
        parts.append(f'CODECS="{rung.codecs}"')
    if tier(rung) is not None and rung.width and rung.height:
        parts.append(f"RESOLUTION={rung.width}x{rung.height}")
        if rung.frame_rate:
            parts.append(f"FRAME-RATE={rung.frame_rate:.3f}")
    return ",".join(parts)


def multivariant(playback_id: str, rungs: Sequence[Rung], carry: Carry) -> bytes:
    """The multivariant playlist listing ``rungs`` (as :func:`select` leaves them)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in rungs:
        lines += [f"#EXT-X-STREAM-INF:{_attributes(rung)}", carry(f"{playback_id}/{rung.name}/index.m3u8")]
    return ("\n".join(lines) + "\n").encode()


def carry_tokens(playlist: bytes, carry: Carry) -> bytes:
    """A media playlist with every URI (segment lines and EXT-X-MAP's URI) passed through ``carry``."""
    out: list[str] = []
    for line in playlist.decode("utf-8", errors="replace").splitlines():
        if line.startswith("#EXT-X-MAP:"):
            line = MAP_URI.sub(lambda m: m.group(1) + carry(m.group(2)) + m.group(3), line)
        elif line.strip() and not line.startswith("#"):
            line = carry(line.strip())
        out.append(line)
    return ("\n".join(out) + "\n").encode()
