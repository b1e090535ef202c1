"""`analyse(source)`: everything an Asset needs from a source, and whether Mux would call it standard.

Two ffprobe runs side by side (streams and format; the packets of the first FULL_SCAN seconds of the
video stream), then, for MP4/MOV, a walk of the `moov` boxes for edit lists. Longer files get two more
WINDOW-second windows (middle and end), each longer than every tier's keyframe limit. Audio-only files
have their audio packets scanned instead (that is where truncation shows).

Asset fields describe what is stored: the source itself when it is standard, else what `standardise`
writes (for a 4K source at the 1080p tier: tracks of 1920x1080, `resolution_tier` "1080p", and
`non_standard_input_reasons` saying `video_resolution: "3840x2160"`, like Mux's own example).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workers.media import plan as planning
from workers.media import probe
from workers.media.boxes import MOV_FAMILY, Edit, edit_lists
from workers.media.errors import MediaError
from workers.media.gop import GopStats, measure
from workers.media.plan import Plan
from workers.media.probe import AudioStream, Container, VideoStream
from workers.media.rules import Facts, TierRules, reasons, rules_for
from workers.media.source import Source, open_reader

FULL_SCAN = 180.0
WINDOW = 60.0
A = TypeVar("A")
B = TypeVar("B")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Analysis:
    duration: float
    aspect_ratio: str | None  # None without video
    resolution_tier: str
    max_stored_frame_rate: float | None  # None without video, -1 when undeterminable
    tracks: list[dict[str, Any]]
    non_standard_input_reasons: dict[str, str] | None
    is_standard: bool
    tier: str
    container: Container
    video: VideoStream | None
    audio: AudioStream | None
    gop: GopStats | None
    frame_rate: float | None  # the source's average frame rate
    plan: Plan
    edit_lists: dict[int, tuple[Edit, ...]] = field(default_factory=dict)

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def to_asset_fields(self) -> dict[str, Any]:
        """The Mux Asset keys this analysis fills."""
        fields: dict[str, Any] = {"duration": self.duration, "resolution_tier": self.resolution_tier,
                                  "tracks": [dict(track) for track in self.tracks]}
        if self.aspect_ratio is not None:
            fields["aspect_ratio"] = self.aspect_ratio
        if self.max_stored_frame_rate is not None:
            fields["max_stored_frame_rate"] = self.max_stored_frame_rate
        if self.non_standard_input_reasons:
            fields["non_standard_input_reasons"] = dict(self.non_standard_input_reasons)
        return fields


async def analyse(source: str, *, tier: str = "1080p", timeout: float = 120,
                  memory_limit: int = probe.MEMORY_LIMIT) -> Analysis:
    """Probe `source` (a local path or an http(s) URL) against the rules of `tier`; each ffprobe run may
    use `memory_limit` bytes of address space (see `probe`)."""
    rules = rules_for(tier)
    parsed = Source.parse(source)
    parsed.check_local()
    try:
        async with asyncio.timeout(timeout):
            return await _analyse(parsed, rules, memory_limit)
    except TimeoutError as exc:
        raise MediaError("timeout", f"Analysing the input file took longer than {timeout:g} s") from exc


async def _analyse(source: Source, rules: TierRules, memory_limit: int) -> Analysis:
    # The first FULL_SCAN seconds of video are scanned while the streams are described.
    described, head = await _together(probe.describe(source, memory_limit=memory_limit),
                                      probe.scan(source, "V:0", [(0.0, FULL_SCAN)], memory_limit=memory_limit))
    container, video, audio = described.container, described.video, described.audio
    _check_streams(video, audio)
    duration = container.duration or max((s.duration or 0.0 for s in (video, audio) if s is not None), default=0.0)
    streams = "V:0" if video is not None else "a:0"
    if video is None:
        head = await probe.scan(source, streams, [(0.0, FULL_SCAN)], memory_limit=memory_limit)
    later = sorted({max(FULL_SCAN, start) for start in (duration / 2 - WINDOW / 2, duration - WINDOW)
                    if duration > FULL_SCAN})
    gop = measure(head + await probe.scan(source, streams, [(start, WINDOW) for start in later],
                                          memory_limit=memory_limit))
    if gop.packets == 0:
        raise MediaError("invalid_input", "No decodable video or audio stream found")
    edits = await _edit_lists(source, container)
    frame_rate = (video.frame_rate or gop.frame_rate) if video is not None else None
    facts = Facts(video=video, audio=audio, gop=gop if video is not None else None, frame_rate=frame_rate,
                  video_edits=_edits_of(edits, video), audio_edits=_edits_of(edits, audio))
    found = reasons(facts, rules)
    plan = planning.standardise_plan(video, audio, found, rules.tier, frame_rate)
    duration = duration or gop.span
    tracks: list[dict[str, Any]] = []
    resolution_tier, stored_rate = "audio-only", None
    if video is not None:
        width, height = planning.stored_size(video, plan, not found)
        stored = frame_rate if not found else plan.frame_rate
        stored_rate = round(stored, 3) if stored else -1.0
        resolution_tier = planning.resolution_tier(width, height, rules.tier)
        tracks.append({"type": "video", "id": _track_id(video, container), "max_width": width,
                       "max_height": height, "max_frame_rate": stored_rate, "duration": video.duration or duration})
    if audio is not None:
        tracks.append(_audio_track(audio, container, duration))
    return Analysis(
        duration=duration, aspect_ratio=planning.aspect_ratio(video) if video is not None else None,
        resolution_tier=resolution_tier, max_stored_frame_rate=stored_rate, tracks=tracks,
        non_standard_input_reasons=found or None, is_standard=not found, tier=rules.tier, container=container,
        video=video, audio=audio, gop=facts.gop, frame_rate=frame_rate, plan=plan, edit_lists=edits)


def _check_streams(video: VideoStream | None, audio: AudioStream | None) -> None:
    if video is None and audio is None:
        raise MediaError("invalid_input", "No decodable video or audio stream found")
    if video is not None and (not video.codec or video.width <= 0 or video.height <= 0):
        raise MediaError("invalid_input", "The video stream cannot be decoded")
    if audio is not None and not audio.codec:
        raise MediaError("invalid_input", "The audio stream cannot be decoded")


def _audio_track(audio: AudioStream, container: Container, duration: float) -> dict[str, Any]:
    track: dict[str, Any] = {"type": "audio", "id": _track_id(audio, container), "max_channels": audio.channels,
                             "duration": audio.duration or duration}
    if audio.channel_layout:
        track["max_channel_layout"] = audio.channel_layout.partition("(")[0]  # "5.1(side)" -> "5.1"
    track["primary"] = True
    return track


async def _together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both results; if either fails, the other is cancelled (its process killed) before raising."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.wait((one, two), return_when=asyncio.FIRST_EXCEPTION)
        for task in (one, two):
            if task.done() and task.exception() is not None:
                await task  # raises it
        return one.result(), two.result()
    finally:
        for task in (one, two):
            task.cancel()
        await asyncio.gather(one, two, return_exceptions=True)


async def _edit_lists(source: Source, container: Container) -> dict[int, tuple[Edit, ...]]:
    if container.format_name != MOV_FAMILY:
        return {}
    async with open_reader(source) as reader:
        return await edit_lists(reader)


def _edits_of(edits: dict[int, tuple[Edit, ...]], stream: VideoStream | AudioStream | None) -> tuple[Edit, ...] | None:
    if stream is None or stream.track_id is None:
        return None
    return edits.get(stream.track_id)


def _track_id(stream: VideoStream | AudioStream, container: Container) -> str:
    """Deterministic per file and stream (a digest of the stream's and container's probe values): the same
    file always gets the same ids. Not secret and not guaranteed unique across files."""
    seed = f"{stream!r}:{container!r}"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:18], "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)
