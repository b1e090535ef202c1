"""standardise: non-standard sources become H.264 yuv420p / AAC MP4 that analyse calls standard, with a
closed keyframe every 2 s, within the tier, the size and rate the source's analysis predicted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.clips import Clips
from tests.media.conftest import ffprobe
from tests.media.test_remux import packet_sizes, top_level_boxes
from workers.media import Analysis, analyse, standardise

CASES = [
    ("vp9_opus", "1080p"), ("prores_pcm", "1080p"), ("mpeg4_pcm", "1080p"), ("uhd", "1080p"),
    ("fps240", "1080p"), ("fps90", "2160p"), ("sar", "1080p"), ("interlaced", "1080p"), ("open_gop", "1080p"),
    ("cut", "1080p"), ("cbr30", "1080p"), ("gop22", "1080p"), ("kitchen", "1080p"), ("audio_mp3", "1080p"),
]


def _shape(analysis: Analysis) -> list[tuple[object, ...]]:
    return [(t["type"], t.get("max_width"), t.get("max_height"), t.get("max_frame_rate"), t.get("max_channels"))
            for t in analysis.tracks]


def _ratio(aspect_ratio: str | None) -> float:
    assert aspect_ratio is not None
    width, height = aspect_ratio.split(":")
    return int(width) / int(height)


@pytest.mark.parametrize(("clip", "tier"), CASES, ids=[c for c, _ in CASES])
async def test_standardise_makes_standard_output(clips: Clips, clip: str, tier: str, tmp_path: Path) -> None:
    source = await analyse(str(clips[clip]), tier=tier)
    assert not source.is_standard
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    dest = tmp_path / "out.mp4"
    await standardise(str(clips[clip]), str(dest), source, tier=tier, timeout=60, progress=progress)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen) and all(0 <= f <= 1 for f in seen)
    out = await analyse(str(dest), tier=tier)
    assert out.non_standard_input_reasons is None
    assert _shape(out) == _shape(source)  # the analysis predicted what is stored
    if source.aspect_ratio is None:
        assert out.aspect_ratio is None
    else:  # equal up to the rounding to even dimensions
        assert _ratio(out.aspect_ratio) == pytest.approx(_ratio(source.aspect_ratio), rel=0.01)
    assert out.duration == pytest.approx(source.duration, abs=0.15)
    boxes = top_level_boxes(dest)
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    if source.audio is not None:
        assert out.audio is not None and out.audio.codec == "aac"
    if source.video is None:
        return
    assert out.video is not None and out.gop is not None
    assert (out.video.codec, out.video.pix_fmt, out.video.field_order) == ("h264", "yuv420p", "progressive")
    assert max(out.video.width, out.video.height) <= {"1080p": 1920, "2160p": 4096}[tier]
    assert out.video.sample_aspect_ratio in (None, 1)
    assert not out.gop.open_gop
    assert out.gop.max_interval <= 2.0 + 1.5 / (out.frame_rate or 30)
    assert out.gop.keyframes >= int(out.duration // 2)
    profile = ffprobe(dest, "-select_streams", "v", "-show_entries", "stream=profile")["streams"][0]["profile"]
    assert profile == "High"


async def test_only_audio_flagged_copies_the_video(clips: Clips, tmp_path: Path) -> None:
    source = await analyse(str(clips["h264_mp3"]))
    assert source.non_standard_input_reasons == {"audio_codec": "mp3"}
    dest = tmp_path / "out.mp4"
    await standardise(str(clips["h264_mp3"]), str(dest), source, tier="1080p", timeout=60)
    assert packet_sizes(dest, "v") == packet_sizes(clips["h264_mp3"], "v")
    out = await analyse(str(dest))
    assert out.is_standard and out.audio is not None and out.audio.codec == "aac"


async def test_aac_audio_is_copied_when_only_video_is_flagged(clips: Clips, tmp_path: Path) -> None:
    source = await analyse(str(clips["small_rotated"]))  # standard: standardise still re-encodes the video
    assert source.is_standard
    dest = tmp_path / "out.mp4"
    await standardise(str(clips["small_rotated"]), str(dest), source, tier="1080p", timeout=60)
    assert packet_sizes(dest, "a") == packet_sizes(clips["small_rotated"], "a")
    out = await analyse(str(dest))
    assert out.is_standard and out.video is not None and out.video.rotation == 0
    assert (out.video.width, out.video.height) == (180, 320)  # rotated into the picture
    assert out.aspect_ratio == source.aspect_ratio == "9:16"


async def test_tier_must_match_the_analysis(clips: Clips, tmp_path: Path) -> None:
    source = await analyse(str(clips["uhd"]), tier="1080p")
    with pytest.raises(ValueError, match="tier"):
        await standardise(str(clips["uhd"]), str(tmp_path / "o.mp4"), source, tier="2160p", timeout=60)
