"""Request bodies of the upload dialects: read as a bounded stream, answered within bounded time.

- :class:`RequestBody` wraps one request's body. ``100 Continue`` is sent only when the body is first
  read (Go's net/http does the same), so a request refused before reading (a hopeless length, a wrong
  offset, no token) gets its final answer at once and never a 100.
- :class:`BodySource` reads it for storage. Whatever ends the body early (the client going away, a read
  timeout, a newer request asking for the upload) ends the iteration instead of raising, so storage keeps
  every byte that arrived; the reason is left in :attr:`BodySource.error` (tusd's ``bodyReader``).
- :func:`settle` runs before every answer: what is left of the body is drained within
  :data:`DRAIN_BYTES` and :data:`DRAIN_SECONDS` so a client mid-chunk reads the answer instead of a
  reset; past either bound, or after a stall or a break, the answer closes the connection instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator

from aiohttp import web
from aiohttp.http import HttpVersion11

from gateway.core.checksum import Hasher
from gateway.errors import ClientGone, GatewayError, PayloadTooLarge, ReadTimeout, UploadInterrupted
from gateway.state.lock import Lease

READ_SIZE = 256 * 1024
DRAIN_BYTES = 64 * 1024 * 1024     # the most a refused request's body is read to answer it cleanly
DRAIN_SECONDS = 10.0               # ... and for how long
DEFERRED_CONTINUE = web.RequestKey("deferred_continue", bool)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def expect_handler(request: web.Request) -> None:
    """The upload routes' Expect handler: refuse unknown expectations; defer ``100 Continue`` to the
    first read of the body (aiohttp's default sends it before the handler can refuse the request)."""
    expect = request.headers.get("Expect", "").strip().lower()
    if expect != "100-continue":
        shown = expect[:40].encode("ascii", "replace").decode("ascii")   # never echo raw bytes back
        raise web.HTTPExpectationFailed(text=f"unsupported Expect: {shown}")
    if request.version == HttpVersion11:
        request[DEFERRED_CONTINUE] = True


class RequestBody:
    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.content = request.content
        self.pending_continue = request.get(DEFERRED_CONTINUE, False)
        self.received = 0
        self.broken = False   # a read stalled or failed: nothing more is coming on this connection

    @classmethod
    def of(cls, request: web.Request) -> RequestBody:
        """The request's one body reader (made on first use)."""
        body = request.get(BODY)
        if body is None:
            body = request[BODY] = cls(request)
        return body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.read(READ_SIZE):
            yield chunk

    async def read(self, n: int) -> bytes:
        if self.pending_continue:
            self.pending_continue = False
            await self.request.writer.write(CONTINUE)
            self.request.writer.output_size = 0   # as aiohttp does: the 100 is not the response
        try:
            chunk = await self.content.read(n)
        except BaseException:
            self.broken = True
            raise
        self.received += len(chunk)
        return chunk

    async def skip(self, n: int) -> int:
        """Read and drop ``n`` bytes (fewer if the body ends first); returns how many were dropped."""
        left = n
        while left > 0:
            chunk = await self.read(min(left, READ_SIZE))
            if not chunk:
                break
            left -= len(chunk)
        return n - left

    @property
    def finished(self) -> bool:
        return not self.request.body_exists or self.content.is_eof()


BODY = web.RequestKey("body", RequestBody)


async def settle(request: web.Request, response: web.StreamResponse) -> None:
    """Before ``response`` is sent: drain the rest of the body within bounds, else close afterwards."""
    if response.prepared or not request.body_exists or request.content.is_eof():
        return
    body = RequestBody.of(request)
    declared = request.content_length
    hopeless = declared is not None and declared - body.received > DRAIN_BYTES
    if body.broken or body.pending_continue or hopeless:
        response.force_close()   # the client sent nothing yet (Expect), stalled, or sends too much
        return
    limit = DRAIN_BYTES
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            while limit > 0 and (chunk := await request.content.read(min(limit, READ_SIZE))):
                limit -= len(chunk)
    except Exception:   # a stall, a reset or aiohttp's payload errors: the body is broken either way
        body.broken = True
    if not request.content.is_eof():
        response.force_close()


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""   # an async generator with no items


class BodySource:
    """Up to ``limit`` bytes of a body, as chunks for storage; bytes past ``limit`` are an error
    (the chunk that crosses it is cut at the limit, so exactly ``limit`` bytes are stored)."""

    def __init__(self, body: AsyncIterable[bytes] | None, *, limit: int, hasher: Hasher | None = None,
                 lease: Lease | None = None, idle_timeout: float = 60.0) -> None:
        self.body = body
        self.limit = limit
        self.hasher = hasher
        self.idle_timeout = idle_timeout
        self.received = 0
        self.error: GatewayError | None = None
        self.lease = lease
        self._deadline: asyncio.Timeout | None = None

    def _wake(self) -> None:
        """A newer writer asks this one to stop: end the read in progress at once."""
        if self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = aiter(self.body if self.body is not None else _nothing())
        if self.lease is not None:
            self.lease.on_stop.append(self._wake)
        try:
            while True:
                # one cheap timer per read: the idle timeout, brought forward by _wake (no extra tasks)
                async with asyncio.timeout(self.idle_timeout) as self._deadline:
                    if self.lease is not None and self.lease.stop_requested.is_set():
                        raise UploadInterrupted("a newer request took over this upload")
                    chunk = await anext(chunks, b"")
                self._deadline = None
                if not chunk:
                    return
                room = self.limit - self.received
                if len(chunk) > room:
                    chunk = chunk[:room]
                    self.error = PayloadTooLarge("the body is longer than this request may carry")
                if chunk:
                    self.received += len(chunk)
                    if self.hasher is not None:
                        self.hasher.update(chunk)
                    yield chunk
                if self.error is not None:
                    return
        except GatewayError as exc:
            self.error = exc
        except TimeoutError:
            if self.lease is not None and self.lease.stop_requested.is_set():
                self.error = UploadInterrupted("a newer request took over this upload")
            else:
                self._broken()
                self.error = ReadTimeout(f"no body bytes for {self.idle_timeout:.0f}s")
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self._broken()
            self.error = ClientGone(f"the connection broke: {exc.__class__.__name__}")
        except Exception as exc:  # aiohttp's payload errors (ClientPayloadError, ...)
            self._broken()
            self.error = ClientGone(f"the body ended early: {exc.__class__.__name__}")
        finally:
            self._deadline = None
            if self.lease is not None and self._wake in self.lease.on_stop:
                self.lease.on_stop.remove(self._wake)

    def _broken(self) -> None:
        if isinstance(self.body, RequestBody):
            self.body.broken = True
