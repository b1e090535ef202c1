"""ffmpeg command lines for `remux` and `standardise` (pure), built with ffmpeg-python.

Both read the source with its whitelists (`source.py`), map only the asset's video and audio streams by
index, write MP4 with `+faststart` to `file:<dest>` (so the destination name is never read as a protocol),
and report progress as `key=value` lines on stdout (`-progress pipe:1`).

The encode starts from Mux's suggested command (reference section 4.3: libx264 High, `scale=w=min(iw,1920)
:h=-2`, `-pix_fmt yuv420p`, capped rate) and departs from it where its output would not pass our own
check or would waste storage:

- constant quality (`-crf`) under a VBV cap instead of a fixed `-b:v 7000k`, so a 360p phone clip is not
  inflated to 7 Mbps. The cap is MAXRATE[tier] with a one-second buffer: any span of T >= 1 s holds at
  most maxrate * (1 + 1/T), so a 2 s GOP stays under 1.5 x maxrate and any span `gop.py` measures (at
  least 1 s) under 2 x maxrate (14 Mbps at 1080p, below the 16 Mbps GOP rule); the average of anything
  but a very short, very busy clip stays under the tier's average rule (8 Mbps at 1080p, 20 Mbps above).
- a keyframe (IDR, closed GOP) every 2 s: `-force_key_frames expr:gte(t,n_forced*2)`, `-g` 2 s of frames.
- `-c:a aac` when the audio is flagged (Mux's command copies any audio).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ffmpeg

from workers.media.analysis import Analysis
from workers.media.plan import Plan
from workers.media.source import Source

FFMPEG = "ffmpeg"
PRESET = "veryfast"
CRF = 21
KEYFRAME_SECONDS = 2
MAXRATE_KBPS: Mapping[str, int] = {"1080p": 7000, "1440p": 12000, "2160p": 18000}
AAC_RATES = frozenset({7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000})
AAC_KBPS_PER_CHANNEL = 96
MAX_PIXELS = 8192 * 8192
_GLOBAL = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-progress", "pipe:1")


def remux_argv(source: Source, dest: str, analysis: Analysis) -> list[str]:
    inp = ffmpeg.input(source.input_name, **source.input_options())
    streams = [inp[str(s.index)] for s in (analysis.video, analysis.audio) if s is not None]
    options: dict[str, Any] = {"c": "copy", **_video_tag(analysis)}
    return _compile(streams, dest, options)


def standardise_argv(source: Source, dest: str, analysis: Analysis) -> list[str]:
    # decoders refuse frames past 8192x8192 (the probe's limit), even if a stream changes size later
    inp = ffmpeg.input(source.input_name, **source.input_options(), max_pixels=MAX_PIXELS)
    plan = analysis.plan
    streams: list[Any] = []
    options: dict[str, Any] = {}
    if analysis.video is not None:
        video = inp[str(analysis.video.index)]
        if plan.copy_video:
            options.update({"c:v": "copy", **_video_tag(analysis)})
        else:
            video = _video_filters(video, plan)
            options.update(_video_encoder(plan, analysis.tier))
        streams.append(video)
    if analysis.audio is not None:
        streams.append(inp[str(analysis.audio.index)])
        if plan.copy_audio:
            options["c:a"] = "copy"
        else:
            channels = max(1, min(analysis.audio.channels or 2, 8))
            options.update({"c:a": "aac", "b:a": f"{channels * AAC_KBPS_PER_CHANNEL}k", "ac": channels})
            if analysis.audio.sample_rate not in AAC_RATES:
                options["ar"] = 48000
    return _compile(streams, dest, options)


def _video_filters(video: Any, plan: Plan) -> Any:
    if plan.deinterlace:
        video = video.filter("yadif")
    if plan.resize:
        video = video.filter("scale", plan.width, plan.height).filter("setsar", 1)
    if plan.force_frame_rate is not None:
        video = video.filter("fps", plan.force_frame_rate)
    return video.filter("format", "yuv420p")


def _video_encoder(plan: Plan, tier: str) -> dict[str, Any]:
    rate = plan.frame_rate or 30.0
    maxrate = MAXRATE_KBPS[tier]
    return {"c:v": "libx264", "profile:v": "high", "preset": PRESET, "crf": CRF, "maxrate": f"{maxrate}k",
            "bufsize": f"{maxrate}k", "g": max(1, math.ceil(rate * KEYFRAME_SECONDS)), "flags": "+cgop",
            "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"}


def _video_tag(analysis: Analysis) -> dict[str, str]:
    if analysis.video is None:
        return {}
    return {"tag:v": "hvc1" if analysis.video.codec == "hevc" else "avc1"}


def _compile(streams: list[Any], dest: str, options: dict[str, Any]) -> list[str]:
    output = ffmpeg.output(*streams, f"file:{dest}", format="mp4", movflags="+faststart",
                           max_muxing_queue_size=4096, **options)
    argv: list[str] = output.global_args(*_GLOBAL).compile(cmd=FFMPEG, overwrite_output=True)
    return argv
