"""What a job needs, opened once per worker process: Redis, storage, and the catalog stores."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from gateway.app import build_storage
from gateway.catalog.assets import AssetStore
from gateway.catalog.events import EventLog
from gateway.catalog.masters import DownloadLinks, MasterAccess
from gateway.catalog.records import RecordStore
from gateway.metrics import JobTimings
from gateway.settings import Settings
from gateway.state.keys import Keys
from gateway.state.redis import RedisState
from gateway.storage.base import Storage


@dataclass
class Resources:
    settings: Settings
    redis: Redis
    storage: Storage
    state: RedisState
    assets: AssetStore
    events: EventLog
    uploads: RecordStore
    masters: MasterAccess
    timings: JobTimings

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        redis = Redis.from_url(settings.redis.url, socket_timeout=30, health_check_interval=30)
        keys = Keys(settings.redis.key_prefix)
        storage = build_storage(settings)
        assets, events = AssetStore(redis, keys.prefix), EventLog(redis, keys.prefix)
        masters = MasterAccess(redis, keys.prefix, assets, events, DownloadLinks(storage, settings))
        return cls(settings=settings, redis=redis, storage=storage, state=RedisState(redis, keys),
                   assets=assets, events=events, uploads=RecordStore(redis, keys.prefix, "upload"),
                   masters=masters, timings=JobTimings(redis, keys.prefix))

    async def close(self) -> None:
        await self.storage.close()
        await self.redis.aclose()
