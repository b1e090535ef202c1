"""The pure half of the image API: parameters read and checked, geometry worked out, ffmpeg argvs built.

Thumbnails (``thumbnail.{jpg,png,webp}``), Mux's parameters:

- ``time``: seconds (default the middle of the asset), clamped into [0, duration - one frame];
- ``width``, ``height``: 1..4096 pixels, the box the picture is fitted into (one alone: the other follows
  the aspect ratio; neither: the asset's own size);
- ``fit_mode``: ``preserve`` (fit within the box, aspect kept: the default), ``stretch`` (exactly the box),
  ``crop`` (fill the box, aspect kept, the overflow cut off around the centre), ``smartcrop`` (the same as
  ``crop``: a centre crop, no saliency detection), ``pad`` (fit within, then letterboxed with black to
  exactly the box);
- ``rotate`` (90, 180, 270 clockwise) and ``flip_h`` / ``flip_v``: applied to the picture, so ``width`` and
  ``height`` are always those of the image returned.

Animations (``animated.{gif,webp}``): ``start`` (default 0), ``end`` (default start + 5; at most 10 s
after start), ``width`` (default 320, at most 640) or ``height`` (at most 640), ``fps`` (default 15, at
most 30). A GIF is made in one filter graph (palettegen + paletteuse).

The cache key of an image is a hash of what ffmpeg is asked to do (format, time, filter graph), so every
spelling of one picture (``fit_mode=smartcrop`` and ``crop``; ``time=1`` and ``time=1.0``) is one object.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.catalog.models import Asset
from gateway.errors import BadRequest, NotFound

MAX_SIDE = 4096
FIT_MODES = ("preserve", "stretch", "crop", "smartcrop", "pad")
ROTATIONS = {"90": "transpose=clock", "180": "hflip,vflip", "270": "transpose=cclock"}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
TOKEN_CLAIMS = frozenset({"sub", "aud", "exp", "kid", "iat", "nbf", "iss", "jti", "playback_restriction_id"})
ANIMATED_SPAN, ANIMATED_SIDE, ANIMATED_FPS = 10.0, 640, 30
CACHE_VERSION = "1"   # bump when the same parameters should render differently
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
DECODE = ["-threads", "2", "-protocol_whitelist", "file,http,https,tcp,tls"]   # input options
OUTPUT = {"jpg": ["-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1"],
          "png": ["-c:v", "png", "-f", "image2", "-update", "1"],
          "webp": ["-c:v", "libwebp", "-quality", "80", "-f", "image2", "-update", "1"]}


@dataclass(frozen=True)
class Source:
    """What the images are made from: the asset's picture as displayed, and its length."""

    width: int
    height: int
    duration: float
    frame_rate: float

    @property
    def last_frame(self) -> float:
        return max(0.0, self.duration - 1 / self.frame_rate)


def source_of(asset: Asset) -> Source:
    """The asset's picture from its video track (the worker's numbers: as displayed, square pixels), else
    from its highest HLS rung; NotFound for an asset without video."""
    video = next((t for t in asset.tracks or () if t.type == "video"), None)
    rung = max((r for r in asset.hls or () if r.width and r.height), key=lambda r: r.height or 0, default=None)
    width = (video.max_width if video else None) or (rung.width if rung else None)
    height = (video.max_height if video else None) or (rung.height if rung else None)
    if not width or not height:
        raise NotFound("this asset has no video to make images of")
    rate = (video.max_frame_rate if video else None) or (rung.frame_rate if rung else None) or 0.0
    duration = asset.duration or (video.duration if video else None) or 0.0
    return Source(width, height, max(0.0, duration), rate if rate > 0 else 30.0)


def merged(query: Mapping[str, str], claims: Mapping[str, Any]) -> dict[str, str]:
    """The request's parameters: a signed id's token claims over the query string (as Mux reads them)."""
    params = {key: value for key, value in query.items() if key != "token"}
    for key, value in claims.items():
        if key not in TOKEN_CLAIMS and value is not None:
            params[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return params


def seconds(params: Mapping[str, str], name: str, default: float) -> float:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if len(raw) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise BadRequest(f"{name} must be a number of seconds, 0 or more")
    return value


def whole(params: Mapping[str, str], name: str, maximum: int, minimum: int = 1) -> int | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and minimum <= int(raw) <= maximum):
        raise BadRequest(f"{name} must be a whole number from {minimum} to {maximum}")
    return int(raw)


def choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name, "").strip().lower() or default
    if raw not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}")
    return raw


def flag(params: Mapping[str, str], name: str) -> bool:
    return choice(params, name, ("true", "false"), "false") == "true"


def box(width: int | None, height: int | None, source_w: int, source_h: int) -> tuple[int, int]:
    """The box asked for; one side alone takes the other from the aspect ratio, neither the source's."""
    if width and height:
        return width, height
    if width:
        return width, max(1, round(width * source_h / source_w))
    if height:
        return max(1, round(height * source_w / source_h)), height
    return source_w, source_h


def within(source_w: int, source_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / source_w, box_h / source_h)
    return min(box_w, max(1, round(source_w * scale))), min(box_h, max(1, round(source_h * scale)))


def fitted(source_w: int, source_h: int, box_w: int, box_h: int, mode: str) -> tuple[tuple[int, int], list[str]]:
    """(the size to scale the picture to, the filters after it) for ``mode``; the result is exactly the
    box, except with ``preserve``, where it fits within."""
    if mode == "stretch":
        return (box_w, box_h), []
    if mode in ("crop", "smartcrop"):
        scale = max(box_w / source_w, box_h / source_h)
        w, h = max(box_w, round(source_w * scale)), max(box_h, round(source_h * scale))
        return (w, h), [f"crop={box_w}:{box_h}:{(w - box_w) // 2}:{(h - box_h) // 2}:exact=1"]
    w, h = within(source_w, source_h, box_w, box_h)
    if mode == "pad" and (w, h) != (box_w, box_h):
        return (w, h), ["format=yuv444p", f"pad={box_w}:{box_h}:{(box_w - w) // 2}:{(box_h - h) // 2}:black",
                        "format=yuv420p"]
    return (w, h), []


def cache_key(*parts: object) -> str:
    return hashlib.sha256("|".join([CACHE_VERSION, *map(str, parts)]).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Thumbnail:
    ext: str
    time: float
    size: tuple[int, int]
    filters: str

    @property
    def key(self) -> str:
        return cache_key("thumbnail", self.ext, f"{self.time:.3f}", self.filters)

    def argvs(self, source: str, output: str) -> list[list[str]]:
        """The frame at ``time`` (seeking before the input: fast, and exact); should the video end before
        the asset's recorded duration says (no frame there), its last frame instead."""
        picture = ["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", self.filters, "-threads", "1"]
        at = [*FFMPEG, *DECODE, "-ss", f"{self.time:.3f}", "-f", "mov", "-i", source, *picture, "-frames:v", "1"]
        last = [*FFMPEG, *DECODE, "-sseof", "-1", "-f", "mov", "-i", source, *picture]   # -update 1: the last
        return [[*at, *OUTPUT[self.ext], output], [*last, *OUTPUT[self.ext], output]]


def thumbnail(params: Mapping[str, str], source: Source, ext: str) -> Thumbnail:
    time = min(seconds(params, "time", source.duration / 2), source.last_frame)
    width, height = whole(params, "width", MAX_SIDE), whole(params, "height", MAX_SIDE)
    rotate = params.get("rotate", "").strip()
    if rotate and rotate not in ROTATIONS:
        raise BadRequest("rotate must be one of 90, 180, 270")
    fit_mode = choice(params, "fit_mode", FIT_MODES, "preserve")
    flip_h, flip_v = flag(params, "flip_h"), flag(params, "flip_v")
    turned = rotate in ("90", "270")
    shown_w, shown_h = (source.height, source.width) if turned else (source.width, source.height)
    box_w, box_h = box(width, height, shown_w, shown_h)
    (w, h), after = fitted(shown_w, shown_h, box_w, box_h, fit_mode)
    filters = [f"scale={h}:{w}" if turned else f"scale={w}:{h}", "setsar=1"]   # scaled first: cheaper
    filters += [ROTATIONS[rotate]] if rotate else []
    filters += (["hflip"] if flip_h else []) + (["vflip"] if flip_v else []) + after
    size = (w, h) if not after else (box_w, box_h)
    return Thumbnail(ext, math.floor(time * 1000) / 1000, size, ",".join(filters))


@dataclass(frozen=True)
class Animation:
    ext: str
    start: float
    span: float
    fps: int
    size: tuple[int, int]

    @property
    def key(self) -> str:
        return cache_key("animated", self.ext, f"{self.start:.3f}", f"{self.span:.3f}", self.fps, *self.size)

    def argvs(self, source: str, output: str) -> list[list[str]]:
        return [self.argv(source, output)]

    def argv(self, source: str, output: str) -> list[str]:
        w, h = self.size
        picture = f"fps={self.fps},scale={w}:{h}:flags=lanczos,setsar=1"
        head = [*FFMPEG, *DECODE, "-ss", f"{self.start:.3f}", "-t", f"{self.span:.3f}", "-f", "mov", "-i", source]
        if self.ext == "gif":
            graph = f"[0:v:0]{picture},split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer[out]"
            return [*head, "-filter_complex", graph, "-map", "[out]", "-threads", "1", "-loop", "0", "-f", "gif",
                    output]
        return [*head, "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", picture, "-threads", "1",
                "-c:v", "libwebp_anim", "-quality", "75", "-loop", "0", "-f", "webp", output]


def animation(params: Mapping[str, str], source: Source, ext: str) -> Animation:
    start = seconds(params, "start", 0.0)
    end = seconds(params, "end", start + 5)
    if end <= start:
        raise BadRequest("end must be after start")
    if end - start > ANIMATED_SPAN:
        raise BadRequest(f"end must be at most {ANIMATED_SPAN:g} seconds after start")
    width, height = whole(params, "width", ANIMATED_SIDE), whole(params, "height", ANIMATED_SIDE)
    fps = whole(params, "fps", ANIMATED_FPS) or 15
    end = min(end, max(source.duration, 1 / fps))
    start = min(start, max(0.0, end - 1 / fps))
    if width is None and height is None:
        width = 320
    size = within(source.width, source.height, *box(width, height, source.width, source.height))
    start = math.floor(start * 1000) / 1000
    return Animation(ext, start, round(end - start, 3), fps, size)
