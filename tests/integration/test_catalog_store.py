"""The typed stores on a real Redis: records written in the earlier dict shape read back and stay intact
when changed, a refused transition writes nothing, status changes are compare-and-set (of two racing
changes one wins), and a record deleted meanwhile is never brought back by a late write."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from gateway.app import ASSETS, EVENTS, MASTERS, STORAGE
from gateway.catalog.assets import AssetStore
from gateway.catalog.masters import MASTER, object_name
from gateway.catalog.models import (
    Asset,
    AssetStatus,
    Master,
    MasterStatus,
    Progress,
    ProgressState,
    UploadStatus,
)
from gateway.catalog.records import decode
from gateway.catalog.uploads import DirectUploadStore
from gateway.errors import InvalidTransition
from gateway.state.keys import Keys
from tests.servers import RedisService
from tests.unit.test_catalog_schema import OLD_ASSET, OLD_UPLOADS

Client = TestClient[Any, Any]


@pytest.fixture
async def redis(redis_service: RedisService) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_service.url)
    yield client
    await client.aclose()


@pytest.fixture
def keys() -> Keys:
    return Keys(f"t{uuid.uuid4().hex[:8]}")


async def stored(redis: Redis, key: str) -> dict[str, Any]:
    return decode(await redis.hgetall(key))


async def old_asset(assets: AssetStore, **changed: Any) -> Asset:
    """An asset stored as the dict-shaped code stored it (every field as it wrote it; None: absent)."""
    raw = {k: v for k, v in {**OLD_ASSET, **changed}.items() if v is not None}
    assert await assets.records.create(raw["id"], {k: v for k, v in raw.items() if k != "id"}, raw["_created"])
    asset = await assets.get(raw["id"])
    assert asset is not None
    return asset


async def test_an_old_asset_reads_back_and_a_change_touches_only_its_fields(redis: Redis, keys: Keys) -> None:
    assets = AssetStore(redis, keys)
    asset = await old_asset(assets)
    assert asset.status is AssetStatus.READY and asset.master is not None and asset.master.grant == "master.x.mp4"
    before = await stored(redis, assets.records.key(asset.id))
    assert before == OLD_ASSET
    changed = await assets.write(asset, replace(asset, passthrough="new", meta=None))
    assert changed is not None
    after = await stored(redis, assets.records.key(asset.id))
    expected = {k: v for k, v in OLD_ASSET.items() if k != "meta"}
    assert after == {**expected, "passthrough": "new"}   # `_renditions` and the rest as they were


async def test_an_old_upload_reads_back_and_moves_on(redis: Redis, keys: Keys) -> None:
    uploads = DirectUploadStore(redis, keys)
    raw = OLD_UPLOADS[0]
    await uploads.records.create(raw["id"], {k: v for k, v in raw.items() if k != "id"}, raw["_created"])
    upload = await uploads.get(raw["id"])
    assert upload is not None and upload.status is UploadStatus.WAITING
    created = await uploads.write(upload, replace(upload, status=UploadStatus.ASSET_CREATED), now=1700000001.0)
    assert created is not None
    after = await stored(redis, uploads.records.key(upload.id))
    assert after == {**raw, "status": "asset_created", "asset_id": "AS1", "_updated": 1700000001.0}


async def test_a_refused_transition_raises_and_writes_nothing(redis: Redis, keys: Keys) -> None:
    assets, uploads = AssetStore(redis, keys), DirectUploadStore(redis, keys)
    asset = await old_asset(assets)
    before = await redis.hgetall(assets.records.key(asset.id))
    for wrong in (replace(asset, status=AssetStatus.ERRORED), replace(asset, status=AssetStatus.PREPARING),
                  replace(asset, master=Master(MasterStatus.ERRORED))):
        with pytest.raises(InvalidTransition):
            await assets.write(asset, wrong)
    assert await redis.hgetall(assets.records.key(asset.id)) == before
    raw = OLD_UPLOADS[3]   # errored: final
    await uploads.records.create(raw["id"], {k: v for k, v in raw.items() if k != "id"}, raw["_created"])
    upload = await uploads.get(raw["id"])
    assert upload is not None
    with pytest.raises(InvalidTransition):
        await uploads.write(upload, replace(upload, status=UploadStatus.ASSET_CREATED))
    assert (await uploads.get(raw["id"])) == upload
    with pytest.raises(InvalidTransition):   # records are born in their first status
        await assets.create(replace(asset, id="other"))


async def test_a_cancel_racing_a_completion_has_one_winner(redis: Redis, keys: Keys) -> None:
    uploads = DirectUploadStore(redis, keys)
    for attempt in range(20):
        raw = {**OLD_UPLOADS[0], "id": f"race{attempt}"}
        await uploads.records.create(raw["id"], {k: v for k, v in raw.items() if k != "id"}, raw["_created"])
        upload = await uploads.get(raw["id"])
        assert upload is not None
        results = await asyncio.gather(
            uploads.write(upload, replace(upload, status=UploadStatus.CANCELLED)),
            uploads.write(upload, replace(upload, status=UploadStatus.ASSET_CREATED)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        final = await uploads.get(raw["id"])
        assert final is not None and final.status is winners[0].status
        assert ("asset_id" in await stored(redis, uploads.records.key(raw["id"]))) is (
            final.status is UploadStatus.ASSET_CREATED)


async def test_status_and_master_changes_are_compare_and_set(redis: Redis, keys: Keys) -> None:
    assets = AssetStore(redis, keys)
    asset = await old_asset(assets, status="preparing", master={"status": "preparing"}, _master_grant=None,
                            _master_expires=None, progress={"state": "ingesting", "progress": 0})
    ready = await assets.write(asset, replace(asset, status=AssetStatus.READY))
    assert ready is not None
    assert await assets.write(asset, replace(asset, status=AssetStatus.ERRORED)) is None   # lost: it is ready
    # the master: a publication and a withdrawal from the same reading, one wins
    published = replace(ready, master=Master(MasterStatus.READY, url="https://x/1", grant="g", expires=9.0))
    assert await assets.write(ready, published) is not None
    assert await assets.write(ready, replace(ready, master=None)) is None
    current = await assets.get(asset.id)
    assert current is not None and current.master == published.master
    # from "no master", too: of two requests one makes it preparing
    gone = await assets.write(current, replace(current, master=None))
    assert gone is not None and "master" not in await stored(redis, assets.records.key(asset.id))
    results = await asyncio.gather(*(assets.write(gone, replace(gone, master=Master(MasterStatus.PREPARING)))
                                     for _ in range(2)))
    assert sum(r is not None for r in results) == 1


async def test_a_deleted_record_is_not_brought_back(redis: Redis, keys: Keys) -> None:
    assets = AssetStore(redis, keys)
    asset = await old_asset(assets, status="preparing", progress={"state": "ingesting", "progress": 0})
    await assets.delete(asset.id)
    moved = replace(asset, progress=Progress(ProgressState.TRANSCODING, 50))
    assert await assets.write(asset, moved) is None
    assert await assets.write(asset, replace(asset, status=AssetStatus.READY)) is None
    assert not await redis.exists(assets.records.key(asset.id))


async def test_status_and_progress_changes_are_stamped(redis: Redis, keys: Keys) -> None:
    assets = AssetStore(redis, keys)
    asset = await old_asset(assets, status="preparing", progress={"state": "ingesting", "progress": 0})
    assert asset.updated is None
    moved = await assets.write(asset, replace(asset, progress=Progress(ProgressState.TRANSCODING, 10)), now=100.0)
    assert moved is not None and moved.updated == 100.0
    renamed = await assets.write(moved, replace(moved, passthrough="x"), now=200.0)
    assert renamed is not None and renamed.updated == 100.0   # not a change of state
    fetched = await assets.get(asset.id)
    assert fetched is not None and fetched.updated == 100.0


# -- master access through MasterAccess, with a real (filesystem) storage ----------------------------

@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
async def test_master_withdrawals_and_publications_settle_once(client: Client, tmp_path: Path) -> None:
    app = client.app
    assets, masters, storage, events = app[ASSETS], app[MASTERS], app[STORAGE], app[EVENTS]
    asset = await old_asset(assets, master_access="none", master=None, _master_grant=None, _master_expires=None)
    assert asset.master is None
    file = tmp_path / "m.mp4"
    file.write_bytes(b"master bytes")
    await storage.put_object(object_name(asset.id, MASTER), str(file))
    await masters.request(asset)
    ready = await assets.get(asset.id)
    assert ready is not None and ready.master is not None and ready.master.status is MasterStatus.READY
    assert ready.master_access == "temporary" and ready.master.grant is not None
    grant = object_name(asset.id, ready.master.grant)
    assert await storage.object_size(grant) == len(b"master bytes")
    await asyncio.gather(masters.withdraw(asset.id), masters.withdraw(asset.id))
    gone = await assets.get(asset.id)
    assert gone is not None and gone.master is None and gone.master_access == "none"
    assert await storage.object_size(grant) is None
    types = [e["type"] for e in await events.recent(100) if e["object_id"] == asset.id]
    assert types == ["video.asset.master.preparing", "video.asset.master.ready", "video.asset.master.deleted"]
    await masters.publish(asset.id)   # nothing was asked for: nothing is handed out
    after = await assets.get(asset.id)
    assert after is not None and after.master is None
    errored = await old_asset(assets, id="ERRORED", status="errored", master_access="none", master=None,
                              _master_grant=None, _master_expires=None, _master=None)
    for _ in range(2):   # asked for on an errored asset: the master errors, once
        await masters.request(errored)
    final = await assets.get("ERRORED")
    assert final is not None and final.master == Master(MasterStatus.ERRORED) and final.master_access == "temporary"
    types = [e["type"] for e in await events.recent(100) if e["object_id"] == "ERRORED"]
    assert types == ["video.asset.master.errored"]
