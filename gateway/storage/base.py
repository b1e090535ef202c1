"""The storage seam (tusd's DataStore): where upload bytes live.

A backend never decides offsets. It stores what :meth:`Storage.write` reads and reports each durable
step through :meth:`Journal.commit`; the journal moves the offset in Redis atomically with the step.
Every backend passes ``tests/contract/test_storage.py``.

A backend declares what the rest of the gateway may rely on (``presigned_downloads``,
``preferred_part_size``, ``prepare``) instead of being told apart by its class or configured name.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol

from gateway.models import Commit, Part, Segment, Upload


class Journal(Protocol):
    """The durable record of what a backend stored for one upload."""

    async def commit(self, commit: Commit) -> None: ...
    async def parts(self) -> list[Part]: ...
    async def segments(self) -> list[Segment]: ...

    def on_durable(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` (e.g. deleting data a commit made redundant) once the commits so far are durable."""
        ...


class Storage(Protocol):
    presigned_downloads: bool
    """:meth:`locate_object` gives a URL anyone holding it can fetch (S3's presigned GET); when False
    it gives a local path, and the gateway serves downloads itself behind its own signed links."""

    preferred_part_size: int
    """The smallest part size of new uploads (``gateway/core/parts.py`` grows it for long uploads)."""

    disk_path: str
    """The local folder a write's bytes land in (the files themselves, or the spool on their way to S3):
    the gateway refuses new writes while it is nearly full (gateway/backpressure.py)."""

    write_footprint: int
    """Local disk one more write may take before it commits (S3: the parts in flight; on disk: a commit's worth)."""

    async def prepare(self) -> None:
        """Get ready to serve (S3: create the bucket if missing). Called at start-up; may fail while the
        backend is unreachable, in which case :meth:`ping` keeps reporting it."""
        ...

    async def create(self, upload: Upload) -> dict[str, str]:
        """Prepare an empty upload; returns backend fields kept in the upload record."""
        ...

    async def write(self, upload: Upload, body: AsyncIterable[bytes], journal: Journal) -> int:
        """Append ``body`` at ``upload.offset``; commits as it goes and returns the new offset.

        When the body ends early the bytes received so far are still stored and committed."""
        ...

    async def finish(self, upload: Upload, journal: Journal) -> None:
        """Make the stored bytes one whole object (idempotent)."""
        ...

    async def concat(self, final: Upload, partials: list[Upload], journal: Journal) -> None:
        """Store the partials' bytes, in order, as ``final``'s whole object."""
        ...

    def read(self, upload: Upload, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) of a finished upload."""
        ...

    async def delete(self, upload: Upload, journal: Journal) -> None:
        """Remove everything stored for the upload (idempotent)."""
        ...

    # -- derived objects (masters, renditions) and handing bytes to media tools ------------------

    async def locate(self, upload: Upload, ttl: float = 6 * 3600) -> str:
        """Where ffprobe/ffmpeg can read a finished upload: a local path or a presigned http URL."""
        ...

    async def put_object(self, name: str, path: str) -> int:
        """Store a local file as object ``name`` (e.g. ``assets/<id>/master.mp4``); returns its size."""
        ...

    async def copy_object(self, source: str, target: str) -> None:
        """Object ``target`` with the bytes of ``source`` (a server-side copy, or a hard link on disk);
        deleting either later leaves the other whole."""
        ...

    async def locate_object(self, name: str, ttl: float = 6 * 3600) -> str:
        """A local path or presigned http URL of object ``name``."""
        ...

    def read_object(self, name: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) of object ``name``."""
        ...

    async def object_size(self, name: str) -> int | None:
        """The object's size, None when it does not exist."""
        ...

    async def delete_object(self, name: str) -> None:
        """Remove object ``name`` (idempotent)."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose name starts with ``prefix``, a folder such as ``assets/<id>/`` (ends
        with ``/``; idempotent)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
