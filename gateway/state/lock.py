"""One writer per upload across processes, with tusd's "request release".

A holder owns ``lock`` (a random token with a TTL). While it streams, a watcher refreshes the TTL every
half second and looks for a ``release`` flag. A newer request that finds the upload locked sets the flag
and waits; the holder stops reading its body, commits what it has and lets go, usually within a second.
If the holder cannot refresh for most of the TTL (Redis unreachable), it stops by itself before the lock
can expire, so two writers never overlap (a lease, as in tusd's etcd3 locker).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable

from redis.asyncio import Redis

from gateway.errors import Locked
from gateway.state.errors import maps_redis_errors
from gateway.state.keys import LOCK_REFRESH_S, LOCK_TTL_MS, Keys

_REFRESH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('EXISTS', KEYS[2])
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """A held lock. ``stop_requested`` is set when the holder should stop and let go."""

    def __init__(self, upload_id: str, token: str) -> None:
        self.upload_id = upload_id
        self.token = token
        self.stop_requested = asyncio.Event()
        self.lost = False
        self.on_stop: list[Callable[[], None]] = []

    def request_stop(self, lost: bool = False) -> None:
        self.lost = self.lost or lost
        if not self.stop_requested.is_set():
            self.stop_requested.set()
            for callback in self.on_stop:
                callback()


@maps_redis_errors
class Locker:
    def __init__(self, redis: Redis, keys: Keys, *, ttl_ms: int = LOCK_TTL_MS,
                 refresh_s: float = LOCK_REFRESH_S) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_ms = ttl_ms
        self.refresh_s = refresh_s
        self._refresh = redis.register_script(_REFRESH)
        self._release = redis.register_script(_RELEASE)
        self.active: set[Lease] = set()

    async def is_locked(self, upload_id: str) -> bool:
        return bool(await self.redis.exists(self.keys.lock(upload_id)))

    async def try_acquire(self, upload_id: str) -> str | None:
        token = secrets.token_hex(16)
        ok = await self.redis.set(self.keys.lock(upload_id), token, nx=True, px=self.ttl_ms)
        return token if ok else None

    async def request_release(self, upload_id: str) -> None:
        await self.redis.set(self.keys.release(upload_id), b"1", px=self.ttl_ms)

    async def wait_released(self, upload_id: str, timeout: float) -> bool:
        """Ask the holder to stop and wait until the lock is free (without taking it)."""
        if not await self.is_locked(upload_id):
            return True
        await self.request_release(upload_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if not await self.is_locked(upload_id):
                return True
        return False

    async def acquire(self, upload_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        token = await self.try_acquire(upload_id)
        while token is None:
            if time.monotonic() >= deadline:
                raise Locked("another request is writing to this upload; retry shortly",
                             headers={"Retry-After": "1"})
            await self.request_release(upload_id)
            await asyncio.sleep(0.05)
            token = await self.try_acquire(upload_id)
        await self.redis.delete(self.keys.release(upload_id))
        return token

    async def release(self, upload_id: str, token: str) -> None:
        await self._release(keys=[self.keys.lock(upload_id)], args=[token])

    @contextlib.asynccontextmanager
    async def hold(self, upload_id: str, timeout: float) -> AsyncIterator[Lease]:
        """Acquire, keep refreshed while the block runs, and release at the end."""
        lease = Lease(upload_id, await self.acquire(upload_id, timeout))
        done = asyncio.Event()
        watcher = asyncio.create_task(self._watch(lease, done))
        self.active.add(lease)
        try:
            yield lease
        finally:
            self.active.discard(lease)
            # Let the watcher finish its current refresh instead of cancelling it: a Redis command
            # cancelled mid-flight can stall redis-py's connection clean-up for tens of seconds.
            done.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(watcher)
            with contextlib.suppress(Exception):
                await self.release(upload_id, lease.token)

    def stop_all(self) -> None:
        """Shutting down: every writer in this process stops reading, commits what it has, lets go."""
        for lease in list(self.active):
            lease.request_stop()

    async def _watch(self, lease: Lease, done: asyncio.Event) -> None:
        keys = [self.keys.lock(lease.upload_id), self.keys.release(lease.upload_id)]
        last_ok = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.refresh_s)
            if done.is_set():
                return
            try:
                state = await self._refresh(keys=keys, args=[lease.token, self.ttl_ms])
            except Exception:
                # Redis unreachable: give up before the lease can run out under us.
                if time.monotonic() - last_ok > self.ttl_ms / 1000 * 0.6:
                    lease.request_stop(lost=True)
                continue
            last_ok = time.monotonic()
            if state == -1:
                lease.request_stop(lost=True)
            elif state == 1:
                lease.request_stop()
