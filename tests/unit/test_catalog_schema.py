"""The one storage schema and the serializers: records written in the dict shape of earlier versions
decode into the typed models and encode back to the same fields, and Mux JSON is what ``public()`` and
``view()`` made of them."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from gateway.catalog.assets import initial_asset
from gateway.catalog.models import (
    AssetStatus,
    FileStatus,
    LivepeerExtras,
    Master,
    MasterStatus,
    Meta,
    Progress,
    ProgressState,
    RenditionsStatus,
    Track,
    UploadError,
    UploadStatus,
)
from gateway.catalog.schema import asset_fields, asset_from, changes, upload_fields, upload_from
from gateway.catalog.wire import livepeer_asset, mux_asset, mux_rendition_file, mux_upload

BASE = "http://gw.example"

# As the dict-shaped code wrote them (an Asset made by initial_asset and filled in by the worker and
# master access; uploads by DirectUploads.create/adopt and the Livepeer API).
OLD_ASSET: dict[str, Any] = {
    "id": "ASSET", "created_at": "1700000000", "status": "ready", "upload_id": "UPLOAD",
    "ingest_type": "on_demand_direct_upload", "master_access": "temporary", "mp4_support": "none",
    "max_resolution_tier": "2160p", "video_quality": "plus", "encoding_tier": "smart", "normalize_audio": False,
    "passthrough": "p-1", "meta": {"title": "T", "creator_id": "c"}, "test": True,
    "playback_ids": [{"id": "WE8xPIKw8Jdfl5YkoJB0EsEy", "policy": "public"}],
    "progress": {"state": "completed", "progress": 100},
    "master": {"status": "ready", "url": "http://gw.example/downloads/ASSET/master.x.mp4?expires=1&signature=s"},
    "_renditions": ["highest", "audio-only"],
    "static_renditions": {"status": "ready", "files": [
        {"id": "dmxPWjpOsqQF1D8GxDRrxOhI", "name": "highest.mp4", "ext": "mp4", "type": "standard",
         "resolution": "highest", "status": "ready", "width": 640, "height": 360, "resolution_tier": "720p",
         "filesize": "123456", "bitrate": 329216, "url": "http://gw.example/downloads/ASSET/highest.mp4?e=1"},
        {"id": "SCIBCwuJxOwEErVF8WwBetuA", "name": "audio.m4a", "ext": "m4a", "type": "standard",
         "resolution": "audio-only", "status": "skipped", "passthrough": "a"}]},
    "_source": "SRC", "_created": 1700000000.25,
    "duration": 3.0, "resolution_tier": "720p",
    "tracks": [{"type": "video", "id": "1", "max_width": 640, "max_height": 360, "max_frame_rate": 30.0,
                "duration": 3.0},
               {"type": "audio", "id": "2", "max_channels": 2, "duration": 3.0, "max_channel_layout": "stereo",
                "primary": True}],
    "aspect_ratio": "16:9", "max_stored_frame_rate": 30.0,
    "non_standard_input_reasons": {"video_codec": "vp9"},
    "_master": "assets/ASSET/master.mp4", "_master_size": 123456,
    "_master_expires": 1700003600, "_master_grant": "master.x.mp4",
}
OLD_ERRORED_ASSET: dict[str, Any] = {
    "id": "ASSET2", "created_at": "1700000001", "status": "errored", "upload_id": "UPLOAD2",
    "ingest_type": "on_demand_direct_upload", "master_access": "none", "mp4_support": "none",
    "max_resolution_tier": "1080p", "video_quality": "basic", "encoding_tier": "baseline", "normalize_audio": False,
    "progress": {"state": "errored", "progress": -1}, "_source": "SRC2", "_created": 1700000001.5,
    "errors": {"type": "invalid_input", "messages": ["No decodable video or audio stream found"]},
}
OLD_UPLOADS: list[dict[str, Any]] = [
    {"id": "UP1", "status": "waiting", "timeout": 3600, "new_asset_settings": {"playback_policies": ["public"]},
     "test": False, "_upload": "STORE1", "_asset_id": "AS1", "_deadline": 1700003600.5, "_created": 1700000000.5,
     "cors_origin": "https://app.example.com"},
    {"id": "UP2", "status": "asset_created", "timeout": 60, "new_asset_settings": {}, "test": True,
     "_upload": "STORE2", "_asset_id": "AS2", "_deadline": 1700000060.0, "_created": 1700000000.0,
     "asset_id": "AS2"},
    {"id": "UP3", "status": "waiting", "timeout": 3600, "cors_origin": "*", "new_asset_settings": {}, "test": False,
     "_upload": "STORE3", "_asset_id": "AS3", "_deadline": None, "_created": 1700000000.0},   # adopted tus upload
    {"id": "UP4", "status": "errored", "timeout": 3600, "new_asset_settings": {}, "test": False,
     "_upload": "STORE4", "_asset_id": "AS4", "_deadline": 1700003600.0, "_created": 1700000000.0,
     "error": {"type": "invalid_input", "message": "The uploaded file is empty"}},
    {"id": "UP5", "status": "cancelled", "timeout": 3600,
     "new_asset_settings": {"meta": {"title": "holiday.mp4"}, "playback_policies": ["public"]}, "test": False,
     "_upload": "STORE5", "_asset_id": "AS5", "_deadline": 1700003600.0, "_created": 1700000000.0,
     "_livepeer": {"name": "holiday.mp4", "playbackId": "abcd1234abcd1234", "task": "t" * 32},
     "cors_origin": "*"},
]


def public(record: dict[str, Any]) -> dict[str, Any]:
    """What the dict-shaped code answered for an asset."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def old_view(record: dict[str, Any]) -> dict[str, Any]:
    """What the dict-shaped code answered for an upload."""
    out = {k: v for k, v in public(record).items() if k not in ("asset_id", "error")}
    out["url"] = f"{BASE}/files/{record['_upload']}"
    out["tus_endpoint"] = out["url"] + "/tus"
    if record["status"] == "asset_created":
        out["asset_id"] = record["asset_id"]
    if record.get("error"):
        out["error"] = record["error"]
    return out


@pytest.mark.parametrize("raw", [OLD_ASSET, OLD_ERRORED_ASSET], ids=["ready", "errored"])
def test_an_old_asset_decodes_round_trips_and_shows_as_before(raw: dict[str, Any]) -> None:
    asset = asset_from(copy.deepcopy(raw))
    assert asset_fields(asset) == {k: v for k, v in raw.items() if k != "_renditions"}   # no longer written
    assert mux_asset(asset) == public(raw)
    assert asset_from(asset_fields(asset)) == asset


def test_an_old_asset_decodes_into_typed_fields() -> None:
    asset = asset_from(OLD_ASSET)
    assert asset.status is AssetStatus.READY and asset.created_at == 1700000000 and asset.created == 1700000000.25
    assert asset.source == "SRC" and asset.master_file == "assets/ASSET/master.mp4" and asset.master_size == 123456
    assert asset.master == Master(MasterStatus.READY, url=OLD_ASSET["master"]["url"], grant="master.x.mp4",
                                  expires=1700003600)
    assert asset.meta == Meta(title="T", creator_id="c")
    assert asset.progress == Progress(ProgressState.COMPLETED, 100)
    renditions = asset.static_renditions
    assert renditions is not None and renditions.status is RenditionsStatus.READY
    assert [f.status for f in renditions.files] == [FileStatus.READY, FileStatus.SKIPPED]
    assert asset.tracks is not None and asset.tracks[1] == Track(
        type="audio", id="2", duration=3.0, max_channels=2, max_channel_layout="stereo", primary=True)
    assert mux_rendition_file(renditions.files[1], "ASSET") == {
        **OLD_ASSET["static_renditions"]["files"][1], "asset_id": "ASSET"}


def test_missing_fields_of_older_records_take_their_defaults_and_unknown_ones_are_ignored() -> None:
    raw = {"id": "A", "status": "preparing", "created_at": "5", "upload_id": "U", "_source": "S", "later": 1}
    asset = asset_from(raw)
    assert asset.created == 5.0 and asset.progress == Progress(ProgressState.INGESTING, 0)
    assert asset.master_access == "none" and asset.video_quality == "basic" and asset.master is None
    assert "later" not in mux_asset(asset)


@pytest.mark.parametrize("raw", OLD_UPLOADS, ids=[u["status"] + ("-livepeer" if "_livepeer" in u else "")
                                                  for u in OLD_UPLOADS])
def test_an_old_upload_decodes_round_trips_and_shows_as_before(raw: dict[str, Any]) -> None:
    upload = upload_from(copy.deepcopy(raw))
    assert upload_fields(upload) == raw
    assert mux_upload(upload, BASE) == old_view(raw)
    assert upload_from(upload_fields(upload)) == upload


def test_an_old_upload_decodes_into_typed_fields() -> None:
    created, errored, livepeer = upload_from(OLD_UPLOADS[1]), upload_from(OLD_UPLOADS[3]), upload_from(OLD_UPLOADS[4])
    assert created.status is UploadStatus.ASSET_CREATED and created.asset_id == "AS2" and created.test is True
    assert created.storage_upload == "STORE2" and created.deadline == 1700000060.0
    assert errored.error == UploadError("invalid_input", "The uploaded file is empty")
    assert livepeer.livepeer == LivepeerExtras(name="holiday.mp4", playback_id="abcd1234abcd1234", task="t" * 32)
    assert upload_from(OLD_UPLOADS[2]).deadline is None


def test_the_reserved_asset_id_shows_only_once_the_asset_exists() -> None:
    waiting = upload_from(OLD_UPLOADS[0])
    assert "asset_id" not in mux_upload(waiting, BASE) and "asset_id" not in upload_fields(waiting)
    created = replace(waiting, status=UploadStatus.ASSET_CREATED)
    assert mux_upload(created, BASE)["asset_id"] == "AS1" and upload_fields(created)["asset_id"] == "AS1"


def test_changes_are_the_fields_to_set_and_to_remove() -> None:
    old = {"status": "preparing", "passthrough": "p", "meta": {"title": "a"}, "progress": 0}
    new = {"status": "ready", "meta": {"title": "a"}, "progress": 0, "duration": 3.0}
    assert changes(old, new) == ({"status": "ready", "duration": 3.0}, ["passthrough"])
    assert changes(old, old) == ({}, [])


SETTINGS: dict[str, Any] = {
    "playback_policies": ["public"], "passthrough": "p-1", "meta": {"title": "T", "creator_id": "c"},
    "master_access": "temporary", "video_quality": "plus", "max_resolution_tier": "2160p",
    "static_renditions": [{"resolution": "highest"}, {"resolution": "audio-only", "passthrough": "a"}], "test": True}


def test_a_new_asset_is_stored_as_the_dict_shaped_code_stored_it() -> None:
    upload = replace(upload_from(OLD_UPLOADS[0]), id="UPLOAD", asset_id="ASSET", storage_upload="SRC",
                     new_asset_settings=SETTINGS)
    fields = asset_fields(initial_asset(upload, now=1700000000.25))
    ids = [fields["playback_ids"][0]["id"], *(f["id"] for f in fields["static_renditions"]["files"])]
    assert all(len(i) == 24 for i in ids)
    # initial_asset of the dict-shaped code, for these settings (ids aside; `_renditions` is gone)
    assert fields == {
        "id": "ASSET", "created_at": "1700000000", "status": "preparing", "upload_id": "UPLOAD",
        "ingest_type": "on_demand_direct_upload", "master_access": "temporary", "mp4_support": "none",
        "max_resolution_tier": "2160p", "video_quality": "plus", "encoding_tier": "smart", "normalize_audio": False,
        "passthrough": "p-1", "meta": {"title": "T", "creator_id": "c"}, "test": True,
        "playback_ids": [{"id": ids[0], "policy": "public"}], "progress": {"state": "ingesting", "progress": 0},
        "master": {"status": "preparing"},
        "static_renditions": {"status": "preparing", "files": [
            {"id": ids[1], "name": "highest.mp4", "ext": "mp4", "type": "standard", "resolution": "highest",
             "status": "preparing"},
            {"id": ids[2], "name": "audio.m4a", "ext": "m4a", "type": "standard", "resolution": "audio-only",
             "status": "preparing", "passthrough": "a"}]},
        "_source": "SRC", "_created": 1700000000.25}


@pytest.mark.parametrize(("settings", "quality", "tier"), [
    ({}, "basic", "baseline"), ({"video_quality": "premium"}, "premium", "premium"),
    ({"encoding_tier": "smart"}, "plus", "smart"),
    ({"video_quality": "basic", "encoding_tier": "smart"}, "basic", "smart"),
])
def test_video_quality_and_encoding_tier_follow_each_other(settings: dict[str, Any], quality: str, tier: str) -> None:
    asset = initial_asset(replace(upload_from(OLD_UPLOADS[0]), new_asset_settings=settings))
    assert (asset.video_quality, asset.encoding_tier) == (quality, tier)


@pytest.mark.parametrize(("meta", "title", "expected"), [
    (None, "clip.mov", {"title": "clip.mov"}),
    ({"title": "Given"}, "clip.mov", {"title": "Given"}),
    ({"creator_id": "c"}, "clip.mov", {"creator_id": "c", "title": "clip.mov"}),
    ({"creator_id": "c"}, None, {"creator_id": "c"}),
    (None, "x" * 600, {"title": "x" * 512}),
])
def test_the_file_name_titles_an_asset_unless_the_settings_do(meta: dict[str, str] | None, title: str | None,
                                                              expected: dict[str, str]) -> None:
    settings = {} if meta is None else {"meta": meta}
    asset = initial_asset(replace(upload_from(OLD_UPLOADS[0]), new_asset_settings=settings), title=title)
    assert mux_asset(asset)["meta"] == expected
    assert "meta" not in mux_asset(initial_asset(upload_from(OLD_UPLOADS[0])))


def test_a_single_playback_policy_string_makes_one_playback_id() -> None:
    for key in ("playback_policy", "playback_policies"):
        asset = initial_asset(replace(upload_from(OLD_UPLOADS[0]), new_asset_settings={key: "signed"}))
        assert asset.playback_ids is not None and [p.policy for p in asset.playback_ids] == ["signed"]


def test_livepeer_updated_at_follows_the_last_change() -> None:
    upload = upload_from(OLD_UPLOADS[4])
    waiting = replace(upload, status=UploadStatus.WAITING, updated=None)
    assert livepeer_asset(waiting, None)["status"] == {"phase": "waiting", "updatedAt": 1700000000000}
    failed = livepeer_asset(replace(upload, updated=1700000100.5), None)["status"]
    assert failed == {"phase": "failed", "errorMessage": "upload cancelled", "updatedAt": 1700000100500}
    created = replace(upload, status=UploadStatus.ASSET_CREATED, updated=1700000010.0)
    asset = replace(asset_from(OLD_ERRORED_ASSET), status=AssetStatus.PREPARING, errors=None,
                    progress=Progress(ProgressState.INGESTING, 0), created=1700000010.0)
    assert livepeer_asset(created, asset)["status"] == {"phase": "processing", "updatedAt": 1700000010000}
    moving = replace(asset, progress=Progress(ProgressState.TRANSCODING, 40), updated=1700000020.0)
    assert livepeer_asset(created, moving)["status"] == {"phase": "processing", "progress": 0.4,
                                                         "updatedAt": 1700000020000}
    view = livepeer_asset(created, asset_from(OLD_ERRORED_ASSET))
    assert view["status"]["phase"] == "failed" and view["createdAt"] == 1700000000000
    assert view["id"] == "AS5" and view["playbackId"] == "abcd1234abcd1234" and view["name"] == "holiday.mp4"
