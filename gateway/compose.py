"""The composer (tusd's idea): the one place where settings become concrete objects.

``python -m gateway`` (gateway/app.py) and ``python -m workers`` (workers/resources.py) both build their
Redis client, storage backend, upload state and catalog stores here, so the two processes can never
disagree about a key name or a backend. Nothing here imports the web application.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis

from gateway.catalog.assets import AssetStore
from gateway.catalog.events import EventLog
from gateway.catalog.masters import DownloadLinks, MasterAccess
from gateway.catalog.uploads import DirectUploads, Enqueue
from gateway.metrics import JobTimings
from gateway.queue import JobQueue
from gateway.service import UploadService
from gateway.settings import RedisSettings, Settings
from gateway.state.keys import Keys
from gateway.state.lock import Locker
from gateway.state.redis import RedisState
from gateway.storage.base import Storage
from gateway.storage.filesystem import FilesystemStorage
from gateway.storage.s3 import S3Storage


def keys(settings: Settings) -> Keys:
    return Keys(settings.redis.key_prefix)


def redis(settings: RedisSettings, *, socket_timeout: float = 10) -> Redis:
    """A client on a blocking pool: under a burst, callers wait for a connection instead of failing. The
    client owns the pool: ``aclose()`` closes its connections."""
    pool = BlockingConnectionPool.from_url(settings.url, max_connections=settings.max_connections, timeout=10,
                                           socket_timeout=socket_timeout, health_check_interval=30)
    return Redis.from_pool(pool)


def storage(settings: Settings) -> Storage:
    """The one place a concrete backend is chosen."""
    if settings.storage.backend == "s3":
        return S3Storage(settings.storage.s3, spool_dir=settings.storage.spool_dir)
    return FilesystemStorage(settings.storage.filesystem.root)


def state(redis: Redis, keys: Keys) -> RedisState:
    return RedisState(redis, keys)


def locker(redis: Redis, keys: Keys) -> Locker:
    return Locker(redis, keys)


def service(settings: Settings, redis: Redis, storage: Storage, keys: Keys) -> UploadService:
    return UploadService(state(redis, keys), locker(redis, keys), storage, settings.uploads,
                         preferred_part_size=storage.preferred_part_size)


def jobs(settings: Settings, keys: Keys) -> JobQueue:
    """The asset queue (not yet connected: ``await jobs.connect()``)."""
    return JobQueue(settings.redis.url, keys, settings.jobs)


@dataclass(frozen=True)
class Catalog:
    """The stores behind the Mux API that the gateway and the workers share."""

    assets: AssetStore
    events: EventLog
    masters: MasterAccess
    timings: JobTimings


def catalog(settings: Settings, redis: Redis, storage: Storage, keys: Keys) -> Catalog:
    assets, events = AssetStore(redis, keys), EventLog(redis, keys)
    masters = MasterAccess(redis, keys, assets, events, DownloadLinks(storage, settings))
    return Catalog(assets=assets, events=events, masters=masters, timings=JobTimings(redis, keys))


def direct_uploads(settings: Settings, redis: Redis, keys: Keys, service: UploadService, catalog: Catalog,
                   *, enqueue: Enqueue | None) -> DirectUploads:
    """Direct uploads (gateway only): they hook themselves onto ``service``'s completions."""
    return DirectUploads(redis, keys, service, catalog.assets, catalog.events, base_url=settings.server.base_url,
                         enqueue=enqueue)
