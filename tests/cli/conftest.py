"""Helpers for running the uploader as users do: ``python -m gateway upload ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.proxy import ThrottledProxy
from tests.conftest import ROOT, TOKEN_ID, TOKEN_SECRET, TUS
from tests.e2e.test_worker import clip

MIB = 1024 * 1024


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPGW_")}
    return {**env, "UPGW_TOKEN": f"{TOKEN_ID}:{TOKEN_SECRET}", "PYTHONUNBUFFERED": "1"}


def cli_args(file: Path, url: str, state_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gateway", "upload", str(file), "--url", url, "--state-dir", str(state_dir),
            *extra]


def run_cli(file: Path, url: str, state_dir: Path, *extra: str,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_args(file, url, state_dir, *extra), cwd=ROOT, env=cli_env(), capture_output=True,
                          text=True, timeout=timeout)


def _default_sigint() -> None:
    # a shell without job control starts background jobs with SIGINT ignored, and children inherit that:
    # give the uploader the disposition a terminal's Ctrl-C meets
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(file: Path, url: str, state_dir: Path, *extra: str) -> subprocess.Popen[str]:
    """The uploader in the background, to be interrupted with SIGINT as Ctrl-C would."""
    return subprocess.Popen(cli_args(file, url, state_dir, *extra), cwd=ROOT, env=cli_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint)


def state_record(state_dir: Path) -> dict[str, object] | None:
    records = list(state_dir.glob("*.json"))
    return json.loads(records[0].read_text()) if records else None


def head_offset(upload_url: str) -> int:
    request = urllib.request.Request(upload_url, method="HEAD", headers=TUS)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return int(resp.headers["Upload-Offset"])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def offset_reaches(state_dir: Path, at_least: int) -> Callable[[], bool]:
    """True once the state file names an upload whose server offset is ``at_least``."""
    def check() -> bool:
        record = state_record(state_dir)
        return record is not None and head_offset(str(record["upload_url"])) >= at_least
    return check


@pytest.fixture
def proxy() -> Iterator[ThrottledProxy]:
    proxy = ThrottledProxy()
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def two_second_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "two.mp4",
                "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50",
                "-c:a", "aac", "-ac", "2", "-shortest")
