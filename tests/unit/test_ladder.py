"""The HLS ladder's shapes (workers/media/ladder.py): which rungs a master gets per size and tier, their even
sizes, frame-rate caps and bitrate ceilings; when the top rung is a copy; Mux's ``max_stored_resolution``;
and the ladder's status changes on the asset (workers/packaging.py)."""

from __future__ import annotations

import pytest

from gateway.catalog.models import Rung, RungStatus
from workers.media.cmaf import Made
from workers.media.ladder import (
    AUDIO,
    MAX_FRAME_RATE,
    RungPlan,
    bitrate_kbps,
    can_copy,
    plan_ladder,
    rung_plan,
    short_side_of,
    stored_resolution,
)
from workers.packaging import planned, with_errored, with_ready

LADDER = [1080, 720, 480, 360, 270]


def shapes(rungs: tuple[RungPlan, ...]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


@pytest.mark.parametrize(("size", "tier", "expected"), [
    ((640, 360), "1080p", [("360p", 640, 360), ("270p", 480, 270)]),
    ((1280, 720), "1080p", [("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360), ("270p", 480, 270)]),
    ((1920, 1080), "1080p", [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360),
                             ("270p", 480, 270)]),
    # a 4K master at the 1080p tier cannot happen (standardise scales it), but the ladder caps it anyway
    ((3840, 2160), "1080p", [("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360),
                             ("270p", 480, 270)]),
    ((3840, 2160), "2160p", [("2160p", 3840, 2160), ("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480),
                             ("360p", 640, 360), ("270p", 480, 270)]),
    ((2560, 1440), "1440p", [("1440p", 2560, 1440), ("1080p", 1920, 1080), ("720p", 1280, 720), ("480p", 854, 480),
                             ("360p", 640, 360), ("270p", 480, 270)]),
    # portrait: named by the short side, sized by it
    ((720, 1280), "1080p", [("720p", 720, 1280), ("480p", 480, 854), ("360p", 360, 640), ("270p", 270, 480)]),
    # not a 16:9 picture, odd heights: even sides, aspect kept
    ((1280, 536), "1080p", [("536p", 1280, 536), ("480p", 1146, 480), ("360p", 860, 360), ("270p", 644, 270)]),
    ((320, 240), "1080p", [("240p", 320, 240)]),
])
def test_rungs_per_source_size_and_tier(size: tuple[int, int], tier: str, expected: list[tuple[str, int, int]]) -> None:
    rungs = plan_ladder(*size, 30.0, tier=tier, heights=LADDER, copy_top=True)
    assert shapes(rungs) == expected
    assert rungs[0].copy and not any(r.copy for r in rungs[1:])
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in rungs[1:])


def test_a_rung_equal_to_the_source_is_the_source_rung_only() -> None:
    rungs = plan_ladder(1280, 720, 30.0, tier="1080p", heights=[720, 720, 480], copy_top=True)
    assert [r.name for r in rungs] == ["720p", "480p"]


def test_an_encoded_top_rung_gets_even_sides() -> None:
    rungs = plan_ladder(1279, 719, 30.0, tier="1080p", heights=[480], copy_top=False)
    assert shapes(rungs) == [("720p", 1280, 720), ("480p", 854, 480)]
    copied = plan_ladder(1279, 719, 30.0, tier="1080p", heights=[480], copy_top=True)
    assert copied[0].width == 1279 and copied[0].name == "719p"   # a copy is what it is


def test_frame_rates_are_capped_at_60_and_kept_below() -> None:
    fast = plan_ladder(1280, 720, 120.0, tier="1080p", heights=LADDER, copy_top=False)
    assert all(r.frame_rate == MAX_FRAME_RATE and r.fps == MAX_FRAME_RATE for r in fast)
    ntsc = plan_ladder(1280, 720, 30000 / 1001, tier="1080p", heights=LADDER, copy_top=True)
    assert all(r.frame_rate == pytest.approx(29.97, abs=0.01) and r.fps is None for r in ntsc)  # no resampling
    assert plan_ladder(640, 360, None, tier="1080p", heights=LADDER, copy_top=False)[0].frame_rate is None


def test_bitrate_ceilings_fall_with_the_picture() -> None:
    rungs = plan_ladder(1920, 1080, 30.0, tier="1080p", heights=LADDER, copy_top=True)
    rates = [r.kbps for r in rungs]
    assert rates == sorted(rates, reverse=True) and rates[0] == 5000 and rates[-1] == 450
    assert 450 < bitrate_kbps(768, 432) < 1400     # a height not in the table: scaled from 1080p


def test_audio_only_is_one_audio_rung() -> None:
    rungs = plan_ladder(0, 0, None, tier="1080p", heights=LADDER, copy_top=True)
    assert [(r.name, r.copy) for r in rungs] == [(AUDIO, True)]
    assert short_side_of(AUDIO) is None and rung_plan(AUDIO, 0, 0, None).name == AUDIO


def test_a_resumed_rung_is_sized_from_its_name() -> None:
    assert rung_plan("480p", 1920, 1080, 30.0) == plan_ladder(1920, 1080, 30.0, tier="1080p", heights=[480],
                                                              copy_top=True)[1]
    assert (rung_plan("360p", 720, 1280, 120.0).width, rung_plan("360p", 720, 1280, 120.0).fps) == (360, 60.0)


@pytest.mark.parametrize(("codec", "rotation", "rate", "gop", "expected"), [
    ("h264", 0, 30.0, 2.0, True),
    ("h264", 0, 30.0, 12.0, True),        # three 4 s segments apart at most
    ("h264", 0, 30.0, 12.5, False),       # a copy could only cut every 12.5 s: encode
    ("hevc", 0, 30.0, 2.0, False),        # most browsers cannot play HEVC
    ("h264", 90, 30.0, 2.0, False),       # the muxer would drop the rotation
    ("h264", 0, 120.0, 2.0, False),       # above the frame-rate cap
    ("h264", 0, None, 2.0, False),
])
def test_when_the_top_rung_is_copied(codec: str, rotation: int, rate: float | None, gop: float,
                                     expected: bool) -> None:
    assert can_copy(codec, rotation, rate, gop, 4.0) is expected


@pytest.mark.parametrize(("size", "expected"), [
    ((None, None), "Audio only"), ((640, 360), "SD"), ((854, 480), "SD"), ((1280, 720), "HD"), ((1280, 536), "HD"),
    ((720, 1280), "HD"), ((1920, 1080), "FHD"), ((2560, 1440), "FHD"), ((3840, 2160), "UHD"), ((4096, 2160), "UHD"),
])
def test_max_stored_resolution_classes(size: tuple[int | None, int | None], expected: str) -> None:
    assert stored_resolution(*size) == expected


def test_the_ladder_on_the_asset_moves_rung_by_rung() -> None:
    plans = plan_ladder(1280, 720, 30.0, tier="1080p", heights=LADDER, copy_top=True)
    ladder = planned(plans)
    assert [(r.name, r.status, r.copy) for r in ladder][:2] == [("720p", RungStatus.PREPARING, True),
                                                                ("480p", RungStatus.PREPARING, False)]
    made = Made(files=("init.mp4", "seg00000.m4s", "index.m3u8"), durations=(4.0,), bandwidth=2_000_000,
                average_bandwidth=1_500_000, codecs="avc1.64001f,mp4a.40.2")
    ladder = with_ready(ladder, plans[0], made)
    assert ladder[0] == Rung(name="720p", status=RungStatus.READY, width=1280, height=720, bandwidth=2_000_000,
                             average_bandwidth=1_500_000, codecs="avc1.64001f,mp4a.40.2", frame_rate=30.0, copy=True)
    errored = with_errored(ladder, ["360p"])
    assert errored is not None and [r.status for r in errored] == [
        RungStatus.READY, RungStatus.PREPARING, RungStatus.ERRORED, RungStatus.PREPARING]
    rest = with_errored(errored)
    assert rest is not None and [r.status for r in rest][1:] == [RungStatus.ERRORED] * 3 and rest[0] == ladder[0]
