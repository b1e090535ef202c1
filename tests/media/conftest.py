"""Fixtures for the media tests: generated clips (session) and a small Range-capable HTTP server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.media.clips import Clips


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    made = Clips(tmp_path_factory.mktemp("clips"))
    made.make_all()
    return made


def ffprobe(path: str | Path, *args: str) -> dict[str, Any]:
    """Plain ffprobe JSON of a file we made ourselves (a test helper, not the code under test)."""
    done = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)], capture_output=True,
                          check=True, timeout=30)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@dataclass
class Request:
    path: str
    range: str | None
    user_agent: str
    length: int  # bytes asked for: the Range's length, or the whole file


@dataclass
class Served:
    """A directory served over HTTP with Range support; every request is logged."""

    root: Path
    base: str
    requests: list[Request] = field(default_factory=list)

    def add(self, name: str, source: Path | bytes) -> str:
        target = self.root / name
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            target.symlink_to(source)
        return f"{self.base}/{name}"


@pytest.fixture
async def http_server(tmp_path: Path) -> AsyncIterator[Served]:
    root = tmp_path / "www"
    root.mkdir()
    served = Served(root, "")

    async def handle(request: web.Request) -> web.StreamResponse:
        path = root / request.match_info["name"]
        size = path.stat().st_size if path.is_file() else 0
        asked = request.http_range
        start, stop = asked.start or 0, size if asked.stop is None else min(asked.stop, size)
        served.requests.append(Request(request.path, request.headers.get("Range"),
                                       request.headers.get("User-Agent", ""), max(0, stop - start)))
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    served.base = f"http://{host}:{port}"
    yield served
    await runner.cleanup()
