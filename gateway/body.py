"""Reading a request body as a bounded stream of chunks.

Whatever ends the body early (the client going away, a read timeout, a newer request asking for the
upload) ends the iteration instead of raising, so storage keeps every byte that arrived; the reason is
left in :attr:`BodySource.error` for the handler to answer with (tusd's ``bodyReader`` does the same).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import StreamReader

from gateway.core.checksum import Hasher
from gateway.errors import GatewayError, PayloadTooLarge, UploadInterrupted
from gateway.state.lock import Lease

READ_SIZE = 256 * 1024


class ClientGone(GatewayError):
    status = 400
    type = "client_disconnected"


class ReadTimeout(GatewayError):
    status = 503   # retryable for tus-js-client and UpChunk alike (tusd uses 500 for the same reason)
    type = "read_timeout"


class BodySource:
    def __init__(self, content: StreamReader, *, limit: int | None, hasher: Hasher | None = None,
                 lease: Lease | None = None, idle_timeout: float = 60.0) -> None:
        self.content = content
        self.limit = limit
        self.hasher = hasher
        self.idle_timeout = idle_timeout
        self.received = 0
        self.error: GatewayError | None = None
        self.lease = lease
        if lease is not None:
            lease.on_stop.append(self._interrupt)
            if lease.stop_requested.is_set():
                self._interrupt()

    def _interrupt(self) -> None:
        self.content.set_exception(UploadInterrupted("a newer request took over this upload"))

    async def _read(self, n: int) -> bytes:
        async with asyncio.timeout(self.idle_timeout):
            return await self.content.read(n)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                want = READ_SIZE if self.limit is None else min(READ_SIZE, self.limit - self.received)
                if want <= 0:
                    if await self._read(1):
                        self.error = PayloadTooLarge("the body is longer than the upload allows")
                    return
                chunk = await self._read(want)
                if not chunk:
                    return
                self.received += len(chunk)
                if self.hasher is not None:
                    self.hasher.update(chunk)
                yield chunk
        except GatewayError as exc:
            self.error = exc
        except TimeoutError:
            self.error = ReadTimeout(f"no body bytes for {self.idle_timeout:.0f}s")
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = ClientGone(f"the connection broke: {exc.__class__.__name__}")
        except Exception as exc:  # aiohttp's payload errors (ClientPayloadError, ...)
            self.error = ClientGone(f"the body ended early: {exc.__class__.__name__}")
