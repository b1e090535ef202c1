"""``process_asset``: probe a finished upload, fill its Asset, store the master, publish the outcome.

An asset made from a URL (``source_url``) is first fetched into its storage upload by
:func:`gateway.ingest.import_url`, which resumes from the upload's stored offset: a job retried after a
dropped connection, or taken over from a killed worker, goes on where the bytes stop. A URL the guard
refuses or a source that will not answer (404, too large, ...) errors the asset; a failure that may pass
(5xx, a dropped connection) raises, and the queue retries.

Idempotent: a finished asset is left alone, the master's object name is derived from the asset id (a
re-run replaces it), and events are recorded once per type. The asset becomes ``ready`` once the master and
the top rung of its HLS ladder are stored; the job then makes the lower rungs (workers/packaging.py), and
a job retried mid-ladder (a ``ready`` asset with rungs still ``preparing``) goes on from there. The queue
counts the asset as settled only when the ladder is done. Media problems make the asset ``errored``
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
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from saq.job import Job

from gateway.catalog.masters import MASTER, delete_asset_files, object_name
from gateway.catalog.models import (
    Asset,
    AssetErrors,
    AssetStatus,
    Progress,
    ProgressState,
)
from gateway.catalog.schema import track_from
from gateway.catalog.wire import mux_asset
from gateway.ingest import IngestError
from workers import packaging
from workers.imports import INPUT_ERROR, import_source, ingest_message
from workers.media import Analysis, MediaError, analyse, ladder
from workers.media.hls import EarlyCopy
from workers.media.ladder import RungPlan
from workers.renditions import errored_renditions, make_renditions, store_rung
from workers.resources import Resources

log = logging.getLogger("workers.jobs")
RESOURCES = "resources"
TRANSIENT = packaging.TRANSIENT   # MediaError types worth another attempt
JOBS = "jobs"
LADDER = "ladder"   # the outcome of a job that made (or finished) an asset's ladder


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
    """One asset's job. Its duration is observed by outcome: ``ready`` when the asset became ready (the
    wait a client sees), then ``ladder`` for the whole job once the HLS ladder is done."""
    res: Resources = ctx[RESOURCES]
    job: Job | None = ctx.get("job")
    started = time.monotonic()
    try:
        async with heartbeat(job, max(res.settings.jobs.heartbeat / 3, 0.5)):
            outcome = await _process(res, asset_id, started)
        await res.timings.observe(outcome, time.monotonic() - started)
    except Exception as exc:
        with contextlib.suppress(Exception):
            await res.timings.observe("failed", time.monotonic() - started)
        if job is not None and job.attempts >= job.retries:   # out of retries: say so on the asset
            if isinstance(exc, MediaError):
                await _fail(res, asset_id, exc.type, exc.message)
            elif isinstance(exc, IngestError):
                await _fail(res, asset_id, INPUT_ERROR, ingest_message(exc))
            else:
                await _fail(res, asset_id, "internal_error", f"processing failed: {exc.__class__.__name__}")
            await packaging.abandon(res, asset_id)
            await ctx[JOBS].settled(asset_id)
        raise
    await ctx[JOBS].settled(asset_id)
    return outcome


def _described(asset: Asset, analysis: Analysis, plans: tuple[RungPlan, ...]) -> Asset:
    """The asset with what the analysis found (Mux's fields, see ``Analysis.to_asset_fields``) and its HLS
    ladder planned (kept as it is when an earlier run planned it: a ladder is planned once)."""
    state = ProgressState.INGESTING if analysis.is_standard else ProgressState.TRANSCODING
    reasons = analysis.non_standard_input_reasons
    video = next((t for t in analysis.tracks if t["type"] == "video"), {})
    return replace(asset, duration=analysis.duration, resolution_tier=analysis.resolution_tier,
                   tracks=tuple(track_from(t) for t in analysis.tracks), aspect_ratio=analysis.aspect_ratio,
                   max_stored_frame_rate=analysis.max_stored_frame_rate,
                   max_stored_resolution=ladder.stored_resolution(video.get("max_width"), video.get("max_height")),
                   non_standard_input_reasons=dict(reasons) if reasons else None, progress=Progress(state, 0),
                   hls=asset.hls if asset.hls is not None else packaging.planned(plans))


@contextlib.contextmanager
def _workdir(res: Resources) -> Iterator[str]:
    with tempfile.TemporaryDirectory(dir=res.settings.storage.spool_dir or None) as tmp:
        yield tmp


async def _process(res: Resources, asset_id: str, started: float) -> str:
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    if packaging.unfinished(asset):   # a run stopped mid-ladder: the asset plays; make the other rungs
        await packaging.announce(res, asset)
        with _workdir(res) as tmp:
            outcome = await packaging.finish_ladder(res, asset_id, tmp)
        return outcome if outcome == "deleted" else LADDER
    if asset.status is not AssetStatus.PREPARING:
        return str(asset.status)
    upload = await res.state.get(asset.source)
    if asset.source_url is not None and upload is not None and not upload.complete:
        imported = await import_source(res, asset, asset.source_url, _fail)
        if isinstance(imported, str):
            return imported
        upload = imported
    if upload is None or not upload.complete:
        return await _fail(res, asset_id, "invalid_input", "the uploaded file is no longer stored")
    # storage down is a reason to retry later, not a verdict on the file: find out before probing
    await res.storage.ping()
    source = await res.storage.locate(upload)
    limits = res.settings.jobs
    with _workdir(res) as tmp:
        dest = str(Path(tmp) / "master.mp4")
        early = EarlyCopy(source, dest, str(Path(tmp) / "early"), timeout=limits.timeout,
                          segment_duration=res.settings.playback.segment_duration, memory_limit=limits.transcode_memory)
        try:
            return await _package(res, asset, source, tmp, dest, early, started)
        finally:
            await early.cancel()


async def _package(res: Resources, asset: Asset, source: str, tmp: str, dest: str, early: EarlyCopy,
                   started: float) -> str:
    """Analyse the source, store the master and the top rung, make the asset ready, then the ladder."""
    asset_id, limits = asset.id, res.settings.jobs
    try:
        analysis = await analyse(source, tier=asset.max_resolution_tier, timeout=limits.probe_timeout,
                                 memory_limit=limits.probe_memory)
    except MediaError as exc:
        return await _media_failure(res, asset_id, exc)
    plans = packaging.plan(analysis, res.settings.playback)
    written = await res.assets.write(asset, _described(asset, analysis, plans))
    if written is None:   # deleted meanwhile (or finished by another run)
        return await _settled(res, asset_id)
    latest: Asset = written
    top = replace(plans[0], name=(latest.hls or packaging.planned(plans))[0].name)
    if analysis.non_standard_input_reasons:
        await res.events.record("video.asset.non_standard_input_detected", "asset", asset_id,
                                mux_asset(await res.assets.get(asset_id) or latest))

    async def progress(fraction: float) -> None:
        nonlocal latest
        moved = Progress(ProgressState.TRANSCODING, round(min(max(fraction, 0), 1) * 100, 1))
        latest = await res.assets.write(latest, replace(latest, progress=moved)) or latest

    try:
        top_dir = await packaging.make_master(res, asset_id, source, dest, analysis, top, tmp, early, progress)
    except MediaError as exc:
        return await _media_failure(res, asset_id, exc)
    size, made = await asyncio.gather(res.storage.put_object(master_name(asset_id), dest),
                                      store_rung(res.storage, asset_id, top.name, top_dir))
    renditions = latest.static_renditions
    if renditions is not None:
        try:
            renditions = await make_renditions(latest, dest, analysis, res.storage, res.masters.links,
                                               timeout=limits.timeout)
        except MediaError:
            renditions = errored_renditions(renditions)
    outcome = await packaging.ready(res, asset_id, size, renditions, top, made)
    log.info("asset.ready", extra={"asset_id": asset_id, "standard": analysis.is_standard, "outcome": outcome})
    if outcome != "ready":
        return outcome
    with contextlib.suppress(Exception):   # a metric is never the job's failure
        await res.timings.observe(outcome, time.monotonic() - started)
    outcome = await packaging.finish_ladder(res, asset_id, tmp, master=dest, top_dir=top_dir)
    return outcome if outcome == "deleted" else LADDER


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
                      progress=Progress(ProgressState.ERRORED, -1), hls=packaging.with_errored(asset.hls),
                      static_renditions=errored_renditions(asset.static_renditions))
    if await res.assets.write(asset, errored) is None:
        return await _settled(res, asset_id)
    stored = await res.assets.get(asset_id) or errored
    await res.events.record("video.asset.errored", "asset", asset_id, mux_asset(stored))
    if asset.master_access == "temporary":
        await res.masters.fail(asset_id)
    log.info("asset.errored", extra={"asset_id": asset_id, "error_type": error_type, "error": message})
    return "errored"
