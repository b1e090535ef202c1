"""Python half of the browser tests: a static server for the harness page (another origin than the
gateway's), the Node/playwright-core driver, and the page's byte generator reproduced in Python."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

JS = ROOT / "tests" / "js"
CHROMIUM = Path("/usr/bin/chromium")
KiB = 1024
MiB = 1024 * KiB

# what the page server hands out: path -> (file, content type)
FILES = {
    "/": (JS / "browser" / "index.html", "text/html; charset=utf-8"),
    "/harness.js": (JS / "browser" / "harness.js", "text/javascript"),
    "/vendor/upchunk.js": (JS / "node_modules" / "@mux" / "upchunk" / "dist" / "upchunk.js", "text/javascript"),
    "/vendor/tus.js": (JS / "node_modules" / "tus-js-client" / "dist" / "tus.js", "text/javascript"),
}


def xorshift_bytes(seed: int, size: int) -> bytes:
    """The page's generator (browser/harness.js ``makeBytes``): xorshift32 words, little-endian."""
    x = seed & 0xFFFFFFFF or 1
    words = []
    for _ in range((size + 3) // 4):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        words.append(x)
    return struct.pack(f"<{len(words)}I", *words)[:size]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        entry = FILES.get(self.path.split("?", 1)[0])
        if entry is None or not entry[0].exists():
            self.send_error(404)
            return
        body = entry[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", entry[1])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class PageServer:
    port: int

    @property
    def origin(self) -> str:
        """The page's origin: ``localhost`` (the gateway's URLs use 127.0.0.1 and another port)."""
        return f"http://localhost:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + "/"


@contextmanager
def serve_page() -> Iterator[PageServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageServer(int(server.server_address[1]))
    finally:
        server.shutdown()
        server.server_close()


def require_browser() -> None:
    missing = [what for what, ok in (
        ("node", shutil.which("node") is not None),
        ("/usr/bin/chromium (Debian package chromium)", CHROMIUM.exists()),
        ("tests/js/node_modules/playwright-core", (JS / "node_modules" / "playwright-core").exists()),
        ("tests/js/node_modules/@mux/upchunk", (JS / "node_modules" / "@mux" / "upchunk").exists()),
    ) if not ok]
    if missing:
        pytest.fail("browser tests need " + ", ".join(missing) + " (bash scripts/install.sh --test)")


def run_browser(page: PageServer, *, size: int, seed: int, steps: list[dict[str, Any]],
                screenshot: Path | None = None, timeout: float = 120) -> dict[str, Any]:
    """Run the steps in headless Chromium on the harness page; the page's report (see harness.js)."""
    require_browser()
    options = {"pageUrl": page.url, "run": {"size": size, "seed": seed, "steps": steps},
               "timeoutMs": int(timeout * 1000), "executablePath": str(CHROMIUM)}
    if screenshot is not None:
        options["screenshot"] = str(screenshot)
    result = subprocess.run(["node", str(JS / "browser_upload.mjs"), json.dumps(options)],
                            capture_output=True, text=True, timeout=timeout + 30, cwd=JS)
    assert result.returncode == 0, f"browser run failed:\n{result.stderr[-4000:]}"
    report = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    assert report["size"] == size and report["origin"] == page.origin, report
    return report
