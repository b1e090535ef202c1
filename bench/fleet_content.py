"""What each fleet upload sends: a real little MP4 followed by a ``free`` box that pads it to its size.

Every upload's bytes differ (each MiB of padding is stamped with the upload's number and the MiB's), any
range can be made again for a resumed request, and the whole file is valid media, so the worker makes an
Asset from it in well under a second whatever its size: the bench measures the fleet, not ffmpeg.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

MiB = 1024 * 1024
PIECE = 256 * 1024          # what one body write hands the socket


def base_clip(path: Path) -> bytes:
    """A 2 s 320x240 H.264/AAC MP4 with its moov first (~100 KB)."""
    if not path.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
                        "-c:a", "aac", "-ac", "2", "-shortest", "-movflags", "+faststart", str(path)],
                       check=True, timeout=60)
    return path.read_bytes()


class Content:
    """Upload ``index``'s ``size`` bytes: ``base`` then one ``free`` box of stamped padding."""

    def __init__(self, base: bytes, shared: bytes, index: int, size: int) -> None:
        if size < len(base) + 8 + 16 or size - len(base) >= 2**32:
            raise ValueError(f"size {size} does not fit a clip of {len(base)} bytes and one free box")
        self.head = base + struct.pack(">I4s", size - len(base), b"free")
        self.shared = shared
        self.index = index
        self.size = size
        self._last: tuple[int, memoryview] = (-1, memoryview(b""))

    def _block(self, k: int) -> memoryview:
        """Padding MiB ``k`` (kept while it is being sent, so the client spends no CPU remaking it)."""
        if self._last[0] != k:
            self._last = (k, memoryview(struct.pack(">QQ", self.index, k) + self.shared[16:]))
        return self._last[1]

    def read(self, start: int, end: int) -> bytes:
        return b"".join(self._pieces(start, end, MiB))

    def _pieces(self, start: int, end: int, piece: int) -> Iterator[bytes | memoryview]:
        end = min(end, self.size)
        pos = start
        head = len(self.head)
        while pos < end:
            if pos < head:
                stop = min(end, head)
                yield self.head[pos:stop]
            else:
                k, within = divmod(pos - head, MiB)
                stop = min(end, pos + piece, pos + MiB - within)
                yield self._block(k)[within:within + stop - pos]
            pos = stop

    async def body(self, start: int, end: int, cut_at: int | None = None) -> AsyncIterator[bytes | memoryview]:
        """Bytes ``start``..``end`` in pieces; raises ``ConnectionAbortedError`` once past ``cut_at``."""
        sent = start
        for chunk in self._pieces(start, end, PIECE):
            if cut_at is not None and sent + len(chunk) > cut_at:
                yield chunk[:max(0, cut_at - sent)]
                raise ConnectionAbortedError(f"cut at byte {cut_at}")
            sent += len(chunk)
            yield chunk

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self._pieces(0, self.size, MiB):
            digest.update(chunk)
        return digest.hexdigest()


def shared_block(seed: int = 7) -> bytes:
    """The padding's random MiB, the same in every process of one run."""
    return hashlib.shake_256(seed.to_bytes(8, "big")).digest(MiB)
