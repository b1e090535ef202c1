"""A storyboard: one sheet of tiles evenly covering the asset, and its metadata (WebVTT and Mux's JSON).

The geometry comes from the asset's record alone (its duration and picture size), so ``storyboard.vtt``
and ``storyboard.json`` are answered without rendering the sheet, and the sheet is drawn from the same
numbers, so the two always agree:

- tiles: one per whole second of the asset, at least 1 and at most 50 (Mux uses 50 for assets under 15
  minutes; a single sheet of 50 is kept for longer ones too). Tile ``i`` starts at ``i * duration / n``
  and shows the picture there; the last one lasts until the end;
- each tile is 256 pixels wide, its height follows the aspect ratio (even); 10 columns (fewer when there
  are fewer tiles), as many rows as needed, filled row by row (unused places of the last row are black);
- the sheet is drawn in one ffmpeg run: the fps filter picks the picture at each tile's start (every
  frame decoded for assets up to 20 s; keyframes only, ``-skip_frame nokey``, for longer ones, which is
  fast however long the asset), tpad/trim make exactly ``n`` tiles, and the tile filter lays them out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.playback.imaging import DECODE, FFMPEG, OUTPUT, Source, cache_key

TILE_WIDTH = 256
COLUMNS = 10
MAX_TILES = 50
EVERY_FRAME_UP_TO = 20.0   # seconds: longer assets are drawn from keyframes only


@dataclass(frozen=True)
class Storyboard:
    duration: float
    count: int
    tile_width: int
    tile_height: int

    @property
    def columns(self) -> int:
        return min(COLUMNS, self.count)

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    @property
    def size(self) -> tuple[int, int]:
        return self.columns * self.tile_width, self.rows * self.tile_height

    def start(self, index: int) -> float:
        return round(index * self.duration / self.count, 3)

    def position(self, index: int) -> tuple[int, int]:
        return (index % self.columns) * self.tile_width, (index // self.columns) * self.tile_height

    def key(self, ext: str) -> str:
        return cache_key("storyboard", ext, f"{self.duration:.3f}", self.count, self.tile_width, self.tile_height)

    def argv(self, source: str, output: str, ext: str) -> list[str]:
        rate = self.count / self.duration if self.duration > 0 else 1.0
        keyframes = ["-skip_frame", "nokey"] if self.duration > EVERY_FRAME_UP_TO else []
        graph = (f"fps=fps={rate:.6f}:start_time=0,tpad=stop_mode=clone:stop={self.count},"
                 f"trim=end_frame={self.count},scale={self.tile_width}:{self.tile_height},setsar=1,"
                 f"tile={self.columns}x{self.rows}")
        return [*FFMPEG, *DECODE, *keyframes, "-f", "mov", "-i", source, "-map", "0:v:0", "-an", "-sn", "-dn",
                "-vf", graph, "-frames:v", "1", "-threads", "1", *OUTPUT[ext], output]

    def vtt(self, image_url: str) -> str:
        lines = ["WEBVTT", ""]
        for index in range(self.count):
            end = self.start(index + 1) if index + 1 < self.count else round(self.duration, 3)
            x, y = self.position(index)
            lines += [f"{_timestamp(self.start(index))} --> {_timestamp(end)}",
                      f"{image_url}#xywh={x},{y},{self.tile_width},{self.tile_height}", ""]
        return "\n".join(lines)

    def json(self, image_url: str) -> dict[str, Any]:
        tiles = [{"start": self.start(i), "x": self.position(i)[0], "y": self.position(i)[1]}
                 for i in range(self.count)]
        return {"url": image_url, "tile_width": self.tile_width, "tile_height": self.tile_height,
                "duration": round(self.duration, 3), "tiles": tiles}


def storyboard_of(source: Source) -> Storyboard:
    count = max(1, min(MAX_TILES, math.floor(source.duration)))
    height = max(2, round(TILE_WIDTH * source.height / source.width / 2) * 2)
    return Storyboard(source.duration, count, TILE_WIDTH, height)


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
