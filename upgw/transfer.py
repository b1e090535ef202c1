"""Moves a file's bytes to a direct upload with tuspy, always continuing from the server's offset.

A fresh upload declares its length by POSTing to the direct upload's ``tus_endpoint`` (whose answer's
``Location`` is the upload URL itself), then PATCHes ``chunk_size`` bytes at a time. A resumed one asks
the upload URL first (HEAD, which also makes an older request still writing to it stop, so the offset is
final) and starts there. A failed chunk (connection dropped, 5xx, 423, offset conflict) is retried after a
backoff from the offset HEAD reports; 404/410 mean the upload is gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from upgw.console import Console
from upgw.errors import GatewayUnreachable, HttpError, UploadUnavailable
from upgw.http import RETRYABLE_STATUSES, Backoff, Response, send, with_retries
from upgw.progress import Progress
from upgw.state import ResumeRecord

T = TypeVar("T")
TUS = {"Tus-Resumable": "1.0.0"}
GONE = (404, 410)


def _content_text(content: object) -> str:
    if isinstance(content, bytes):
        return Response(0, {}, content).error_text()
    return "" if content is None else str(content)


def _retryable(exc: TusCommunicationError) -> bool:
    status = exc.status_code
    if status is None or status in RETRYABLE_STATUSES or status == 409:
        return True   # no answer, server busy, or an offset conflict (re-read below)
    return status == 400 and "upload_interrupted" in _content_text(exc.response_content)


class Transfer:
    def __init__(self, path: Path, record: ResumeRecord, *, chunk_size: int, backoff: Backoff,
                 console: Console) -> None:
        self.path = path
        self.record = record
        self.length = record.identity.length
        self.chunk_size = chunk_size
        self.backoff = backoff
        self.console = console
        self.offset = 0   # what the server is known to have

    def server_offset(self) -> tuple[int, int | None]:
        """HEAD on the upload URL: (offset, declared length or None)."""
        url = self.record.upload_url
        response = with_retries(lambda: send("HEAD", url, headers=TUS), backoff=self.backoff,
                                notice=self.console.say, what=f"HEAD {url}")
        if response.status in GONE:
            raise UploadUnavailable(f"the upload at {url} is gone (HTTP {response.status})")
        if response.status != 200 or "upload-offset" not in response.headers:
            raise HttpError(response.status, f"HEAD {url}: HTTP {response.status}, no Upload-Offset")
        declared = response.headers.get("upload-length")
        return int(response.headers["upload-offset"]), int(declared) if declared is not None else None

    def run(self, *, resume: bool) -> None:
        with self.path.open("rb") as stream:
            uploader: Any = TusClient(self.record.tus_endpoint).uploader(
                file_stream=stream, chunk_size=self.chunk_size, metadata={"filename": self.path.name})
            self.offset, declared = self.server_offset() if resume else (0, None)
            if declared is None:
                self._retrying(uploader.create_url, "declaring the upload length")
            elif declared != self.length:
                raise UploadUnavailable(f"the stored upload is {declared} bytes long, the file {self.length}")
            uploader.url, uploader.offset = self.record.upload_url, self.offset
            if resume:
                percent = 100.0 * self.offset / self.length if self.length else 100.0
                self.console.say(f"resuming upload {self.record.upload_id}: the gateway has {self.offset} of "
                                 f"{self.length} bytes ({percent:.1f}%)")
            progress = self.console.start_progress(self.length)
            progress.start(self.offset)
            self._send(uploader, progress)
        self.console.stop_progress()

    def _send(self, uploader: Any, progress: Progress) -> None:
        failures = 0
        while self.offset < self.length:
            try:
                uploader.upload_chunk()
            except TusCommunicationError as exc:
                self._check(exc, failures, "sending a chunk")
                self.console.say(f"chunk at offset {self.offset} failed: {self._reason(exc)}; retrying in "
                                 f"{self.backoff.delay(failures):.1f}s from the server's offset")
                time.sleep(self.backoff.delay(failures))
                failures += 1
                self.offset, _ = self.server_offset()
                uploader.offset = self.offset
                progress.start(self.offset)
                continue
            failures = 0
            self.offset = int(uploader.offset)
            progress.update(self.offset)

    def _retrying(self, call: Callable[[], T], what: str) -> T:
        for failures in range(self.backoff.retries + 1):
            try:
                return call()
            except TusCommunicationError as exc:
                self._check(exc, failures, what)
                self.console.say(f"{what} failed: {self._reason(exc)}; retrying")
                time.sleep(self.backoff.delay(failures))
        raise AssertionError("unreachable")

    def _check(self, exc: TusCommunicationError, failures: int, what: str) -> None:
        """Raise the error that ends the run, unless ``exc`` is worth another try."""
        if exc.status_code in GONE:
            raise UploadUnavailable(f"the upload at {self.record.upload_url} is gone (HTTP {exc.status_code})")
        if not _retryable(exc):
            raise HttpError(exc.status_code or 0, f"{what} failed: {self._reason(exc)}")
        if failures >= self.backoff.retries:
            raise GatewayUnreachable(f"{what} failed: {self._reason(exc)} (gave up after {failures + 1} attempts)")

    @staticmethod
    def _reason(exc: TusCommunicationError) -> str:
        if exc.status_code is None:
            cause = exc.args[0] if exc.args else exc
            text = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else str(cause)
            return text if len(text) <= 160 else text[:157] + "..."
        return f"HTTP {exc.status_code} {_content_text(exc.response_content)}".rstrip()
