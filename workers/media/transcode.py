"""`remux` (standard input: streams copied into MP4, seconds) and `standardise` (non-standard input:
re-encoded to H.264/AAC MP4 within the tier, minutes), with time limits and progress.

On any failure or timeout the partial destination file is removed; a timeout kills ffmpeg's process
group first (see `process.py`).

ffmpeg runs under an address-space limit (`memory_limit`, the worker's `jobs.transcode_memory`, 16 GiB by
default). It is much higher than ffprobe's because ffmpeg decodes and encodes with a thread per core or
more, and each thread adds frames, a stack and a malloc arena: standardising a 4K source at the 2160p tier
needed 1.6 GiB of address space with 3 threads, 4 GiB with 16 and 8.7 GiB with 48 (a 32-core host). A run
that fails for lack of memory is an `invalid_input` error that says how much was allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable

from workers.media import commands, process
from workers.media.analysis import Analysis
from workers.media.errors import MediaError, tool_failure
from workers.media.probe import memory_text
from workers.media.source import Source

MEMORY_LIMIT = 16 << 30   # the default of `jobs.transcode_memory`
# What ffmpeg (or x264) prints when an allocation failed under the limit.
_OUT_OF_MEMORY = ("Cannot allocate memory", "malloc of size", "failed to map segment")
Progress = Callable[[float], Awaitable[None]]


async def remux(source: str, dest: str, analysis: Analysis, *, timeout: float,
                memory_limit: int = MEMORY_LIMIT) -> None:
    """Copy the asset's streams from `source` into an MP4 at `dest` (moov first)."""
    parsed = Source.parse(source)
    parsed.check_local()
    await _run(commands.remux_argv(parsed, dest, analysis), dest, timeout, None, analysis.duration, memory_limit)


async def standardise(source: str, dest: str, analysis: Analysis, *, tier: str, timeout: float,
                      progress: Progress | None = None, memory_limit: int = MEMORY_LIMIT) -> None:
    """Convert `source` into a standard MP4 at `dest` for `tier`; `progress` gets 0..1 as ffmpeg advances."""
    parsed = Source.parse(source)
    parsed.check_local()
    if tier != analysis.tier:
        raise ValueError(f"the analysis was made for tier {analysis.tier!r}, not {tier!r}: analyse again")
    argv = commands.standardise_argv(parsed, dest, analysis)
    await _run(argv, dest, timeout, progress, analysis.duration, memory_limit)


class _Reporter:
    """Turns ffmpeg's `-progress` lines into calls of `progress(fraction)`, at most once per percent."""

    def __init__(self, progress: Progress | None, duration: float) -> None:
        self._progress = progress
        self._duration = duration
        self._last = -1.0

    async def line(self, line: bytes) -> None:
        key, _, value = line.decode("ascii", "replace").partition("=")
        if key == "out_time_us" and value.strip().lstrip("-").isdigit() and self._duration > 0:
            await self._report(min(max(int(value) / 1e6 / self._duration, 0.0), 0.99))
        elif key == "progress" and value.strip() == "end":
            await self._report(1.0)

    async def _report(self, fraction: float) -> None:
        if self._progress is not None and (fraction >= self._last + 0.01 or (fraction == 1.0 != self._last)):
            self._last = fraction
            await self._progress(fraction)


async def _run(argv: list[str], dest: str, timeout: float, progress: Progress | None, duration: float,
               memory_limit: int) -> None:
    _check_destination(dest)
    reporter = _Reporter(progress, duration)
    try:
        async with asyncio.timeout(timeout):
            done = await process.run(argv, memory_limit=memory_limit, on_line=reporter.line)
    except TimeoutError as exc:
        _remove(dest)
        raise MediaError("timeout", f"Converting the input file took longer than {timeout:g} s") from exc
    except BaseException:
        _remove(dest)
        raise
    if done.returncode != 0:
        _remove(dest)
        if any(hint in done.stderr for hint in _OUT_OF_MEMORY):
            raise MediaError("invalid_input", f"Converting the input file needs more than "
                             f"{memory_text(memory_limit)} of memory", done.stderr.strip()[-4000:])
        raise tool_failure("ffmpeg", done.stderr)
    await reporter.line(b"progress=end")


def _check_destination(dest: str) -> None:
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise MediaError("internal", "The output directory does not exist or is not writable", directory)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
