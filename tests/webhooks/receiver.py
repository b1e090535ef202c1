"""A real webhook receiver for the tests, and the official Node SDK as a second verifier.

The receiver is an aiohttp server on a free loopback port, run on its own event loop in a thread, so
tests may block (urllib, curl, subprocess) while it answers. It records every request's raw body and
headers, can answer 500 to the first attempts of each event, answer slowly, or stop listening.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.servers import free_port

JS = Path(__file__).resolve().parent.parent / "js"


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float           # time.monotonic() when the body had arrived
    status: int         # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.fail_first = 0        # answer 500 to this many first requests per (path, event id)
        self.delay = 0.0           # seconds to wait before answering
        self.delays: dict[str, float] = {}   # per path, instead of ``delay``
        self._requests: list[Request] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._arrived = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        """Requests that arrived and are not answered yet."""
        with self._lock:
            return self._arrived - len(self._requests)

    def up(self) -> Receiver:
        asyncio.run_coroutine_threadsafe(self._up(), self._loop).result(10)
        return self

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._down(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def wait_for(self, condition: Callable[[list[Request]], bool], timeout: float, what: str = "") -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            requests = self.requests
            if condition(requests):
                return requests
            time.sleep(0.05)
        raise AssertionError(f"receiver: not {what or 'satisfied'} after {timeout}s; got "
                             f"{[(r.path, r.event.get('type'), r.status) for r in self.requests]}")

    async def settle(self, condition: Callable[[list[Request]], bool], timeout: float,
                     what: str = "") -> list[Request]:
        """``wait_for`` for async tests (does not block the test's event loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            requests = self.requests
            if condition(requests):
                return requests
            await asyncio.sleep(0.05)
        raise AssertionError(f"receiver: not {what or 'satisfied'} after {timeout}s; got "
                             f"{[(r.path, r.event.get('type'), r.status) for r in self.requests]}")

    async def _handle(self, request: web.Request) -> web.Response:
        with self._lock:
            self._arrived += 1
        body = await request.read()
        if delay := self.delays.get(request.path, self.delay):
            await asyncio.sleep(delay)
        try:
            event_id = str(json.loads(body).get("id", ""))
        except ValueError:
            event_id = ""
        with self._lock:
            key = (request.path, event_id)
            self._seen[key] = count = self._seen.get(key, 0) + 1
            status = 500 if count <= self.fail_first else 200
            self._requests.append(Request(path=request.path, body=body, headers=dict(request.headers),
                                          at=time.monotonic(), status=status))
        return web.Response(status=status, text="nope" if status == 500 else "ok",
                            headers={"X-Receiver": "tests"})

    async def _up(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self._runner = runner

    async def _close(self) -> None:
        await self._down()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:        # handlers still sleeping on a slow answer
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _down(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


def node_verify(cases: list[tuple[bytes, dict[str, str], str]]) -> list[dict[str, Any]]:
    """Run each (raw body, headers, secret) through ``mux.webhooks.unwrap`` of @mux/mux-node."""
    payload = json.dumps([{"body": body.decode(), "headers": headers, "secret": secret}
                          for body, headers, secret in cases])
    result = subprocess.run(["node", str(JS / "webhook_verify.mjs")], input=payload, text=True, cwd=JS,
                            capture_output=True, timeout=60, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == len(cases), result.stderr
    return lines
