"""Fuzzing the Mux-compatible JSON API through the in-process gateway: ``POST /video/v1/uploads``,
``PATCH /video/v1/assets/{id}`` and ``PUT .../master-access`` with generated JSON (schema-shaped, wrong
types, random nesting, NaN, lone surrogates, deep nesting) in any encoding and under any Content-Type,
and the list endpoints with generated queries. No 5xx; what was accepted can be read back."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.api.schemas import CreateUpload, UpdateAsset, UpdateMasterAccess
from tests.conftest import AUTH
from tests.fuzz.support import (
    OCTET,
    Answer,
    Client,
    assert_storage_has_records,
    expect,
    fuzz_settings,
    header_text,
    often,
    send,
)
from tests.fuzz.tus_strategies import comments

JSON = "application/json"


def _schema_words() -> tuple[list[str], list[Any]]:
    """Every property name and every enum value the request schemas know (for schema-shaped documents)."""
    names: set[str] = set()
    values: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            values.extend(v for v in node.get("enum", []) if v not in values)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for model in (CreateUpload, UpdateAsset, UpdateMasterAccess):
        walk(model.model_json_schema())
    return sorted(names), values


FIELDS, LITERALS = _schema_words()

strings = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["*", "https://app.example", "http://a.example:8080", "null", "", " ", "\u0000", "\ud800",
                     "\udfff", "a\r\nb", "1080p", "video", "temporary"]),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=10),   # lone surrogates included
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(100, 3000)),
)
scalars = st.one_of(
    st.none(), st.booleans(), strings, st.sampled_from(LITERALS),
    st.integers(), st.sampled_from([0, -1, 59, 60, 3600, 604800, 604801, 2**63, -(2**63) - 1, 10**30]),
    st.floats(), st.sampled_from([3600.0, 60.5, 1e308, -0.0, math.nan, math.inf, -math.inf]),
)
keys = st.one_of(st.sampled_from(FIELDS), st.sampled_from(FIELDS), st.text(max_size=10))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)),
    max_leaves=12,
)


def nearly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a valid value, sometimes any document at all (a wrong type, a nested mess)."""
    return often(valid, documents, 3)


def fields(**optional: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of ``optional`` (nearly valid values), sometimes an unknown field too."""
    known = st.fixed_dictionaries({}, optional={k: nearly(v) for k, v in optional.items()})
    return often(known, st.builds(lambda a, b: {**a, **b}, known, st.dictionaries(keys, documents, max_size=2)), 3)


def literals(*names: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([v for v in LITERALS if v in names] or list(names))


short_strings = st.one_of(st.text(max_size=12), strings)
meta = fields(title=short_strings, creator_id=short_strings, external_id=short_strings)
asset_settings = fields(
    input=st.lists(fields(url=st.sampled_from(["https://a.example/x.srt", "file:///etc/passwd", ""]),
                          type=st.sampled_from(["video", "audio", "text"])), max_size=2),
    playback_policy=st.lists(st.sampled_from(["public", "signed", "drm"]), max_size=3),
    playback_policies=st.lists(st.sampled_from(["public", "signed", "drm"]), max_size=3),
    mp4_support=st.sampled_from(["none", "standard", "capped-1080p", "audio-only", "audio-only,capped-1080p"]),
    master_access=st.sampled_from(["temporary", "none"]),
    static_renditions=st.lists(fields(resolution=st.sampled_from(["highest", "1080p", "audio-only", "720p"]),
                                      passthrough=short_strings), max_size=3),
    passthrough=short_strings, meta=meta, test=st.booleans(), normalize_audio=st.booleans(),
    video_quality=st.sampled_from(["basic", "plus", "premium"]),
    max_resolution_tier=st.sampled_from(["1080p", "1440p", "2160p"]),
)
create_bodies = fields(
    cors_origin=st.sampled_from(["*", "https://app.example", "http://localhost:3000", "https://a.example/path",
                                 "null", "", "https://app.example, https://b.example"]),
    timeout=st.one_of(st.integers(60, 604800), st.sampled_from([3600.0, 59, 604801])),
    test=st.booleans(), new_asset_settings=asset_settings,
)
update_bodies = st.one_of(fields(passthrough=st.one_of(st.none(), short_strings), meta=st.one_of(st.none(), meta)),
                          fields(master_access=st.sampled_from(["temporary", "none"])))


@st.composite
def encoded(draw: st.DrawFn, document: st.SearchStrategy[Any]) -> bytes:
    """A document as bytes: JSON in UTF-8 (or UTF-16, with a BOM, escaped or not), or broken on purpose."""
    value = draw(often(document, documents, 3))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)
    how = draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "bom", "truncated", "garbage", "empty"]))
    if how == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
    raw = text.encode("utf-8", "surrogatepass")   # lone surrogates become invalid UTF-8 unless escaped
    if how == "truncated":
        return raw[:draw(st.integers(0, len(raw)))]
    if how == "garbage":
        return draw(st.binary(max_size=40))
    if how == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n", b"null", b"{}"]))
    return raw


NOT_JSON = ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "text/html",
            "multipart/form-data; boundary=x", "application/xml", "application/javascript"]
content_types = often(st.just(JSON), st.one_of(
    st.sampled_from([f"{JSON}; charset=utf-8", f"{JSON}; charset=latin-1", "Application/JSON", "application/json ",
                     "application/vnd.api+json", "application/octet-stream", None]),
    st.sampled_from(NOT_JSON), header_text(), comments().map(lambda ct: ct.replace(OCTET, JSON)),
), 3)


def refused_as_not_json(content_type: str | None, body: bytes, answer: Answer) -> None:
    """A JSON body sent as another media type (text/plain, forms, ...) is 415, whatever it holds."""
    if content_type in NOT_JSON and body.strip():
        expect(answer.status == 415, f"{content_type} body answered {answer.status}, not 415: {answer.request}")


def headers_for(content_type: str | None) -> dict[str, str]:
    return {**AUTH, **({"Content-Type": content_type} if content_type is not None else {})}


@fuzz_settings(150)
@given(body=encoded(create_bodies), content_type=content_types)
@example(body=b'{"cors_origin": "*"}', content_type="text/plain")   # JSON under another media type
@example(body=b"{}", content_type="(" * 1000)                         # a comment nested past the recursion limit
async def test_create_upload_json(client: Client, storage_root: Path, body: bytes, content_type: str | None) -> None:
    answer = await send(client, "POST", "/video/v1/uploads", headers_for(content_type), body)
    refused_as_not_json(content_type, body, answer)
    if answer.status == 201:   # what was accepted can be read back, alone and in the list
        upload_id = answer.json()["data"]["id"]
        expect((await send(client, "GET", f"/video/v1/uploads/{upload_id}", AUTH)).status == 200, upload_id)
        await send(client, "GET", "/video/v1/uploads?limit=100", AUTH)
    await assert_storage_has_records(client, storage_root)


@pytest.fixture
async def asset_id(client: Client) -> AsyncIterator[str]:
    """An asset (a finished direct upload) for the update endpoints."""
    made = await send(client, "POST", "/video/v1/uploads", {**AUTH, "Content-Type": JSON}, b'{"cors_origin": "*"}')
    upload = made.json()["data"]
    assert (await send(client, "PUT", upload["url"], {}, b"0123456789")).status == 200
    record = (await send(client, "GET", f"/video/v1/uploads/{upload['id']}", AUTH)).json()["data"]
    yield str(record["asset_id"])


@fuzz_settings(150)
@given(body=encoded(update_bodies), content_type=content_types,
       where=st.sampled_from(["update", "update", "update", "master-access", "unknown"]))
async def test_update_asset_json(client: Client, asset_id: str, body: bytes, content_type: str | None,
                                 where: str) -> None:
    method, path = {"update": ("PATCH", f"/video/v1/assets/{asset_id}"),
                    "master-access": ("PUT", f"/video/v1/assets/{asset_id}/master-access"),
                    "unknown": ("PATCH", "/video/v1/assets/no-such-asset")}[where]
    answer = await send(client, method, path, headers_for(content_type), body)
    if where != "unknown":
        refused_as_not_json(content_type, body, answer)
    # whatever was stored, the asset still reads back, alone and in the list
    expect((await send(client, "GET", f"/video/v1/assets/{asset_id}", AUTH)).status == 200, asset_id)
    await send(client, "GET", "/video/v1/assets?limit=100", AUTH)


def nested(depth: int, shape: str) -> bytes:
    if shape == "array":
        return b"[" * depth + b"]" * depth
    if shape == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if shape == "in-field":
        return b'{"passthrough":' + b"[" * depth + b"]" * depth + b"}"
    return b'{"new_asset_settings":{"input":[' + b'{"url":' * depth + b'"x"' + b"}" * depth + b"]}}"


@fuzz_settings(25)
@given(depth=st.one_of(st.sampled_from([10, 100, 1000, 10_000, 100_000]), st.integers(1, 150_000)),
       shape=st.sampled_from(["array", "object", "in-field", "in-settings"]),
       where=st.sampled_from(["create", "update"]))
@example(depth=10_000, shape="array", where="create")
@example(depth=10_000, shape="object", where="update")
async def test_deeply_nested_json(client: Client, asset_id: str, depth: int, shape: str, where: str) -> None:
    path = "/video/v1/uploads" if where == "create" else f"/video/v1/assets/{asset_id}"
    await send(client, "POST" if where == "create" else "PATCH", path, {**AUTH, "Content-Type": JSON},
               nested(depth, shape))


cursor_scores = often(st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-0", "1_0", "0x10",
                                       "", " 1", "1e-400"]),
                      st.one_of(st.floats().map(repr), st.text(max_size=8)), 3)


@st.composite
def cursors(draw: st.DrawFn) -> str:
    raw = f"{draw(cursor_scores)}{draw(st.sampled_from(['|', '', '||']))}{draw(st.text(max_size=10))}"
    encoded_cursor = base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode()
    return draw(often(st.sampled_from([encoded_cursor, encoded_cursor.rstrip("="), raw]), header_text(), 5))


queries = st.dictionaries(
    st.sampled_from(["limit", "page", "cursor", "upload_id", "other"]),
    st.one_of(st.integers(-5, 200).map(str), st.sampled_from(["1e3", "0x10", "", "NaN", "1.0", "99999999999999999999",
                                                              "\u0661", " 1"]),
              header_text(20), cursors()),
    max_size=4,
)


@fuzz_settings(60)
@given(cursor=cursors(), limit=st.sampled_from([None, "1", "2", "100"]))
@example(cursor=base64.urlsafe_b64encode(b"nan|x").decode(), limit=None)
@example(cursor="NaN", limit=None)
async def test_asset_cursors(client: Client, asset_id: str, cursor: str, limit: str | None) -> None:
    query = {"cursor": cursor, **({"limit": limit} if limit else {})}
    await send(client, "GET", f"/video/v1/assets?{urlencode(query)}", AUTH)


@fuzz_settings(80)
@given(query=queries, what=st.sampled_from(["assets", "uploads"]), repeat=st.booleans())
async def test_list_queries(client: Client, asset_id: str, query: dict[str, str], what: str, repeat: bool) -> None:
    text = urlencode(query) + ("&" + urlencode(query) if repeat and query else "")
    await send(client, "GET", f"/video/v1/{what}?{text}", AUTH)
