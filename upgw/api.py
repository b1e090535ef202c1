"""The part of the Mux-compatible API the CLI uses: create a direct upload, read it, read its asset.

Every call authenticates with the API token (HTTP Basic ``id:secret``, or ``Bearer secret`` for a token
given without an id), retries what is retryable, and returns the object under ``data``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from upgw.errors import AuthFailed, CliError, HttpError
from upgw.http import Backoff, Notice, Response, send, with_retries


@dataclass(frozen=True)
class Credentials:
    authorization: str   # the Authorization header value

    @classmethod
    def parse(cls, token: str) -> Credentials:
        token = token.strip()
        if not token:
            raise CliError("no API token: pass --token ID:SECRET or set UPGW_TOKEN")
        token_id, sep, secret = token.partition(":")
        if not sep:
            return cls(f"Bearer {token}")
        if not token_id or not secret:
            raise CliError("--token must look like ID:SECRET")
        return cls("Basic " + base64.b64encode(token.encode()).decode("ascii"))


class Api:
    def __init__(self, base_url: str, credentials: Credentials, *, backoff: Backoff, notice: Notice,
                 timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.backoff = backoff
        self.notice = notice
        self.timeout = timeout

    def create_upload(self, new_asset_settings: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "/video/v1/uploads",
                         {"cors_origin": "*", "new_asset_settings": new_asset_settings})

    def get_upload(self, upload_id: str) -> dict[str, Any]:
        return self.call("GET", f"/video/v1/uploads/{upload_id}")

    def get_asset(self, asset_id: str) -> dict[str, Any]:
        return self.call("GET", f"/video/v1/assets/{asset_id}")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": self.credentials.authorization, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        url = self.base_url + path
        response = with_retries(
            lambda: send(method, url, headers=headers, body=data, timeout=self.timeout),
            backoff=self.backoff, notice=self.notice, what=f"{method} {url}")
        return self._data(method, url, response)

    def _data(self, method: str, url: str, response: Response) -> dict[str, Any]:
        if response.status == 401:
            raise AuthFailed(f"the gateway at {self.base_url} rejected the API token (401: "
                             f"{response.error_text()}); check --token ID:SECRET or UPGW_TOKEN")
        if response.status >= 400:
            raise HttpError(response.status,
                            f"{method} {url} failed: HTTP {response.status} {response.error_text()}".rstrip())
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError) as exc:
            raise HttpError(response.status, f"{method} {url}: not a Mux-style answer: {exc}") from exc
        if not isinstance(data, dict):
            raise HttpError(response.status, f"{method} {url}: not a Mux-style answer")
        return data
