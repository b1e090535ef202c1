"""non_standard_input_reasons: one clip per reason, some combinations, and the tier-dependent rules.
Every expectation is the exact dict, so an extra or missing key fails."""

from __future__ import annotations

import pytest

from tests.media.clips import Clips
from workers.media import analyse

NS = "non-standard"

CASES: list[tuple[str, str, dict[str, str] | None]] = [
    # standard
    ("std", "1080p", None),
    ("std", "2160p", None),
    ("std_mkv", "1080p", None),
    ("std_ts", "1080p", None),
    ("small", "1080p", None),
    ("small_mkv", "1080p", None),
    ("small_ts", "1080p", None),
    ("small_rotated", "1080p", None),
    ("video_only", "1080p", None),
    ("audio_only", "1080p", None),
    ("rotated", "1080p", None),
    ("offset", "1080p", None),  # an empty edit (start delay) is a simple edit list
    ("hevc", "1080p", None),  # HEVC is standard on Mux's current page
    ("gop12", "1080p", None),  # 12 s keyframe interval: within 20 s for H.264 at 1080p ...
    ("fps90", "1080p", None),  # 5-120 fps at 1080p
    ("hevc_gop8", "1080p", None),  # HEVC at 1080p: up to 10 s
    # one reason each
    ("vp9_opus", "1080p", {"video_codec": "vp9", "audio_codec": "opus"}),
    ("mpeg4_pcm", "1080p", {"video_codec": "mpeg4", "audio_codec": "pcm_s16le"}),
    ("h264_mp3", "1080p", {"audio_codec": "mp3"}),
    ("audio_mp3", "1080p", {"audio_codec": "mp3"}),
    ("gop12", "2160p", {"video_gop_size": "high"}),  # ... but not within 10 s at 2160p
    ("gop22", "1080p", {"video_gop_size": "high"}),
    ("long_gap", "1080p", {"video_gop_size": "high"}),  # found by the middle window of a long file
    ("hevc_gop12", "1080p", {"video_gop_size": "high"}),
    ("hevc_gop8", "2160p", {"video_gop_size": "high"}),  # HEVC at 2160p: up to 6 s
    ("fps2", "1080p", {"video_frame_rate": "2"}),
    ("fps2_5", "1080p", {"video_frame_rate": "2.5"}),
    ("fps240", "1080p", {"video_frame_rate": "240"}),
    ("fps240", "2160p", {"video_frame_rate": "240"}),
    ("fps90", "2160p", {"video_frame_rate": "90"}),  # 5-60 fps at 2160p
    ("fps90", "1440p", {"video_frame_rate": "90"}),  # 1440p follows the 2160p rules
    ("uhd", "1080p", {"video_resolution": "3840x2160"}),
    ("uhd", "1440p", None),
    ("uhd", "2160p", None),
    ("cbr30", "1080p", {"video_bitrate": "high"}),
    ("cbr30", "2160p", {"video_bitrate": "high"}),  # above 20 Mbps
    ("cbr12", "1080p", {"video_bitrate": "high"}),  # average above 8 Mbps
    ("cbr12", "2160p", None),
    ("burst", "1080p", {"video_bitrate": "high"}),  # average ~5 Mbps, but one GOP above 16 Mbps
    ("burst", "2160p", None),
    ("sar", "1080p", {"pixel_aspect_ratio": "4:3"}),
    ("cut", "1080p", {"video_edit_list": NS, "audio_edit_list": NS}),
    ("interlaced", "1080p", {"unexpected_media_file_parameters": NS}),
    ("open_gop", "1080p", {"unexpected_media_file_parameters": NS}),
    ("yuv444p", "1080p", {"unsupported_pixel_format": "yuv444p"}),
    ("yuv422p10le", "1080p", {"unsupported_pixel_format": "yuv422p10le"}),
    # combinations
    ("prores_pcm", "1080p", {"video_codec": "prores", "unsupported_pixel_format": "yuv422p10le",
                             "audio_codec": "pcm_s24le"}),
    ("kitchen", "1080p", {"unsupported_pixel_format": "yuv444p", "video_frame_rate": "2",
                          "pixel_aspect_ratio": "4:3", "audio_codec": "mp3"}),
]


@pytest.mark.parametrize(("clip", "tier", "expected"), CASES, ids=[f"{c}-{t}" for c, t, _ in CASES])
async def test_reasons(clips: Clips, clip: str, tier: str, expected: dict[str, str] | None) -> None:
    analysis = await analyse(str(clips[clip]), tier=tier)
    assert analysis.non_standard_input_reasons == expected
    assert analysis.is_standard is (expected is None)
    fields = analysis.to_asset_fields()
    if expected is None:
        assert "non_standard_input_reasons" not in fields
    else:
        assert fields["non_standard_input_reasons"] == expected


async def test_unknown_tier_is_refused(clips: Clips) -> None:
    with pytest.raises(ValueError, match="max_resolution_tier"):
        await analyse(str(clips["std"]), tier="4k")
