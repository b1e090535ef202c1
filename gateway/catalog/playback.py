"""Playback ids and where an asset's playable files live.

A playback id names an asset for playback (Mux's ``playback_ids[]``; a Livepeer asset's ``playbackId``).
The asset record holds its ids (``Asset.playback_ids``, the truth); the hash ``<p>:{<pid>}:playback``
(``Keys.playback``) is the index from an id to its asset, written when the id is made and removed when
it is deleted (or its asset is). The index is only a pointer: :meth:`PlaybackIndex.resolve` checks the
asset still lists the id, so an index entry a crash left behind answers 404, never another asset.

Storage layout under ``assets/<asset id>/``:

    hls/<rung>/index.m3u8      a rung's VOD media playlist (relative URIs: init.mp4, seg00000.m4s, ...)
    hls/<rung>/init.mp4        its CMAF initialisation segment
    hls/<rung>/seg<n>.m4s      its media segments
    images/<key>.<ext>         thumbnails, storyboards and animations rendered on demand (a cache)

The multivariant playlist is not stored: the gateway writes it from ``Asset.hls`` for each request
(``max_resolution``, ``min_resolution``, ``rendition_order``, a signed id's token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redis.asyncio import Redis

from gateway.catalog.models import Asset, PlaybackId
from gateway.state.keys import Keys

POLICIES = ("public", "signed", "drm")
LIVEPEER_POLICY = "public"
HLS_DIR = "hls"
IMAGES_DIR = "images"
RUNG_NAME = re.compile(r"[0-9]{2,4}p|audio")
SEGMENT_NAME = re.compile(r"init\.mp4|seg[0-9]{5,6}\.m4s|index\.m3u8")
PLAYBACK_ID = re.compile(r"[A-Za-z0-9]{1,64}")


def asset_prefix(asset_id: str) -> str:
    """Every object of an asset starts with this (``Storage.delete_prefix`` removes them all)."""
    return f"assets/{asset_id}/"


def hls_object(asset_id: str, rung: str, file: str) -> str:
    return f"{asset_prefix(asset_id)}{HLS_DIR}/{rung}/{file}"


def image_object(asset_id: str, key: str, ext: str) -> str:
    return f"{asset_prefix(asset_id)}{IMAGES_DIR}/{key}.{ext}"


@dataclass(frozen=True)
class Playback:
    """What a playback id resolves to."""

    id: str
    policy: str
    asset: Asset


def playback_ids_of(asset: Asset) -> list[PlaybackId]:
    """Every id that plays ``asset``: its Mux playback ids and its Livepeer ``playbackId``."""
    ids = list(asset.playback_ids or ())
    if asset.livepeer is not None:
        ids.append(PlaybackId(id=asset.livepeer.playback_id, policy=LIVEPEER_POLICY))
    return ids


class PlaybackIndex:
    """The index from a playback id to its asset (``<p>:{<pid>}:playback``)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def add(self, asset_id: str, playback: PlaybackId) -> None:
        await self.redis.hset(self.keys.playback(playback.id), mapping={"asset": asset_id, "policy": playback.policy})

    async def remove(self, playback_id: str) -> None:
        await self.redis.delete(self.keys.playback(playback_id))

    async def asset_of(self, playback_id: str) -> str | None:
        """The asset id an index entry names (unchecked: see :meth:`AssetStore.playback`)."""
        if PLAYBACK_ID.fullmatch(playback_id) is None:
            return None
        raw = await self.redis.hget(self.keys.playback(playback_id), "asset")
        return None if raw is None else raw.decode()
