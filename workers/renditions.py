"""Renditions made from the master: the static ones (``highest`` and ``audio-only``, Mux-shaped), and the
storing and reading back of the HLS rungs' files (workers/packaging.py makes the ladder)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

from gateway.catalog.masters import DownloadLinks, object_name
from gateway.catalog.models import Asset, FileStatus, RenditionFile, RenditionsStatus, StaticRenditions
from gateway.catalog.playback import hls_object
from gateway.storage.base import Storage
from workers.media import Analysis, MediaError, cmaf, process

MEMORY_LIMIT = 4 << 30
UPLOADS = 8   # files of one HLS rung stored at once


async def extract_audio(master: str, dest: str, *, timeout: float) -> None:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file",
            "-i", master, "-map", "0:a:0", "-vn", "-c:a", "copy", "-movflags", "+faststart", dest]
    async with asyncio.timeout(timeout):
        done = await process.run(argv, memory_limit=MEMORY_LIMIT)
    if done.returncode != 0:
        raise MediaError("invalid_input", "the audio-only rendition could not be made", done.stderr)


def errored_renditions(renditions: StaticRenditions | None) -> StaticRenditions | None:
    """Static renditions that will not be made: every one not made yet errors."""
    if renditions is None or renditions.status is not RenditionsStatus.PREPARING:
        return renditions
    return StaticRenditions(RenditionsStatus.ERRORED, tuple(
        replace(f, status=FileStatus.ERRORED) if f.status is FileStatus.PREPARING else f for f in renditions.files))


async def make_renditions(asset: Asset, master: str, analysis: Analysis, storage: Storage,
                          links: DownloadLinks, *, timeout: float) -> StaticRenditions | None:
    """Store each wanted rendition next to the master; returns the asset's ``static_renditions``, each
    file ``ready`` or ``skipped`` (nothing to make it from: no video for ``highest``, no audio for
    ``audio-only``)."""
    if asset.static_renditions is None:
        return None
    files: list[RenditionFile] = []
    video = next((t for t in analysis.tracks if t["type"] == "video"), None)
    has_audio = any(t["type"] == "audio" for t in analysis.tracks)
    duration = analysis.duration or 0
    for file in asset.static_renditions.files:
        if file.resolution == "highest" and video is not None:
            local = master
            file = replace(file, width=video["max_width"], height=video["max_height"],
                           resolution_tier=analysis.resolution_tier)
        elif file.resolution == "audio-only" and has_audio:
            local = str(Path(master).with_name("audio.m4a"))
            await extract_audio(master, local, timeout=timeout)
            file = replace(file, resolution_tier="audio-only")
        else:
            files.append(replace(file, status=FileStatus.SKIPPED))
            continue
        size = await storage.put_object(object_name(asset.id, file.name), local)
        url, _ = await links.url(asset.id, file.name)
        bitrate = int(size * 8 / duration) if duration > 0 else 0
        files.append(replace(file, status=FileStatus.READY, filesize=str(size), bitrate=bitrate, url=url))
        if local != master:
            os.unlink(local)
    return StaticRenditions(RenditionsStatus.READY, tuple(files))


async def store_rung(storage: Storage, asset_id: str, name: str, directory: str) -> cmaf.Made:
    """Store a rung's files (a few at a time), its playlist last; what was made."""
    made = cmaf.read_rung(directory)
    *media, playlist = made.files
    slots = asyncio.Semaphore(UPLOADS)

    async def put(file: str) -> None:
        async with slots:
            await storage.put_object(hls_object(asset_id, name, file), str(Path(directory) / file))

    failures = [r for r in await asyncio.gather(*(put(f) for f in media), return_exceptions=True) if r is not None]
    if failures:
        raise failures[0]
    await put(playlist)
    return made


async def top_offsets(storage: Storage, asset_id: str, name: str, local: str | None) -> list[float]:
    """Where the top rung's segments start (seconds after its first), from local files or storage."""
    files = {}
    for file in (cmaf.PLAYLIST, cmaf.INIT, "seg00000.m4s", "seg00001.m4s"):
        files[file] = cmaf.head(str(Path(local) / file), 1 << 24) if local else await _read_head(
            storage, hls_object(asset_id, name, file), full=file == cmaf.PLAYLIST)
    return cmaf.cut_offsets(files[cmaf.PLAYLIST].decode(), files[cmaf.INIT], files["seg00000.m4s"],
                           files["seg00001.m4s"] or None)


async def _read_head(storage: Storage, name: str, *, full: bool) -> bytes:
    size = await storage.object_size(name)
    if not size:
        return b""
    end = size if full else min(size, cmaf.HEAD_BYTES)
    return b"".join([chunk async for chunk in storage.read_object(name, 0, end)])
