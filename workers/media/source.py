"""Where a source lives, how ffmpeg may open it, and bounded random access to its bytes.

A source is a local path or an http(s) URL (a presigned S3 GET). It is never copied whole: ffmpeg and
ffprobe open it themselves (seeking with HTTP Range requests), and `open_reader` reads small ranges for
the MP4 box walk.

What ffmpeg/ffprobe are allowed to do with it:

- a local path is passed as `file:<absolute path>`, so a name like `concat:a|b` or `subfile,...:x` is
  just a file name, with `-protocol_whitelist file`; a URL gets `-protocol_whitelist http,https,tcp,tls`.
- `-format_whitelist DEMUXERS`: plain media containers only. Demuxers that open other files or URLs
  (hls, dash, concat/ffconcat, image2 sequences, playlists, sdp, rtsp, tee...) are not on it, so an
  uploaded playlist that points at `file:` paths or URLs is rejected before anything else is read.
  (`mov` opens external data references only with `enable_drefs`, which is off by default.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from workers.media.errors import MediaError

DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts", "flv", "ogg", "wav", "w64", "mp3", "aac",
    "flac", "aiff", "caf", "asf", "mpeg", "dv", "ivf", "h264", "hevc", "m4v",
)
LOCAL_PROTOCOLS = "file"
REMOTE_PROTOCOLS = "http,https,tcp,tls"
READ_BLOCK = 64 * 1024
HTTP_RW_TIMEOUT = 30_000_000  # microseconds without progress before ffmpeg gives up on a connection


@dataclass(frozen=True)
class Source:
    """A parsed source: an absolute local path or an http(s) URL."""

    location: str
    remote: bool

    @classmethod
    def parse(cls, source: str) -> Source:
        if urlsplit(source).scheme.lower() in ("http", "https"):
            return cls(source, True)
        return cls(os.path.abspath(source), False)

    @property
    def input_name(self) -> str:
        return self.location if self.remote else f"file:{self.location}"

    def input_options(self) -> dict[str, str | int]:
        """The options ffmpeg/ffprobe get in front of `-i` / the input name."""
        options: dict[str, str | int] = {
            "format_whitelist": ",".join(DEMUXERS),
            "protocol_whitelist": REMOTE_PROTOCOLS if self.remote else LOCAL_PROTOCOLS,
        }
        if self.remote:
            options["rw_timeout"] = HTTP_RW_TIMEOUT
        return options

    def check_local(self) -> None:
        """Fail early, with the right error type, for a local path that is not a readable regular file."""
        if self.remote:
            return
        if not os.path.isfile(self.location):
            raise MediaError("download_failed", "The input file does not exist or is not a regular file")
        if os.path.getsize(self.location) == 0:
            raise MediaError("invalid_input", "The input file is empty")


class ByteReader(Protocol):
    """Random access to a source's bytes; `read` may return fewer bytes at the end of the source."""

    @property
    def size(self) -> int: ...

    async def read(self, offset: int, length: int) -> bytes: ...


class _FileReader:
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.size = os.fstat(fd).st_size

    async def read(self, offset: int, length: int) -> bytes:
        return await asyncio.to_thread(os.pread, self._fd, length, offset)


class _HttpReader:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url
        self.size = 0

    async def read(self, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        try:
            async with self._session.get(self._url, headers=headers) as response:
                if response.status == 416:
                    return b""
                if response.status != 206:
                    raise MediaError("download_failed", "The input file could not be read",
                                     f"range request answered {response.status}")
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                if total.isdigit():
                    self.size = int(total)
                wanted = min(length, response.content_length or length)
                try:
                    return await response.content.readexactly(wanted)
                except asyncio.IncompleteReadError as exc:
                    return exc.partial
        except aiohttp.ClientError as exc:
            raise MediaError("download_failed", "The input file could not be read", repr(exc)) from exc


class _CachedReader:
    """Reads whole blocks and keeps the last one, so a box walk costs a few reads, not one per header."""

    def __init__(self, inner: _FileReader | _HttpReader) -> None:
        self._inner = inner
        self._start = 0
        self._block = b""

    @property
    def size(self) -> int:
        return self._inner.size

    async def read(self, offset: int, length: int) -> bytes:
        end = offset + length
        if not (self._start <= offset and end <= self._start + len(self._block)):
            if length > READ_BLOCK:
                return await self._inner.read(offset, length)
            self._start, self._block = offset, await self._inner.read(offset, READ_BLOCK)
        return self._block[offset - self._start:end - self._start]


@asynccontextmanager
async def open_reader(source: Source) -> AsyncIterator[ByteReader]:
    """A cached ByteReader over the source (HTTP Range requests for a URL)."""
    if not source.remote:
        fd = os.open(source.location, os.O_RDONLY | os.O_CLOEXEC)
        try:
            yield _CachedReader(_FileReader(fd))
        finally:
            os.close(fd)
        return
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        cached = _CachedReader(_HttpReader(session, source.location))
        await cached.read(0, 8)  # fetches the first block and learns the size from Content-Range
        yield cached
