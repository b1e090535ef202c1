"""Assets: created once from a finished direct upload (:func:`initial_asset`), filled in by the worker,
kept by :class:`AssetStore` as typed records (catalog/models.py) in the one schema (catalog/schema.py).
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from gateway.catalog import schema
from gateway.catalog.models import (
    ASSET_INITIAL,
    INGEST_DIRECT_UPLOAD,
    INGEST_URL,
    Asset,
    DirectUpload,
    FileStatus,
    LivepeerExtras,
    Master,
    MasterAccessSetting,
    MasterStatus,
    Meta,
    PlaybackId,
    Progress,
    ProgressState,
    RenditionFile,
    RenditionsStatus,
    StaticRenditions,
    check_asset,
)
from gateway.catalog.playback import Playback, PlaybackIndex, playback_ids_of
from gateway.catalog.records import Guard, RecordStore, new_id
from gateway.errors import BadRequest, InvalidTransition
from gateway.state.keys import Keys

RENDITION_FILES = {"highest": ("highest.mp4", "mp4"), "audio-only": ("audio.m4a", "m4a")}
QUALITY_TO_TIER = {"basic": "baseline", "plus": "smart", "premium": "premium"}
TIER_TO_QUALITY = {tier: quality for quality, tier in QUALITY_TO_TIER.items()}
TITLE_LENGTH = 512   # meta.title's limit (api/schemas.py)


def rendition_file(resolution: str, passthrough: str | None = None) -> RenditionFile:
    """The Mux static-rendition file entry for a requested resolution (before it is made)."""
    name, ext = RENDITION_FILES.get(resolution, (f"{resolution}.mp4", "mp4"))
    return RenditionFile(id=new_id(24), name=name, ext=ext, resolution=resolution, status=FileStatus.PREPARING,
                         passthrough=passthrough or None)


def _policies(settings: Mapping[str, Any]) -> list[str]:
    policies = settings.get("playback_policies") or settings.get("playback_policy") or []
    return [policies] if isinstance(policies, str) else list(policies)


def _meta(settings: Mapping[str, Any], title: str | None) -> Meta | None:
    """``meta`` as the settings give it; ``title`` (the uploaded file's name) fills a title they lack."""
    given = settings.get("meta")
    meta = None if given is None else schema.meta_from(given)
    if title and (meta is None or not meta.title):
        meta = replace(meta or Meta(), title=title[:TITLE_LENGTH])
    return meta


def initial_asset(upload: DirectUpload, *, title: str | None = None, now: float | None = None) -> Asset:
    """The Asset of ``upload`` the moment its last byte lands (status ``preparing``). ``title`` becomes
    ``meta.title`` unless the upload's ``new_asset_settings`` set one."""
    return new_asset(upload.asset_id, upload.new_asset_settings, source=upload.storage_upload,
                     upload_id=upload.id, test=upload.test, title=title, now=now, livepeer=upload.livepeer)


def new_asset(asset_id: str, settings: Mapping[str, Any], *, source: str, upload_id: str = "", test: bool = False,
              title: str | None = None, now: float | None = None, source_url: str | None = None,
              livepeer: LivepeerExtras | None = None) -> Asset:
    """A new Asset (status ``preparing``) made with Mux's asset ``settings`` (validated already), its bytes
    in the storage upload ``source``: a direct upload's (``upload_id``), or, with ``source_url``, the
    upload a URL is imported into (``ingest_type`` on_demand_url)."""
    created = now or time.time()
    quality, tier = settings.get("video_quality"), settings.get("encoding_tier")
    if quality is not None and tier is None:
        tier = QUALITY_TO_TIER[quality]
    elif tier is not None and quality is None:
        quality = TIER_TO_QUALITY[tier]
    master_access: MasterAccessSetting = "temporary" if settings.get("master_access") == "temporary" else "none"
    wanted = settings.get("static_renditions") or []
    given_test = settings.get("test")
    return Asset(
        id=asset_id, status=ASSET_INITIAL, created_at=int(created), created=created, upload_id=upload_id,
        source=source, progress=Progress(ProgressState.INGESTING, 0),
        ingest_type=INGEST_URL if source_url is not None else INGEST_DIRECT_UPLOAD,
        master_access=master_access, mp4_support=settings.get("mp4_support", "none"),
        max_resolution_tier=settings.get("max_resolution_tier", "1080p"), video_quality=quality or "basic",
        encoding_tier=tier or "baseline", normalize_audio=bool(settings.get("normalize_audio", False)),
        passthrough=settings.get("passthrough"), meta=_meta(settings, title),
        per_title_encode=settings.get("per_title_encode"), test=True if test else given_test,
        playback_ids=tuple(PlaybackId(id=new_id(24), policy=p) for p in _policies(settings)) or None,
        master=Master(MasterStatus.PREPARING) if master_access == "temporary" else None,
        static_renditions=StaticRenditions(RenditionsStatus.PREPARING, tuple(
            rendition_file(r["resolution"], r.get("passthrough")) for r in wanted)) if wanted else None,
        source_url=source_url, livepeer=livepeer)


# A cursor is the last asset's index score written out exactly in plain decimals, "_", and its id. The
# grammar is a regular expression (the OpenAPI ``pattern`` of ``cursor``), so every cursor it admits names
# a position (its score is finite) and every other string is 400; empty means the first page.
_CURSOR = r"(-?[0-9]{1,300}(?:\.[0-9]{1,400})?)_([A-Za-z0-9]{1,64})"
CURSOR_PATTERN = rf"^(?:{_CURSOR})?$"
_CURSOR_RE = re.compile(_CURSOR)
BAD_CURSOR = "cursor is not one this API returned (pass next_cursor from the previous page)"
# Before: base64url of "<repr(score)>|<id>"; still read, so a listing that spans an upgrade goes on.
_OLD_CURSOR_RE = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\|([A-Za-z0-9]{1,64})")


def _cursor(score: float, asset_id: str) -> str:
    return f"{Decimal(repr(score)):f}_{asset_id}"   # the shortest exact decimal, never an exponent


def parse_cursor(cursor: str) -> tuple[float, str] | None:
    """The position a cursor from :func:`_cursor` names; None for anything else (garbage, NaN, inf)."""
    match = _CURSOR_RE.fullmatch(cursor)
    if match is None:
        try:
            raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
            match = _OLD_CURSOR_RE.fullmatch(raw.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return None
    if match is None:
        return None
    score = float(match.group(1))
    return (score, match.group(2)) if math.isfinite(score) else None


class AssetStore:
    """Assets as typed records. Every change is a :meth:`write` of the record as read and the record as it
    should be: the transitions in it are checked against their tables first (``InvalidTransition``), only
    the fields that differ are written, and a status change is a compare-and-set on the old status (a
    master's on the master's), so of two racing changes one wins."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.records = RecordStore(redis, keys, "asset")
        self.redis = redis
        self.playback_index = PlaybackIndex(redis, keys)

    async def create(self, asset: Asset) -> bool:
        """Store a new asset; False when one with its id exists already."""
        if asset.status is not ASSET_INITIAL:
            raise InvalidTransition(f"asset {asset.id}: an asset is created {ASSET_INITIAL}, not {asset.status}")
        fields = schema.asset_fields(asset)
        del fields["id"]
        for playback in playback_ids_of(asset):   # before the record: an id never names a missing asset
            await self.playback_index.add(asset.id, playback)
        return await self.records.create(asset.id, fields, asset.created)

    async def get(self, asset_id: str) -> Asset | None:
        raw = await self.records.get(asset_id)
        return None if raw is None else schema.asset_from(raw)

    async def write(self, old: Asset, new: Asset, *, now: float | None = None) -> Asset | None:
        """Turn ``old`` (as read) into ``new``; the asset as written, or None when it is gone or ``old``'s
        status (or, for a master change, the master's) is no longer current."""
        check_asset(old, new)
        guard = None
        if new.status != old.status:
            guard = Guard("status", str(old.status))
        elif (new.master is None) != (old.master is None) or (
                new.master is not None and old.master is not None and new.master.status != old.master.status):
            guard = Guard("master", None if old.master is None else str(old.master.status), member="status")
        if new.status != old.status or new.progress != old.progress:
            new = replace(new, updated=now or time.time())
        fields, removed = schema.changes(schema.asset_fields(old), schema.asset_fields(new))
        if not fields and not removed:
            return new
        return new if await self.records.write(old.id, fields, remove=removed, guard=guard) else None

    async def delete(self, asset_id: str) -> None:
        asset = await self.get(asset_id)
        await self.records.delete(asset_id)
        for playback in [] if asset is None else playback_ids_of(asset):
            await self.playback_index.remove(playback.id)

    async def playback(self, playback_id: str) -> Playback | None:
        """The asset a playback id plays and the id's policy; None for an unknown or deleted id."""
        asset_id = await self.playback_index.asset_of(playback_id)
        asset = None if asset_id is None else await self.get(asset_id)
        if asset is None:
            return None
        found = next((p for p in playback_ids_of(asset) if p.id == playback_id), None)
        return None if found is None else Playback(id=found.id, policy=found.policy, asset=asset)

    async def add_playback_id(self, asset: Asset, policy: str) -> tuple[Asset, PlaybackId] | None:
        """A new playback id on ``asset`` (as read); None when the asset changed meanwhile (read it again)."""
        playback = PlaybackId(id=new_id(24), policy=policy)
        await self.playback_index.add(asset.id, playback)
        changed = replace(asset, playback_ids=(*(asset.playback_ids or ()), playback))
        written = await self._replace_ids(asset, changed)
        if written is None:
            await self.playback_index.remove(playback.id)
            return None
        return written, playback

    async def remove_playback_id(self, asset: Asset, playback_id: str) -> Asset | None:
        """``asset`` (as read) without the id; None when the asset changed meanwhile."""
        kept = tuple(p for p in asset.playback_ids or () if p.id != playback_id)
        written = await self._replace_ids(asset, replace(asset, playback_ids=kept or None))
        if written is not None:
            await self.playback_index.remove(playback_id)
        return written

    async def _replace_ids(self, old: Asset, new: Asset) -> Asset | None:
        """Write the playback ids as a compare-and-set on the list as read (two racing adds both land)."""
        before = None if old.playback_ids is None else [{"id": p.id, "policy": p.policy} for p in old.playback_ids]
        fields, removed = schema.changes(schema.asset_fields(old), schema.asset_fields(new))
        guard = Guard("playback_ids", before)
        return new if await self.records.write(old.id, fields, remove=removed, guard=guard) else None

    async def page(self, *, limit: int, cursor: str | None = None,
                   page: int = 1) -> tuple[list[Asset], str | None]:
        """Newest first. With ``cursor`` (from a previous page) the page after it; else page ``page``."""
        index = self.records.index
        if cursor:
            position = parse_cursor(cursor)
            if position is None:
                raise BadRequest(BAD_CURSOR)
            score, last_id = position
            rows = await self.redis.zrevrangebyscore(index, score, "-inf", start=0, num=limit + 64,
                                                     withscores=True)
            ids = [(i.decode(), s) for i, s in rows]
            ids = [(i, s) for i, s in ids if s < score or (s == score and i < last_id)][: limit + 1]
        else:
            start = (page - 1) * limit
            rows = await self.redis.zrevrange(index, start, start + limit, withscores=True)
            ids = [(i.decode(), s) for i, s in rows]
        more = len(ids) > limit
        ids = ids[:limit]
        assets = [schema.asset_from(raw) for raw in await self.records.many([i for i, _ in ids])]
        next_cursor = _cursor(ids[-1][1], ids[-1][0]) if more and ids else None
        return assets, next_cursor
