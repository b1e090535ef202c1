"""Mux's "standard input" rules per `max_resolution_tier`, and `non_standard_input_reasons` (pure).

Source: Mux's "standard input specs" guide and its `non_standard_input_reasons` documentation. The
1440p tier uses the 2160p rules (Mux lists no separate 1440p row). H.264 and HEVC are standard codecs
(Mux's current page); HEVC gets the tighter keyframe limits and may also be `yuv420p10le`.

| rule                    | 1080p tier             | 1440p / 2160p tiers  |
|-------------------------|------------------------|----------------------|
| any dimension           | <= 2048                | <= 4096              |
| keyframe interval       | <= 20 s (HEVC 10 s)    | <= 10 s (HEVC 6 s)   |
| average video bitrate   | <= 8 Mbps              | <= 20 Mbps           |
| any GOP's bitrate       | <= 16 Mbps             | (no rule listed)     |
| average frame rate      | 5-120 fps              | 5-60 fps             |

Every value is one of the documented formats: codec and pixel-format names as ffprobe spells them,
"high", "non-standard", "WxH", "N:D", and frame rates like "240", "2.5" or "-1" (undeterminable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from workers.media.boxes import Edit
from workers.media.gop import GopStats
from workers.media.probe import AudioStream, VideoStream

PIXEL_FORMATS: Mapping[str, frozenset[str]] = {
    "h264": frozenset({"yuv420p", "yuvj420p"}),
    "hevc": frozenset({"yuv420p", "yuvj420p", "yuv420p10le"}),
}
INTERLACED = frozenset({"tt", "bb", "tb", "bt"})
AUDIO_PRIMING_SAMPLES = 4224  # 2 x 2112, the longest AAC encoder delay (HE-AAC at Apple's 2112)
VIDEO_REASONS = frozenset({
    "video_codec", "video_gop_size", "video_frame_rate", "video_resolution", "video_bitrate",
    "pixel_aspect_ratio", "video_edit_list", "unexpected_media_file_parameters", "unsupported_pixel_format",
})


@dataclass(frozen=True)
class TierRules:
    tier: str
    max_dimension: int
    keyframe_interval: Mapping[str, float]
    average_bitrate: float
    gop_bitrate: float | None
    frame_rates: tuple[float, float]


_HD = TierRules("1080p", 2048, {"h264": 20.0, "hevc": 10.0}, 8e6, 16e6, (5.0, 120.0))
_UHD = TierRules("2160p", 4096, {"h264": 10.0, "hevc": 6.0}, 20e6, None, (5.0, 60.0))
TIERS: Mapping[str, TierRules] = {"1080p": _HD, "1440p": replace(_UHD, tier="1440p"), "2160p": _UHD}


def rules_for(tier: str) -> TierRules:
    if tier not in TIERS:
        raise ValueError(f"max_resolution_tier must be one of {', '.join(TIERS)}, not {tier!r}")
    return TIERS[tier]


@dataclass(frozen=True)
class Facts:
    """What the rules look at, gathered by `analysis.py`."""

    video: VideoStream | None
    audio: AudioStream | None
    gop: GopStats | None
    frame_rate: float | None
    video_edits: tuple[Edit, ...] | None
    audio_edits: tuple[Edit, ...] | None


def reasons(facts: Facts, rules: TierRules) -> dict[str, str]:
    found: dict[str, str] = {}
    video, audio, gop = facts.video, facts.audio, facts.gop
    if video is not None and gop is not None:
        found.update(_video_reasons(video, gop, facts.frame_rate, rules))
        if facts.video_edits is not None and _complex(facts.video_edits, gop.discarded > 0, None):
            found["video_edit_list"] = "non-standard"
    if audio is not None:
        if audio.codec != "aac":
            found["audio_codec"] = audio.codec
        if facts.audio_edits is not None and _complex(facts.audio_edits, False, audio.sample_rate):
            found["audio_edit_list"] = "non-standard"
    return found


def _video_reasons(video: VideoStream, gop: GopStats, frame_rate: float | None,
                   rules: TierRules) -> dict[str, str]:
    found: dict[str, str] = {}
    if video.codec not in PIXEL_FORMATS:
        found["video_codec"] = video.codec
    if gop.max_interval > rules.keyframe_interval.get(video.codec, rules.keyframe_interval["h264"]):
        found["video_gop_size"] = "high"
    low, high = rules.frame_rates
    if frame_rate is None or not low <= frame_rate <= high:
        found["video_frame_rate"] = format_rate(frame_rate)
    if max(video.width, video.height) > rules.max_dimension:
        found["video_resolution"] = f"{video.width}x{video.height}"
    average = video.bit_rate if video.bit_rate is not None and gop.span >= 1.0 else gop.average_bitrate
    if average > rules.average_bitrate or (rules.gop_bitrate is not None and gop.max_bitrate > rules.gop_bitrate):
        found["video_bitrate"] = "high"
    sar = video.sample_aspect_ratio
    if sar is not None and sar != 1:
        found["pixel_aspect_ratio"] = f"{sar.numerator}:{sar.denominator}"
    if gop.open_gop or video.field_order in INTERLACED:
        found["unexpected_media_file_parameters"] = "non-standard"
    allowed = PIXEL_FORMATS.get(video.codec, PIXEL_FORMATS["h264"])
    if video.pix_fmt is not None and video.pix_fmt not in allowed:
        found["unsupported_pixel_format"] = video.pix_fmt
    return found


def format_rate(rate: float | None) -> str:
    """240.0 -> "240", 2.5 -> "2.5", 30000/1001 -> "29.97", None -> "-1"."""
    if rate is None:
        return "-1"
    return f"{rate:.2f}".rstrip("0").rstrip(".")


def _complex(edits: tuple[Edit, ...], discards_video: bool, sample_rate: int | None) -> bool:
    """A simple list is: optional leading empty edits (a start delay), then at most one edit at normal
    speed that starts the media no later than its decoder delay (B-frame reordering for video, which
    discards no packet; encoder priming for audio). Anything else is complex."""
    rest = list(edits)
    while rest and rest[0].media_time is None:
        rest.pop(0)
    if not rest:
        return False
    if len(rest) > 1 or rest[0].media_time is None or abs(rest[0].rate - 1.0) > 1e-6:
        return True
    if sample_rate is None:  # video
        return discards_video
    return rest[0].media_time > AUDIO_PRIMING_SAMPLES / sample_rate if sample_rate > 0 else False
