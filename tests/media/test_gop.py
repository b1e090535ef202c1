"""gop.measure on hand-made packet lists."""

from __future__ import annotations

import pytest

from workers.media.gop import Packet, measure


def frames(pts: list[float], keys: set[int], size: int = 1000, discard: set[int] | None = None,
           duration: float = 0.1) -> list[Packet]:
    return [Packet(p, duration, size, i in keys, i in (discard or set())) for i, p in enumerate(pts)]


def test_intervals_include_the_tail_of_the_last_gop() -> None:
    stats = measure([frames([i / 10 for i in range(50)], {0, 20})])  # keyframes at 0 s and 2 s, ends at 5 s
    assert stats.keyframes == 2
    assert stats.max_interval == pytest.approx(3.0)
    assert stats.frame_rate == pytest.approx(10.0)


def test_a_window_without_keyframes_counts_as_one_long_interval() -> None:
    stats = measure([frames([i / 10 for i in range(30)], {0}), frames([100 + i / 10 for i in range(300)], set())])
    assert stats.max_interval == pytest.approx(30.0)


def test_short_gops_are_merged_before_measuring_bitrate() -> None:
    # 2 s GOP of 20 small frames, then a lone 1 MB keyframe lasting 0.1 s at the end
    packets = frames([i / 10 for i in range(21)], {0, 20})
    packets[20] = Packet(2.0, 0.1, 1_000_000, True, False)
    stats = measure([packets])
    assert stats.max_bitrate == pytest.approx(8 * (20 * 1000 + 1_000_000) / 2.1)


def test_lone_keyframe_gop_is_measured_over_a_second() -> None:
    stats = measure([[Packet(0.0, 0.04, 100_000, True, False)]])
    assert stats.max_bitrate == pytest.approx(800_000)
    assert stats.average_bitrate == pytest.approx(800_000)


def test_open_gop_is_a_later_packet_shown_before_its_keyframe() -> None:
    closed = frames([0.0, 0.3, 0.1, 0.2, 0.4, 0.7, 0.5, 0.6], {0, 4})
    assert not measure([closed]).open_gop
    opened = frames([0.0, 0.3, 0.1, 0.2, 0.6, 0.4, 0.5, 0.9, 0.7], {0, 4})
    assert measure([opened]).open_gop


def test_discarded_packets_are_counted_and_left_out() -> None:
    stats = measure([frames([-0.2, -0.1, 0.0, 0.1], {0}, discard={0, 1})])
    assert stats.discarded == 2 and stats.packets == 2 and stats.keyframes == 0
