"""HLS rungs with ffmpeg's own ``hls`` muxer: CMAF (fMP4) segments, a VOD media playlist per rung.

Every rung directory holds ``index.m3u8`` (relative URIs), ``init.mp4`` and ``seg00000.m4s``, ...
(catalog/playback.py names them in storage). The argv builders are pure; :func:`run` runs one with the
worker's whitelists, time and memory limits (process.py); cmaf.read_rung measures what was made. Every rung
is written one second above the master's timeline (``-output_ts_offset 1``), so no output needs ffmpeg's
negative-timestamp shift, which depends on each encoder's B-frame delay: the same frame has the same time
in every rung.

Three ways a rung is made:

- **copy** (:func:`copy_argv`, :func:`with_copy_rung`): the master's streams copied and cut at its
  keyframes, first segment cut at the first keyframe at least ``segment_duration`` in, and so on. For a
  standard input the copy is a second output of the remux that stores the master, so the source is read
  once and the top rung costs almost nothing on top of storing the master; for a standard H.264 input
  that run starts while the input is still analysed (:class:`EarlyCopy`).
- **encoded top** (:func:`encode_argv` without ``cuts``): libx264 with a keyframe forced every
  ``segment_duration`` seconds, for a master that cannot be served as it is (ladder.can_copy).
- **lower rungs** (:func:`encode_argv` with ``cuts``): libx264 (veryfast, High, yuv420p, constant quality
  under a VBV cap) with keyframes forced at exactly the times the top rung's segments start
  (``-force_key_frames t1,t2,...``), scene-cut keyframes off and an endless GOP, so those are the only
  keyframes; the muxer is then told to cut at every keyframe (a tiny ``hls_time``), so the segments of every
  rung start on the same frames. All lower rungs come from one ffmpeg run (the master decoded once, split
  to one scaler and encoder per rung).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

from workers.media import commands, process
from workers.media.analysis import Analysis
from workers.media.cmaf import INIT, PLAYLIST
from workers.media.errors import MediaError, tool_failure
from workers.media.ladder import AUDIO, RungPlan
from workers.media.probe import memory_text
from workers.media.source import Source
from workers.media.transcode import remux

SEGMENTS = "seg%05d.m4s"
PRESET, CRF = "veryfast", 23
CUT_EVERY_KEYFRAME = 0.05   # the lower rungs' hls_time: below any segment, so each forced keyframe cuts
_GLOBAL = ["-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
_OUT_OF_MEMORY = ("Cannot allocate memory", "malloc of size", "failed to map segment")


def hls_output(directory: str, segment_duration: float) -> list[str]:
    """The options and name of one rung's output (CMAF segments, VOD playlist, files in ``directory``)."""
    return ["-f", "hls", "-hls_segment_type", "fmp4", "-hls_playlist_type", "vod",
            "-hls_time", f"{segment_duration:g}", "-hls_flags", "independent_segments",
            "-hls_fmp4_init_filename", INIT, "-hls_segment_filename", f"file:{directory}/{SEGMENTS}",
            "-output_ts_offset", "1", "-max_muxing_queue_size", "4096", f"file:{directory}/{PLAYLIST}"]


def _input(source: Source) -> list[str]:
    """The source's whitelists (source.py), then the source."""
    options = [arg for key, value in source.input_options().items() for arg in (f"-{key}", str(value))]
    return [*options, "-i", source.input_name]


def copy_argv(master: Source, directory: str, segment_duration: float, *, video: bool, audio: bool) -> list[str]:
    """A rung copied from the stored master (the top rung of a standardised master, or the audio rung)."""
    maps = (["-map", "0:v:0"] if video else []) + (["-map", "0:a:0"] if audio else [])
    return ["ffmpeg", *_GLOBAL, *_input(master), *maps, "-c", "copy",
            *hls_output(directory, segment_duration)]


def with_copy_rung(source: Source, master: str, analysis: Analysis, directory: str,
                   segment_duration: float) -> list[str]:
    """The remux that stores a standard input's master (commands.remux_argv) with the top rung as a second
    output of the same run: one read of the source, two copies written."""
    maps = [arg for s in (analysis.video, analysis.audio) if s is not None for arg in ("-map", f"0:{s.index}")]
    return [*commands.remux_argv(source, master, analysis), *maps, "-c", "copy",
            *hls_output(directory, segment_duration)]


def encode_argv(master: Source, rungs: Sequence[tuple[RungPlan, str]], segment_duration: float, *,
                audio: bool, cuts: Sequence[float] | None) -> list[str]:
    """One run that encodes ``rungs`` (plan, directory) from the master, decoding it once. With ``cuts``
    (seconds, on ffmpeg's timeline of the master) keyframes are forced there and segments cut at each;
    without, a keyframe is forced every ``segment_duration`` and the muxer cuts as for a copy."""
    count = len(rungs)
    chains = [f"[0:v:0]split={count}" + "".join(f"[s{i}]" for i in range(count)) if count > 1 else "[0:v:0]null[s0]"]
    for i, (plan, _) in enumerate(rungs):
        rate = f"fps={plan.fps:g}," if plan.fps is not None else ""
        chains.append(f"[s{i}]{rate}scale={plan.width}:{plan.height},setsar=1,format=yuv420p[v{i}]")
    argv = ["ffmpeg", *_GLOBAL, *_input(master), "-filter_complex", ";".join(chains)]
    keyframes = ",".join(f"{t:.6f}" for t in cuts) if cuts is not None else f"expr:gte(t,n_forced*{segment_duration:g})"
    for i, (plan, directory) in enumerate(rungs):
        frames = [] if plan.fps is not None else ["-fps_mode", "passthrough"]   # the master's frames, as timed
        argv += ["-map", f"[v{i}]", *(["-map", "0:a:0", "-c:a", "copy"] if audio else []), *frames,
                 "-c:v", "libx264", "-preset", PRESET, "-profile:v", "high", "-crf", str(CRF),
                 "-maxrate", f"{plan.kbps}k", "-bufsize", f"{plan.kbps * 2}k", "-g", "100000",
                 "-sc_threshold", "0", "-forced-idr", "1", "-flags", "+cgop", "-force_key_frames", keyframes or "0",
                 *hls_output(directory, CUT_EVERY_KEYFRAME if cuts is not None else segment_duration)]
    return argv


async def run(argv: Sequence[str], directories: Sequence[str], *, timeout: float, memory_limit: int) -> None:
    """Run an argv from this module into fresh ``directories`` (emptied first, removed on failure)."""
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
    try:
        async with asyncio.timeout(timeout):
            done = await process.run(argv, memory_limit=memory_limit)
    except TimeoutError as exc:
        _remove(directories)
        raise MediaError("timeout", f"Packaging the video took longer than {timeout:g} s") from exc
    except BaseException:
        _remove(directories)
        raise
    if done.returncode != 0:
        _remove(directories)
        if any(hint in done.stderr for hint in _OUT_OF_MEMORY):
            raise MediaError("invalid_input", f"Packaging the video needs more than {memory_text(memory_limit)} "
                             "of memory", done.stderr.strip()[-4000:])
        raise tool_failure("ffmpeg", done.stderr)


async def timeline(master: Source, *, timeout: float, memory_limit: int) -> tuple[float, bool]:
    """When the master's first video frame comes on ffmpeg's timeline (ffmpeg starts each input at the
    earliest stream's start, so it is the video's start time less the file's), and whether it has audio:
    where ``cut_offsets`` are counted from, for ``encode_argv``'s ``cuts``."""
    options = [arg for key, value in master.input_options().items() for arg in (f"-{key}", str(value))]
    argv = ["ffprobe", *options, "-threads", "1", "-v", "error", "-of", "json",
            "-show_entries", "stream=codec_type,start_time:format=start_time", master.input_name]
    async with asyncio.timeout(timeout):
        done = await process.run(argv, memory_limit=memory_limit)
    if done.returncode != 0:
        raise tool_failure("ffprobe", done.stderr)
    data: dict[str, Any] = json.loads(done.stdout or b"{}")
    streams: list[dict[str, Any]] = data.get("streams") or []
    video: dict[str, Any] = next((s for s in streams if s.get("codec_type") == "video"), {})
    first = float(video.get("start_time") or 0) - float((data.get("format") or {}).get("start_time") or 0)
    return max(first, 0.0), any(s.get("codec_type") == "audio" for s in streams)


def _remove(directories: Sequence[str]) -> None:
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


def early_argv(source: Source, master: str, directory: str, segment_duration: float) -> list[str]:
    """What :func:`with_copy_rung` writes for a standard H.264 input, with the streams chosen by specifier
    (the first video that is not a picture, the first audio: those the analysis picks) rather than by the
    analysis' indices, so it can start before the analysis ends."""
    maps = ["-map", "0:V:0?", "-map", "0:a:0?"]
    return ["ffmpeg", *_GLOBAL, *_input(source), *maps, "-c", "copy", "-tag:v", "avc1", "-f", "mp4",
            "-movflags", "+faststart", "-max_muxing_queue_size", "4096", f"file:{master}", *maps, "-c", "copy",
            *hls_output(directory, segment_duration)]


class EarlyCopy:
    """The master and top rung of a standard H.264 input, copied while the input is still being analysed.

    Most uploads are standard, and for them the analysis (two ffprobe runs, ~80 ms for 20 s of 1080p) and
    the copy (~100 ms) are the whole wait before the asset plays: run side by side on two cores they take
    ~135 ms instead of ~180. When the analysis says the input is not a standard H.264 one (or it failed)
    the copy is cancelled (its ffmpeg killed) and its files are written over by the usual path."""

    def __init__(self, source: str, master: str, directory: str, *, segment_duration: float, timeout: float,
                 memory_limit: int) -> None:
        self.directory = directory
        parsed = Source.parse(source)
        argv = early_argv(parsed, master, directory, segment_duration)
        self._task = asyncio.ensure_future(self._copy(parsed, argv, timeout, memory_limit))

    async def _copy(self, source: Source, argv: list[str], timeout: float, memory_limit: int) -> None:
        source.check_local()
        await run(argv, [self.directory], timeout=timeout, memory_limit=memory_limit)

    async def outcome(self, analysis: Analysis) -> bool:
        """Whether the copy is the master ``with_copy_rung`` would have written (then it is awaited; its top
        rung is in ``directory``). Any failure says no: the usual path runs and reports it."""
        if not analysis.is_standard or (analysis.video is not None and analysis.video.codec != "h264"):
            await self.cancel()
            return False
        try:
            await self._task
        except Exception:
            return False
        return True

    async def cancel(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def master_and_top(source: str, dest: str, analysis: Analysis, top: RungPlan, directory: str, *,
                         segment_duration: float, timeout: float, memory_limit: int) -> bool:
    """Store a standard input's master at ``dest`` (transcode.remux); when the top rung is a copy, write it
    into ``directory`` in the same run. True when the top rung was made."""
    if not top.copy:
        await remux(source, dest, analysis, timeout=timeout, memory_limit=memory_limit)
        return False
    parsed = Source.parse(source)
    parsed.check_local()
    await run(with_copy_rung(parsed, dest, analysis, directory, segment_duration), [directory], timeout=timeout,
              memory_limit=memory_limit)
    return True


async def make_top(master: str, top: RungPlan, directory: str, *, audio: bool, segment_duration: float,
                   timeout: float, memory_limit: int) -> None:
    """The top rung from the local master: copied, or encoded at the master's size when it cannot be."""
    source = Source.parse(master)
    if top.copy:
        argv = copy_argv(source, directory, segment_duration, video=top.name != AUDIO, audio=audio)
    else:
        argv = encode_argv(source, [(top, directory)], segment_duration, audio=audio, cuts=None)
    await run(argv, [directory], timeout=timeout, memory_limit=memory_limit)


async def encode_rungs(master: Source, rungs: Sequence[tuple[RungPlan, str]], cuts: Sequence[float], *,
                       audio: bool, segment_duration: float, timeout: float, memory_limit: int,
                       transient: Sequence[str]) -> set[str]:
    """Encode ``rungs`` (plan, directory) in one run, the master decoded once; if that fails for the input's
    sake, each on its own, so one rung that cannot be made does not take the others down. The names of
    the rungs that failed; an error of a ``transient`` type (the master unreadable, the disk full) raises."""
    async def make(batch: Sequence[tuple[RungPlan, str]]) -> MediaError | None:
        try:
            await run(encode_argv(master, batch, segment_duration, audio=audio, cuts=cuts),
                      [directory for _, directory in batch], timeout=timeout, memory_limit=memory_limit)
        except MediaError as exc:
            if exc.type in transient:
                raise
            return exc
        return None

    error = await make(rungs)
    if error is None:
        return set()
    if error.type == "timeout" or len(rungs) == 1:   # alone, each would take as long again
        return {plan.name for plan, _ in rungs}
    return {plan.name for plan, directory in rungs if await make([(plan, directory)]) is not None}
