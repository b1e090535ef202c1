"""``process_asset``: probe a finished upload, fill its Asset, store the master, publish the outcome.

An asset made from a URL (``source_url``) is first fetched into its storage upload by
:func:`gateway.ingest.import_url`, which resumes from the upload's stored offset: a job retried after a
dropped connection, or taken over from a killed worker, goes on where the bytes stop. A URL the guard
refuses or a source that will not answer (404, too large, ...) errors the asset; a failure that may pass
(5xx, a dropped connection) raises, and the queue retries.

Idempotent: a finished asset is left alone, the master's object name is derived from the asset id (a
re-run replaces it), and events are recorded once per type. Media problems make the asset ``errored``
(final); anything else (storage or Redis down, the worker killed) raises, and the queue retries the job
with backoff, on this worker or another.

The asset is a typed record (gateway/catalog/models.py); every change is an ``AssetStore.write`` of the
asset as read and as it should be, so its status, its master's and its renditions' follow their
transition tables, and finishing is a compare-and-set on ``preparing`` (two runs cannot both finish it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from saq.job import Job

from gateway.catalog.masters import MASTER, delete_asset_files, object_name
from gateway.catalog.models import (
    Asset,
    AssetErrors,
    AssetStatus,
    FileStatus,
    MasterStatus,
    Progress,
    ProgressState,
    RenditionsStatus,
    StaticRenditions,
)
from gateway.catalog.schema import track_from
from gateway.catalog.wire import mux_asset, mux_rendition_file
from gateway.errors import NotFound
from gateway.ingest import IngestError, import_url
from gateway.models import Upload
from workers.media import Analysis, MediaError, analyse, remux, standardise
from workers.renditions import make_renditions
from workers.resources import Resources

log = logging.getLogger("workers.jobs")
RESOURCES = "resources"
TRANSIENT = ("download_failed", "internal")   # MediaError types worth another attempt
INPUT_ERROR = "invalid_input"                  # Mux's error type for an input that cannot be used
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
            elif isinstance(exc, IngestError):
                await _fail(res, asset_id, INPUT_ERROR, _ingest_message(exc))
            else:
                await _fail(res, asset_id, "internal_error", f"processing failed: {exc.__class__.__name__}")
            await ctx[JOBS].settled(asset_id)
        raise
    await ctx[JOBS].settled(asset_id)
    return outcome


def _described(asset: Asset, analysis: Analysis) -> Asset:
    """The asset with what the analysis found (Mux's fields, see ``Analysis.to_asset_fields``)."""
    state = ProgressState.INGESTING if analysis.is_standard else ProgressState.TRANSCODING
    reasons = analysis.non_standard_input_reasons
    return replace(asset, duration=analysis.duration, resolution_tier=analysis.resolution_tier,
                   tracks=tuple(track_from(t) for t in analysis.tracks), aspect_ratio=analysis.aspect_ratio,
                   max_stored_frame_rate=analysis.max_stored_frame_rate,
                   non_standard_input_reasons=dict(reasons) if reasons else None, progress=Progress(state, 0))


def _errored(renditions: StaticRenditions | None) -> StaticRenditions | None:
    """Static renditions that will not be made: every one not made yet errors."""
    if renditions is None or renditions.status is not RenditionsStatus.PREPARING:
        return renditions
    return StaticRenditions(RenditionsStatus.ERRORED, tuple(
        replace(f, status=FileStatus.ERRORED) if f.status is FileStatus.PREPARING else f for f in renditions.files))


async def _process(res: Resources, asset_id: str) -> str:
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    if asset.status is not AssetStatus.PREPARING:
        return str(asset.status)
    upload = await res.state.get(asset.source)
    if asset.source_url is not None and upload is not None and not upload.complete:
        imported = await _import(res, asset, asset.source_url)
        if isinstance(imported, str):
            return imported
        upload = imported
    if upload is None or not upload.complete:
        return await _fail(res, asset_id, "invalid_input", "the uploaded file is no longer stored")
    tier = asset.max_resolution_tier
    # storage down is a reason to retry later, not a verdict on the file: find out before probing
    await res.storage.ping()
    source = await res.storage.locate(upload)
    limits = res.settings.jobs
    try:
        analysis = await analyse(source, tier=tier, timeout=limits.probe_timeout, memory_limit=limits.probe_memory)
    except MediaError as exc:
        return await _media_failure(res, asset_id, exc)
    written = await res.assets.write(asset, _described(asset, analysis))
    if written is None:   # deleted meanwhile (or finished by another run)
        return await _settled(res, asset_id)
    latest: Asset = written
    if analysis.non_standard_input_reasons:
        await res.events.record("video.asset.non_standard_input_detected", "asset", asset_id,
                                mux_asset(await res.assets.get(asset_id) or latest))

    async def progress(fraction: float) -> None:
        nonlocal latest
        moved = Progress(ProgressState.TRANSCODING, round(min(max(fraction, 0), 1) * 100, 1))
        latest = await res.assets.write(latest, replace(latest, progress=moved)) or latest

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
        renditions = latest.static_renditions
        if renditions is not None:
            try:
                renditions = await make_renditions(latest, dest, analysis, res.storage, res.masters.links,
                                                   timeout=limits.timeout)
            except MediaError:
                renditions = _errored(renditions)
    current = await res.assets.get(asset_id)
    if current is None:   # deleted while we worked: leave nothing behind
        await delete_asset_files(res.storage, asset_id)
        return "deleted"
    if current.status is not AssetStatus.PREPARING:   # another run finished it first
        return str(current.status)
    ready = replace(current, status=AssetStatus.READY, progress=Progress(ProgressState.COMPLETED, 100),
                    master_file=master_name(asset_id), master_size=size, static_renditions=renditions)
    if await res.assets.write(current, ready) is None:
        return await _settled(res, asset_id)
    done = await res.assets.get(asset_id) or ready
    await res.events.record("video.asset.ready", "asset", asset_id, mux_asset(done))
    if renditions is not None:
        for file in renditions.files:
            kind = {FileStatus.READY: "ready", FileStatus.SKIPPED: "skipped"}.get(file.status, "errored")
            await res.events.record(f"video.asset.static_rendition.{kind}", "asset", f"{asset_id}/{file.id}",
                                    mux_rendition_file(file, asset_id))
    if done.master is not None and done.master.status is MasterStatus.PREPARING:   # a URL was asked for
        await res.masters.publish(asset_id)
    log.info("asset.ready", extra={"asset_id": asset_id, "standard": analysis.is_standard})
    return "ready"


def _ingest_message(exc: IngestError) -> str:
    return f"the input URL could not be imported: {exc.message}"


async def _import(res: Resources, asset: Asset, url: str) -> Upload | str:
    """Fetch ``url`` into the asset's source upload (from its stored offset), showing ``ingesting``
    progress on the asset meanwhile. The finished upload; or the outcome when the asset errored (the URL
    refused, a source error that will not pass). A failure that may pass raises (the queue retries)."""
    progress = asyncio.create_task(_ingest_progress(res, asset.id, asset.source))
    try:
        return await import_url(res.service, asset.source, url, settings=res.settings.ingest)
    except IngestError as exc:
        log.info("asset.import_failed", extra={"asset_id": asset.id, "error_type": exc.type,
                                                "retryable": exc.retryable, "error": exc.message})
        if exc.retryable:
            raise
        return await _fail(res, asset.id, INPUT_ERROR, _ingest_message(exc))
    except NotFound:
        return await _fail(res, asset.id, INPUT_ERROR, "the imported file is no longer stored")
    finally:
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress


async def _ingest_progress(res: Resources, asset_id: str, upload_id: str, every: float = 1.0) -> None:
    """While importing: ``progress: {state: ingesting, progress: <percent>}`` once the length is known."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):   # progress is a courtesy: never the job's failure
            upload = await res.state.get(upload_id)
            asset = await res.assets.get(asset_id)
            if upload is None or asset is None or asset.status is not AssetStatus.PREPARING:
                return
            if not upload.length:
                continue
            moved = Progress(ProgressState.INGESTING, round(min(upload.offset / upload.length, 1) * 100, 1))
            if moved != asset.progress:
                await res.assets.write(asset, replace(asset, progress=moved))


async def _settled(res: Resources, asset_id: str) -> str:
    """What became of an asset a write of ours lost to: deleted (its files go too), or finished by another
    run."""
    current = await res.assets.get(asset_id)
    if current is None:
        await delete_asset_files(res.storage, asset_id)
        return "deleted"
    return str(current.status)


async def _media_failure(res: Resources, asset_id: str, exc: MediaError) -> str:
    """A problem with the file is the answer (``errored``); a problem reaching it is retried."""
    if exc.type in TRANSIENT:
        raise exc
    return await _fail(res, asset_id, exc.type, exc.message)


async def _fail(res: Resources, asset_id: str, error_type: str, message: str) -> str:
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    if asset.status is not AssetStatus.PREPARING:   # finished (or failed) already: nothing to undo
        return str(asset.status)
    errored = replace(asset, status=AssetStatus.ERRORED, errors=AssetErrors(type=error_type, messages=(message,)),
                      progress=Progress(ProgressState.ERRORED, -1), static_renditions=_errored(asset.static_renditions))
    if await res.assets.write(asset, errored) is None:
        return await _settled(res, asset_id)
    stored = await res.assets.get(asset_id) or errored
    await res.events.record("video.asset.errored", "asset", asset_id, mux_asset(stored))
    if asset.master_access == "temporary":
        await res.masters.fail(asset_id)
    log.info("asset.errored", extra={"asset_id": asset_id, "error_type": error_type, "error": message})
    return "errored"
