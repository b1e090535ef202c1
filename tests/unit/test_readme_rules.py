"""What the README calls a "standard" input is what workers/media/rules.py checks: every standard codec
and pixel format is named, and the keyframe limits per codec and tier are the code's."""

from __future__ import annotations

import re
from pathlib import Path

from workers.media.rules import PIXEL_FORMATS, TIERS

ROOT = Path(__file__).resolve().parents[2]
CODEC_NAMES = {"h264": "H.264", "hevc": "HEVC"}


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index('## Assets and "standard input"')
    return readme[start:readme.index("\n## ", start + 1)]


def definition() -> str:
    """The paragraph that says what standard is (up to its table)."""
    text = section()
    start = text.index("An input is **standard**")
    return text[start:text.index("\n|", start)]


def test_every_standard_codec_and_pixel_format_is_named() -> None:
    text = definition()
    assert set(PIXEL_FORMATS) == set(CODEC_NAMES), "name the new codec in CODEC_NAMES and in the README"
    for codec, formats in PIXEL_FORMATS.items():
        assert CODEC_NAMES[codec] in text, codec
        for pix_fmt in formats:
            assert f"`{pix_fmt}`" in text, (codec, pix_fmt)


def test_the_keyframe_limits_are_the_codes() -> None:
    row = next(line for line in section().splitlines() if line.startswith("| keyframe interval"))
    cells = [cell.strip() for cell in row.strip("|").split("|")[1:]]
    for cell, tier in zip(cells, ("1080p", "2160p"), strict=True):
        limits = TIERS[tier].keyframe_interval
        assert re.search(rf"\b{limits['h264']:g} s\b", cell), (tier, cell)
        assert f"HEVC: {limits['hevc']:g} s" in cell, (tier, cell)


def test_the_codec_example_is_not_a_standard_codec() -> None:
    for codec in re.findall(r'`video_codec: "([^"]+)"`', section()):
        assert codec not in PIXEL_FORMATS, codec
