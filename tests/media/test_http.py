"""Sources given as http(s) URLs (presigned S3 GETs): read with Range requests, never whole, and
analysed exactly as the same file on disk."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.media.clips import Clips
from tests.media.conftest import Served
from tests.media.test_errors import _running
from tests.media.test_remux import packet_sizes
from workers.media import MediaError, analyse, remux


@pytest.mark.parametrize("clip", ["std", "std_faststart", "cut", "vp9_opus", "audio_only", "kitchen"])
async def test_analyse_url_equals_analyse_path(clips: Clips, clip: str, http_server: Served) -> None:
    url = http_server.add(clips[clip].name, clips[clip])
    assert await analyse(url) == await analyse(str(clips[clip]))
    ours = [r for r in http_server.requests if "aiohttp" in r.user_agent]
    if clip in ("std", "std_faststart", "cut"):  # MP4: the edit lists came from a few small Range reads
        assert ours and all(r.range for r in ours)
        assert sum(r.length for r in ours) <= 4 * 64 * 1024
    if clip == "std":  # moov at the end of a 2.5 MB file: found by skipping, not by reading everything
        assert sum(r.length for r in ours) < clips[clip].stat().st_size / 8
    assert all(r.range for r in http_server.requests if "Lavf" in r.user_agent)


async def test_remux_from_url(clips: Clips, http_server: Served, tmp_path: Path) -> None:
    url = http_server.add("std.mp4", clips["std"])
    analysis = await analyse(url)
    dest = tmp_path / "out.mp4"
    await remux(url, str(dest), analysis, timeout=30)
    assert packet_sizes(dest, "v") == packet_sizes(clips["std"], "v")


async def test_missing_url_is_download_failed(http_server: Served) -> None:
    with pytest.raises(MediaError) as caught:
        await analyse(f"{http_server.base}/nothing-here.mp4")
    assert caught.value.type == "download_failed"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def test_stalled_url_times_out_and_leaves_no_process(silent_server: str) -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        await analyse(f"{silent_server}/{marker}.mp4", timeout=1.0)
    assert caught.value.type == "timeout"
    assert time.monotonic() - started < 5
    assert _running(marker) == []
