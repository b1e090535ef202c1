"""The MP4 box walk on hand-made bytes: versions, track ids, bounds and malformed boxes."""

from __future__ import annotations

import struct

import pytest

from workers.media.boxes import Edit, edit_lists


class Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset:offset + length]


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(version: int, rest: bytes) -> bytes:
    return bytes([version, 0, 0, 0]) + rest


def mvhd(scale: int) -> bytes:
    return box(b"mvhd", full(0, struct.pack(">III", 0, 0, scale) + bytes(80)))


def trak(track_id: int, scale: int, entries: list[tuple[int, int]], *, wide: bool = False) -> bytes:
    tkhd = box(b"tkhd", full(0, struct.pack(">III", 0, 0, track_id) + bytes(68)))
    layout = ">Qqhh" if wide else ">Iihh"
    elst = box(b"elst", full(int(wide), struct.pack(">I", len(entries)) +
                             b"".join(struct.pack(layout, d, m, 1, 0) for d, m in entries)))
    mdhd = box(b"mdhd", full(0, struct.pack(">III", 0, 0, scale) + bytes(8)))
    minf = box(b"minf", bytes(5000))  # stands for the sample tables, never read
    return box(b"trak", tkhd + box(b"edts", elst) + box(b"mdia", mdhd + minf))


def movie(*traks: bytes, mdat: int = 100_000) -> bytes:
    return box(b"ftyp", b"isom" + bytes(4)) + box(b"mdat", bytes(mdat)) + box(b"moov", mvhd(1000) + b"".join(traks))


async def test_edit_lists_per_track() -> None:
    data = movie(trak(1, 15360, [(1000, -1), (2000, 0)]), trak(2, 48000, [(2000, 1024)], wide=True))
    lists = await edit_lists(Bytes(data))
    assert lists[1] == (Edit(1.0, None, 1.0), Edit(2.0, 0.0, 1.0))
    (audio,) = lists[2]
    assert (audio.duration, audio.rate) == (2.0, 1.0)
    assert audio.media_time == pytest.approx(1024 / 48000)
    assert set(lists) == {1, 2}


async def test_only_headers_and_small_boxes_are_read() -> None:
    reader = Bytes(movie(trak(1, 90000, [(1000, 0)]), mdat=10_000_000))
    await edit_lists(reader)
    assert sum(length for _, length in reader.reads) < 2000
    assert all(not (20 <= offset < 10_000_000) for offset, _ in reader.reads[1:])  # mdat skipped


async def test_malformed_boxes_end_the_walk() -> None:
    bogus = struct.pack(">I4s", 10**9, b"moov")  # claims to run past the end
    assert await edit_lists(Bytes(box(b"ftyp", bytes(8)) + bogus)) == {}
    assert await edit_lists(Bytes(b"\x00\x00\x00\x04junk")) == {}
    assert await edit_lists(Bytes(b"")) == {}


async def test_no_moov_means_no_edit_lists() -> None:
    assert await edit_lists(Bytes(box(b"ftyp", bytes(8)) + box(b"mdat", bytes(100)))) == {}
