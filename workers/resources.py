"""What a job needs, opened once per worker process: Redis, storage, and the catalog stores.

Built by gateway/compose.py like the gateway's own, without importing the web application.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from gateway import compose
from gateway.catalog.assets import AssetStore
from gateway.catalog.events import EventLog
from gateway.catalog.masters import MasterAccess
from gateway.metrics import JobTimings
from gateway.service import UploadService
from gateway.settings import Settings
from gateway.state.keys import Keys
from gateway.state.redis import RedisState
from gateway.storage.base import Storage


@dataclass
class Resources:
    settings: Settings
    keys: Keys
    redis: Redis
    storage: Storage
    state: RedisState
    assets: AssetStore
    events: EventLog
    masters: MasterAccess
    timings: JobTimings
    service: UploadService   # imports from a URL write through it, as an upload's bytes do

    @classmethod
    def open(cls, settings: Settings) -> Resources:
        keys = compose.keys(settings)
        redis = compose.redis(settings.redis, socket_timeout=30)
        storage = compose.storage(settings)
        catalog = compose.catalog(settings, redis, storage, keys)
        return cls(settings=settings, keys=keys, redis=redis, storage=storage, state=compose.state(redis, keys),
                   assets=catalog.assets, events=catalog.events, masters=catalog.masters,
                   timings=catalog.timings, service=compose.service(settings, redis, storage, keys))

    async def close(self) -> None:
        await self.storage.close()
        await self.redis.aclose()
