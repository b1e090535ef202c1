"""Pure rules: edit-list classes, frame-rate formatting, resolution tiers and the stored picture."""

from __future__ import annotations

from fractions import Fraction

import pytest

from workers.media.boxes import Edit
from workers.media.gop import GopStats
from workers.media.plan import aspect_ratio, resolution_tier, standardise_plan
from workers.media.probe import AudioStream, VideoStream
from workers.media.rules import Facts, _complex, format_rate, reasons, rules_for


def edit(media_time: float | None, duration: float = 2.0, rate: float = 1.0) -> Edit:
    return Edit(duration, media_time, rate)


@pytest.mark.parametrize(("edits", "discards", "sample_rate", "complex_"), [
    ((), False, None, False),
    ((edit(0.0667),), False, None, False),  # B-frame delay
    ((edit(None, 1.0), edit(0.0)), False, None, False),  # start delay
    ((edit(0.5),), True, None, True),  # cut at a non-keyframe: packets decoded and discarded
    ((edit(0.0), edit(3.0)), False, None, True),  # two segments
    ((edit(0.0, rate=2.0),), False, None, True),  # speed change
    ((edit(0.0), edit(None, 1.0), edit(2.0)), False, None, True),  # gap in the middle
    ((edit(1024 / 48000),), False, 48000, False),  # AAC priming
    ((edit(2112 / 44100),), False, 44100, False),
    ((edit(0.5),), False, 48000, True),  # audio cut
])
def test_edit_list_classes(edits: tuple[Edit, ...], discards: bool, sample_rate: int | None,
                           complex_: bool) -> None:
    assert _complex(edits, discards, sample_rate) is complex_


@pytest.mark.parametrize(("rate", "text"), [
    (240.0, "240"), (2.5, "2.5"), (30000 / 1001, "29.97"), (None, "-1"), (4.0, "4"), (119.88, "119.88")])
def test_frame_rate_format(rate: float | None, text: str) -> None:
    assert format_rate(rate) == text


@pytest.mark.parametrize(("width", "height", "tier", "expected"), [
    (640, 360, "1080p", "720p"), (1280, 720, "1080p", "720p"), (1920, 1080, "1080p", "1080p"),
    (1080, 1920, "1080p", "1080p"), (2560, 1440, "2160p", "1440p"), (3840, 2160, "2160p", "2160p"),
    (3840, 2160, "1440p", "1440p"), (3840, 2160, "1080p", "1080p"), (2048, 858, "1080p", "1080p")])
def test_resolution_tier(width: int, height: int, tier: str, expected: str) -> None:
    assert resolution_tier(width, height, tier) == expected


def video(width: int, height: int, *, rotation: int = 0, sar: Fraction | None = None, codec: str = "vp9",
          field_order: str = "progressive") -> VideoStream:
    return VideoStream(index=0, track_id=1, codec=codec, pix_fmt="yuv420p", width=width, height=height,
                       sample_aspect_ratio=sar, rotation=rotation, frame_rate=25.0, duration=1.0, bit_rate=None,
                       field_order=field_order)


AAC = AudioStream(1, 2, "aac", 2, "stereo", 48000, 1.0, None)


def test_portrait_uhd_fits_the_long_side() -> None:
    plan = standardise_plan(video(2160, 3840), AAC, {"video_codec": "vp9"}, "1080p", 25.0)
    assert (plan.width, plan.height, plan.resize, plan.copy_audio) == (1080, 1920, True, True)


def test_rotated_and_anamorphic_pictures_are_shown_as_displayed() -> None:
    plan = standardise_plan(video(1440, 1080, sar=Fraction(4, 3), rotation=90), None, {"x": "y"}, "1080p", 25.0)
    assert (plan.width, plan.height) == (1080, 1920)
    assert aspect_ratio(video(1440, 1080, sar=Fraction(4, 3), rotation=90)) == "9:16"


def test_small_pictures_are_never_scaled_up() -> None:
    plan = standardise_plan(video(320, 180), None, {"video_codec": "vp9"}, "2160p", 25.0)
    assert (plan.width, plan.height, plan.resize) == (320, 180, False)


def test_only_audio_reasons_copy_the_video() -> None:
    mp3 = AudioStream(1, 2, "mp3", 2, "stereo", 44100, 1.0, None)
    plan = standardise_plan(video(1920, 1080, codec="h264"), mp3, {"audio_codec": "mp3"}, "1080p", 25.0)
    assert plan.copy_video and not plan.copy_audio
    flagged = standardise_plan(video(1920, 1080, codec="h264", field_order="tt"), AAC,
                               {"video_frame_rate": "240", "unexpected_media_file_parameters": "non-standard"},
                               "1080p", 240.0)
    assert not flagged.copy_video and flagged.copy_audio and flagged.deinterlace
    assert flagged.force_frame_rate == 30.0 and flagged.frame_rate == 30.0


def test_undeterminable_frame_rate_is_minus_one() -> None:
    gop = GopStats(keyframes=1, max_interval=1.0, max_bitrate=1e6, average_bitrate=1e6, open_gop=False,
                   discarded=0, packets=1, span=0.04)
    h264 = video(1920, 1080, codec="h264")
    facts = Facts(video=h264, audio=AAC, gop=gop, frame_rate=None, video_edits=None, audio_edits=None)
    assert reasons(facts, rules_for("1080p")) == {"video_frame_rate": "-1"}
    assert reasons(Facts(h264, AAC, gop, 25.0, None, None), rules_for("1080p")) == {}
