"""A real HTTP source on loopback (aiohttp's web server) with Range support and a log of what it was asked,
and spies that show whether the guard connected or resolved anything. Nothing here contacts any address
but 127.0.0.1, and no name is ever resolved by DNS: :class:`MapResolver` answers invented names from a
table and refuses every other."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import aiohappyeyeballs
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.settings import IngestSettings

CHUNK = 64 * 1024


@dataclass
class SourceFile:
    data: bytes
    etag: str | None = '"v1"'
    last_modified: str | None = None
    ranges: bool = True                 # False: a 200 with every byte, whatever Range says
    honours_if_range: bool = True       # False: a 206 even when If-Range names another version
    chunked: bool = False               # no Content-Length
    drop_after: int | None = None       # once: close the connection after this many body bytes
    fail_with: int | None = None        # once: answer this status instead
    delay: float = 0.0                  # seconds between chunks of 64 KiB (a slow source)
    headers: dict[str, str] = field(default_factory=dict)   # more headers on every answer

    def change(self, data: bytes, etag: str | None = None, last_modified: str | None = None) -> None:
        self.data, self.etag, self.last_modified = data, etag, last_modified


@dataclass
class Hit:
    path: str
    range: str | None
    if_range: str | None
    status: int = 0
    sent: int = 0          # body bytes written


@dataclass
class Source:
    port: int = 0
    files: dict[str, SourceFile] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def allowed(self) -> IngestSettings:
        """Settings that allow this source (and nothing else private)."""
        return IngestSettings(allow_hosts=[f"127.0.0.1:{self.port}"], read_timeout=10.0, connect_timeout=5.0)

    async def serve_file(self, request: web.Request) -> web.StreamResponse:
        hit = Hit(request.path, request.headers.get("Range"), request.headers.get("If-Range"))
        self.hits.append(hit)
        item = self.files.get(request.match_info["name"])
        if item is None:
            hit.status = 404
            return web.Response(status=404, text="no such file")
        if item.fail_with is not None:
            hit.status, item.fail_with = item.fail_with, None
            return web.Response(status=hit.status, text="failing on purpose")
        headers = dict(item.headers)
        if item.etag:
            headers["ETag"] = item.etag
        if item.last_modified:
            headers["Last-Modified"] = item.last_modified
        start, status = 0, 200
        same = hit.if_range is None or not item.honours_if_range or hit.if_range in (item.etag, item.last_modified)
        wanted = re.fullmatch(r"bytes=([0-9]+)-", hit.range or "")
        if item.ranges and wanted and same:
            start = int(wanted.group(1))
            if start >= len(item.data):
                hit.status = 416
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(item.data)}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(item.data) - 1}/{len(item.data)}"
        body = item.data[start:]
        response = web.StreamResponse(status=status, headers=headers)
        if item.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(body)
        hit.status = status
        await response.prepare(request)
        limit = len(body) if item.drop_after is None else min(item.drop_after, len(body))
        for at in range(0, limit, CHUNK):
            piece = body[at:min(at + CHUNK, limit)]
            await response.write(piece)
            hit.sent += len(piece)
            if item.delay:
                await asyncio.sleep(item.delay)
        if item.drop_after is not None:
            item.drop_after = None
            assert request.transport is not None
            request.transport.close()   # flushes what was written, then closes: the body breaks off
            return response
        await response.write_eof()
        return response

    async def status(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(request.path, request.headers.get("Range"), None, int(request.match_info["code"])))
        return web.Response(status=int(request.match_info["code"]), text="an error page")

    async def redirect(self, request: web.Request) -> web.Response:
        """/redirect/<n>/<name>: n relative redirects, then the file."""
        count, name = int(request.match_info["count"]), request.match_info["name"]
        self.hits.append(Hit(request.path, request.headers.get("Range"), None, 302))
        location = f"/redirect/{count - 1}/{name}" if count > 1 else f"/files/{name}"
        return web.Response(status=302, headers={"Location": location})

    async def to(self, request: web.Request) -> web.Response:
        """/to?location=<url>: one redirect anywhere."""
        self.hits.append(Hit(request.path, request.headers.get("Range"), None, 307))
        return web.Response(status=307, headers={"Location": request.query["location"]})

    async def huge(self, request: web.Request) -> web.StreamResponse:
        """Claims ``length`` bytes and sends zeros until the client hangs up (at most 4 MiB)."""
        hit = Hit(request.path, request.headers.get("Range"), None, 200)
        self.hits.append(hit)
        response = web.StreamResponse(status=200)
        response.content_length = int(request.query["length"])
        await response.prepare(request)
        try:
            while hit.sent < 4 * 1024 * 1024 and request.transport is not None and not request.transport.is_closing():
                await response.write(bytes(CHUNK))
                hit.sent += CHUNK
        except (ConnectionError, OSError):
            pass
        return response


@pytest.fixture
async def source() -> AsyncIterator[Source]:
    served = Source()
    app = web.Application()
    app.router.add_get("/files/{name}", served.serve_file)
    app.router.add_get("/status/{code}", served.status)
    app.router.add_get("/redirect/{count}/{name}", served.redirect)
    app.router.add_get("/to", served.to)
    app.router.add_get("/huge", served.huge)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.port = int(runner.addresses[0][1])
    yield served
    await runner.cleanup()


def last_modified(when: float) -> str:
    return formatdate(when, usegmt=True)


class MapResolver(AbstractResolver):
    """Answers names from a table (e.g. ``public.test`` -> ``127.0.0.1``) and records every question; any
    other name is refused as unknown, so no test ever asks real DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"{host} is not in the test's table")
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in self.table[host]]

    async def close(self) -> None:
        return None


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """Every socket connection aiohttp's connector attempts, as the list of addresses it was given (the
    spy wraps the one function through which aiohttp opens client sockets)."""
    attempts: list[list[Any]] = []
    real = aiohappyeyeballs.start_connection

    async def spy(addr_infos: Sequence[Any], **kwargs: Any) -> socket.socket:
        attempts.append([info[4] for info in addr_infos])
        return await real(addr_infos, **kwargs)

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", spy)   # the module aiohttp.connector calls
    return attempts
