"""Request bodies of the JSON APIs, validated strictly: unknown fields, wrong types and out-of-range
values are 400 ``invalid_parameters`` with one readable message per problem."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from gateway.errors import BadRequest, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
Policy = Literal["public", "signed", "drm"]
Resolution = Literal["highest", "audio-only", "2160p", "1440p", "1080p", "720p", "540p", "480p", "360p", "270p"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Meta(_Strict):
    title: StrictStr | None = Field(default=None, max_length=512)
    creator_id: StrictStr | None = Field(default=None, max_length=128)
    external_id: StrictStr | None = Field(default=None, max_length=128)


class StaticRendition(_Strict):
    resolution: Resolution
    passthrough: StrictStr | None = Field(default=None, max_length=255)


class ExtraInput(BaseModel):
    """Overlay and subtitle inputs; the main file is the upload itself, so it has no ``url`` here."""

    model_config = ConfigDict(extra="allow")
    url: StrictStr
    type: Literal["video", "audio", "text"] | None = None


class NewAssetSettings(_Strict):
    input: list[ExtraInput] | None = None
    inputs: list[ExtraInput] | None = None
    playback_policy: list[Policy] | None = None
    playback_policies: list[Policy] | None = None
    advanced_playback_policies: list[dict[str, Any]] | None = None
    per_title_encode: StrictBool | None = None
    passthrough: StrictStr | None = Field(default=None, max_length=255)
    mp4_support: Literal["none", "standard", "capped-1080p", "audio-only", "audio-only,capped-1080p"] | None = None
    normalize_audio: StrictBool | None = None
    master_access: Literal["temporary", "none"] | None = None
    test: StrictBool | None = None
    max_resolution_tier: Literal["1080p", "1440p", "2160p"] | None = None
    encoding_tier: Literal["smart", "baseline", "premium"] | None = None
    video_quality: Literal["basic", "plus", "premium"] | None = None
    static_renditions: list[StaticRendition] | None = None
    meta: Meta | None = None
    copy_overlays: StrictBool | None = None


def _whole_float(value: Any) -> Any:
    """JSON has one number type: 3600.0 is the integer 3600 (but "3600" and true stay wrong)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class CreateUpload(_Strict):
    cors_origin: StrictStr | None = Field(default=None, max_length=2048)
    timeout: Annotated[StrictInt, BeforeValidator(_whole_float)] = Field(default=3600, ge=60, le=604800)
    new_asset_settings: NewAssetSettings | None = None
    test: StrictBool = False


class UpdateAsset(_Strict):
    passthrough: StrictStr | None = Field(default=None, max_length=255)
    meta: Meta | None = None


class UpdateMasterAccess(_Strict):
    master_access: Literal["temporary", "none"]


class LivepeerRequestUpload(BaseModel):
    """Livepeer's new-asset payload; only ``name`` matters here, the rest is kept as sent."""

    model_config = ConfigDict(extra="allow")
    name: StrictStr = Field(min_length=1, max_length=512)
    creatorId: Any = None


def _messages(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            out.append(f"{where}: unknown field")
        else:
            out.append(f"{where}: {error['msg']}")
    return out


async def parse_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    raw = await request.read()
    if not raw.strip():
        if optional:
            return model()
        raise BadRequest("a JSON request body is required")
    if request.content_type not in ("application/json", "application/octet-stream", "text/plain", ""):
        raise UnsupportedMediaType("send the request body as application/json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = _messages(exc)
        raise BadRequest("; ".join(messages), messages=messages) from None


def settings_dump(settings: NewAssetSettings | None) -> dict[str, Any]:
    return {} if settings is None else settings.model_dump(exclude_none=True, mode="json")


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    values = request.query.getall(name, [])
    if not values:
        return default
    if len(values) > 1:
        raise BadRequest(f"{name} is given more than once")
    value = values[0]
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return number
