"""Assets in the Mux shape: created once from a finished direct upload, filled in by the worker.

Fields whose names start with ``_`` are internal (where the bytes are, the job's bookkeeping) and never
leave the server; :func:`public` strips them.
"""

from __future__ import annotations

import base64
import math
import re
import time
from decimal import Decimal
from typing import Any

from redis.asyncio import Redis

from gateway.catalog.records import RecordStore, new_id
from gateway.errors import BadRequest
from gateway.state.keys import Keys

DEFAULTS: dict[str, Any] = {
    "master_access": "none",
    "mp4_support": "none",
    "max_resolution_tier": "1080p",
    "video_quality": "basic",
    "encoding_tier": "baseline",
    "normalize_audio": False,
}
# new_asset_settings keys copied onto the Asset as they are
COPIED = ("passthrough", "meta", "master_access", "mp4_support", "max_resolution_tier", "video_quality",
          "normalize_audio", "per_title_encode", "test")
RENDITION_FILES = {"highest": ("highest.mp4", "mp4"), "audio-only": ("audio.m4a", "m4a")}


def rendition_file(resolution: str) -> dict[str, Any]:
    """The Mux static-rendition file entry for a requested resolution (before it is made)."""
    name, ext = RENDITION_FILES.get(resolution, (f"{resolution}.mp4", "mp4"))
    return {"id": new_id(24), "name": name, "ext": ext, "type": "standard", "resolution": resolution}
QUALITY_TO_TIER = {"basic": "baseline", "plus": "smart", "premium": "premium"}


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def initial_asset(asset_id: str, upload_id: str, settings: dict[str, Any], *, source: str,
                  now: float | None = None) -> dict[str, Any]:
    """The Asset as it is the moment its upload's last byte lands (status ``preparing``)."""
    created = int(now or time.time())
    asset: dict[str, Any] = {"id": asset_id, "created_at": str(created), "status": "preparing",
                             "upload_id": upload_id, "ingest_type": "on_demand_direct_upload", **DEFAULTS}
    for key in COPIED:
        if key in settings:
            asset[key] = settings[key]
    if "video_quality" in settings and "encoding_tier" not in settings:
        asset["encoding_tier"] = QUALITY_TO_TIER[settings["video_quality"]]
    elif "encoding_tier" in settings:
        asset["encoding_tier"] = settings["encoding_tier"]
        asset.setdefault("video_quality", {v: k for k, v in QUALITY_TO_TIER.items()}[settings["encoding_tier"]])
    policies = settings.get("playback_policies") or settings.get("playback_policy") or []
    if policies:
        asset["playback_ids"] = [{"id": new_id(24), "policy": policy} for policy in policies]
    asset["progress"] = {"state": "ingesting", "progress": 0}
    if asset.get("master_access") == "temporary":
        asset["master"] = {"status": "preparing"}
    if wanted := settings.get("static_renditions"):
        asset["_renditions"] = [r["resolution"] for r in wanted]
        asset["static_renditions"] = {"status": "preparing", "files": [
            {**rendition_file(r["resolution"]), "status": "preparing", **({"passthrough": r["passthrough"]}
                                                                         if r.get("passthrough") else {})}
            for r in wanted]}
    asset["_source"] = source          # the storage upload id holding the original bytes
    asset["_created"] = now or time.time()
    return asset


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
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.records = RecordStore(redis, keys, "asset")
        self.redis = redis

    async def create(self, asset: dict[str, Any]) -> bool:
        fields = {k: v for k, v in asset.items() if k != "id"}
        return await self.records.create(asset["id"], fields, asset["_created"])

    async def get(self, asset_id: str) -> dict[str, Any] | None:
        return await self.records.get(asset_id)

    async def update(self, asset_id: str, fields: dict[str, Any]) -> None:
        await self.records.update(asset_id, fields)

    async def delete(self, asset_id: str) -> None:
        await self.records.delete(asset_id)

    async def page(self, *, limit: int, cursor: str | None = None,
                   page: int = 1) -> tuple[list[dict[str, Any]], str | None]:
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
        assets = await self.records.many([i for i, _ in ids])
        next_cursor = _cursor(ids[-1][1], ids[-1][0]) if more and ids else None
        return assets, next_cursor
