"""The OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``.

Request bodies come from the same pydantic models that validate them, so the description cannot drift
from what the server accepts; response shapes are written out here and checked by schemathesis in CI.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from gateway.api.bodies import MAX_BODY, MAX_DEPTH
from gateway.api.schemas import (
    CreateAsset,
    CreatePlaybackId,
    CreateUpload,
    LivepeerRequestUpload,
    LivepeerUploadUrl,
    UpdateAsset,
    UpdateMasterAccess,
)
from gateway.catalog.assets import CURSOR_PATTERN
from gateway.catalog.models import INGEST_DIRECT_UPLOAD, INGEST_URL, AssetStatus, MasterStatus, UploadStatus

REF = "#/components/schemas/{model}"
UPLOAD_STATUS = [str(status) for status in UploadStatus]
ASSET_STATUS = [str(status) for status in AssetStatus]
MASTER_STATUS = [str(status) for status in MasterStatus]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _data(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": schema, **extra}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {"default": _json("An error", _ref("Error"))}
ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
PAGING = [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
          {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}}]

RESPONSE_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "messages"],
        "properties": {"type": {"type": "string"}, "messages": {"type": "array", "items": {"type": "string"}}}}}},
    "Upload": {"type": "object", "required": ["id", "url", "status", "timeout", "new_asset_settings", "test"],
               "properties": {
                   "id": {"type": "string"}, "url": {"type": "string", "format": "uri"},
                   "tus_endpoint": {"type": "string", "format": "uri"},
                   "status": {"enum": UPLOAD_STATUS},
                   "timeout": {"type": "integer", "minimum": 60, "maximum": 604800},
                   "cors_origin": {"type": "string"}, "new_asset_settings": {"type": "object"},
                   "asset_id": {"type": "string"}, "test": {"type": "boolean"},
                   "error": {"type": "object", "required": ["type", "message"],
                             "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}},
    "Asset": {"type": "object", "required": ["id", "created_at", "status"], "properties": {
        "id": {"type": "string"}, "created_at": {"type": "string"}, "status": {"enum": ASSET_STATUS},
        "upload_id": {"type": "string"}, "ingest_type": {"enum": [INGEST_DIRECT_UPLOAD, INGEST_URL]},
        "duration": {"type": "number"}, "aspect_ratio": {"type": "string"},
        "resolution_tier": {"enum": ["audio-only", "720p", "1080p", "1440p", "2160p"]},
        "max_resolution_tier": {"enum": ["1080p", "1440p", "2160p"]},
        "master_access": {"enum": ["temporary", "none"]},
        "master": {"type": "object", "required": ["status"], "properties": {
            "status": {"enum": MASTER_STATUS}, "url": {"type": "string"}}},
        "tracks": {"type": "array", "items": {"type": "object"}},
        "non_standard_input_reasons": {"type": "object", "additionalProperties": {"type": "string"}},
        "errors": {"type": "object", "properties": {"type": {"type": "string"},
                                                     "messages": {"type": "array", "items": {"type": "string"}}}},
        "progress": {"type": "object", "properties": {
            "state": {"enum": ["ingesting", "transcoding", "completed", "live", "errored"]},
            "progress": {"type": "number", "minimum": -1, "maximum": 100}}}}},
    "LivepeerAsset": {"type": "object", "required": ["id", "playbackId", "status"], "properties": {
        "id": {"type": "string"}, "playbackId": {"type": "string"}, "name": {"type": "string"},
        "status": {"type": "object", "required": ["phase"], "properties": {
            "phase": {"enum": ["waiting", "uploading", "processing", "ready", "failed"]}}}}},
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "PlaybackId": {"type": "object", "required": ["id", "policy"], "properties": {
        "id": {"type": "string"}, "policy": {"enum": ["public", "signed"]}}},
    "PlaybackIdObject": {"type": "object", "required": ["id", "policy", "object"], "properties": {
        "id": {"type": "string"}, "policy": {"enum": ["public", "signed"]},
        "object": {"type": "object", "required": ["type", "id"], "properties": {
            "type": {"const": "asset"}, "id": {"type": "string"}}}}},
    "SigningKey": {"type": "object", "required": ["id", "created_at"], "properties": {
        "id": {"type": "string"}, "created_at": {"type": "string", "pattern": "^[0-9]+$"},
        "private_key": {"type": "string", "description": "base64 of the PEM (PKCS#1) RSA private key: "
                                                         "only in the answer that created the key"}}},
    "LivepeerPlaybackInfo": {"type": "object", "required": ["type", "meta"], "properties": {
        "type": {"const": "vod"}, "meta": {"type": "object", "required": ["source"], "properties": {
            "playbackPolicy": {"type": ["object", "null"]},
            "source": {"type": "array", "items": {"type": "object", "required": ["hrn", "type", "url"],
                                                  "properties": {"hrn": {"type": "string"},
                                                                 "type": {"type": "string"},
                                                                 "url": {"type": "string"}}}}}}}},
}


# the token scope (auth.tokens[].scopes) each operation needs, as gateway/auth.py checks it
SCOPES = {
    "create-direct-upload": "uploads", "list-direct-uploads": "uploads", "get-direct-upload": "uploads",
    "cancel-direct-upload": "uploads", "livepeer-request-upload": "uploads",
    "create-asset": "assets:write", "livepeer-upload-url": "assets:write",
    "list-assets": "assets:read", "get-asset": "assets:read", "livepeer-get-asset": "assets:read",
    "delete-asset": "assets:write", "update-asset": "assets:write", "update-asset-master-access": "assets:write",
    "list-webhook-deliveries": "webhooks:read",
    "create-asset-playback-id": "assets:write", "get-asset-playback-id": "assets:read",
    "delete-asset-playback-id": "assets:write", "get-playback-id": "assets:read",
    "livepeer-get-playback-info": "assets:read",
    **{f"{prefix}{operation}": scope for prefix in ("", "system-") for operation, scope in (
        ("create-signing-key", "assets:write"), ("list-signing-keys", "assets:read"),
        ("get-signing-key", "assets:read"), ("delete-signing-key", "assets:write"))},
}
DESCRIPTION = (
    "Mux-compatible direct uploads and assets (also from a URL), playback ids and signing keys, and "
    "Livepeer's request-upload, upload/url and playback info.\n\n"
    "Authenticate with HTTP Basic `id:secret` or `Bearer secret`: 401 without valid credentials, 403 when "
    "the token lacks the operation's scope (`x-token-scope`). Request bodies must be `application/json` "
    f"(UTF-8; 415 otherwise), at most {MAX_BODY // 1024} KiB (413) and nested at most {MAX_DEPTH} deep (400).")


def _operation(paths: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in paths.values():
        for operation in item.values():
            if operation.get("operationId") == operation_id:
                found: dict[str, Any] = operation
                return found
    raise KeyError(operation_id)


def _playback_paths(body: dict[str, Any]) -> dict[str, Any]:
    """Playback ids, signing keys (under /video/v1 and /system/v1) and Livepeer's playback info."""
    pid = [*ID, {"name": "pid", "in": "path", "required": True, "schema": {"type": "string"}}]
    kid = [{"name": "kid", "in": "path", "required": True, "schema": {"type": "string"}}]
    playback, key, deleted = _ref("PlaybackId"), _ref("SigningKey"), {"204": {"description": "Deleted"}, **ERRORS}
    paths: dict[str, Any] = {
        "/video/v1/assets/{id}/playback-ids": {"post": {
            "operationId": "create-asset-playback-id", "parameters": ID, "requestBody": body["CreatePlaybackId"],
            "responses": {"201": _json("Created", _data(playback)), **ERRORS}}},
        "/video/v1/assets/{id}/playback-ids/{pid}": {
            "get": {"operationId": "get-asset-playback-id", "parameters": pid,
                    "responses": {"200": _json("The playback id", _data(playback)), **ERRORS}},
            "delete": {"operationId": "delete-asset-playback-id", "parameters": pid, "responses": deleted}},
        "/video/v1/playback-ids/{pid}": {"get": {
            "operationId": "get-playback-id", "parameters": pid[1:],
            "responses": {"200": _json("The playback id and its asset", _data(_ref("PlaybackIdObject"))),
                          **ERRORS}}},
        "/api/playback/{pid}": {"get": {
            "operationId": "livepeer-get-playback-info", "parameters": pid[1:],
            "description": "Where a ready asset plays: HLS, the MP4 once made, thumbnails (412 while it "
                           "prepares).",
            "responses": {"200": _json("Playback info", _ref("LivepeerPlaybackInfo")), **ERRORS}}},
    }
    for base, prefix in (("/video/v1/signing-keys", ""), ("/system/v1/signing-keys", "system-")):
        paths[base] = {
            "post": {"operationId": f"{prefix}create-signing-key",
                     "responses": {"201": _json("Created (the only answer with private_key)", _data(key)),
                                   **ERRORS}},
            "get": {"operationId": f"{prefix}list-signing-keys", "parameters": PAGING,
                    "responses": {"200": _json("A page", _data({"type": "array", "items": key})), **ERRORS}}}
        paths[base + "/{kid}"] = {
            "get": {"operationId": f"{prefix}get-signing-key", "parameters": kid,
                    "responses": {"200": _json("The signing key", _data(key)), **ERRORS}},
            "delete": {"operationId": f"{prefix}delete-signing-key", "parameters": kid, "responses": deleted}}
    return paths


def build_spec(base_url: str) -> dict[str, Any]:
    models = (CreateUpload, CreateAsset, UpdateAsset, UpdateMasterAccess, LivepeerRequestUpload, LivepeerUploadUrl,
              CreatePlaybackId)
    _, request_schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    body = {m.__name__: {"required": True, "content": {"application/json": {"schema": _ref(m.__name__)}}}
            for m in models}
    upload, asset = _ref("Upload"), _ref("Asset")
    paths: dict[str, Any] = {
        "/video/v1/uploads": {
            "post": {"operationId": "create-direct-upload", "requestBody": body["CreateUpload"],
                     "responses": {"201": _json("Created", _data(upload)), **ERRORS}},
            "get": {"operationId": "list-direct-uploads", "parameters": PAGING,
                    "responses": {"200": _json("A page", _data({"type": "array", "items": upload})), **ERRORS}}},
        "/video/v1/uploads/{id}": {"get": {
            "operationId": "get-direct-upload", "parameters": ID,
            "responses": {"200": _json("The upload", _data(upload)), **ERRORS}}},
        "/video/v1/uploads/{id}/cancel": {"put": {
            "operationId": "cancel-direct-upload", "parameters": ID,
            "responses": {"200": _json("Cancelled", _data(upload)), **ERRORS}}},
        "/video/v1/assets": {"post": {
            "operationId": "create-asset", "requestBody": body["CreateAsset"],
            "description": "An asset from a URL: answered at once (`preparing`); the worker fetches the URL "
                           "(public addresses only, unless `ingest.allow_hosts` lists it) and processes it.",
            "responses": {"201": _json("Created", _data(asset)), **ERRORS}}, "get": {
            "operationId": "list-assets",
            "parameters": [*PAGING, {"name": "cursor", "in": "query",
                                     "schema": {"type": "string", "pattern": CURSOR_PATTERN},
                                     "description": "next_cursor of the previous page (empty: the first page); "
                                                    "anything else is 400"},
                           {"name": "upload_id", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": _json("A page", _data({"type": "array", "items": asset}, next_cursor={
                "type": ["string", "null"]})), **ERRORS}}},
        "/video/v1/assets/{id}": {
            "get": {"operationId": "get-asset", "parameters": ID,
                    "responses": {"200": _json("The asset", _data(asset)), **ERRORS}},
            "delete": {"operationId": "delete-asset", "parameters": ID,
                       "responses": {"204": {"description": "Deleted"}, **ERRORS}},
            "patch": {"operationId": "update-asset", "parameters": ID, "requestBody": body["UpdateAsset"],
                      "responses": {"200": _json("The asset", _data(asset)), **ERRORS}}},
        "/video/v1/assets/{id}/master-access": {"put": {
            "operationId": "update-asset-master-access", "parameters": ID,
            "requestBody": body["UpdateMasterAccess"],
            "responses": {"200": _json("The asset", _data(asset)), **ERRORS}}},
        "/api/asset/request-upload": {"post": {
            "operationId": "livepeer-request-upload", "requestBody": body["LivepeerRequestUpload"],
            "responses": {"200": _json("Upload URLs", {
                "type": "object", "required": ["url", "tusEndpoint", "asset", "task"],
                "properties": {"url": {"type": "string"}, "tusEndpoint": {"type": "string"},
                               "asset": _ref("LivepeerAsset"),
                               "task": {"type": "object", "required": ["id"],
                                        "properties": {"id": {"type": "string"}}}}}), **ERRORS}}},
        "/api/asset/upload/url": {"post": {
            "operationId": "livepeer-upload-url", "requestBody": body["LivepeerUploadUrl"],
            "responses": {"200": _json("The asset and its task", {
                "type": "object", "required": ["asset", "task"],
                "properties": {"asset": _ref("LivepeerAsset"),
                               "task": {"type": "object", "required": ["id"],
                                        "properties": {"id": {"type": "string"}}}}}), **ERRORS}}},
        "/api/asset/{id}": {"get": {
            "operationId": "livepeer-get-asset", "parameters": ID,
            "responses": {"200": _json("The asset", _ref("LivepeerAsset")), **ERRORS}}},
        "/video/v1/webhook-deliveries": {"get": {
            "operationId": "list-webhook-deliveries",
            "parameters": [{"name": "limit", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
            "responses": {"200": _json("Recent delivery attempts, newest first", _data({
                "type": "array", "items": {"type": "object", "required": ["event_id", "type", "url", "attempt"],
                                           "properties": {"event_id": {"type": "string"},
                                                          "type": {"type": "string"},
                                                          "url": {"type": "string"},
                                                          "attempt": {"type": "integer"},
                                                          "status_code": {"type": ["integer", "null"]},
                                                          "state": {"type": "string"}}}})), **ERRORS}}},
        "/healthz": {"get": {"operationId": "healthz", "security": [],
                             "responses": {"200": _json("Healthy", _ref("Health")),
                                           "503": _json("Unhealthy", _ref("Health"))}}},
        "/readyz": {"get": {"operationId": "readyz", "security": [],
                            "responses": {"200": _json("Ready", _ref("Health")),
                                          "503": _json("Not ready", _ref("Health"))}}},
        **_playback_paths(body),
    }
    for operation_id, scope in SCOPES.items():
        _operation(paths, operation_id)["x-token-scope"] = scope
    return {
        "openapi": "3.1.0",
        "info": {"title": "upload-gateway API", "version": "1",
                 "description": DESCRIPTION},
        "servers": [{"url": base_url}],
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"},
                                "bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {**request_schemas.get("$defs", {}), **RESPONSE_SCHEMAS}},
    }


def routes(base_url: str) -> list[web.RouteDef]:
    spec = build_spec(base_url)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(spec)

    return [web.get("/openapi.json", openapi)]
