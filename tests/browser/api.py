"""Plain-HTTP helpers shared by the browser, SDK and curl tests: the Mux-style upload API, the Livepeer
request-upload API, status checks and downloads of an upload URL."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import TOKEN_ID, TOKEN_SECRET

BASIC = {"Authorization": "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN_SECRET}".encode()).decode()}
BEARER = {"Authorization": f"Bearer {TOKEN_SECRET}"}


@dataclass
class Reply:
    method: str
    url: str
    status: int
    headers: Message
    body: bytes = b""
    sent: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        """The request and response, for assertion messages (what the lead needs to reproduce it)."""
        headers = "; ".join(f"{k}: {v}" for k, v in self.headers.items())
        return (f"{self.method} {self.url} (sent {self.sent}) -> {self.status} [{headers}] "
                f"{self.body[:600].decode(errors='replace')}")


def request(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 60) -> Reply:
    """One HTTP request, any status accepted (no redirects followed, so a 308 arrives as it is)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        resp = conn.getresponse()
        return Reply(method, url, resp.status, resp.headers, resp.read(), dict(headers or {}))
    finally:
        conn.close()


def status_check(url: str, total: int) -> Reply:
    """``PUT`` with ``Content-Range: bytes */total``: 308 (+ ``Range`` once bytes are stored) or 200."""
    return request("PUT", url, b"", {"Content-Range": f"bytes */{total}"})


def stored_bytes(url: str, total: int) -> int:
    """How many bytes the upload URL says it holds (from a status check)."""
    reply = status_check(url, total)
    if reply.status in (200, 201):
        return total
    assert reply.status == 308, reply.describe()
    header = reply.headers.get("Range")
    return 0 if header is None else int(header.rsplit("-", 1)[1]) + 1


def download_sha256(url: str, timeout: float = 60) -> tuple[int, str]:
    """Stream a finished upload back with the API token: (length, sha256 hex)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path, headers=BEARER)
        resp = conn.getresponse()
        if resp.status != 200:
            raise AssertionError(f"GET {url} -> {resp.status} {resp.read()[:500]!r}")
        digest, length = hashlib.sha256(), 0
        while chunk := resp.read(1 << 20):
            digest.update(chunk)
            length += len(chunk)
        return length, digest.hexdigest()
    finally:
        conn.close()


class MuxApi:
    """``/video/v1`` with HTTP Basic (as the Mux SDKs send it) and Livepeer's request-upload (Bearer)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def call(self, method: str, path: str, payload: Any = None, auth: dict[str, str] | None = None) -> Reply:
        headers = dict(BASIC if auth is None else auth)
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        return request(method, self.base + path, body, headers)

    def data(self, method: str, path: str, payload: Any = None, expect: int = 200) -> Any:
        reply = self.call(method, path, payload)
        assert reply.status == expect, reply.describe()
        return reply.json()["data"]

    def create_upload(self, cors_origin: str = "*", **fields: Any) -> dict[str, Any]:
        payload = {"cors_origin": cors_origin, **fields}
        upload = self.data("POST", "/video/v1/uploads", payload, expect=201)
        assert isinstance(upload, dict)
        return upload

    def get_upload(self, upload_id: str) -> dict[str, Any]:
        upload = self.data("GET", f"/video/v1/uploads/{upload_id}")
        assert isinstance(upload, dict)
        return upload

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        asset = self.data("GET", f"/video/v1/assets/{asset_id}")
        assert isinstance(asset, dict)
        return asset

    def wait_for_status(self, upload_id: str, status: str, timeout: float = 15) -> dict[str, Any]:
        """Poll the upload until it has ``status`` (the last byte's completion may land a moment later)."""
        deadline = time.monotonic() + timeout
        while True:
            upload = self.get_upload(upload_id)
            if upload["status"] == status or time.monotonic() > deadline:
                assert upload["status"] == status, upload
                return upload
            time.sleep(0.1)

    def livepeer_request_upload(self, name: str) -> dict[str, Any]:
        reply = self.call("POST", "/api/asset/request-upload", {"name": name}, auth=BEARER)
        assert reply.status == 200, reply.describe()
        body = reply.json()
        assert isinstance(body, dict)
        return body


def sha256_hex(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
