"""Follow a finished direct upload to its asset: poll the upload until it names an ``asset_id``, then the
asset until it is ``ready`` or ``errored`` (the worker's progress states are reported as they change)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from upgw.api import Api
from upgw.console import Console
from upgw.errors import UploadErrored, UploadUnavailable, WaitTimedOut

FINAL = frozenset({"ready", "errored"})
FIRST_DELAY, MAX_DELAY = 0.25, 2.0


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        messages = error.get("messages") or [error.get("message", "")]
        return f"{error.get('type', 'error')}: {'; '.join(map(str, messages))}"
    return str(error)


def asset_id_of(upload: dict[str, Any]) -> str | None:
    """The upload's asset id, or None while it is still ``waiting``; raises for an upload that ended."""
    status = upload.get("status")
    if upload.get("asset_id"):
        return str(upload["asset_id"])
    if status == "errored":
        raise UploadErrored(f"upload {upload['id']} errored: {_error_text(upload.get('error'))}")
    if status in ("cancelled", "timed_out"):
        raise UploadUnavailable(f"upload {upload['id']} is {status}")
    return None


class AssetWaiter:
    def __init__(self, api: Api, console: Console, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api = api
        self.console = console
        self.clock = clock
        self.sleep = sleep
        self.asset_id: str | None = None

    def wait(self, upload_id: str, timeout: float) -> dict[str, Any]:
        deadline = self.clock() + timeout
        delay = FIRST_DELAY
        shown = ""
        status = "waiting"
        while True:
            if self.asset_id is None:
                self.asset_id = asset_id_of(self.api.get_upload(upload_id))
            if self.asset_id is not None:
                asset = self.api.get_asset(self.asset_id)
                status = str(asset.get("status"))
                if status in FINAL:
                    return asset
                state = (asset.get("progress") or {}).get("state", status)
                if state != shown:
                    self.console.say(f"asset {self.asset_id}: {status} ({state})")
                    shown = state
            if self.clock() + delay > deadline:
                what = f"asset {self.asset_id}" if self.asset_id else f"upload {upload_id}"
                raise WaitTimedOut(f"{what} is still {status} after {timeout:g}s")
            self.sleep(delay)
            delay = min(MAX_DELAY, delay * 1.5)
