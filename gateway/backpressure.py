"""Backpressure on writes: a gateway refuses a new body (503, ``Retry-After``) before it would run out of
room, rather than after. Two limits, checked when a write starts, before any byte is read:

- ``uploads.max_concurrent_writes``: bodies being stored at once by this process. Each holds a bounded
  amount of memory (read buffers) and, on S3, up to ``concurrent_parts + 1`` parts of spool disk and as
  many S3 connections; this caps their sum.
- free disk where the write's bytes land (the filesystem root, or the S3 spool folder): at least
  ``uploads.min_free_disk`` plus what one more write may hold there (``Storage.write_footprint``).

A refused write has stored nothing: the client retries (tus-js-client and UpChunk retry 503 on their
own) and resumes from the same offset.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

from gateway.errors import Unavailable

RETRY_AFTER = "1"


class WriteGate:
    def __init__(self, *, max_writes: int, disk_path: str | None, min_free: int, footprint: int) -> None:
        self.max_writes = max_writes
        self.disk_path = disk_path
        self.min_free = min_free
        self.footprint = footprint
        self.active = 0

    def _free_disk(self) -> int | None:
        if not self.disk_path:
            return None
        try:
            return shutil.disk_usage(self.disk_path).free   # one statvfs: cheap enough for the loop
        except OSError:
            return None

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        if self.max_writes and self.active >= self.max_writes:
            raise Unavailable(f"this gateway is storing {self.active} uploads at once, its limit; retry shortly",
                              headers={"Retry-After": RETRY_AFTER})
        free = self._free_disk()
        if free is not None and free < self.min_free + self.footprint:
            raise Unavailable("the gateway's disk is nearly full; retry shortly", headers={"Retry-After": RETRY_AFTER})
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
