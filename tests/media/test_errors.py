"""Sources that are not usable media, and the process runner's limits (time, output, memory)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.media.clips import Clips
from workers.media import MediaError, analyse, process


@pytest.mark.parametrize("clip", ["empty", "random", "text", "truncated", "truncated_faststart", "png"])
async def test_not_media_is_invalid_input(clips: Clips, clip: str) -> None:
    with pytest.raises(MediaError) as caught:
        await analyse(str(clips[clip]))
    assert caught.value.type == "invalid_input"
    assert caught.value.message


async def test_truncated_faststart_file_still_probes(clips: Clips) -> None:
    """The control for the truncation case: ffprobe alone accepts the header of the cut file."""
    done = await process.run(["ffprobe", "-v", "error", "-show_format", str(clips["truncated_faststart"])],
                             memory_limit=1 << 32)
    assert done.returncode == 0 and b"duration=4" in done.stdout


async def test_missing_file_is_download_failed(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        await analyse(str(tmp_path / "nope.mp4"))
    assert caught.value.type == "download_failed"


def _running(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def _endless(marker: str, *output: str) -> list[str]:
    realtime = ["-re"] if "null" in output else []  # no need to burn a core while waiting to be killed
    return ["ffmpeg", "-nostdin", "-v", "error", *realtime, "-f", "lavfi", "-i", "sine", "-metadata",
            f"comment={marker}", *output]


async def test_cancelled_run_kills_the_process_group() -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await process.run(_endless(marker, "-f", "null", "-"), memory_limit=1 << 32)
    assert time.monotonic() - started < 3
    assert _running(marker) == []


async def test_output_beyond_the_limit_is_refused() -> None:
    marker = uuid.uuid4().hex
    with pytest.raises(MediaError) as caught:
        await process.run(_endless(marker, "-f", "s16le", "pipe:1"), memory_limit=1 << 32, stdout_limit=100_000)
    assert caught.value.type == "invalid_input"
    assert _running(marker) == []


async def test_memory_limit_is_applied() -> None:
    limit = 3 << 30
    done = await process.run(["sh", "-c", "sleep 0.2; cat /proc/self/limits"], memory_limit=limit)
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("Max address space"))
    assert line.split()[3] == str(limit)


async def test_timeout_is_a_media_error(clips: Clips) -> None:
    with pytest.raises(MediaError) as caught:
        await analyse(str(clips["std"]), timeout=0.001)
    assert caught.value.type == "timeout"
