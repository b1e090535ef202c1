"""How the catalog's records are stored: the one place a typed record becomes the fields of its Redis hash
(one JSON value per field, catalog/records.py) and back.

The field names and encodings are those the earlier dict-shaped records used, so data written before
reads back, and a rollback reads what is written now. Internal fields keep their ``_`` names in Redis
(``_upload``, ``_asset_id``, ``_source``, ``_master``, ...): here they are plain typed fields, and only the
serializers (catalog/wire.py) decide what an API shows.

The reader is tolerant: a field it does not know is ignored (and left alone in Redis, since writes only
touch the fields that changed), and a field an older version did not write takes its default.
``_renditions`` (the requested resolutions, a copy of what ``static_renditions`` holds) is no longer
written.

Upload hash ``<p>:{<id>}:upload``:

    id, status, timeout, new_asset_settings, test, cors_origin?, asset_id (once asset_created), error?,
    _upload, _asset_id, _deadline, _created, _livepeer? {name, playbackId, task}, _updated?

Asset hash ``<p>:{<id>}:asset``:

    id, created_at ("<unix s>"), status, upload_id, ingest_type, master_access, mp4_support,
    max_resolution_tier, video_quality, encoding_tier, normalize_audio, passthrough?, meta?,
    per_title_encode?, test?, playback_ids?, progress, master? {status, url?}, static_renditions?,
    duration?, resolution_tier?, aspect_ratio?, max_stored_frame_rate?, max_stored_resolution?, tracks?,
    non_standard_input_reasons?, errors?, _source, _created, _master?, _master_size?,
    _master_grant?, _master_expires?, _updated?, _source_url? (an import from a URL),
    _livepeer? {name, playbackId, task} (made by Livepeer's upload/url),
    _hls? [{name, status, width?, height?, bandwidth?, average_bandwidth?, codecs?, frame_rate?, copy?}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.catalog.models import (
    Asset,
    AssetErrors,
    AssetStatus,
    DirectUpload,
    FileStatus,
    LivepeerExtras,
    Master,
    MasterStatus,
    Meta,
    PlaybackId,
    Progress,
    ProgressState,
    RenditionFile,
    RenditionsStatus,
    Rung,
    RungStatus,
    StaticRenditions,
    Track,
    UploadError,
    UploadStatus,
)

Fields = dict[str, Any]   # hash field name -> its value before JSON encoding


def _present(**values: Any) -> Fields:
    """The values that are set (``None`` is "absent")."""
    return {key: value for key, value in values.items() if value is not None}


def changes(old: Fields, new: Fields) -> tuple[Fields, list[str]]:
    """What turns hash ``old`` into hash ``new``: the fields to set and the fields to remove."""
    written = {key: value for key, value in new.items() if key not in old or old[key] != value}
    return written, [key for key in old if key not in new]


def livepeer_json(livepeer: LivepeerExtras) -> Fields:
    return {"name": livepeer.name, "playbackId": livepeer.playback_id, "task": livepeer.task}


def livepeer_from(raw: Mapping[str, Any]) -> LivepeerExtras:
    return LivepeerExtras(name=raw["name"], playback_id=raw["playbackId"], task=raw["task"])


# -- direct uploads ----------------------------------------------------------------------------------

def upload_fields(upload: DirectUpload) -> Fields:
    fields: Fields = {
        "id": upload.id, "status": str(upload.status), "timeout": upload.timeout,
        "new_asset_settings": dict(upload.new_asset_settings), "test": upload.test,
        "_upload": upload.storage_upload, "_asset_id": upload.asset_id, "_deadline": upload.deadline,
        "_created": upload.created}
    if upload.livepeer is not None:
        fields["_livepeer"] = livepeer_json(upload.livepeer)
    fields.update(_present(cors_origin=upload.cors_origin, _updated=upload.updated))
    if upload.status is UploadStatus.ASSET_CREATED:
        fields["asset_id"] = upload.asset_id
    if upload.error is not None:
        fields["error"] = {"type": upload.error.type, "message": upload.error.message}
    return fields


def upload_from(raw: Mapping[str, Any]) -> DirectUpload:
    livepeer, error = raw.get("_livepeer"), raw.get("error")
    return DirectUpload(
        id=raw["id"], status=UploadStatus(raw["status"]), timeout=int(raw.get("timeout", 3600)),
        new_asset_settings=dict(raw.get("new_asset_settings") or {}), test=bool(raw.get("test", False)),
        storage_upload=raw["_upload"], asset_id=raw.get("_asset_id") or raw["asset_id"],
        created=float(raw.get("_created", 0.0)), deadline=raw.get("_deadline"), cors_origin=raw.get("cors_origin"),
        error=None if not error else UploadError(type=error["type"], message=error["message"]),
        livepeer=None if livepeer is None else livepeer_from(livepeer), updated=raw.get("_updated"))


# -- assets ------------------------------------------------------------------------------------------

def meta_json(meta: Meta) -> Fields:
    return _present(title=meta.title, creator_id=meta.creator_id, external_id=meta.external_id)


def meta_from(raw: Mapping[str, Any]) -> Meta:
    return Meta(title=raw.get("title"), creator_id=raw.get("creator_id"), external_id=raw.get("external_id"))


def file_json(file: RenditionFile) -> Fields:
    return {"id": file.id, "name": file.name, "ext": file.ext, "type": file.type, "resolution": file.resolution,
            "status": str(file.status), **_present(
                passthrough=file.passthrough, width=file.width, height=file.height,
                resolution_tier=file.resolution_tier, filesize=file.filesize, bitrate=file.bitrate, url=file.url)}


def file_from(raw: Mapping[str, Any]) -> RenditionFile:
    return RenditionFile(
        id=raw["id"], name=raw["name"], ext=raw["ext"], type=raw.get("type", "standard"),
        resolution=raw["resolution"], status=FileStatus(raw["status"]), passthrough=raw.get("passthrough"),
        width=raw.get("width"), height=raw.get("height"), resolution_tier=raw.get("resolution_tier"),
        filesize=raw.get("filesize"), bitrate=raw.get("bitrate"), url=raw.get("url"))


def renditions_json(renditions: StaticRenditions) -> Fields:
    return {"status": str(renditions.status), "files": [file_json(f) for f in renditions.files]}


def track_json(track: Track) -> Fields:
    return {"type": track.type, "id": track.id, **_present(
        max_width=track.max_width, max_height=track.max_height, max_frame_rate=track.max_frame_rate,
        max_channels=track.max_channels, duration=track.duration, max_channel_layout=track.max_channel_layout,
        primary=track.primary)}


def track_from(raw: Mapping[str, Any]) -> Track:
    """A track as the analysis (workers/media/analysis.py) describes it, or as it was stored."""
    return Track(type=raw["type"], id=str(raw["id"]), duration=raw.get("duration"), max_width=raw.get("max_width"),
                 max_height=raw.get("max_height"), max_frame_rate=raw.get("max_frame_rate"),
                 max_channels=raw.get("max_channels"), max_channel_layout=raw.get("max_channel_layout"),
                 primary=raw.get("primary"))


def master_json(master: Master) -> Fields:
    return {"status": str(master.status), **_present(url=master.url)}


def asset_fields(asset: Asset) -> Fields:
    master, renditions = asset.master, asset.static_renditions
    fields: Fields = {
        "id": asset.id, "created_at": str(asset.created_at), "status": str(asset.status),
        "upload_id": asset.upload_id, "ingest_type": asset.ingest_type, "master_access": asset.master_access,
        "mp4_support": asset.mp4_support, "max_resolution_tier": asset.max_resolution_tier,
        "video_quality": asset.video_quality, "encoding_tier": asset.encoding_tier,
        "normalize_audio": asset.normalize_audio}
    fields.update(_present(
        passthrough=asset.passthrough,
        meta=None if asset.meta is None else meta_json(asset.meta),
        per_title_encode=asset.per_title_encode, test=asset.test,
        playback_ids=None if asset.playback_ids is None else [
            {"id": p.id, "policy": p.policy} for p in asset.playback_ids]))
    fields["progress"] = {"state": str(asset.progress.state), "progress": asset.progress.progress}
    fields.update(_present(
        master=None if master is None else master_json(master),
        static_renditions=None if renditions is None else renditions_json(renditions),
        duration=asset.duration, resolution_tier=asset.resolution_tier, aspect_ratio=asset.aspect_ratio,
        max_stored_frame_rate=asset.max_stored_frame_rate, max_stored_resolution=asset.max_stored_resolution,
        tracks=None if asset.tracks is None else [track_json(t) for t in asset.tracks],
        non_standard_input_reasons=None if asset.non_standard_input_reasons is None else dict(
            asset.non_standard_input_reasons),
        errors=None if asset.errors is None else {"type": asset.errors.type, "messages": list(asset.errors.messages)},
        _source=asset.source, _created=asset.created, _master=asset.master_file, _master_size=asset.master_size,
        _master_grant=None if master is None else master.grant,
        _master_expires=None if master is None else master.expires,
        _updated=asset.updated, _source_url=asset.source_url))
    if asset.livepeer is not None:
        fields["_livepeer"] = livepeer_json(asset.livepeer)
    if asset.hls is not None:
        fields["_hls"] = [rung_json(rung) for rung in asset.hls]
    return fields


def rung_json(rung: Rung) -> Fields:
    return {"name": rung.name, "status": str(rung.status), **_present(
        width=rung.width, height=rung.height, bandwidth=rung.bandwidth, average_bandwidth=rung.average_bandwidth,
        codecs=rung.codecs, frame_rate=rung.frame_rate, copy=rung.copy or None)}


def rung_from(raw: Mapping[str, Any]) -> Rung:
    return Rung(name=raw["name"], status=RungStatus(raw["status"]), width=raw.get("width"),
                height=raw.get("height"), bandwidth=raw.get("bandwidth"),
                average_bandwidth=raw.get("average_bandwidth"), codecs=raw.get("codecs"),
                frame_rate=raw.get("frame_rate"), copy=bool(raw.get("copy", False)))


def asset_from(raw: Mapping[str, Any]) -> Asset:
    progress, master, renditions = raw.get("progress") or {}, raw.get("master"), raw.get("static_renditions")
    ids, tracks, errors, meta = raw.get("playback_ids"), raw.get("tracks"), raw.get("errors"), raw.get("meta")
    reasons, livepeer, hls = raw.get("non_standard_input_reasons"), raw.get("_livepeer"), raw.get("_hls")
    created_at = int(raw.get("created_at") or raw.get("_created") or 0)
    return Asset(
        id=raw["id"], status=AssetStatus(raw["status"]), created_at=created_at,
        created=float(raw.get("_created", created_at)), upload_id=raw.get("upload_id", ""),
        source=raw.get("_source", ""),
        progress=Progress(state=ProgressState(progress.get("state", "ingesting")),
                          progress=progress.get("progress", 0)),
        ingest_type=raw.get("ingest_type", "on_demand_direct_upload"),
        master_access="temporary" if raw.get("master_access") == "temporary" else "none",
        mp4_support=raw.get("mp4_support", "none"), max_resolution_tier=raw.get("max_resolution_tier", "1080p"),
        video_quality=raw.get("video_quality", "basic"), encoding_tier=raw.get("encoding_tier", "baseline"),
        normalize_audio=bool(raw.get("normalize_audio", False)), passthrough=raw.get("passthrough"),
        meta=None if meta is None else meta_from(meta), per_title_encode=raw.get("per_title_encode"),
        test=raw.get("test"),
        playback_ids=None if ids is None else tuple(PlaybackId(id=p["id"], policy=p["policy"]) for p in ids),
        master=None if master is None else Master(
            status=MasterStatus(master["status"]), url=master.get("url"), grant=raw.get("_master_grant"),
            expires=raw.get("_master_expires")),
        static_renditions=None if renditions is None else StaticRenditions(
            status=RenditionsStatus(renditions["status"]), files=tuple(file_from(f) for f in renditions["files"])),
        duration=raw.get("duration"), resolution_tier=raw.get("resolution_tier"),
        aspect_ratio=raw.get("aspect_ratio"), max_stored_frame_rate=raw.get("max_stored_frame_rate"),
        max_stored_resolution=raw.get("max_stored_resolution"),
        tracks=None if tracks is None else tuple(track_from(t) for t in tracks),
        non_standard_input_reasons=None if reasons is None else dict(reasons),
        errors=None if errors is None else AssetErrors(type=errors["type"],
                                                       messages=tuple(errors.get("messages", ()))),
        master_file=raw.get("_master"), master_size=raw.get("_master_size"), updated=raw.get("_updated"),
        source_url=raw.get("_source_url"), livepeer=None if livepeer is None else livepeer_from(livepeer),
        hls=None if hls is None else tuple(rung_from(r) for r in hls))
