"""BodySource over any AsyncIterable[bytes]: exact limits, stalls and a newer writer end the body and
keep what arrived (no aiohttp, no Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.body import BodySource
from gateway.errors import PayloadTooLarge, ReadTimeout, UploadInterrupted
from gateway.state.lock import Lease


async def chunks(*parts: bytes, stall_after: int | None = None) -> AsyncIterator[bytes]:
    for index, part in enumerate(parts):
        if stall_after is not None and index == stall_after:
            await asyncio.sleep(3600)
        yield part


async def collect(source: BodySource) -> bytes:
    return b"".join([chunk async for chunk in source])


async def test_all_of_a_body_within_its_limit() -> None:
    source = BodySource(chunks(b"abc", b"def"), limit=6)
    assert await collect(source) == b"abcdef" and source.error is None and source.received == 6


async def test_a_longer_body_is_cut_at_the_limit_and_refused() -> None:
    source = BodySource(chunks(b"abc", b"defgh", b"ij"), limit=5)
    assert await collect(source) == b"abcde"
    assert isinstance(source.error, PayloadTooLarge)


async def test_no_body_is_empty() -> None:
    source = BodySource(None, limit=10)
    assert await collect(source) == b"" and source.error is None


async def test_a_stalled_body_times_out_keeping_what_arrived() -> None:
    source = BodySource(chunks(b"abc", b"def", stall_after=1), limit=100, idle_timeout=0.05)
    assert await collect(source) == b"abc"
    assert isinstance(source.error, ReadTimeout)


async def test_a_newer_writer_stops_the_body_at_once() -> None:
    lease = Lease("u", "token")
    source = BodySource(chunks(b"abc", b"def", stall_after=1), limit=100, lease=lease, idle_timeout=60)
    asyncio.get_running_loop().call_later(0.05, lease.request_stop)
    started = asyncio.get_running_loop().time()
    assert await collect(source) == b"abc"
    assert isinstance(source.error, UploadInterrupted)
    assert asyncio.get_running_loop().time() - started < 5
