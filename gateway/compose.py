"""The composer (tusd's idea): the one place where settings become concrete objects.

``python -m gateway`` (gateway/app.py) and ``python -m workers`` (workers/resources.py) both build their
Redis client, storage backend, upload state and catalog stores here, so the two processes can never
disagree about a key name or a backend. Nothing here imports the web application.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from saq.queue.redis import RedisQueue

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
from gateway.state.replicas import ReplicaAcks
from gateway.storage.base import Storage
from gateway.storage.filesystem import FilesystemStorage
from gateway.storage.s3 import S3Storage


def keys(settings: Settings) -> Keys:
    return Keys(settings.redis.key_prefix)


def redis(settings: RedisSettings, *, socket_timeout: float = 10) -> Redis:
    """A client on a blocking pool: under a burst, callers wait for a connection instead of failing. The
    client owns the pool: ``aclose()`` closes its connections.

    With a Redis Cluster (``redis+cluster://`` or ``redis.cluster``) redis-py's cluster client: it routes
    each command by its key's slot and follows MOVED/ASK replies during a slot migration. Every script and
    MULTI of ours touches one hash tag (gateway/state/keys.py), so each runs on one node. Its per-node pool
    is left unbounded: at its limit the async cluster client fails at once (``MaxConnectionsError``, redis-py
    #3135) and re-reads the topology, which breaks commands in flight; a burst of 300 creations did that
    with 256 (tests/integration/test_tus_protocol.py under UPGW_TEST_REDIS=cluster). For the same reason a
    MOVED reply only patches the slot it names (``reinitialize_steps=0``): the default re-read the whole
    topology every 5th MOVED, closing nodes under commands in flight, and a slot migration during uploads
    answered 500s (tests/integration/test_redis_cluster.py)."""
    if settings.sentinel is not None:   # each new connection asks the sentinels where the primary is now
        given = settings.sentinel
        password = urlsplit(settings.url).password if settings.url.startswith("redis+sentinel") else None
        watchers = Sentinel(given.addresses(), socket_timeout=socket_timeout, sentinel_kwargs={
            "socket_timeout": 2, "password": given.password.get_secret_value() if given.password else None})
        primary: Redis = watchers.master_for(given.master_name, socket_timeout=socket_timeout, password=password,
                                             db=settings.sentinel_db, health_check_interval=30)
        return primary
    if settings.is_cluster:
        cluster: Redis = RedisCluster.from_url(settings.plain_url, socket_timeout=socket_timeout,
                                               health_check_interval=30, reinitialize_steps=0)
        return cluster
    pool = BlockingConnectionPool.from_url(settings.plain_url, max_connections=settings.max_connections, timeout=10,
                                           socket_timeout=socket_timeout, health_check_interval=30)
    return Redis.from_pool(pool)


async def warm_up(redis: Redis) -> None:
    """Learn a cluster's topology before serving: redis-py's async cluster client, first used by hundreds
    of commands at once, initialises once per command and closes connections others are using (5 of 300
    failed with ``'NoneType' object has no attribute 'writelines'``). Initialised first, none did. A
    plain client needs nothing. Redis down: left to the first command (``/healthz`` reports it)."""
    if isinstance(redis, RedisCluster):
        with contextlib.suppress(Exception):
            await redis.initialize()


def storage(settings: Settings) -> Storage:
    """The one place a concrete backend is chosen."""
    if settings.storage.backend == "s3":
        return S3Storage(settings.storage.s3, spool_dir=settings.storage.spool_dir)
    return FilesystemStorage(settings.storage.filesystem.root)


def state(redis: Redis, keys: Keys, settings: RedisSettings | None = None) -> RedisState:
    """Upload state; with ``settings``, offsets wait for ``redis.replica_acks`` replicas (state/replicas.py)."""
    if settings is None:
        return RedisState(redis, keys)
    acks = ReplicaAcks(redis, settings.replica_acks, settings.replica_ack_timeout, enabled=not settings.is_cluster)
    return RedisState(redis, keys, acks)


def locker(redis: Redis, keys: Keys) -> Locker:
    return Locker(redis, keys)


def service(settings: Settings, redis: Redis, storage: Storage, keys: Keys) -> UploadService:
    return UploadService(state(redis, keys, settings.redis), locker(redis, keys), storage, settings.uploads,
                         preferred_part_size=storage.preferred_part_size)


def jobs(settings: Settings, keys: Keys) -> JobQueue:
    """The asset queue (not yet connected: ``await jobs.connect()``) on ``jobs.redis_url`` (default
    ``redis.url``); behind Sentinel, saq is handed a client on the current primary."""
    where = RedisSettings(url=settings.queue_redis_url)
    if settings.jobs.redis_url is None and settings.redis.sentinel is not None:
        where = settings.redis
    if where.sentinel is not None:
        return JobQueue(RedisQueue(redis(where), name=keys.queue), keys, settings.jobs)
    return JobQueue(RedisQueue.from_url(where.plain_url, name=keys.queue), keys, settings.jobs)


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
