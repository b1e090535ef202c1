"""``GET /video/v1/webhook-deliveries``: the newest delivery attempts, newest first (API token required)."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from gateway.api.bodies import query_int
from gateway.api.mux import data
from gateway.auth import Authenticator
from gateway.state.keys import Keys
from gateway.webhooks.store import DeliveryStore


class DeliveryApi:
    def __init__(self, redis: Redis, keys: Keys, auth: Authenticator) -> None:
        self.store = DeliveryStore(redis, keys)
        self.auth = auth

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/video/v1/webhook-deliveries", self.list_deliveries)]

    async def list_deliveries(self, request: web.Request) -> web.Response:
        self.auth.check(request, "webhooks:read")
        limit = query_int(request, "limit", 25, low=1, high=100)
        return data(await self.store.recent(limit))
