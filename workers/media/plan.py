"""What a source becomes once stored (pure): the dimensions, frame rate and resolution tier an Asset
reports, and which streams `standardise` re-encodes.

A standard input is stored as it is (`remux`). A non-standard one goes through `standardise`:

- video is re-encoded unless every reason is about audio (then it is copied); the picture is shown as
  it would be displayed (rotation applied, pixels made square) and scaled down, never up, so its long
  side is at most LONG_SIDE[tier] (Mux's `scale=w=min(iw\\,1920):h=-2`, made safe for portrait video),
  with even dimensions; interlaced video is deinterlaced; a flagged frame rate becomes 30 fps (Mux:
  "outside -> standardized to 30 fps").
- audio is copied when it is AAC and no audio reason is flagged, else encoded to AAC.

`resolution_tier` follows the stored picture's pixel count (720p up to 1280x720 pixels, 1080p up to
1920x1080, 1440p up to 2560x1440, else 2160p; nothing lower than 720p), capped at the requested tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from workers.media.probe import AudioStream, VideoStream
from workers.media.rules import INTERLACED, VIDEO_REASONS

LONG_SIDE: Mapping[str, int] = {"1080p": 1920, "1440p": 2560, "2160p": 4096}
STANDARD_FRAME_RATE = 30.0
_TIER_PIXELS = (("720p", 1280 * 720), ("1080p", 1920 * 1080), ("1440p", 2560 * 1440))
_TIER_ORDER = ("720p", "1080p", "1440p", "2160p")


@dataclass(frozen=True)
class Plan:
    """How `standardise` converts a source (dimensions and rate are those of the video it writes)."""

    width: int
    height: int
    frame_rate: float | None
    copy_video: bool
    copy_audio: bool
    deinterlace: bool
    resize: bool
    force_frame_rate: float | None


def display_size(video: VideoStream) -> tuple[Fraction, Fraction]:
    """The picture as shown: square pixels (SAR applied to the width), then rotated."""
    width = Fraction(video.width) * (video.sample_aspect_ratio or Fraction(1))
    height = Fraction(video.height)
    return (height, width) if video.rotation in (90, 270) else (width, height)


def aspect_ratio(video: VideoStream) -> str | None:
    width, height = display_size(video)
    if width <= 0 or height <= 0:
        return None
    ratio = width / height
    return f"{ratio.numerator}:{ratio.denominator}"


def standardise_plan(video: VideoStream | None, audio: AudioStream | None, reasons: Mapping[str, str],
                     tier: str, frame_rate: float | None) -> Plan:
    copy_audio = audio is not None and audio.codec == "aac" and not {"audio_codec", "audio_edit_list"} & reasons.keys()
    if video is None:
        return Plan(0, 0, None, False, copy_audio, False, False, None)
    width, height = display_size(video)
    if bool(reasons) and not VIDEO_REASONS & reasons.keys():  # only audio is non-standard
        return Plan(int(width), int(height), frame_rate, True, copy_audio, False, False, None)
    scale = min(Fraction(1), Fraction(LONG_SIDE[tier]) / max(width, height, Fraction(1)))
    out_width, out_height = _even(width * scale), _even(height * scale)
    force = STANDARD_FRAME_RATE if "video_frame_rate" in reasons else None
    coded = (video.height, video.width) if video.rotation in (90, 270) else (video.width, video.height)
    return Plan(out_width, out_height, force or frame_rate, False, copy_audio, video.field_order in INTERLACED,
                (out_width, out_height) != coded, force)


def stored_size(video: VideoStream, plan: Plan, standard: bool) -> tuple[int, int]:
    if standard:
        width, height = display_size(video)
        return round(width), round(height)
    return plan.width, plan.height


def resolution_tier(width: int, height: int, max_tier: str) -> str:
    pixels = width * height
    tier = next((name for name, limit in _TIER_PIXELS if pixels <= limit), "2160p")
    return min(tier, max_tier, key=_TIER_ORDER.index)


def _even(value: Fraction) -> int:
    return max(2, 2 * round(value / 2))
