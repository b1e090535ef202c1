"""The records as the APIs show them: one serializer for Mux JSON (the API's answers and every webhook
event's ``data``) and one for Livepeer JSON. Internal fields never appear; what is stored is decided
separately, by catalog/schema.py.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog.models import (
    Asset,
    AssetStatus,
    DirectUpload,
    Master,
    Meta,
    RenditionFile,
    StaticRenditions,
    Track,
    UploadStatus,
)

JSON = dict[str, Any]


# -- Mux ---------------------------------------------------------------------------------------------

def upload_url(upload: DirectUpload, base_url: str) -> str:
    """The resumable URL the bytes go to (the storage upload's capability id, not the Mux id)."""
    return f"{base_url}/files/{upload.storage_upload}"


def mux_upload(upload: DirectUpload, base_url: str) -> JSON:
    """Mux's Upload object, plus ``tus_endpoint`` (a tus creation endpoint bound to it)."""
    out: JSON = {"id": upload.id, "status": str(upload.status), "timeout": upload.timeout,
                 "new_asset_settings": dict(upload.new_asset_settings), "test": upload.test}
    if upload.cors_origin is not None:
        out["cors_origin"] = upload.cors_origin
    out["url"] = upload_url(upload, base_url)
    out["tus_endpoint"] = out["url"] + "/tus"
    if upload.status is UploadStatus.ASSET_CREATED:
        out["asset_id"] = upload.asset_id
    if upload.error is not None:
        out["error"] = {"type": upload.error.type, "message": upload.error.message}
    return out


def _set(**values: Any) -> JSON:
    return {key: value for key, value in values.items() if value is not None}


def _meta(meta: Meta) -> JSON:
    return _set(title=meta.title, creator_id=meta.creator_id, external_id=meta.external_id)


def _master(master: Master) -> JSON:
    return {"status": str(master.status), **_set(url=master.url)}


def _file(file: RenditionFile) -> JSON:
    return {"id": file.id, "name": file.name, "ext": file.ext, "type": file.type, "resolution": file.resolution,
            "status": str(file.status), **_set(
                passthrough=file.passthrough, width=file.width, height=file.height,
                resolution_tier=file.resolution_tier, filesize=file.filesize, bitrate=file.bitrate, url=file.url)}


def _renditions(renditions: StaticRenditions) -> JSON:
    return {"status": str(renditions.status), "files": [_file(f) for f in renditions.files]}


def _track(track: Track) -> JSON:
    return {"type": track.type, "id": track.id, **_set(
        max_width=track.max_width, max_height=track.max_height, max_frame_rate=track.max_frame_rate,
        max_channels=track.max_channels, duration=track.duration, max_channel_layout=track.max_channel_layout,
        primary=track.primary)}


def mux_asset(asset: Asset) -> JSON:
    """Mux's Asset object: the settings it was made with, its status and progress, what the worker found,
    the master and static renditions; optional members only when set."""
    out: JSON = {
        "id": asset.id, "created_at": str(asset.created_at), "status": str(asset.status),
        **_set(upload_id=asset.upload_id or None),   # none for an import from a URL
        "ingest_type": asset.ingest_type, "master_access": asset.master_access,
        "mp4_support": asset.mp4_support, "max_resolution_tier": asset.max_resolution_tier,
        "video_quality": asset.video_quality, "encoding_tier": asset.encoding_tier,
        "normalize_audio": asset.normalize_audio}
    out.update(_set(
        passthrough=asset.passthrough, meta=None if asset.meta is None else _meta(asset.meta),
        per_title_encode=asset.per_title_encode, test=asset.test,
        playback_ids=None if asset.playback_ids is None else [
            {"id": p.id, "policy": p.policy} for p in asset.playback_ids]))
    out["progress"] = {"state": str(asset.progress.state), "progress": asset.progress.progress}
    out.update(_set(
        master=None if asset.master is None else _master(asset.master),
        static_renditions=None if asset.static_renditions is None else _renditions(asset.static_renditions),
        duration=asset.duration, resolution_tier=asset.resolution_tier, aspect_ratio=asset.aspect_ratio,
        max_stored_frame_rate=asset.max_stored_frame_rate, max_stored_resolution=asset.max_stored_resolution,
        tracks=None if asset.tracks is None else [_track(t) for t in asset.tracks],
        non_standard_input_reasons=None if asset.non_standard_input_reasons is None else dict(
            asset.non_standard_input_reasons),
        errors=None if asset.errors is None else {"type": asset.errors.type,
                                                  "messages": list(asset.errors.messages)}))
    return out


def mux_rendition_file(file: RenditionFile, asset_id: str) -> JSON:
    """A ``video.asset.static_rendition.*`` event's data: the file and the asset it belongs to."""
    return {**_file(file), "asset_id": asset_id}


# -- Livepeer ----------------------------------------------------------------------------------------

PHASES = {AssetStatus.PREPARING: "processing", AssetStatus.READY: "ready", AssetStatus.ERRORED: "failed"}
FAILED_UPLOADS = frozenset({UploadStatus.CANCELLED, UploadStatus.TIMED_OUT, UploadStatus.ERRORED})


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _phase(asset: Asset, status: JSON) -> None:
    status["phase"] = PHASES[asset.status]
    if asset.errors is not None:
        status["errorMessage"] = "; ".join(asset.errors.messages)
    if asset.progress.progress > 0:
        status["progress"] = asset.progress.progress / 100


def livepeer_url_asset(asset: Asset) -> JSON:
    """Livepeer's Asset for an import from a URL (``upload/url``): ``waiting`` until the worker starts on
    it, then as an uploaded asset."""
    if asset.livepeer is None:
        raise ValueError(f"asset {asset.id} was not made by Livepeer's upload/url")
    status: JSON = {"phase": "waiting"}
    untouched = asset.status is AssetStatus.PREPARING and asset.updated is None
    if not untouched:
        _phase(asset, status)
    status["updatedAt"] = _ms(asset.updated or asset.created)
    view: JSON = {"id": asset.id, "playbackId": asset.livepeer.playback_id, "name": asset.livepeer.name,
                  "source": {"type": "url", "url": asset.source_url or ""}, "status": status,
                  "createdAt": _ms(asset.created)}
    if asset.duration is not None:
        view["videoSpec"] = {"duration": asset.duration}
    return view


def livepeer_asset(upload: DirectUpload, asset: Asset | None) -> JSON:
    """Livepeer's Asset for a request-upload's direct upload and, once the bytes are in, its asset.
    ``status.updatedAt`` is when the phase or progress last changed."""
    if upload.livepeer is None:
        raise ValueError(f"upload {upload.id} was not made by Livepeer's request-upload")
    updated = upload.updated or upload.created
    status: JSON = {"phase": "waiting"}
    if asset is not None:
        updated = max(updated, asset.updated or asset.created)
        _phase(asset, status)
    elif upload.status in FAILED_UPLOADS:
        status.update(phase="failed", errorMessage=f"upload {upload.status}")
    status["updatedAt"] = _ms(updated)
    view: JSON = {"id": upload.asset_id, "playbackId": upload.livepeer.playback_id, "name": upload.livepeer.name,
                  "source": {"type": "directUpload"}, "status": status, "createdAt": _ms(upload.created)}
    if asset is not None and asset.duration is not None:
        view["videoSpec"] = {"duration": asset.duration}
    return view
