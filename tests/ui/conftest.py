"""Fixtures for the uploader-page tests: a gateway (filesystem storage) with a worker, and test files
made at test time (a short standard H.264/AAC clip from ffmpeg's lavfi sources, and random bytes)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser.api import MuxApi

MiB = 1024 * 1024
# a name that would be markup if the page ever put it into innerHTML (no "/": it is a file name)
CLIP_NAME = 'clip <img src=x onerror="document.title=1">.mp4'


@pytest.fixture
def backend() -> str:
    """The page does not care where bytes go: filesystem storage only (S3 is covered elsewhere)."""
    return "filesystem"


@dataclass
class Stack:
    url: str
    api: MuxApi


@pytest.fixture
def stack(gateway_factory: Any, worker_factory: Any) -> Stack:
    gateway = gateway_factory()
    worker_factory()
    return Stack(gateway.url, MuxApi(gateway.url))


@pytest.fixture
def gateway_only(gateway_factory: Any) -> Stack:
    gateway = gateway_factory()
    return Stack(gateway.url, MuxApi(gateway.url))


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-media")


def make_clip(path: Path, pixel_format: str) -> Path:
    """2 s of 320x180 H.264 (keyframe every second) with AAC."""
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", pixel_format, "-g", "30",
                    "-c:a", "aac", "-ac", "2", "-b:a", "96k", "-shortest", str(path)],
                   check=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Path:
    """A standard input (yuv420p): only remuxed."""
    return make_clip(media_dir / CLIP_NAME, "yuv420p")


@pytest.fixture(scope="session")
def clip_444(media_dir: Path) -> Path:
    """A non-standard input (4:4:4 chroma): transcoded, with ``unsupported_pixel_format: yuv444p``."""
    return make_clip(media_dir / "clip-444.mp4", "yuv444p")


@pytest.fixture(scope="session")
def random_file(media_dir: Path) -> Path:
    """Random bytes (not media): 64 chunks of 256 KiB, several seconds at the tests' throttled speed."""
    path = media_dir / "random.bin"
    path.write_bytes(os.urandom(16 * MiB))
    return path
