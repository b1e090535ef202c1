"""Moves a file's bytes to a direct upload with the IETF Resumable Uploads draft (interop version 6,
drafts -04/-05), always continuing from the server's offset. No client library: plain requests through
:mod:`upgw.http`.

A fresh upload is started by an empty creation request on the direct upload's ``url`` (``POST`` with
``Upload-Complete: ?0`` and ``Upload-Length``; the gateway answers 201 with ``Location`` = that URL), then
appended to ``chunk_size`` bytes at a time (``PATCH`` with ``Upload-Offset``, ``Upload-Complete`` ``?1``
on the last one and ``Content-Type: application/partial-upload``), each chunk streamed from the file.
A resumed one asks the URL first (``HEAD``, 204 with ``Upload-Offset`` and ``Upload-Length``) and starts
there. A failed append (connection dropped, 5xx, 423, offset conflict) is retried after a backoff from the
offset HEAD reports; 404/410 mean the upload is gone. An empty file is one creation with
``Upload-Complete: ?1``.
"""

from __future__ import annotations

import http.client
import time
from pathlib import Path
from typing import BinaryIO

from upgw.console import Console
from upgw.errors import GatewayUnreachable, HttpError, UploadUnavailable
from upgw.http import RETRYABLE_STATUSES, Backoff, Response, describe_failure, send, with_retries
from upgw.progress import Progress
from upgw.state import ResumeRecord

INTEROP_VERSION = 6
IETF = {"Upload-Draft-Interop-Version": str(INTEROP_VERSION)}
PARTIAL_UPLOAD = "application/partial-upload"
GONE = (404, 410)


def flag(value: bool) -> str:
    """A structured-field boolean (RFC 9651): ``?1`` / ``?0``."""
    return "?1" if value else "?0"


class FileSlice:
    """``size`` bytes of ``stream`` from its current position, read as http.client sends them."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.left = size

    def read(self, limit: int = -1) -> bytes:
        want = self.left if limit < 0 else min(limit, self.left)
        data = self.stream.read(want) if want > 0 else b""
        self.left -= len(data)
        return data


def _retryable(response: Response) -> bool:
    if response.status in RETRYABLE_STATUSES or response.status == 409:
        return True   # server busy, or an offset conflict (re-read below)
    return response.status == 400 and "upload_interrupted" in response.error_text()


class IetfTransfer:
    def __init__(self, path: Path, record: ResumeRecord, *, chunk_size: int, backoff: Backoff,
                 console: Console, timeout: float = 30.0) -> None:
        self.path = path
        self.record = record
        self.url = record.upload_url
        self.length = record.identity.length
        self.chunk_size = chunk_size
        self.backoff = backoff
        self.console = console
        self.timeout = timeout
        self.offset = 0           # what the server is known to have
        self.declared = False     # whether the server knows the upload's length

    def server_offset(self) -> tuple[int, int | None]:
        """HEAD on the upload URL: (offset, declared length or None)."""
        response = with_retries(lambda: send("HEAD", self.url, headers=IETF, timeout=self.timeout),
                                backoff=self.backoff, notice=self.console.say, what=f"HEAD {self.url}")
        if response.status in GONE:
            raise UploadUnavailable(f"the upload at {self.url} is gone (HTTP {response.status})")
        if not 200 <= response.status < 300 or "upload-offset" not in response.headers:
            raise HttpError(response.status, f"HEAD {self.url}: HTTP {response.status}, no Upload-Offset")
        declared = response.headers.get("upload-length")
        return int(response.headers["upload-offset"]), int(declared) if declared is not None else None

    def run(self, *, resume: bool) -> None:
        self.offset, declared = self.server_offset() if resume else (0, None)
        if declared is not None and declared != self.length:
            raise UploadUnavailable(f"the stored upload is {declared} bytes long, the file {self.length}")
        self.declared = declared is not None
        if not self.declared and self.offset == 0:
            self._create()
        if resume:
            percent = 100.0 * self.offset / self.length if self.length else 100.0
            self.console.say(f"resuming upload {self.record.upload_id}: the gateway has {self.offset} of "
                             f"{self.length} bytes ({percent:.1f}%)")
        progress = self.console.start_progress(self.length)
        progress.start(self.offset)
        with self.path.open("rb") as stream:
            self._send(stream, progress)
        self.console.stop_progress()

    def _create(self) -> None:
        """The creation request: no bytes, the length declared (an empty file completes here)."""
        headers = {**IETF, "Upload-Complete": flag(self.length == 0), "Upload-Length": str(self.length)}
        response = with_retries(lambda: send("POST", self.url, headers=headers, timeout=self.timeout),
                                backoff=self.backoff, notice=self.console.say, what=f"POST {self.url}")
        if response.status in GONE:
            raise UploadUnavailable(f"the upload at {self.url} is gone (HTTP {response.status})")
        if not 200 <= response.status < 300:
            raise HttpError(response.status, f"starting the upload failed: HTTP {response.status} "
                                             f"{response.error_text()}".rstrip())
        self.declared = True

    def _append(self, stream: BinaryIO) -> Response:
        """One PATCH of the next chunk, streamed from the file."""
        end = min(self.offset + self.chunk_size, self.length)
        headers = {**IETF, "Upload-Offset": str(self.offset), "Upload-Complete": flag(end == self.length),
                   "Content-Type": PARTIAL_UPLOAD, "Content-Length": str(end - self.offset)}
        if not self.declared:
            headers["Upload-Length"] = str(self.length)
        stream.seek(self.offset)
        return send("PATCH", self.url, headers=headers, body=FileSlice(stream, end - self.offset),
                    timeout=self.timeout)

    def _send(self, stream: BinaryIO, progress: Progress) -> None:
        failures = 0
        while self.offset < self.length:
            try:
                response = self._append(stream)
            except (OSError, http.client.HTTPException) as exc:
                problem = describe_failure(exc)
            else:
                if response.status in GONE:
                    raise UploadUnavailable(f"the upload at {self.url} is gone (HTTP {response.status})")
                acknowledged = self._acknowledged(response)
                if acknowledged is not None:
                    failures = 0
                    self.offset = acknowledged
                    progress.update(self.offset)
                    continue
                problem = f"HTTP {response.status} {response.error_text()}".rstrip()
                if 200 <= response.status < 300:
                    problem = f"HTTP {response.status} without a new Upload-Offset"
                elif not _retryable(response):
                    raise HttpError(response.status, f"sending a chunk failed: {problem}")
            if failures >= self.backoff.retries:
                raise GatewayUnreachable(f"sending a chunk failed: {problem} (gave up after {failures + 1} attempts)")
            delay = self.backoff.delay(failures)
            self.console.say(f"chunk at offset {self.offset} failed: {problem}; retrying in {delay:.1f}s from "
                             "the server's offset")
            time.sleep(delay)
            failures += 1
            self.offset, declared = self.server_offset()
            self.declared = self.declared or declared is not None
            progress.start(self.offset)

    def _acknowledged(self, response: Response) -> int | None:
        """The offset a successful append reports, when it moved on (None otherwise)."""
        value = response.headers.get("upload-offset", "")
        if not 200 <= response.status < 300 or not value.isdigit() or int(value) <= self.offset:
            return None
        return min(int(value), self.length)
