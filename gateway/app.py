"""The application factory: routes, middlewares and start-up/shutdown, on objects built by gateway/compose.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis

from gateway import compose
from gateway.api import openapi
from gateway.api.livepeer import LivepeerApi
from gateway.api.mux import MuxApi
from gateway.api.playback import PlaybackApi
from gateway.auth import Authenticator
from gateway.catalog.assets import AssetStore
from gateway.catalog.events import EventLog
from gateway.catalog.masters import MasterAccess
from gateway.catalog.uploads import DirectUploads
from gateway.http import BACKEND_ERROR, Handler, error_middleware, on_response_prepare
from gateway.metrics import JobTimings, Metrics
from gateway.models import Upload
from gateway.playback.access import PlaybackAccess
from gateway.playback.hosts import host_routing_middleware
from gateway.playback.images import ImageRoutes
from gateway.playback.keys import SigningKeys
from gateway.playback.stream import StreamRoutes
from gateway.protocols.resource import UploadResource
from gateway.protocols.rufh import RufhProtocol
from gateway.protocols.tus import TusProtocol
from gateway.queue import JobQueue
from gateway.service import UploadService
from gateway.settings import Settings
from gateway.state.keys import Keys
from gateway.storage.base import Storage
from gateway.ui import uploader_routes
from gateway.webhooks.api import DeliveryApi

log = logging.getLogger("gateway.app")

SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", Keys)
REDIS = web.AppKey("redis", Redis)
STORAGE = web.AppKey("storage", Storage)
SERVICE = web.AppKey("service", UploadService)
UPLOADS = web.AppKey("uploads", DirectUploads)
ASSETS = web.AppKey("assets", AssetStore)
EVENTS = web.AppKey("events", EventLog)
JOBS = web.AppKey("jobs", JobQueue)
MASTERS = web.AppKey("masters", MasterAccess)
METRICS = web.AppKey("metrics", Metrics)
TIMINGS = web.AppKey("timings", JobTimings)
DRAINING = web.AppKey("draining", list[bool])
SIGNING = web.AppKey("signing", SigningKeys)
IMAGES = web.AppKey("images", ImageRoutes)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings, keys = app[SETTINGS], app[KEYS]
    redis = compose.redis(settings.redis)
    await compose.warm_up(redis)
    storage = compose.storage(settings)
    with contextlib.suppress(Exception):  # the backend may come up later; /healthz reports it meanwhile
        await storage.prepare()
    service = compose.service(settings, redis, storage, keys)
    jobs = compose.jobs(settings, keys)
    await jobs.connect()
    catalog = compose.catalog(settings, redis, storage, keys)
    uploads = compose.direct_uploads(settings, redis, keys, service, catalog, enqueue=jobs.enqueue_asset)
    metrics = app[METRICS]
    service.on_create.append(metrics.on_created)
    service.on_complete.append(metrics.on_finished)
    service.on_terminate.append(metrics.on_terminated)
    service.on_bytes.append(metrics.bytes_received.inc)
    app[REDIS], app[STORAGE], app[SERVICE] = redis, storage, service
    app[UPLOADS], app[ASSETS], app[EVENTS], app[JOBS] = uploads, catalog.assets, catalog.events, jobs
    app[MASTERS], app[TIMINGS] = catalog.masters, catalog.timings
    app[SIGNING] = SigningKeys(redis, keys)
    app[IMAGES] = ImageRoutes(PlaybackAccess(catalog.assets, app[SIGNING]), storage, settings)
    yield
    await app[IMAGES].close()
    await jobs.close()
    await storage.close()
    await redis.aclose()


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(app[SETTINGS].uploads.sweep_interval)
            try:
                await app[SERVICE].sweep()
                await app[UPLOADS].reconcile()
                await app[MASTERS].expire()
            except Exception:
                log.exception("sweep.failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    metrics.in_flight.inc()
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        metrics.in_flight.dec()
        metrics.requests.labels(request.method, str(status)).inc()
        metrics.request_seconds.labels(request.method).observe(time.perf_counter() - started)
        if backend := request.get(BACKEND_ERROR):
            metrics.errors.labels(backend).inc()


async def metrics_endpoint(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    snapshot = metrics.snapshot
    try:
        async with asyncio.timeout(3):
            queue = request.app[JOBS].queue
            snapshot.depth = {state: float(await queue.count(state))
                              for state in ("queued", "active", "incomplete")}
            snapshot.jobs = await request.app[TIMINGS].read()
    except Exception:
        metrics.errors.labels("redis").inc()
    return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def readyz(request: web.Request) -> web.Response:
    """Ready for traffic: Redis and storage answer and the process is not shutting down."""
    if request.app[DRAINING][0]:
        return web.json_response({"status": "draining"}, status=503)
    return await healthz(request)


async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            await request.app[REDIS].ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    try:
        async with asyncio.timeout(3):
            await request.app[STORAGE].ping()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if healthy else "unavailable", "checks": checks},
                             status=200 if healthy else 503)


def create_app(settings: Settings) -> web.Application:
    middlewares = [metrics_middleware, error_middleware]
    if settings.playback.host_routing:
        middlewares.append(host_routing_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=1024**2)
    app[SETTINGS] = settings
    app[KEYS] = compose.keys(settings)
    app[METRICS] = Metrics()
    app[DRAINING] = [False]
    app.cleanup_ctx.extend([_resources, _sweeper])
    auth = Authenticator(settings.auth.tokens)

    async def on_startup(app: web.Application) -> None:
        uploads = app[UPLOADS]
        adopted_timeout = int(min(max(settings.uploads.expiration, 60), 604800))

        async def adopt(upload: Upload) -> None:
            await uploads.adopt(upload, timeout=adopted_timeout)

        tus = TusProtocol(app[SERVICE], auth, base_url=settings.server.base_url, adopt=adopt)
        mux = MuxApi(uploads, app[ASSETS], app[EVENTS], app[SERVICE], auth, app[MASTERS])
        livepeer = LivepeerApi(uploads, app[ASSETS], auth,
                               default_timeout=settings.direct_uploads.default_timeout)
        rufh = RufhProtocol(app[SERVICE], tus, interim_responses=settings.server.interim_responses)
        resource = UploadResource(app[SERVICE], tus, rufh)
        app.router.add_routes(tus.routes() + resource.routes() + mux.routes() + livepeer.routes()
                              + openapi.routes(settings.server.base_url))
        app.router.add_routes(DeliveryApi(app[REDIS], app[KEYS], auth).routes())
        access = PlaybackAccess(app[ASSETS], app[SIGNING])
        app.router.add_routes(StreamRoutes(access, app[STORAGE], settings).routes() + app[IMAGES].routes()
                              + PlaybackApi(app[ASSETS], app[SIGNING], auth, settings).routes())

    async def on_shutdown(app: web.Application) -> None:
        app[DRAINING][0] = True
        app[SERVICE].locker.stop_all()

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_routes(uploader_routes(settings.server.base_url))
    app.on_startup.append(on_startup)
    app.on_response_prepare.append(on_response_prepare)
    app.on_shutdown.append(on_shutdown)
    return app
