"""Uploaded playlists and lists must not make ffprobe/ffmpeg read anything else.

Each malicious file points at a real media file (the "secret") that would be read, and would make the
analysis succeed, if it were followed. The control assertions run plain ffprobe without our whitelists
on the same file and show that it does follow it; the real assertions show that `analyse` refuses it,
that the secret's atime does not move, and (over HTTP) that the secret is never requested.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.media.clips import Clips
from tests.media.conftest import Served
from workers.media import MediaError, analyse


@pytest.fixture
def secret(clips: Clips, tmp_path: Path) -> Path:
    path = tmp_path / "secret.ts"
    shutil.copyfile(clips["secret_ts"], path)
    return path


async def _plain_ffprobe(*args: str) -> tuple[int, bytes]:
    """ffprobe without our whitelists (async: the HTTP test server runs on this event loop)."""
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-show_entries", "format=format_name:stream=codec_name", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    async with asyncio.timeout(30):
        stdout, _ = await proc.communicate()
    return await proc.wait(), stdout


def _followed(done: tuple[int, bytes]) -> bool:
    """The stream codecs can only come from reading the secret segment."""
    returncode, stdout = done
    return returncode == 0 and b"codec_name=h264" in stdout and b"codec_name=aac" in stdout


def _age(path: Path) -> None:
    """Set atime far in the past (before mtime), so any read moves it, even with relatime."""
    os.utime(path, (1_000_000, path.stat().st_mtime))


def _read(path: Path) -> bool:
    return path.stat().st_atime > 1_000_000


def _atime_works(path: Path) -> bool:
    """Whether this filesystem records reads at all (noatime mounts do not)."""
    _age(path)
    path.read_bytes()
    return _read(path)


def _hls(*segments: str) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:3", "#EXT-X-MEDIA-SEQUENCE:0"]
    for segment in segments:
        lines += ["#EXTINF:2.0,", segment]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


async def _refused(source: str) -> MediaError:
    with pytest.raises(MediaError) as caught:
        await analyse(source)
    return caught.value


async def test_local_hls_playlist_is_refused(secret: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"  # stored uploads have no extension
    upload.write_bytes(_hls(str(secret), f"file:{secret}"))
    atime = _atime_works(secret)
    _age(secret)
    control = await _plain_ffprobe(str(upload))
    assert _followed(control) and b"format_name=hls" in control[1]
    assert _read(secret) or not atime
    _age(secret)
    error = await _refused(str(upload))
    assert error.type == "invalid_input"
    assert not _read(secret)


async def test_ffconcat_list_is_refused(secret: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"  # a relative name next to it passes the concat demuxer's own safe mode
    upload.write_bytes(f"ffconcat version 1.0\nfile '{secret.name}'\nfile '{secret.name}'\n".encode())
    atime = _atime_works(secret)
    _age(secret)
    control = await _plain_ffprobe(str(upload))
    assert _followed(control) and b"format_name=concat" in control[1]
    assert _read(secret) or not atime
    _age(secret)
    error = await _refused(str(upload))
    assert error.type == "invalid_input"
    assert not _read(secret)


async def test_protocol_prefixes_in_a_path_are_just_file_names(secret: Path) -> None:
    name = f"concat:{secret}|{secret}"
    assert _followed(await _plain_ffprobe(name))  # ffprobe alone reads the secret (twice)
    _age(secret)
    error = await _refused(name)
    assert error.type == "download_failed"  # no file of that name
    assert not _read(secret)


async def test_remote_playlist_reads_nothing_else(secret: Path, http_server: Served) -> None:
    http_server.add("secret.ts", secret)
    url = http_server.add("upload", _hls(f"{http_server.base}/secret.ts", f"file:{secret}"))
    control = await _plain_ffprobe(url)  # plain ffprobe fetches the segment
    assert _followed(control) and "/secret.ts" in [r.path for r in http_server.requests]
    http_server.requests.clear()
    _age(secret)
    error = await _refused(url)
    assert error.type == "invalid_input"
    assert [r.path for r in http_server.requests if r.path != "/upload"] == []
    assert not _read(secret)
