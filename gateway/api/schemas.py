"""Request bodies of the JSON APIs, validated strictly: unknown fields, wrong types and out-of-range
values are 400 ``invalid_parameters`` with one readable message per problem (bodies are read and
parsed by :mod:`gateway.api.bodies`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

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


def _one_or_many(value: Any) -> Any:
    """A single policy is a list of one (Mux takes ``"public"`` as well as ``["public"]``)."""
    return [value] if isinstance(value, str) else value


DRM_REFUSED = "drm playback ids are not supported: this gateway has no DRM (use public or signed)"


def _no_drm(policy: Policy) -> Policy:
    if policy == "drm":
        raise PydanticCustomError("drm", DRM_REFUSED)
    return policy


# Mux's policies; ``drm`` is known but refused (400, DRM_REFUSED), so the schema lists the other two
_POLICY_SCHEMA = {"enum": ["public", "signed"]}
OfferedPolicy = Annotated[Policy, AfterValidator(_no_drm), WithJsonSchema(_POLICY_SCHEMA, mode="validation")]
# one policy or a list of them; stored, and echoed in ``new_asset_settings``, as a list
Policies = Annotated[list[OfferedPolicy], BeforeValidator(_one_or_many), WithJsonSchema(
    {"anyOf": [_POLICY_SCHEMA, {"type": "array", "items": _POLICY_SCHEMA}]}, mode="validation")]


class NewAssetSettings(_Strict):
    input: list[ExtraInput] | None = None
    inputs: list[ExtraInput] | None = None
    playback_policy: Policies | None = None
    playback_policies: Policies | None = None
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


# An input's URL as the API takes it: http or https, a host (a name, an IPv4 address or a bracketed IPv6
# one, optionally after credentials), an optional port, then printable ASCII (no spaces: percent-encode). The same
# expression is the OpenAPI ``pattern``. Whether the URL may be contacted is decided when it is fetched
# (gateway/ingest: the SSRF guard and ``ingest.allow_hosts``), not here.
INPUT_URL_PATTERN = (r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@)?"
                     r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$")
_INPUT_URL = re.compile(INPUT_URL_PATTERN)
MAX_URL = 4096


def _input_url(value: str) -> str:
    if not _INPUT_URL.fullmatch(value):
        raise PydanticCustomError(
            "input_url", "must be an http or https URL with a host (e.g. https://example.com/video.mp4); "
                         "other schemes (file:, ftp:, data:, ...) are not fetched")
    return value


InputUrl = Annotated[StrictStr, Field(max_length=MAX_URL, json_schema_extra={"pattern": INPUT_URL_PATTERN}),
                     AfterValidator(_input_url)]


class AssetInput(BaseModel):
    """The one input of an asset made from a URL (Mux's ``InputSettings``): its ``url`` is fetched; the
    other members Mux defines (``overlay_settings``, ``start_time``, ...) are accepted and not used."""

    model_config = ConfigDict(extra="allow")
    url: InputUrl
    type: Literal["video"] | None = None


OneInput = Annotated[list[AssetInput], Field(min_length=1, max_length=1)]


def _no_null_inputs(schema: dict[str, Any]) -> None:
    """``input`` and ``inputs`` may be left out, not sent as null; exactly one of them is given."""
    for name in ("input", "inputs"):
        member = schema["properties"][name]
        member["anyOf"] = [s for s in member["anyOf"] if s != {"type": "null"}]
        member.pop("default", None)
    schema["oneOf"] = [{"required": ["inputs"]}, {"required": ["input"]}]


def _whole_float(value: Any) -> Any:
    """JSON has one number type: 3600.0 is the integer 3600 (but "3600" and true stay wrong)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# ``*`` or one origin as browsers send it in ``Origin``: http(s)://host[:port], nothing after. Letters may
# be upper case and the default port may be given; both are normalised away (see _origin). The same
# expression is the OpenAPI ``pattern``, so the description accepts exactly what the server does.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
ORIGIN_PATTERN = rf"^(?:\*|[Hh][Tt][Tt][Pp][Ss]?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?)$"
_ORIGIN = re.compile(ORIGIN_PATTERN)
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _origin(value: str) -> str:
    if not _ORIGIN.fullmatch(value):
        raise PydanticCustomError(
            "origin", "must be * or one origin, scheme://host[:port] with scheme http or https and nothing "
                      "after it (no path, trailing slash, query or list), e.g. https://app.example.com")
    value = value.lower()
    scheme = value.partition(":")[0]
    default = _DEFAULT_PORTS.get(scheme, "")
    return value.removesuffix(default) if default and value.endswith(default) else value


Origin = Annotated[StrictStr, AfterValidator(_origin), Field(json_schema_extra={"pattern": ORIGIN_PATTERN})]


class CreateUpload(_Strict):
    cors_origin: Origin | None = None
    timeout: Annotated[StrictInt, BeforeValidator(_whole_float)] = Field(default=3600, ge=60, le=604800)
    new_asset_settings: NewAssetSettings | None = None
    test: StrictBool = False


class CreateAsset(NewAssetSettings):
    """Mux's ``POST /video/v1/assets``: an asset from a URL, with the same settings as a direct upload's
    ``new_asset_settings``. Exactly one of ``inputs`` and the legacy ``input`` (a URL, or a list), and one
    input (overlays and text tracks, further inputs in Mux, are not supported)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_inputs)
    input: InputUrl | OneInput | None = None    # type: ignore[assignment]
    inputs: OneInput | None = None              # type: ignore[assignment]

    @field_validator("input", "inputs", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "must be a list of one input, not null")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> CreateAsset:
        given = [name for name in ("input", "inputs") if name in self.model_fields_set]
        if len(given) != 1:
            raise PydanticCustomError("inputs", "give the URL to fetch as inputs: [{\"url\": ...}] (or the "
                                      "legacy input), not both" if given else
                                      "inputs is required: [{\"url\": \"https://...\"}]")
        return self

    @property
    def url(self) -> str:
        given = self.inputs if self.inputs is not None else self.input
        if isinstance(given, str):
            return given
        assert given is not None   # _one_of
        return given[0].url

    def settings(self) -> dict[str, Any]:
        """The asset settings, without the inputs."""
        return self.model_dump(exclude_none=True, mode="json", exclude={"input", "inputs"})


class UpdateAsset(_Strict):
    passthrough: StrictStr | None = Field(default=None, max_length=255)
    meta: Meta | None = None


class UpdateMasterAccess(_Strict):
    master_access: Literal["temporary", "none"]


class CreatePlaybackId(_Strict):
    """Mux's ``POST /video/v1/assets/{ASSET_ID}/playback-ids``."""

    policy: OfferedPolicy


class LivepeerRequestUpload(BaseModel):
    """Livepeer's new-asset payload; only ``name`` matters here, the rest is kept as sent."""

    model_config = ConfigDict(extra="allow")
    name: StrictStr = Field(min_length=1, max_length=512)
    creatorId: Any = None


class LivepeerUploadUrl(BaseModel):
    """Livepeer's ``POST /api/asset/upload/url``: ``name`` and ``url`` matter (and ``staticMp4``); the rest
    is kept as sent."""

    model_config = ConfigDict(extra="allow")
    name: StrictStr = Field(min_length=1, max_length=512)
    url: InputUrl
    staticMp4: StrictBool | None = None


def settings_dump(settings: NewAssetSettings | None) -> dict[str, Any]:
    return {} if settings is None else settings.model_dump(exclude_none=True, mode="json")
