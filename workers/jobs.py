"""``process_asset``: probe a finished upload, fill its Asset, store the master, publish the outcome.

Idempotent: a finished asset is left alone, the master's object name is derived from the asset id (a
re-run replaces it), and events are recorded once per type. Media problems make the asset ``errored``
(final); anything else (storage or Redis down, the worker killed) raises, and the queue retries the job
with backoff, on this worker or another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from saq.job import Job

from gateway.catalog.assets import public
from gateway.catalog.masters import MASTER, delete_asset_files, object_name
from workers.media import MediaError, analyse, remux, standardise
from workers.renditions import make_renditions
from workers.resources import Resources

log = logging.getLogger("workers.jobs")
RESOURCES = "resources"
TRANSIENT = ("download_failed", "internal")   # MediaError types worth another attempt
JOBS = "jobs"


def master_name(asset_id: str) -> str:
    return object_name(asset_id, MASTER)


@contextlib.asynccontextmanager
async def heartbeat(job: Job | None, every: float) -> AsyncIterator[None]:
    """Touch the job while it runs, so the queue can tell a slow job from a dead worker."""
    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            if job is not None:
                with contextlib.suppress(Exception):
                    await job.update()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def process_asset(ctx: dict[str, Any], *, asset_id: str) -> str:
    res: Resources = ctx[RESOURCES]
    job: Job | None = ctx.get("job")
    started = time.monotonic()
    try:
        async with heartbeat(job, max(res.settings.jobs.heartbeat / 3, 0.5)):
            outcome = await _process(res, asset_id)
        await res.timings.observe(outcome, time.monotonic() - started)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await res.timings.observe("failed", time.monotonic() - started)
        if job is not None and job.attempts >= job.retries:   # out of retries: say so on the asset
            if isinstance(exc, MediaError):
                await _fail(res, asset_id, exc.type, exc.message)
            else:
                await _fail(res, asset_id, "internal_error", f"processing failed: {exc.__class__.__name__}")
            await ctx[JOBS].settled(asset_id)
        raise
    await ctx[JOBS].settled(asset_id)
    return outcome


async def _process(res: Resources, asset_id: str) -> str:
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    if asset["status"] in ("ready", "errored"):
        return str(asset["status"])
    upload = await res.state.get(asset["_source"])
    if upload is None or not upload.complete:
        return await _fail(res, asset_id, "invalid_input", "the uploaded file is no longer stored")
    tier = asset.get("max_resolution_tier", "1080p")
    # storage down is a reason to retry later, not a verdict on the file: find out before probing
    await res.storage.ping()
    source = await res.storage.locate(upload)
    limits = res.settings.jobs
    try:
        analysis = await analyse(source, tier=tier, timeout=limits.probe_timeout, memory_limit=limits.probe_memory)
    except MediaError as exc:
        return await _media_failure(res, asset_id, exc)
    fields = analysis.to_asset_fields()
    fields["progress"] = {"state": "ingesting" if analysis.is_standard else "transcoding", "progress": 0}
    await res.assets.update(asset_id, fields)
    if analysis.non_standard_input_reasons:
        await res.events.record("video.asset.non_standard_input_detected", "asset", asset_id,
                                public(await res.assets.get(asset_id) or asset))

    async def progress(fraction: float) -> None:
        await res.assets.update(asset_id, {"progress": {"state": "transcoding",
                                                        "progress": round(min(max(fraction, 0), 1) * 100, 1)}})

    with tempfile.TemporaryDirectory(dir=res.settings.storage.spool_dir or None) as tmp:
        dest = str(Path(tmp) / "master.mp4")
        try:
            if analysis.is_standard:
                try:
                    await remux(source, dest, analysis, timeout=limits.timeout, memory_limit=limits.transcode_memory)
                except MediaError as exc:   # a copy ffmpeg refuses can still be re-encoded
                    if exc.type in TRANSIENT:
                        raise
                    log.warning("asset.remux_failed", extra={"asset_id": asset_id, "error": exc.message})
                    await standardise(source, dest, analysis, tier=tier, timeout=limits.timeout,
                                      progress=progress, memory_limit=limits.transcode_memory)
            else:
                await standardise(source, dest, analysis, tier=tier, timeout=limits.timeout, progress=progress,
                                  memory_limit=limits.transcode_memory)
        except MediaError as exc:
            return await _media_failure(res, asset_id, exc)
        size = await res.storage.put_object(master_name(asset_id), dest)
        renditions = None
        if asset.get("static_renditions"):
            try:
                renditions = await make_renditions(asset, dest, analysis, res.storage, res.masters.links,
                                                   timeout=limits.timeout)
            except MediaError:
                renditions = {"status": "errored", "files": [
                    {**f, "status": "errored"} for f in asset["static_renditions"]["files"]]}
    current = await res.assets.get(asset_id)
    if current is None:   # deleted while we worked: leave nothing behind
        await delete_asset_files(res.storage, asset_id)
        return "deleted"
    done: dict[str, Any] = {"status": "ready", "progress": {"state": "completed", "progress": 100},
                            "_master": master_name(asset_id), "_master_size": size}
    if renditions is not None:
        done["static_renditions"] = renditions
    await res.assets.update(asset_id, done)
    ready = public(await res.assets.get(asset_id) or {})
    await res.events.record("video.asset.ready", "asset", asset_id, ready)
    if renditions is not None:
        for file in renditions["files"]:
            kind = {"ready": "ready", "skipped": "skipped"}.get(file["status"], "errored")
            await res.events.record(f"video.asset.static_rendition.{kind}", "asset", f"{asset_id}/{file['id']}",
                                    {**file, "asset_id": asset_id})
    if current.get("master_access") == "temporary":
        await res.masters.publish(asset_id)
    log.info("asset.ready", extra={"asset_id": asset_id, "standard": analysis.is_standard})
    return "ready"


async def _media_failure(res: Resources, asset_id: str, exc: MediaError) -> str:
    """A problem with the file is the answer (``errored``); a problem reaching it is retried."""
    if exc.type in TRANSIENT:
        raise exc
    return await _fail(res, asset_id, exc.type, exc.message)


async def _fail(res: Resources, asset_id: str, error_type: str, message: str) -> str:
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    await res.assets.update(asset_id, {"status": "errored", "errors": {"type": error_type, "messages": [message]},
                                       "progress": {"state": "errored", "progress": -1}})
    await res.events.record("video.asset.errored", "asset", asset_id, public(await res.assets.get(asset_id) or {}))
    if asset.get("master_access") == "temporary":
        await res.masters.fail(asset_id)
    if asset.get("static_renditions"):
        await res.assets.update(asset_id, {"static_renditions": {"status": "errored", "files": [
            {**f, "status": "errored"} for f in asset["static_renditions"]["files"]]}})
    log.info("asset.errored", extra={"asset_id": asset_id, "error_type": error_type, "error": message})
    return "errored"
