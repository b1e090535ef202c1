"""Master access and static renditions: download URLs for an asset's stored files, and their lifecycle.

A backend with ``presigned_downloads`` (S3) gives an S3 presigned GET (the S3 server checks the
signature); any other (the filesystem) a gateway URL ``/downloads/<asset>/<file>?expires=..&signature=..``
signed with HMAC-SHA256 under ``master_access.signing_key``. Either expires after ``master_access.ttl``; then the
asset's ``master`` object disappears (``video.asset.master.deleted``) and asking again gives a fresh URL.

A URL never points at the stored master itself but at a *grant*: a copy made when the URL is handed out
(a hard link on disk, a server-side copy in S3) under an unguessable name. Withdrawing access
(``master_access: none``, expiry, deleting the asset) deletes the grant, so every link handed out stops
working at once, presigned S3 URLs included, while the master stays for the asset's own use.

The ``master`` object follows ``MASTER_TRANSITIONS`` (catalog/models.py): none -> preparing -> ready (a URL)
or errored, ready -> preparing (asked for again: a fresh URL), anything -> none (withdrawn). Each change is
written by ``AssetStore.write``, a compare-and-set on the master's status, so a withdrawal racing a publish
has one winner and an event is recorded once.

The zset ``<p>:masters:expiry`` (``Keys.master_expiry``) holds asset id -> when its master URL expires.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import replace

from redis.asyncio import Redis

from gateway.catalog.assets import RENDITION_FILES, AssetStore
from gateway.catalog.events import EventLog
from gateway.catalog.models import Asset, AssetStatus, Master, MasterAccessSetting, MasterStatus
from gateway.catalog.playback import asset_prefix
from gateway.catalog.wire import mux_asset
from gateway.settings import Settings
from gateway.state.keys import Keys
from gateway.storage.base import Storage

MASTER = "master.mp4"
ASSET_FILES = (MASTER, *(name for name, _ in RENDITION_FILES.values()))   # every file an asset may store
GRANT = re.compile(r"master\.[A-Za-z0-9_-]{22,64}\.mp4")   # a handed-out copy of the master


def downloadable(file: str) -> bool:
    """A file name a signed download link may name."""
    return file in ASSET_FILES or GRANT.fullmatch(file) is not None


def object_name(asset_id: str, file: str) -> str:
    return f"assets/{asset_id}/{file}"


async def delete_asset_files(storage: Storage, asset_id: str) -> None:
    """Every object of the asset: master, grants, static renditions, HLS rungs and cached images."""
    await storage.delete_prefix(asset_prefix(asset_id))


def signing_key(settings: Settings) -> bytes:
    """The configured key, else one derived from the API token secrets (the same on every gateway and
    worker sharing a config)."""
    configured = settings.master_access.signing_key.get_secret_value()
    if configured:
        return configured.encode()
    secrets = "\n".join(t.secret.get_secret_value() for t in settings.auth.tokens)
    return hashlib.sha256(b"upgw-downloads\n" + secrets.encode()).digest()


class DownloadLinks:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self.storage = storage
        self.ttl = settings.master_access.ttl
        self.key = signing_key(settings)
        self.base_url = settings.server.base_url

    def signature(self, asset_id: str, file: str, expires: int) -> str:
        message = f"{asset_id}/{file}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def verify(self, asset_id: str, file: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < time.time():
            return False
        return hmac.compare_digest(self.signature(asset_id, file, int(expires)), signature)

    async def url(self, asset_id: str, file: str) -> tuple[str, float]:
        expires = int(time.time() + self.ttl)
        if self.storage.presigned_downloads:
            return await self.storage.locate_object(object_name(asset_id, file), ttl=self.ttl), expires
        signature = self.signature(asset_id, file, expires)
        return f"{self.base_url}/downloads/{asset_id}/{file}?expires={expires}&signature={signature}", expires


class MasterAccess:
    """Turns ``master_access`` on and off and keeps the ``master`` object honest."""

    WITHDRAW_ATTEMPTS = 8   # a withdrawal that keeps losing races to publications gives up after this many

    def __init__(self, redis: Redis, keys: Keys, assets: AssetStore, events: EventLog,
                 links: DownloadLinks) -> None:
        self.redis = redis
        self.expiry = keys.master_expiry
        self.assets = assets
        self.events = events
        self.links = links

    async def _emit(self, event_type: str, asset_id: str) -> None:
        asset = await self.assets.get(asset_id)
        if asset is not None:
            await self.events.record(event_type, "asset", asset_id, mux_asset(asset), once=False)

    async def _move(self, asset: Asset, master: Master | None, event_type: str) -> Asset | None:
        """The master becomes ``master`` (recorded as ``event_type``) unless a racing change came first."""
        written = await self.assets.write(asset, replace(asset, master=master))
        if written is not None:
            await self._emit(event_type, asset.id)
        return written

    async def request(self, asset: Asset) -> None:
        """``master_access: temporary``: a URL now if the master file exists, else ``preparing``."""
        if asset.master_access != "temporary":
            asset = await self.assets.write(asset, replace(asset, master_access="temporary")) or asset
        if asset.status is AssetStatus.ERRORED:
            await self.fail(asset.id)
            return
        if asset.master is None or asset.master.status is not MasterStatus.PREPARING:
            # the grant handed out before (if any) keeps working until a fresh one replaces it
            kept = asset.master or Master(MasterStatus.PREPARING)
            await self._move(asset, replace(kept, status=MasterStatus.PREPARING, url=None),
                             "video.asset.master.preparing")
        if asset.status is AssetStatus.READY and asset.master_file:
            await self.publish(asset.id)

    async def publish(self, asset_id: str) -> None:
        """The master file is stored and a URL was asked for (the master is ``preparing``): hand out a
        fresh URL to a fresh grant (called by the worker and by ``request``); the previous grant, if any,
        is deleted. A master withdrawn or published meanwhile is left as it is."""
        asset = await self.assets.get(asset_id)
        if asset is None or asset.master is None or asset.master.status is not MasterStatus.PREPARING:
            return
        grant = f"master.{secrets.token_urlsafe(24)}.mp4"
        storage = self.links.storage
        await storage.copy_object(object_name(asset_id, MASTER), object_name(asset_id, grant))
        url, expires = await self.links.url(asset_id, grant)
        ready = Master(MasterStatus.READY, url=url, grant=grant, expires=expires)
        if await self.assets.write(asset, replace(asset, master=ready)) is None:
            await storage.delete_object(object_name(asset_id, grant))   # nobody will ever name it
            return
        await self.redis.zadd(self.expiry, {asset_id: expires})
        if asset.master.grant and asset.master.grant != grant:
            await storage.delete_object(object_name(asset_id, asset.master.grant))
        await self._emit("video.asset.master.ready", asset_id)

    async def fail(self, asset_id: str) -> None:
        """The asset errored: so does a master asked for (once)."""
        asset = await self.assets.get(asset_id)
        if asset is not None and (asset.master is None or asset.master.status is not MasterStatus.ERRORED):
            await self._move(asset, Master(MasterStatus.ERRORED), "video.asset.master.errored")

    async def withdraw(self, asset_id: str, *, master_access: MasterAccessSetting | None = "none") -> None:
        """``master_access: none``, or the URL expired: the ``master`` object disappears."""
        for _ in range(self.WITHDRAW_ATTEMPTS):
            asset = await self.assets.get(asset_id)
            if asset is None:
                return
            if master_access is not None and asset.master_access != master_access:
                asset = await self.assets.write(asset, replace(asset, master_access=master_access)) or asset
            if asset.master is None:
                await self.redis.zrem(self.expiry, asset_id)
                return
            if asset.master.grant:   # every link handed out dies with its grant
                await self.links.storage.delete_object(object_name(asset_id, asset.master.grant))
            if await self._move(asset, None, "video.asset.master.deleted") is not None:
                await self.redis.zrem(self.expiry, asset_id)
                return

    async def expire(self, now: float | None = None) -> int:
        """Withdraw every master URL past its expiry (run by the gateway's sweeper)."""
        due = await self.redis.zrangebyscore(self.expiry, "-inf", now or time.time(), start=0, num=500)
        for raw in due:
            await self.withdraw(raw.decode(), master_access=None)
        return len(due)

    async def check(self, asset: Asset) -> Asset:
        """An asset as the API shows it: an expired master URL is withdrawn before anyone sees it."""
        if asset.master is not None and asset.master.expires is not None and asset.master.expires < time.time():
            await self.withdraw(asset.id, master_access=None)
            return await self.assets.get(asset.id) or asset
        return asset
