"""Static renditions (``highest`` and ``audio-only``) made from the stored master, Mux-shaped."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

from gateway.catalog.masters import DownloadLinks, object_name
from gateway.catalog.models import Asset, FileStatus, RenditionFile, RenditionsStatus, StaticRenditions
from gateway.storage.base import Storage
from workers.media import Analysis, MediaError, process

MEMORY_LIMIT = 4 << 30


async def extract_audio(master: str, dest: str, *, timeout: float) -> None:
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file",
            "-i", master, "-map", "0:a:0", "-vn", "-c:a", "copy", "-movflags", "+faststart", dest]
    async with asyncio.timeout(timeout):
        done = await process.run(argv, memory_limit=MEMORY_LIMIT)
    if done.returncode != 0:
        raise MediaError("invalid_input", "the audio-only rendition could not be made", done.stderr)


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
