"""The gateway's bounded pool of image renders (ffmpeg runs), shared by every image route.

- At most ``render_concurrency`` ffmpeg runs at once, at most ``render_queue`` more waiting for a slot;
  a render beyond that is refused at once (503 with Retry-After), so a burst never piles up work.
- Identical requests share one render (single flight, keyed by the cache object's name): the second
  request for a thumbnail being rendered waits for the same bytes instead of starting ffmpeg again.
- Each run is one argv (never a shell) with no stdin, in a process group of its own, under an
  address-space limit (RLIMIT_AS, set right after start) and ``render_timeout``; a run timed out or
  cancelled (``close`` at shutdown) has its whole group killed and reaped. The gateway does not import
  ``workers``, so this is a small runner of its own, the pattern of ``workers/media/process.py``.
- The rendered bytes are handed to the waiters first, then stored (``store``) as the cache object; a
  request arriving while they are being stored joins the finished flight instead of rendering again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from gateway.errors import GatewayError, Unavailable

log = logging.getLogger("gateway.playback.render")

RENDER_MEMORY = 2 * 1024**3     # RLIMIT_AS of one run: ffmpeg maps ~300 MiB of libraries; 4K decoding needs ~1 GiB
STDERR_TAIL = 4 * 1024
BUSY_RETRY = "1"                # seconds, when the queue is full
SLOW_RETRY = "5"                # seconds, when a render ran out of time

ArgvFor = Callable[[str], Awaitable[list[list[str]]]]   # output path -> argvs writing it, tried in turn
Store = Callable[[str], Awaitable[object]]         # the output path -> stored (the cache object)


class RenderPool:
    def __init__(self, *, concurrency: int, queue: int, timeout: float, spool_dir: str = "",
                 memory_limit: int = RENDER_MEMORY) -> None:
        self.slots = asyncio.Semaphore(concurrency)
        self.capacity = concurrency + queue
        self.timeout = timeout
        self.spool_dir = spool_dir or None
        self.memory_limit = memory_limit
        self.admitted = 0       # renders waiting for a slot or running ffmpeg
        self.renders = 0        # ffmpeg runs started, ever (tests and metrics)
        self.flights: dict[str, asyncio.Future[bytes]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def render(self, key: str, argv_for: ArgvFor, suffix: str, store: Store) -> bytes:
        """The bytes ``argv_for``'s commands write, rendered once for every concurrent caller of ``key``: the
        first command that writes something wins (a later one is a fallback, e.g. the last frame)."""
        flight = self.flights.get(key)
        if flight is None:
            if self.admitted >= self.capacity:
                raise Unavailable("too many images are being rendered; retry shortly",
                                  headers={"Retry-After": BUSY_RETRY})
            flight = asyncio.get_running_loop().create_future()
            flight.add_done_callback(_retrieve)
            self.flights[key] = flight
            self.admitted += 1
            task = asyncio.create_task(self._fly(key, flight, argv_for, suffix, store))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await asyncio.shield(flight)

    async def close(self) -> None:
        """Kill every render under way (their waiters get 503)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _fly(self, key: str, flight: asyncio.Future[bytes], argv_for: ArgvFor, suffix: str,
                   store: Store) -> None:
        workdir = await asyncio.to_thread(tempfile.mkdtemp, prefix="render-", dir=self.spool_dir)
        output = str(Path(workdir) / f"out.{suffix}")
        admitted = True
        try:
            argvs = await argv_for(output)
            async with asyncio.timeout(self.timeout):
                await self.slots.acquire()
            try:
                body = b""
                for argv in argvs:
                    self.renders += 1
                    await run_ffmpeg(argv, timeout=self.timeout, memory_limit=self.memory_limit)
                    if body := await asyncio.to_thread(_read, output):
                        break
            finally:
                self.slots.release()
            self.admitted, admitted = self.admitted - 1, False
            if not body:
                raise Unavailable("the image could not be rendered", headers={"Retry-After": SLOW_RETRY})
            flight.set_result(body)
            await store(output)
        except TimeoutError:
            _fail(flight, Unavailable("the image took too long to render; retry shortly",
                                      headers={"Retry-After": SLOW_RETRY}))
        except asyncio.CancelledError:
            _fail(flight, Unavailable("the gateway is shutting down", headers={"Retry-After": BUSY_RETRY}))
            raise
        except GatewayError as exc:
            _fail(flight, exc)
        except Exception as exc:
            log.exception("render.failed", extra={"key": key})
            _fail(flight, Unavailable(f"the image could not be rendered ({exc.__class__.__name__})",
                                      headers={"Retry-After": SLOW_RETRY}))
        finally:
            if admitted:
                self.admitted -= 1
            self.flights.pop(key, None)
            await asyncio.to_thread(shutil.rmtree, workdir, True)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:   # ffmpeg wrote no frame
        return b""


def _fail(flight: asyncio.Future[bytes], error: GatewayError) -> None:
    """Tell the waiters (a flight whose bytes were handed out already failed only to be stored: logged)."""
    if not flight.done():
        flight.set_exception(error)
    else:
        log.warning("render.store_failed", extra={"error": error.message})


def _retrieve(flight: asyncio.Future[bytes]) -> None:
    if not flight.cancelled():
        flight.exception()   # a flight every waiter left: its error is not "never retrieved"


async def run_ffmpeg(argv: Sequence[str], *, timeout: float, memory_limit: int) -> None:
    """Run ``argv`` to completion within ``timeout`` (TimeoutError) under ``memory_limit``; Unavailable when
    it fails. Cancelled or timed out, the process group is killed and reaped before this returns."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise Unavailable(f"{argv[0]} could not be started", headers={"Retry-After": SLOW_RETRY}) from exc
    with contextlib.suppress(ValueError, OSError):   # right after exec: long before ffmpeg reads input
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (memory_limit, memory_limit))
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(timeout):
            stderr = await _tail(proc.stderr)
            returncode = await proc.wait()
    except BaseException:
        _kill(proc)
        await proc.wait()
        raise
    _kill(proc)   # stray children of the group, if any
    if returncode != 0:
        log.warning("render.ffmpeg_failed", extra={"returncode": returncode, "stderr": stderr[-1000:]})
        raise Unavailable("the image could not be rendered", headers={"Retry-After": SLOW_RETRY})


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _tail(stream: asyncio.StreamReader) -> str:
    kept = bytearray()
    while chunk := await stream.read(16 * 1024):
        kept += chunk
        del kept[:-STDERR_TAIL]
    return kept.decode("utf-8", "replace")
