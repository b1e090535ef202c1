"""Asset fields from `analyse`: duration, aspect ratio, tier, frame rate, tracks, determinism."""

from __future__ import annotations

import re

import pytest

from tests.media.clips import Clips
from tests.media.conftest import ffprobe
from workers.media import Analysis, analyse

TRACK_ID = re.compile(r"^[0-9A-Za-z]{24}$")


def _track(analysis: Analysis, kind: str) -> dict[str, object]:
    found = [t for t in analysis.tracks if t["type"] == kind]
    assert len(found) == 1
    return found[0]


async def test_standard_clip_asset_fields(clips: Clips) -> None:
    analysis = await analyse(str(clips["std"]))
    fields = analysis.to_asset_fields()
    assert set(fields) == {"duration", "aspect_ratio", "resolution_tier", "max_stored_frame_rate", "tracks"}
    assert fields["duration"] == pytest.approx(4.0, abs=0.05)
    assert fields["aspect_ratio"] == "16:9"
    assert fields["resolution_tier"] == "720p"
    assert fields["max_stored_frame_rate"] == 30.0
    video, audio = _track(analysis, "video"), _track(analysis, "audio")
    assert {k: video[k] for k in ("max_width", "max_height", "max_frame_rate")} == {
        "max_width": 1280, "max_height": 720, "max_frame_rate": 30.0}
    assert video["duration"] == pytest.approx(4.0, abs=0.05)
    assert audio["max_channels"] == 2 and audio["max_channel_layout"] == "stereo" and audio["primary"] is True
    assert audio["duration"] == pytest.approx(4.0, abs=0.1)
    assert TRACK_ID.match(str(video["id"])) and TRACK_ID.match(str(audio["id"])) and video["id"] != audio["id"]
    # internal fields the worker needs
    assert analysis.has_video and analysis.has_audio
    assert analysis.video is not None and analysis.video.codec == "h264" and analysis.video.pix_fmt == "yuv420p"
    assert analysis.audio is not None and analysis.audio.codec == "aac"
    assert analysis.gop is not None and analysis.gop.keyframes == 2 and analysis.gop.max_interval == pytest.approx(2.0)
    assert analysis.container.format_name.startswith("mov,mp4")


async def test_track_ids_are_deterministic_per_file(clips: Clips) -> None:
    first, second = await analyse(str(clips["std"])), await analyse(str(clips["std"]))
    assert first == second
    other = await analyse(str(clips["vp9_opus"]))
    assert {t["id"] for t in first.tracks}.isdisjoint({t["id"] for t in other.tracks})


async def test_audio_only(clips: Clips) -> None:
    analysis = await analyse(str(clips["audio_only"]))
    fields = analysis.to_asset_fields()
    assert fields["resolution_tier"] == "audio-only"
    assert "aspect_ratio" not in fields and "max_stored_frame_rate" not in fields
    assert [t["type"] for t in fields["tracks"]] == ["audio"]
    assert fields["duration"] == pytest.approx(3.0, abs=0.05)
    assert not analysis.has_video and analysis.gop is None


async def test_video_only(clips: Clips) -> None:
    analysis = await analyse(str(clips["video_only"]))
    assert [t["type"] for t in analysis.tracks] == ["video"]
    assert analysis.is_standard and not analysis.has_audio


async def test_rotation_swaps_display_dimensions(clips: Clips) -> None:
    analysis = await analyse(str(clips["rotated"]))
    assert analysis.aspect_ratio == "9:16"
    video = _track(analysis, "video")
    assert (video["max_width"], video["max_height"]) == (720, 1280)


async def test_non_square_pixels_give_display_aspect_ratio(clips: Clips) -> None:
    analysis = await analyse(str(clips["sar"]))  # 320x240 stored, SAR 4:3, shown as 426.67x240
    assert analysis.aspect_ratio == "16:9"
    video = _track(analysis, "video")
    assert (video["max_width"], video["max_height"]) == (426, 240)  # what standardise stores


@pytest.mark.parametrize(("tier", "resolution_tier", "size"), [
    ("1080p", "1080p", (1920, 1080)), ("1440p", "1440p", (3840, 2160)), ("2160p", "2160p", (3840, 2160))])
async def test_uhd_clip_per_tier(clips: Clips, tier: str, resolution_tier: str, size: tuple[int, int]) -> None:
    assert ffprobe(clips["uhd"], "-show_streams")["streams"][0]["width"] == 3840
    analysis = await analyse(str(clips["uhd"]), tier=tier)
    assert analysis.resolution_tier == resolution_tier
    video = _track(analysis, "video")
    assert (video["max_width"], video["max_height"]) == size


async def test_flagged_frame_rate_is_stored_as_30(clips: Clips) -> None:
    analysis = await analyse(str(clips["fps240"]))
    assert analysis.frame_rate == 240.0
    assert analysis.max_stored_frame_rate == 30.0
    assert _track(analysis, "video")["max_frame_rate"] == 30.0


async def test_fractional_frame_rate(clips: Clips) -> None:
    analysis = await analyse(str(clips["fps2_5"]))
    assert analysis.frame_rate == 2.5


async def test_gop_measures(clips: Clips) -> None:
    long_gop = await analyse(str(clips["gop22"]))
    assert long_gop.gop is not None
    assert long_gop.gop.keyframes == 1 and long_gop.gop.max_interval == pytest.approx(22.0, abs=0.2)
    burst = await analyse(str(clips["burst"]))
    assert burst.gop is not None
    assert burst.gop.max_bitrate > 16e6 > 8e6 > burst.gop.average_bitrate


async def test_edit_lists_are_read_from_the_moov(clips: Clips) -> None:
    offset = await analyse(str(clips["offset"]))
    video = offset.video
    assert video is not None and video.track_id is not None
    edits = offset.edit_lists[video.track_id]
    assert edits[0].media_time is None and edits[0].duration == pytest.approx(1.0, abs=0.01)
    cut = await analyse(str(clips["cut"]))
    assert cut.video is not None and cut.video.track_id is not None and cut.gop is not None
    (edit,) = cut.edit_lists[cut.video.track_id]
    assert edit.media_time is not None and edit.media_time >= 0.5 and cut.gop.discarded > 0


async def test_long_files_are_scanned_in_windows(clips: Clips) -> None:
    analysis = await analyse(str(clips["long_gap"]))
    assert analysis.duration == pytest.approx(400, abs=1)
    assert analysis.gop is not None
    assert analysis.gop.span == pytest.approx(300, abs=1)  # 0-180 s, then 60 s in the middle and at the end
    assert analysis.gop.packets < 2000  # not every frame was read
    assert analysis.gop.max_interval == pytest.approx(32.0)
