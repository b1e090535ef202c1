"""Running ffmpeg and ffprobe: argv lists (never a shell), no stdin, a process group of their own, an
address-space limit and a bound on the output kept in memory.

Whoever awaits `run` owns the process: if the await is cancelled (an `asyncio.timeout` running out, a job
being stopped), the whole process group is killed with SIGKILL and reaped before the cancellation goes on,
so no ffmpeg outlives the call that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from workers.media.errors import MediaError

STDERR_TAIL = 16 * 1024
STDOUT_LIMIT = 64 * 1024 * 1024

LineHandler = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class Completed:
    """A finished process: its exit status, stdout (empty when lines were handed out) and stderr tail."""

    returncode: int
    stdout: bytes
    stderr: str


async def run(argv: Sequence[str], *, memory_limit: int, stdout_limit: int = STDOUT_LIMIT,
              on_line: LineHandler | None = None) -> Completed:
    """Run `argv` to completion. stdout is collected (at most `stdout_limit` bytes, else the process is
    killed and MediaError raised) or, with `on_line`, handed over line by line as it arrives."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise MediaError("internal", f"{argv[0]} could not be started", repr(exc)) from exc
    _limit_memory(proc.pid, memory_limit)
    assert proc.stdout is not None and proc.stderr is not None
    out = (_collect(proc.stdout, stdout_limit) if on_line is None else _lines(proc.stdout, on_line))
    readers = [asyncio.ensure_future(out), asyncio.ensure_future(_tail(proc.stderr))]
    try:
        stdout, stderr = await asyncio.gather(*readers)
        returncode = await proc.wait()
    except BaseException:
        kill(proc)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await proc.wait()
        raise
    kill(proc)  # stray children of the group, if any
    assert isinstance(stdout, bytes) and isinstance(stderr, bytes)
    return Completed(returncode, stdout, stderr.decode("utf-8", "replace"))


def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group `proc` leads (a no-op when it is gone)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _limit_memory(pid: int, limit: int) -> None:
    # Set right after exec, not in a preexec_fn (unsafe with threads); the window is a few microseconds
    # of ffmpeg start-up, long before it reads any input.
    with contextlib.suppress(ValueError, OSError):
        resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


async def _collect(stream: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := await stream.read(256 * 1024):
        total += len(chunk)
        if total > limit:
            raise MediaError("invalid_input", "The input file has too many streams or packets to analyse",
                             f"tool output exceeded {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _lines(stream: asyncio.StreamReader, on_line: LineHandler) -> bytes:
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # a line longer than the reader's limit: skip it
            continue
        if not line:
            return b""
        await on_line(line.rstrip(b"\r\n"))


async def _tail(stream: asyncio.StreamReader) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(64 * 1024):
        kept += chunk
        if len(kept) > STDERR_TAIL:
            del kept[:-STDERR_TAIL]
    return bytes(kept)
