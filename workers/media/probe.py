"""ffprobe: what a source contains (`describe`) and its packets (`scan`).

Both calls go through `process.run` with the source's whitelists (see `source.py`). The argv is built
with ffmpeg-python's own option formatting (the helper `ffmpeg.probe` uses), but run here, so the
caller's time limit applies and the process group can be killed.

The video stream is the first one that is not an attached picture (cover art); the audio stream is the
first audio stream. Other streams (more audio, subtitles, data) are not part of an asset.

Memory: every run gets an address-space limit (`memory_limit`, the worker's `jobs.probe_memory`, 512 MiB
by default), so a small crafted file cannot make ffprobe allocate gigabytes: a raw H.264 stream whose SPS
claims 16000x16000 took it to 1.2 GB RSS, an MP4 with 999 AAC streams to 690 MB (one decoder each).
ffprobe itself maps about 250 MiB of shared libraries; a 4K H.264 clip probes in under 300 MiB of
address space. ffprobe decodes with one thread by default; `-threads 1` pins that, because every
decoder thread adds its stack and a malloc arena to the address space (a 720p clip needs 406 MiB with
-threads 16, 267 MiB with one), and the cap must not depend on how many cores the host has.

A run that hits the limit does not always fail: ffprobe may exit 0 after "get_buffer() failed" and still
report the stream. Either way it is an `invalid_input` error saying how much memory was allowed, and so
is a file with more than MAX_STREAMS streams or a video larger than MAX_DIMENSION on a side (refused
from ffprobe's description, before anything else reads the file).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ffmpeg._utils import convert_kwargs_to_cmd_line_args

from workers.media import process
from workers.media.errors import MediaError, tool_failure
from workers.media.gop import Packet
from workers.media.source import Source

FFPROBE = "ffprobe"
MEMORY_LIMIT = 512 << 20   # the default of `jobs.probe_memory`
MAX_STREAMS = 64           # no real upload has more; each one costs ffprobe a decoder
MAX_DIMENSION = 8192       # pixels on a side, any tier (8K UHD is 7680x4320)
# What ffprobe prints when an allocation failed (strerror(ENOMEM); a frame buffer refused; the loader
# unable to map a library under a limit set far too low).
_OUT_OF_MEMORY = ("Cannot allocate memory", "get_buffer() failed", "failed to map segment")
_BAD_IMAGE = "image parameters invalid"   # get_buffer() refused for a reason other than memory

TRUNCATED = "The input file is truncated"

Window = tuple[float, float]  # (start, length) in seconds


@dataclass(frozen=True)
class Container:
    format_name: str
    duration: float | None
    size: int | None
    bit_rate: int | None


@dataclass(frozen=True)
class VideoStream:
    index: int
    track_id: int | None
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    sample_aspect_ratio: Fraction | None
    rotation: int
    frame_rate: float | None
    duration: float | None
    bit_rate: int | None
    field_order: str | None


@dataclass(frozen=True)
class AudioStream:
    index: int
    track_id: int | None
    codec: str
    channels: int
    channel_layout: str | None
    sample_rate: int | None
    duration: float | None
    bit_rate: int | None


@dataclass(frozen=True)
class Description:
    container: Container
    video: VideoStream | None
    audio: AudioStream | None


def _argv(source: Source, **options: Any) -> list[str]:
    return [FFPROBE, *convert_kwargs_to_cmd_line_args({**source.input_options(), "threads": 1, **options}),
            source.input_name]


async def describe(source: Source, *, memory_limit: int = MEMORY_LIMIT) -> Description:
    argv = _argv(source, v="error", of="json", show_format=None, show_streams=None)
    done = await process.run(argv, memory_limit=memory_limit)
    if done.returncode != 0:
        raise failure(done, memory_limit)
    data = _json(done.stdout)
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    if len(streams) > MAX_STREAMS:
        raise MediaError("invalid_input", f"The input file has {len(streams)} streams; at most {MAX_STREAMS} "
                         "are accepted")
    container = Container(fmt.get("format_name", ""), _float(fmt.get("duration")), _int(fmt.get("size")),
                          _int(fmt.get("bit_rate")))
    video = next((_video(s) for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
    audio = next((_audio(s) for s in streams if s.get("codec_type") == "audio"), None)
    if video is not None and max(video.width, video.height) > MAX_DIMENSION:
        raise MediaError("invalid_input", f"The video is {video.width}x{video.height}; at most {MAX_DIMENSION} "
                         "pixels on a side are accepted")
    if out_of_memory(done.stderr):
        raise _memory_error(memory_limit, done.stderr)
    return Description(container, video, audio)


def failure(done: process.Completed, memory_limit: int) -> MediaError:
    """The MediaError for an ffprobe run that exited non-zero or was killed by a signal."""
    if out_of_memory(done.stderr):
        return _memory_error(memory_limit, done.stderr)
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return MediaError("invalid_input", f"ffprobe crashed ({name}) reading the input file; it may need more "
                          f"than {memory_text(memory_limit)} of memory to probe", done.stderr.strip()[-4000:])
    return tool_failure("ffprobe", done.stderr)


def out_of_memory(stderr: str) -> bool:
    """Whether ffprobe's stderr says an allocation failed (the address-space limit was reached)."""
    return any(hint in stderr for hint in _OUT_OF_MEMORY) and _BAD_IMAGE not in stderr


def memory_text(size: int) -> str:
    """512 << 20 -> "512 MiB", 16 << 30 -> "16 GiB"."""
    return f"{size / (1 << 30):g} GiB" if size >= 1 << 30 else f"{size / (1 << 20):g} MiB"


class OutOfMemory(MediaError):
    """ffprobe reached its memory limit: the file's fault (not transient), and never a window to skip."""


def _memory_error(memory_limit: int, stderr: str) -> OutOfMemory:
    return OutOfMemory("invalid_input", f"The input file needs more than {memory_text(memory_limit)} of memory to "
                       "probe (very large video dimensions or too many streams)", stderr.strip()[-4000:])


async def scan(source: Source, streams: str, windows: Sequence[Window], *,
               memory_limit: int = MEMORY_LIMIT) -> list[list[Packet]]:
    """The packets of the first stream matching the specifier `streams` ("V:0": the first video stream
    that is not a picture, as `describe` chooses; "a:0"), in decode order, one list per window. A window
    starting at 0 is read without seeking; a later one that cannot be read (a container ffprobe cannot
    seek in) is left out."""
    scanned = []
    for start, length in windows:
        if start <= 0:
            scanned.append(await _scan(source, streams, f"%+{length:.3f}", memory_limit))
            continue
        try:
            scanned.append(await _scan(source, streams, f"{start:.3f}%+{length:.3f}", memory_limit))
        except MediaError as exc:
            if exc.message == TRUNCATED or isinstance(exc, OutOfMemory):
                raise
    return scanned


async def _scan(source: Source, streams: str, interval: str, memory_limit: int) -> list[Packet]:
    options: dict[str, Any] = {"v": "error", "of": "json=compact=1", "select_streams": streams,
                               "show_entries": "packet=pts_time,duration_time,size,flags",
                               "read_intervals": interval}
    done = await process.run(_argv(source, **options), memory_limit=memory_limit)
    if done.returncode != 0:
        raise failure(done, memory_limit)
    if "partial file" in done.stderr:
        raise MediaError("invalid_input", TRUNCATED, done.stderr[-4000:])
    # An allocation that failed without failing the run (a frame buffer) is `describe`'s to report: it
    # reads the same streams, and its error can say more (the dimensions claimed).
    packets = _json(done.stdout).get("packets") or []
    return [Packet(pts=_float(p.get("pts_time")), duration=_float(p.get("duration_time")) or 0.0,
                   size=_int(p.get("size")) or 0, key="K" in p.get("flags", ""),
                   discard="D" in p.get("flags", "")) for p in packets]


def _json(stdout: bytes) -> dict[str, Any]:
    """ffprobe's JSON; tags are the file's own bytes, so invalid UTF-8 is replaced, not trusted."""
    try:
        data = json.loads(stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError as exc:
        raise MediaError("invalid_input", "The input file could not be read as media", str(exc)) from exc
    if not isinstance(data, dict):
        raise MediaError("invalid_input", "The input file could not be read as media")
    return data


def _video(s: dict[str, Any]) -> VideoStream:
    return VideoStream(
        index=int(s["index"]), track_id=_track_id(s), codec=s.get("codec_name", ""), pix_fmt=s.get("pix_fmt"),
        width=_int(s.get("width")) or 0, height=_int(s.get("height")) or 0,
        sample_aspect_ratio=_ratio(s.get("sample_aspect_ratio")), rotation=_rotation(s),
        frame_rate=_rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")), duration=_duration(s),
        bit_rate=_int(s.get("bit_rate")), field_order=s.get("field_order"))


def _audio(s: dict[str, Any]) -> AudioStream:
    return AudioStream(
        index=int(s["index"]), track_id=_track_id(s), codec=s.get("codec_name", ""),
        channels=_int(s.get("channels")) or 0, channel_layout=s.get("channel_layout"),
        sample_rate=_int(s.get("sample_rate")), duration=_duration(s), bit_rate=_int(s.get("bit_rate")))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ratio(value: Any) -> Fraction | None:
    """"4:3" or "30000/1001" -> Fraction; None for missing, zero or malformed."""
    if not isinstance(value, str):
        return None
    num, _, den = value.replace(":", "/").partition("/")
    try:
        result = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return result if result > 0 else None


def _rate(value: Any) -> float | None:
    ratio = _ratio(value)
    return float(ratio) if ratio is not None else None


def _duration(s: dict[str, Any]) -> float | None:
    seconds = _float(s.get("duration"))
    if seconds is not None:
        return seconds
    text = (s.get("tags") or {}).get("DURATION")  # Matroska: "00:00:03.000000000"
    if isinstance(text, str) and text.count(":") == 2:
        hours, minutes, rest = text.split(":")
        try:
            return int(hours) * 3600 + int(minutes) * 60 + float(rest)
        except ValueError:
            return None
    return None


def _rotation(s: dict[str, Any]) -> int:
    degrees: Any = (s.get("tags") or {}).get("rotate", 0)
    for side in s.get("side_data_list") or []:
        if "rotation" in side:
            degrees = side["rotation"]
    return int(round(float(degrees) / 90) * 90) % 360 if _float(degrees) is not None else 0


def _track_id(s: dict[str, Any]) -> int | None:
    value = s.get("id")
    try:
        return int(value, 16) if isinstance(value, str) else None
    except ValueError:
        return None
