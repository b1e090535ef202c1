"""The catalog's records as types: a direct upload, an asset, and what an asset holds (its master, static
renditions, playback ids and tracks), each status an enum with one table of allowed transitions.

The tables are the whole truth about which status may follow which, as h11's state table is for a
connection: every status change goes through :func:`advance`, which raises
:class:`gateway.errors.InvalidTransition` for a pair not in its table. The stores call it (through
:func:`check_upload` and :func:`check_asset`) on every write, before anything reaches Redis, so a wrong
transition is a bug a unit test catches, never a silent write. The same write is then a compare-and-set
on the old status, so of two racing changes (a cancel and a completion) one wins.

Records are frozen dataclasses: change one with :func:`dataclasses.replace` and hand the old and the new
to the store. Fields are the record's own, internal ones included (where the bytes are, the master file
and its grants, the Livepeer extras); what an API shows is decided by the serializers in
``catalog/wire.py``, and how Redis stores them by ``catalog/schema.py``. ``None`` means "not set": the
field is absent from Redis and from the JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from gateway.errors import InvalidTransition

S = TypeVar("S", bound=Hashable)
MasterAccessSetting = Literal["temporary", "none"]


# -- statuses and their tables ----------------------------------------------------------------------

class UploadStatus(enum.StrEnum):
    WAITING = "waiting"
    ASSET_CREATED = "asset_created"
    ERRORED = "errored"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


INGEST_DIRECT_UPLOAD = "on_demand_direct_upload"
INGEST_URL = "on_demand_url"


class AssetStatus(enum.StrEnum):
    PREPARING = "preparing"
    READY = "ready"
    ERRORED = "errored"


class MasterStatus(enum.StrEnum):
    PREPARING = "preparing"
    READY = "ready"
    ERRORED = "errored"


class RenditionsStatus(enum.StrEnum):
    """The status of an asset's ``static_renditions`` as a whole."""

    PREPARING = "preparing"
    READY = "ready"
    ERRORED = "errored"


class FileStatus(enum.StrEnum):
    """The status of one static-rendition file (``skipped``: nothing to make it from)."""

    PREPARING = "preparing"
    READY = "ready"
    SKIPPED = "skipped"
    ERRORED = "errored"


class RungStatus(enum.StrEnum):
    """The status of one HLS rendition of an asset's ladder (workers/packaging.py)."""

    PREPARING = "preparing"
    READY = "ready"
    ERRORED = "errored"


class ProgressState(enum.StrEnum):
    INGESTING = "ingesting"
    TRANSCODING = "transcoding"
    COMPLETED = "completed"
    LIVE = "live"
    ERRORED = "errored"


_FINAL: frozenset[Any] = frozenset()

UPLOAD_INITIAL = UploadStatus.WAITING
UPLOAD_TRANSITIONS: Mapping[UploadStatus, frozenset[UploadStatus]] = {
    UploadStatus.WAITING: frozenset({UploadStatus.ASSET_CREATED, UploadStatus.ERRORED, UploadStatus.CANCELLED,
                                     UploadStatus.TIMED_OUT}),
    UploadStatus.ASSET_CREATED: _FINAL,
    UploadStatus.ERRORED: _FINAL,
    UploadStatus.CANCELLED: _FINAL,
    UploadStatus.TIMED_OUT: _FINAL,
}

ASSET_INITIAL = AssetStatus.PREPARING
ASSET_TRANSITIONS: Mapping[AssetStatus, frozenset[AssetStatus]] = {
    AssetStatus.PREPARING: frozenset({AssetStatus.READY, AssetStatus.ERRORED}),
    AssetStatus.READY: _FINAL,
    AssetStatus.ERRORED: _FINAL,
}

# ``None`` is "no master object" (``master_access: none``, never asked for, withdrawn or expired).
MASTER_TRANSITIONS: Mapping[MasterStatus | None, frozenset[MasterStatus | None]] = {
    None: frozenset({MasterStatus.PREPARING,        # asked for (the URL comes once the file is stored)
                     MasterStatus.ERRORED}),         # asked for on an errored asset
    MasterStatus.PREPARING: frozenset({MasterStatus.READY, MasterStatus.ERRORED, None}),
    MasterStatus.READY: frozenset({MasterStatus.PREPARING,   # asked for again: a fresh URL
                                   None}),
    MasterStatus.ERRORED: frozenset({None}),
}

RENDITIONS_TRANSITIONS: Mapping[RenditionsStatus, frozenset[RenditionsStatus]] = {
    RenditionsStatus.PREPARING: frozenset({RenditionsStatus.READY, RenditionsStatus.ERRORED}),
    RenditionsStatus.READY: _FINAL,
    RenditionsStatus.ERRORED: _FINAL,
}

FILE_TRANSITIONS: Mapping[FileStatus, frozenset[FileStatus]] = {
    FileStatus.PREPARING: frozenset({FileStatus.READY, FileStatus.SKIPPED, FileStatus.ERRORED}),
    FileStatus.READY: _FINAL,
    FileStatus.SKIPPED: _FINAL,
    FileStatus.ERRORED: _FINAL,
}

RUNG_TRANSITIONS: Mapping[RungStatus, frozenset[RungStatus]] = {
    RungStatus.PREPARING: frozenset({RungStatus.READY, RungStatus.ERRORED}),
    RungStatus.READY: _FINAL,
    RungStatus.ERRORED: _FINAL,
}


def advance(table: Mapping[S, frozenset[S]], current: S, to: S, *, machine: str) -> S:
    """``to`` if the table allows ``current`` -> ``to``; else :class:`InvalidTransition`. Every status change
    of every record goes through here (staying in a status is not a transition, and is not asked)."""
    if to not in table.get(current, _FINAL):
        raise InvalidTransition(f"{machine}: {current or 'none'} -> {to or 'none'} is not an allowed transition")
    return to


# -- a direct upload ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadError:
    """Why an upload could not become an asset (Mux's ``error`` on an ``errored`` upload)."""

    type: str
    message: str


@dataclass(frozen=True)
class LivepeerExtras:
    """What a Livepeer request-upload adds: the name given and the ids Livepeer's answers carry."""

    name: str
    playback_id: str
    task: str


@dataclass(frozen=True)
class DirectUpload:
    """Mux's direct upload. ``asset_id`` is chosen when the upload is created; Mux JSON shows it once the
    status is ``asset_created``."""

    id: str
    status: UploadStatus
    timeout: int
    new_asset_settings: Mapping[str, Any]   # the request's settings, echoed back as sent (validated then)
    test: bool
    storage_upload: str                       # the resumable upload holding the bytes (its id is the URL)
    asset_id: str
    created: float                            # unix time; the index score
    deadline: float | None = None             # waiting uploads time out then (None: adopted tus uploads)
    cors_origin: str | None = None
    error: UploadError | None = None
    livepeer: LivepeerExtras | None = None
    updated: float | None = None              # when the status last changed (None: not since creation)


def check_upload(old: DirectUpload, new: DirectUpload) -> None:
    """Refuse (:class:`InvalidTransition`) a change from ``old`` to ``new`` that no table allows."""
    if new.id != old.id:
        raise InvalidTransition(f"upload {old.id} cannot become upload {new.id}")
    if new.status != old.status:
        advance(UPLOAD_TRANSITIONS, old.status, new.status, machine=f"upload {old.id}")


# -- an asset and what it holds --------------------------------------------------------------------

@dataclass(frozen=True)
class PlaybackId:
    id: str
    policy: str   # public, signed or drm


@dataclass(frozen=True)
class Meta:
    title: str | None = None
    creator_id: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Progress:
    state: ProgressState
    progress: float   # 0-100, -1 once errored


@dataclass(frozen=True)
class Master:
    """The ``master`` object (its ``url`` once ready) and, internal, the grant the URL names and when
    it expires (catalog/masters.py)."""

    status: MasterStatus
    url: str | None = None
    grant: str | None = None
    expires: float | None = None


@dataclass(frozen=True)
class RenditionFile:
    id: str
    name: str
    ext: str
    resolution: str
    status: FileStatus
    type: str = "standard"
    passthrough: str | None = None
    width: int | None = None
    height: int | None = None
    resolution_tier: str | None = None
    filesize: str | None = None   # a decimal string, as Mux sends it
    bitrate: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class StaticRenditions:
    status: RenditionsStatus
    files: tuple[RenditionFile, ...]


@dataclass(frozen=True)
class Rung:
    """One HLS rendition of the asset's ladder, stored under ``assets/<id>/hls/<name>/`` (an ``index.m3u8``
    VOD media playlist, ``init.mp4`` and ``seg<n>.m4s`` CMAF segments; catalog/playback.py names them).
    The ladder is planned whole (every rung ``preparing``) before the first is made; a rung's numbers are
    filled in when it is ``ready``. ``copy``: the video stream copied from the master, not re-encoded."""

    name: str                         # "1080p", "720p", ... or "audio" for an audio-only asset
    status: RungStatus
    width: int | None = None
    height: int | None = None
    bandwidth: int | None = None      # peak bits/s of a segment (the multivariant BANDWIDTH)
    average_bandwidth: int | None = None
    codecs: str | None = None         # RFC 6381, e.g. "avc1.64001f,mp4a.40.2"
    frame_rate: float | None = None
    copy: bool = False


@dataclass(frozen=True)
class Track:
    type: str   # video or audio
    id: str
    duration: float | None = None
    max_width: int | None = None
    max_height: int | None = None
    max_frame_rate: float | None = None
    max_channels: int | None = None
    max_channel_layout: str | None = None
    primary: bool | None = None


@dataclass(frozen=True)
class AssetErrors:
    type: str
    messages: tuple[str, ...]


@dataclass(frozen=True)
class Asset:
    """Mux's asset as the catalog holds it: created ``preparing`` from a finished direct upload (or from a
    URL, whose bytes the worker imports into ``source`` first), filled in by the worker."""

    id: str
    status: AssetStatus
    created_at: int                  # whole unix seconds (Mux shows them as a string)
    created: float                   # the exact unix time; the index score
    upload_id: str
    source: str                      # the storage upload holding the original bytes
    progress: Progress
    ingest_type: str = "on_demand_direct_upload"
    master_access: MasterAccessSetting = "none"
    mp4_support: str = "none"
    max_resolution_tier: str = "1080p"
    video_quality: str = "basic"
    encoding_tier: str = "baseline"
    normalize_audio: bool = False
    passthrough: str | None = None
    meta: Meta | None = None
    per_title_encode: bool | None = None
    test: bool | None = None
    playback_ids: tuple[PlaybackId, ...] | None = None
    master: Master | None = None
    static_renditions: StaticRenditions | None = None
    # what the worker found
    duration: float | None = None
    resolution_tier: str | None = None
    aspect_ratio: str | None = None
    max_stored_frame_rate: float | None = None
    max_stored_resolution: str | None = None   # Mux's deprecated class: "Audio only", "SD", "HD", "FHD", "UHD"
    tracks: tuple[Track, ...] | None = None
    non_standard_input_reasons: Mapping[str, str] | None = None
    errors: AssetErrors | None = None
    # the stored master file (object name and size), once made
    master_file: str | None = None
    master_size: int | None = None
    updated: float | None = None     # when the status or progress last changed
    # an import from a URL (``ingest_type`` on_demand_url): the worker fetches it into ``source`` first
    source_url: str | None = None
    livepeer: LivepeerExtras | None = None   # made by Livepeer's upload/url (shown by its asset API)
    # the HLS ladder (workers/packaging.py): planned whole, each rung preparing -> ready
    hls: tuple[Rung, ...] | None = None


def _status(master: Master | None) -> MasterStatus | None:
    return None if master is None else master.status


def check_asset(old: Asset, new: Asset) -> None:
    """Refuse (:class:`InvalidTransition`) a change from ``old`` to ``new`` that a table does not allow:
    the asset's status, its master's, its static renditions' and each rendition file's."""
    if new.id != old.id:
        raise InvalidTransition(f"asset {old.id} cannot become asset {new.id}")
    name = f"asset {old.id}"
    if new.status != old.status:
        advance(ASSET_TRANSITIONS, old.status, new.status, machine=name)
    if _status(new.master) != _status(old.master):
        advance(MASTER_TRANSITIONS, _status(old.master), _status(new.master), machine=f"{name} master")
    if old.hls is not None and new.hls is not None:
        rungs = {rung.name: rung for rung in old.hls}
        if [r.name for r in new.hls] != list(rungs):
            raise InvalidTransition(f"{name}: the HLS ladder is planned once")
        for rung in new.hls:
            if rung.status != rungs[rung.name].status:
                advance(RUNG_TRANSITIONS, rungs[rung.name].status, rung.status, machine=f"{name} rung {rung.name}")
    elif old.hls is not None:
        raise InvalidTransition(f"{name}: a planned HLS ladder stays")
    before, after = old.static_renditions, new.static_renditions
    if before is None or after is None:
        if before is not after:
            raise InvalidTransition(f"{name}: static renditions are chosen when the asset is created")
        return
    if after.status != before.status:
        advance(RENDITIONS_TRANSITIONS, before.status, after.status, machine=f"{name} static renditions")
    files = {file.id: file for file in before.files}
    if [f.id for f in after.files] != list(files):
        raise InvalidTransition(f"{name}: the static rendition files are chosen when the asset is created")
    for file in after.files:
        if file.status != files[file.id].status:
            advance(FILE_TRANSITIONS, files[file.id].status, file.status, machine=f"{name} rendition {file.id}")
