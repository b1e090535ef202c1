"""An asset's HLS ladder, from plan to last rung (workers/jobs.py drives it; media/hls.py makes the files).

1. **Plan** (:func:`plan`): the rungs (media/ladder.py) go into ``Asset.hls``, all ``preparing``, in the
   write of the analysis' fields.
2. **Top rung** (:func:`make_master`): a standard H.264 input's master and top rung are copied by one
   ffmpeg run started while the input is analysed (hls.EarlyCopy); any other master is remuxed or
   standardised, and its top rung copied or encoded from it. ``renditions.store_rung`` stores
   ``index.m3u8`` last, so a playlist never names a missing segment.
3. **Ready** (:func:`ready`): the top rung ``ready`` in the same write that makes the asset ``ready``, then
   ``video.asset.ready``: Mux says ready once the asset plays, and it plays from the first rung.
4. **Lower rungs** (:func:`finish_ladder`): one ffmpeg run encodes every rung still ``preparing``, keyframes
   forced where the top rung's segments start; each is then uploaded and marked ``ready`` in turn (or
   ``errored``; the asset stays ready). Then ``video.asset.updated`` once, under its own dedupe key.

A job killed anywhere is retried by the queue: a ``ready`` asset with rungs still ``preparing`` goes
straight to step 4 from the stored master and top rung, leaving ``ready`` rungs alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

from gateway.catalog.masters import MASTER, delete_asset_files, object_name
from gateway.catalog.models import (
    Asset,
    AssetStatus,
    FileStatus,
    MasterStatus,
    Progress,
    ProgressState,
    Rung,
    RungStatus,
    StaticRenditions,
)
from gateway.catalog.wire import mux_asset, mux_rendition_file
from gateway.settings import PlaybackSettings
from workers import renditions
from workers.media import Analysis, MediaError, cmaf, hls, ladder, standardise
from workers.media.commands import KEYFRAME_SECONDS
from workers.media.ladder import RungPlan
from workers.media.source import Source
from workers.resources import Resources

log = logging.getLogger("workers.packaging")
TRANSIENT = ("download_failed", "internal")   # MediaError types worth another attempt of the job
LADDER_DONE = "video.asset.updated:ladder"     # the dedupe key of the ladder's ``video.asset.updated``


def plan(analysis: Analysis, playback: PlaybackSettings) -> tuple[RungPlan, ...]:
    """The ladder for what the master will hold (its size and rate are the analysis' video track)."""
    video = next((t for t in analysis.tracks if t["type"] == "video"), None)
    if video is None or analysis.video is None:
        return (ladder.audio_rung(),)
    rate = analysis.max_stored_frame_rate if analysis.max_stored_frame_rate and analysis.max_stored_frame_rate > 0 \
        else None
    if analysis.is_standard or analysis.plan.copy_video:   # the master's video is the source's
        gop = analysis.gop.max_interval if analysis.gop is not None else math.inf
        codec, rotation = analysis.video.codec, analysis.video.rotation
    else:                                                  # what standardise writes
        codec, rotation, gop = "h264", 0, float(KEYFRAME_SECONDS)
    copy = ladder.can_copy(codec, rotation, rate, gop, playback.segment_duration)
    return ladder.plan_ladder(video["max_width"], video["max_height"], rate, tier=analysis.tier,
                              heights=playback.ladder, copy_top=copy)


def planned(plans: Sequence[RungPlan]) -> tuple[Rung, ...]:
    return tuple(Rung(name=p.name, status=RungStatus.PREPARING, copy=p.copy) for p in plans)


def unfinished(asset: Asset) -> bool:
    """A ready asset whose ladder is still being made (a job to resume)."""
    return asset.status is AssetStatus.READY and any(r.status is RungStatus.PREPARING for r in asset.hls or ())


def rung_dir(workdir: str, name: str) -> str:
    return str(Path(workdir) / "hls" / name)


def with_ready(rungs: tuple[Rung, ...] | None, made_plan: RungPlan, made: cmaf.Made) -> tuple[Rung, ...]:
    """The ladder with ``made_plan``'s rung ready and its numbers (what the multivariant playlist needs)."""
    done = Rung(name=made_plan.name, status=RungStatus.READY, width=made_plan.width or None,
                height=made_plan.height or None, bandwidth=made.bandwidth, average_bandwidth=made.average_bandwidth,
                codecs=made.codecs, frame_rate=made_plan.frame_rate, copy=made_plan.copy)
    if rungs is None:
        return (done,)
    return tuple(done if r.name == made_plan.name else r for r in rungs)


def with_errored(rungs: tuple[Rung, ...] | None, names: Sequence[str] | None = None) -> tuple[Rung, ...] | None:
    """The ladder with its ``preparing`` rungs (those of ``names``, or all) errored."""
    if rungs is None:
        return None
    return tuple(replace(r, status=RungStatus.ERRORED) if r.status is RungStatus.PREPARING
                 and (names is None or r.name in names) else r for r in rungs)


async def make_master(res: Resources, asset_id: str, source: str, dest: str, analysis: Analysis, top: RungPlan,
                      workdir: str, early: hls.EarlyCopy, progress: Callable[[float], Awaitable[None]]) -> str:
    """The master at ``dest`` and the top rung; the directory holding the top rung. A standard H.264 input
    is the early copy's (started before the analysis); another standard one is remuxed, with the top rung
    as a second output when it is a copy; a non-standard one is standardised. A top rung not made yet is
    made from the master."""
    limits, tier, segment_duration = res.settings.jobs, analysis.tier, res.settings.playback.segment_duration
    timeout, memory_limit = limits.timeout, limits.transcode_memory
    top_dir = rung_dir(workdir, top.name)
    if await early.outcome(analysis):
        if top.copy:
            return early.directory
    elif analysis.is_standard:
        try:
            if await hls.master_and_top(source, dest, analysis, top, top_dir, segment_duration=segment_duration,
                                        timeout=timeout, memory_limit=memory_limit):
                return top_dir
        except MediaError as exc:   # a copy ffmpeg refuses can still be re-encoded
            if exc.type in TRANSIENT:
                raise
            log.warning("asset.remux_failed", extra={"asset_id": asset_id, "error": exc.message})
            await standardise(source, dest, analysis, tier=tier, timeout=timeout, progress=progress,
                              memory_limit=memory_limit)
    else:
        await standardise(source, dest, analysis, tier=tier, timeout=timeout, progress=progress,
                          memory_limit=memory_limit)
    await hls.make_top(dest, top, top_dir, audio=analysis.audio is not None, segment_duration=segment_duration,
                       timeout=timeout, memory_limit=memory_limit)
    return top_dir


async def ready(res: Resources, asset_id: str, size: int, renditions: StaticRenditions | None, top: RungPlan,
                made: cmaf.Made) -> str:
    """The asset ``ready``, its master and top rung with it (one compare-and-set on ``preparing``), then
    said so. Another outcome when the asset was deleted or finished by another run meanwhile."""
    current = await res.assets.get(asset_id)
    if current is None:   # deleted while we worked: leave nothing behind
        await delete_asset_files(res.storage, asset_id)
        return "deleted"
    if current.status is not AssetStatus.PREPARING:   # another run finished it first
        return str(current.status)
    done = replace(current, status=AssetStatus.READY, progress=Progress(ProgressState.COMPLETED, 100),
                    master_file=object_name(asset_id, MASTER), master_size=size, static_renditions=renditions,
                    hls=with_ready(current.hls, top, made))
    if await res.assets.write(current, done) is None:   # deleted, or finished by another run, meanwhile
        current = await res.assets.get(asset_id)
        if current is None:
            await delete_asset_files(res.storage, asset_id)
            return "deleted"
        return str(current.status)
    await announce(res, await res.assets.get(asset_id) or done)
    return "ready"


async def announce(res: Resources, done: Asset) -> None:
    """What a ready asset's subscribers hear, each event once (so a resumed job may call it again):
    ``video.asset.ready``, each static rendition's outcome; and the master URL asked for meanwhile."""
    await res.events.record("video.asset.ready", "asset", done.id, mux_asset(done))
    for file in done.static_renditions.files if done.static_renditions is not None else ():
        kind = {FileStatus.READY: "ready", FileStatus.SKIPPED: "skipped"}.get(file.status, "errored")
        await res.events.record(f"video.asset.static_rendition.{kind}", "asset", f"{done.id}/{file.id}",
                                mux_rendition_file(file, done.id))
    if done.master is not None and done.master.status is MasterStatus.PREPARING:   # a URL was asked for
        await res.masters.publish(done.id)


async def finish_ladder(res: Resources, asset_id: str, workdir: str, master: str | None = None,
                        top_dir: str | None = None) -> str:
    """Make the rungs still ``preparing`` from the master (``master`` when local, else the stored one),
    aligned to the top rung (``top_dir`` when local, else read from storage); then say so once."""
    asset = await res.assets.get(asset_id)
    if asset is None:
        return "deleted"
    ladder_now = asset.hls or ()
    pending = [r for r in ladder_now if r.status is RungStatus.PREPARING]
    top = next((r for r in ladder_now if r.status is RungStatus.READY), None)
    if not pending or top is None or not top.width or not top.height:
        return str(asset.status)
    master_rate = asset.max_stored_frame_rate if asset.max_stored_frame_rate and asset.max_stored_frame_rate > 0 \
        else top.frame_rate
    plans = [ladder.rung_plan(r.name, top.width, top.height, master_rate) for r in pending]
    source = Source.parse(master or await res.storage.locate_object(object_name(asset_id, MASTER)))
    limits, segment_duration = res.settings.jobs, res.settings.playback.segment_duration
    first, audio = await hls.timeline(source, timeout=limits.probe_timeout, memory_limit=limits.probe_memory)
    cuts = [first + offset for offset in await renditions.top_offsets(res.storage, asset_id, top.name, top_dir)]
    failed = await hls.encode_rungs(source, [(p, rung_dir(workdir, p.name)) for p in plans], cuts, audio=audio,
                                    segment_duration=segment_duration, timeout=limits.timeout,
                                    memory_limit=limits.transcode_memory, transient=TRANSIENT)
    for rung_plan in plans:
        if rung_plan.name in failed:
            outcome = await _change(res, asset_id, _errored_change(rung_plan.name))
        else:
            made = await renditions.store_rung(res.storage, asset_id, rung_plan.name, rung_dir(workdir, rung_plan.name))
            outcome = await _change(res, asset_id, _ready_change(rung_plan, made))
        if outcome is None:   # deleted while we worked: leave nothing behind
            await delete_asset_files(res.storage, asset_id)
            return "deleted"
        log.info("asset.rung", extra={"asset_id": asset_id, "rung": rung_plan.name,
                                      "errored": rung_plan.name in failed})
    await announce_ladder(res, asset_id)
    return "ready"


async def announce_ladder(res: Resources, asset_id: str) -> None:
    """``video.asset.updated`` once every rung is made (or could not be), recorded once per asset."""
    asset = await res.assets.get(asset_id)
    if asset is not None and not unfinished(asset):
        await res.events.record("video.asset.updated", "asset", asset_id, mux_asset(asset), key=LADDER_DONE)


async def abandon(res: Resources, asset_id: str) -> None:
    """The job is out of attempts: a ready asset's rungs still ``preparing`` will not be made."""
    asset = await res.assets.get(asset_id)
    if asset is not None and unfinished(asset):
        await _change(res, asset_id, _errored_change())
        await announce_ladder(res, asset_id)


def _ready_change(made_plan: RungPlan, made: cmaf.Made) -> Callable[[Asset], Asset]:
    return lambda asset: replace(asset, hls=with_ready(asset.hls, made_plan, made))


def _errored_change(name: str | None = None) -> Callable[[Asset], Asset]:
    return lambda asset: replace(asset, hls=with_errored(asset.hls, None if name is None else [name]))


async def _change(res: Resources, asset_id: str, change: Callable[[Asset], Asset]) -> Asset | None:
    """Apply ``change`` to the asset as stored (read again when a racing write won); None once deleted."""
    for _ in range(10):
        asset = await res.assets.get(asset_id)
        if asset is None:
            return None
        written = await res.assets.write(asset, change(asset))
        if written is not None:
            return written
    raise RuntimeError(f"asset {asset_id}: the ladder could not be written")
