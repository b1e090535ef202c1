"""Static renditions (``highest`` and ``audio-only``) made from the stored master, Mux-shaped."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from gateway.catalog.masters import DownloadLinks, object_name
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


async def make_renditions(asset: dict[str, Any], master: str, analysis: Analysis, storage: Storage,
                          links: DownloadLinks, *, timeout: float) -> dict[str, Any]:
    """Store each wanted rendition next to the master; returns the asset's ``static_renditions``."""
    files: list[dict[str, Any]] = []
    video = next((t for t in analysis.tracks if t["type"] == "video"), None)
    has_audio = any(t["type"] == "audio" for t in analysis.tracks)
    duration = analysis.duration or 0
    for entry in (asset.get("static_renditions") or {}).get("files", []):
        file = dict(entry)
        if file["resolution"] == "highest" and video is not None:
            local = master
            file.update(width=video["max_width"], height=video["max_height"],
                        resolution_tier=analysis.resolution_tier)
        elif file["resolution"] == "audio-only" and has_audio:
            local = str(Path(master).with_name("audio.m4a"))
            await extract_audio(master, local, timeout=timeout)
            file["resolution_tier"] = "audio-only"
        else:   # nothing to make it from (no video for `highest`, no audio for `audio-only`)
            files.append({**file, "status": "skipped"})
            continue
        size = await storage.put_object(object_name(asset["id"], file["name"]), local)
        url, _ = await links.url(asset["id"], file["name"])
        bitrate = int(size * 8 / duration) if duration > 0 else 0
        files.append({**file, "status": "ready", "filesize": str(size), "bitrate": bitrate, "url": url})
        if local != master:
            os.unlink(local)
    return {"status": "ready", "files": files}
