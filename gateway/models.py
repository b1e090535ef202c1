"""Value objects shared by the protocol handlers, the service, storage and state."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class UploadState(enum.StrEnum):
    RECEIVING = "receiving"      # accepting bytes
    CONCATENATING = "concatenating"  # a final upload waiting for (or busy with) its partials
    COMPLETE = "complete"        # every byte stored and the object made whole


class ConcatKind(enum.StrEnum):
    NONE = ""
    PARTIAL = "partial"
    FINAL = "final"


@dataclass(frozen=True)
class Upload:
    """The state of one upload as Redis holds it. ``length`` is None while deferred."""

    id: str
    offset: int
    length: int | None
    part_size: int
    created_at: float
    expires_at: float | None = None
    metadata: str = ""                 # the Upload-Metadata header exactly as received
    state: UploadState = UploadState.RECEIVING
    concat: ConcatKind = ConcatKind.NONE
    concat_header: str = ""            # Upload-Concat exactly as received
    partials: tuple[str, ...] = ()     # ids of the partial uploads of a final one
    storage: dict[str, str] = field(default_factory=dict)  # backend-specific (e.g. the S3 multipart id)
    extra: dict[str, str] = field(default_factory=dict)    # owned by the layers above (direct uploads, ...)

    @property
    def complete(self) -> bool:
        return self.state is UploadState.COMPLETE

    @property
    def remaining(self) -> int | None:
        return None if self.length is None else self.length - self.offset

    def with_(self, **changes: object) -> Upload:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Part:
    """One committed S3 part (1-based number)."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class Segment:
    """A durable piece of the current unfinished part (an object of its own in S3)."""

    key: str
    offset: int
    size: int


@dataclass(frozen=True)
class Commit:
    """What a storage backend durably stored; applied atomically with the offset move from ``old_offset``."""

    old_offset: int
    new_offset: int
    part: Part | None = None
    segment: Segment | None = None
    clear_segments: bool = False
    storage: dict[str, str] | None = None
