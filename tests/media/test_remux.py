"""remux: streams copied (not re-encoded) into an MP4 with the moov first."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.media.clips import Clips
from tests.media.conftest import ffprobe
from workers.media import MediaError, analyse, remux


def packet_sizes(path: Path, stream: str) -> list[int]:
    packets = ffprobe(path, "-select_streams", stream, "-show_entries", "packet=size")["packets"]
    return [int(p["size"]) for p in packets]


def top_level_boxes(path: Path) -> list[bytes]:
    kinds, data, pos = [], path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        kinds.append(kind)
        pos += size
    return kinds


@pytest.mark.parametrize("clip", ["std", "small_mkv", "small_ts", "hevc", "small_rotated", "audio_only"])
async def test_remux_copies_streams_into_faststart_mp4(clips: Clips, clip: str, tmp_path: Path) -> None:
    source = clips[clip]
    analysis = await analyse(str(source))
    assert analysis.is_standard
    dest = tmp_path / "out.mp4"
    await remux(str(source), str(dest), analysis, timeout=30)
    boxes = top_level_boxes(dest)
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    out = ffprobe(dest, "-show_streams", "-show_format")
    assert out["format"]["format_name"].startswith("mov,mp4")
    source_streams = ffprobe(source, "-show_streams")["streams"]
    assert sorted(s["codec_name"] for s in out["streams"]) == sorted(s["codec_name"] for s in source_streams)
    for kind in ("v", "a"):  # every packet copied as it was (MPEG-TS framing differs by a few bytes:
        copied, original = packet_sizes(dest, kind), packet_sizes(source, kind)  # start codes, ADTS headers)
        assert len(copied) == len(original)
        slack = 16 if clip == "small_ts" else 0
        assert all(abs(a - b) <= slack for a, b in zip(copied, original, strict=True))
    if clip == "hevc":
        assert out["streams"][0]["codec_tag_string"] == "hvc1"
    again = await analyse(str(dest))
    assert again.is_standard
    assert again.duration == pytest.approx(analysis.duration, abs=0.1)
    assert [(t["type"], t.get("max_width"), t.get("max_height")) for t in again.tracks] == [
        (t["type"], t.get("max_width"), t.get("max_height")) for t in analysis.tracks]


async def test_remux_into_a_missing_directory_is_internal(clips: Clips, tmp_path: Path) -> None:
    analysis = await analyse(str(clips["std"]))
    with pytest.raises(MediaError) as caught:
        await remux(str(clips["std"]), str(tmp_path / "no" / "out.mp4"), analysis, timeout=30)
    assert caught.value.type == "internal"


async def test_remux_timeout_kills_and_removes_the_output(clips: Clips, tmp_path: Path) -> None:
    analysis = await analyse(str(clips["std"]))
    dest = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as caught:
        await remux(str(clips["std"]), str(dest), analysis, timeout=0.01)
    assert caught.value.type == "timeout"
    assert not dest.exists()


async def test_failed_remux_removes_the_output(clips: Clips, tmp_path: Path) -> None:
    analysis = await analyse(str(clips["std"]))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["truncated"].read_bytes())
    dest = tmp_path / "out.mp4"
    with pytest.raises(MediaError) as caught:
        await remux(str(broken), str(dest), analysis, timeout=30)
    assert caught.value.type == "invalid_input"
    assert not dest.exists()
