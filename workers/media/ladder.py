"""The HLS ladder of an asset (pure): which rungs are made, their sizes, frame rates and bitrate targets.

A rung is named after the short side of its picture, as Mux's ``max_resolution`` values are: ``720p`` is
1280x720 for landscape video and 720x1280 for portrait (the short side is what "720p" means to a viewer
of either), ``audio`` is the one rung of an audio-only asset.

The rungs of a video are the **source rung** (the stored master's size, which is already capped to the
asset's ``max_resolution_tier``) plus every configured height (``playback.ladder``, by default 1080, 720,
480, 360 and 270) strictly below the source's short side and within the tier. Never a rung above the
source: a 640x360 clip has one rung, ``360p``.

- Sizes keep the master's aspect ratio with even dimensions (H.264 4:2:0 needs them).
- Frame rates are capped at MAX_FRAME_RATE (60). Lower rungs are not halved to 30 fps: keeping every frame
  of the master keeps each forced keyframe on the very frame where the top rung's segment starts.
- Bitrates are a ceiling (``-maxrate``; constant quality below it), per short side from BITRATE_KBPS, a
  ladder in the range of Apple's HLS authoring table and Livepeer's defaults (720p 3 Mbps against their 3-4.5,
  360p 800 kbps against 730 kbps-1 Mbps). A height not in the table gets the 1080p rate scaled by
  (pixels ratio) ** 0.75, the usual rule that bits grow slower than pixels.

The source rung is copied from the master (``copy``) when the master's video can be served as it is (see
:func:`can_copy`); otherwise it is encoded like the others, at the master's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

AUDIO = "audio"
MAX_FRAME_RATE = 60.0
TIER_HEIGHT: Mapping[str, int] = {"1080p": 1080, "1440p": 1440, "2160p": 2160}
BITRATE_KBPS: Mapping[int, int] = {
    2160: 15000, 1440: 9000, 1080: 5000, 720: 3000, 540: 2000, 480: 1400, 360: 800, 270: 450, 240: 350, 144: 200}
AUDIO_KBPS = 128   # only the audio rung's nominal figure; audio is copied, never re-encoded
COPY_GOP_SEGMENTS = 3   # a copied rung's segments are cut at its keyframes: at most this many segments apart
COPY_CODECS = frozenset({"h264"})


@dataclass(frozen=True)
class RungPlan:
    """One rung to make: its name, picture (0x0 for audio), frame rate cap and bitrate ceiling."""

    name: str
    width: int
    height: int
    frame_rate: float | None   # the rung's rate (the master's, capped); None for audio or unknown
    kbps: int
    copy: bool = False
    fps: float | None = None   # the rate frames are resampled to: only for a master above the cap

    @classmethod
    def video(cls, name: str, width: int, height: int, master_rate: float | None, copy: bool = False) -> RungPlan:
        """A video rung of a master at ``master_rate`` (frames kept as they are unless it is above the cap)."""
        rate = capped_rate(master_rate)
        fps = rate if rate is not None and master_rate is not None and master_rate > MAX_FRAME_RATE else None
        return cls(name, width, height, rate, bitrate_kbps(width, height), copy=copy, fps=fps)

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def rung_name(width: int, height: int) -> str:
    """``<short side>p``: 1280x720 and 720x1280 are both ``720p``."""
    return f"{min(width, height)}p"


def short_side_of(name: str) -> int | None:
    """720 for ``720p``; None for ``audio`` (or a name that is not a rung's)."""
    return int(name[:-1]) if name.endswith("p") and name[:-1].isdigit() else None


def bitrate_kbps(width: int, height: int) -> int:
    """The rung's bitrate ceiling: the table's figure for its short side, else scaled from 1080p."""
    short = min(width, height)
    if short in BITRATE_KBPS:
        return BITRATE_KBPS[short]
    scale: float = (width * height / (1920 * 1080)) ** 0.75
    return max(100, round(BITRATE_KBPS[1080] * scale))


def capped_rate(frame_rate: float | None) -> float | None:
    if frame_rate is None or frame_rate <= 0:
        return None
    return min(frame_rate, MAX_FRAME_RATE)


def scaled(width: int, height: int, short: int) -> tuple[int, int]:
    """The master's picture scaled so its short side is ``short``, both sides even."""
    short = _even(short)
    if width >= height:
        return _even(width * short / height), short
    return short, _even(height * short / width)


def can_copy(codec: str, rotation: int, frame_rate: float | None, max_keyframe_interval: float,
             segment_duration: float) -> bool:
    """Whether the master's video can be the source rung as it is (stream copy, no quality lost, seconds
    instead of minutes): H.264 (every HLS player decodes it; HEVC is not playable in most browsers),
    no rotation (the HLS muxer drops the display matrix, and players would show it sideways), at most 60
    fps, and keyframes close enough for segments of a sensible length (a copy can only cut at them)."""
    return (codec in COPY_CODECS and rotation % 360 == 0 and frame_rate is not None
            and 0 < frame_rate <= MAX_FRAME_RATE and max_keyframe_interval <= segment_duration * COPY_GOP_SEGMENTS)


def plan_ladder(width: int, height: int, frame_rate: float | None, *, tier: str, heights: Iterable[int],
                copy_top: bool) -> tuple[RungPlan, ...]:
    """The rungs for a master of ``width`` x ``height`` (as displayed) at ``frame_rate``, top first."""
    if width <= 0 or height <= 0:
        return (audio_rung(),)
    cap = TIER_HEIGHT[tier]
    top_w, top_h = _capped(width, height, cap)
    if not copy_top:   # an encoded picture must have even sides (4:2:0)
        top_w, top_h = _even(top_w), _even(top_h)
    top = RungPlan.video(rung_name(top_w, top_h), top_w, top_h, frame_rate, copy=copy_top)
    rungs = [top]
    for short in sorted({_even(h) for h in heights if h > 0}, reverse=True):
        if short < top.short_side and short <= cap:
            w, h = scaled(top_w, top_h, short)
            rungs.append(RungPlan.video(rung_name(w, h), w, h, frame_rate))
    return tuple(rungs)


def audio_rung() -> RungPlan:
    return RungPlan(AUDIO, 0, 0, None, AUDIO_KBPS, copy=True)


def rung_plan(name: str, width: int, height: int, master_rate: float | None) -> RungPlan:
    """A lower rung planned earlier (by name), sized again from the top rung's picture (``width`` x
    ``height``) at the master's frame rate: how a resumed job, which has only the asset's rung names and
    what is stored, knows what to make."""
    short = short_side_of(name)
    if short is None:
        return audio_rung()
    w, h = scaled(width, height, short)
    return RungPlan.video(name, w, h, master_rate)


def stored_resolution(width: int | None, height: int | None) -> str:
    """Mux's ``max_stored_resolution`` (deprecated for ``resolution_tier``, still sent): the highest class
    the stored picture reaches, by its long or its short side, so a 1280x536 scope picture is HD like
    1280x720. There is no class between FHD and UHD: 2560x1440 is FHD, 3840x2160 and 4096x2160 UHD."""
    if not width or not height:
        return "Audio only"
    long, short = max(width, height), min(width, height)
    for name, (min_long, min_short) in (("UHD", (3840, 2160)), ("FHD", (1920, 1080)), ("HD", (1280, 720))):
        if long >= min_long or short >= min_short:
            return name
    return "SD"


def names(rungs: Sequence[RungPlan]) -> list[str]:
    return [rung.name for rung in rungs]


def _capped(width: int, height: int, cap: int) -> tuple[int, int]:
    """The master's size with its short side at most ``cap`` (the master already is; this keeps the
    ladder right for a master made before a tier was lowered)."""
    if min(width, height) <= cap:
        return width, height
    return scaled(width, height, cap)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
