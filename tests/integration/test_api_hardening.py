"""Hardening of the JSON APIs (Mux and Livepeer dialects): only ``application/json`` bodies, bounded size
and nesting, malformed cursors and ``cors_origin`` values refused, and token scopes. Each answer is the
usual ``{"error": {"type", "messages"}}`` with a precise status, never a 500."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from gateway.catalog.assets import CURSOR_PATTERN
from gateway.settings import Settings, load_settings, settings_for_command
from tests.conftest import AUTH, TOKEN_ID, TOKEN_SECRET, TUS

Client = TestClient[Any, Any]
JSON = {"Content-Type": "application/json"}
SCOPED = {   # token id -> (secret, scopes)
    "uploader": ("uploader-secret", ["uploads"]),
    "reader": ("reader-secret", ["assets:read"]),
    "writer": ("writer-secret", ["assets:write"]),
    "hooks": ("hooks-secret", ["webhooks:read"]),
}


def basic(token_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token_id}:{secret}".encode()).decode()}


def bearer(token_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SCOPED[token_id][0]}"}


BASIC = basic(TOKEN_ID, TOKEN_SECRET)


@pytest.fixture
def backend() -> str:
    """These are API rules; one storage backend is enough."""
    return "filesystem"


@pytest.fixture
def settings_data(settings_data: dict[str, Any]) -> dict[str, Any]:
    """The usual full token plus one token per scope."""
    settings_data["auth"]["tokens"] = [
        *settings_data["auth"]["tokens"],
        *({"id": token_id, "secret": secret, "scopes": scopes} for token_id, (secret, scopes) in SCOPED.items())]
    return settings_data


async def error_of(resp: Any, status: int, error_type: str) -> list[str]:
    assert resp.status == status, (resp.status, await resp.text())
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["error"]["type"] == error_type, body
    return list(body["error"]["messages"])


async def create_upload(client: Client, **body: Any) -> dict[str, Any]:
    resp = await client.post("/video/v1/uploads", json={"cors_origin": "*", **body}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    return dict((await resp.json())["data"])


async def make_asset(client: Client) -> tuple[dict[str, Any], str]:
    """A finished upload and the id of the asset it became."""
    upload = await create_upload(client)
    assert (await client.put(upload["url"], data=b"video")).status == 200
    resp = await client.get(f"/video/v1/uploads/{upload['id']}", headers=AUTH)
    return upload, str((await resp.json())["data"]["asset_id"])


async def upload_count(client: Client) -> int:
    resp = await client.get("/video/v1/uploads?limit=100", headers=AUTH)
    return len((await resp.json())["data"])


# -- 1. only application/json bodies ------------------------------------------------------------


@pytest.mark.parametrize("content_type", [
    "text/plain", "text/plain; charset=utf-8", "application/octet-stream", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json-patch+json", "text/json", None,
])
async def test_a_body_that_is_not_application_json_is_415(client: Client, content_type: str | None) -> None:
    """What a cross-site HTML form can send (text/plain, urlencoded, multipart) with cached Basic
    credentials, and anything else that is not JSON, is refused before anything is created."""
    _, asset_id = await make_asset(client)
    before = await upload_count(client)
    body = json.dumps({"cors_origin": "*"}).encode()
    headers = {} if content_type is None else {"Content-Type": content_type}
    skip = ["Content-Type"] if content_type is None else []
    for method, path, payload in (("POST", "/video/v1/uploads", body),
                                  ("PATCH", f"/video/v1/assets/{asset_id}", b'{"passthrough": "x"}'),
                                  ("PUT", f"/video/v1/assets/{asset_id}/master-access",
                                   b'{"master_access": "temporary"}'),
                                  ("POST", "/api/asset/request-upload", b'{"name": "a.mp4"}')):
        resp = await client.request(method, path, data=payload, headers={**BASIC, **headers},
                                    skip_auto_headers=skip)
        messages = await error_of(resp, 415, "unsupported_media_type")
        assert any("application/json" in m for m in messages), messages
        if path.startswith("/api/"):
            assert (await resp.json())["errors"]   # Livepeer's shape too
    assert await upload_count(client) == before
    resp = await client.get(f"/video/v1/assets/{asset_id}", headers=AUTH)
    asset = (await resp.json())["data"]
    assert "passthrough" not in asset and asset["master_access"] == "none"


async def test_a_form_cannot_create_an_upload_with_cached_basic_credentials(client: Client) -> None:
    """The exact request ``<form enctype="text/plain" method="post">`` sends: a JSON-looking body."""
    form = b'{"cors_origin": "*", "x": "=y"}'
    resp = await client.post("/video/v1/uploads", data=form,
                             headers={**BASIC, "Content-Type": "text/plain", "Origin": "https://evil.example"})
    await error_of(resp, 415, "unsupported_media_type")
    assert await upload_count(client) == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON; charset=UTF-8"])
async def test_application_json_with_parameters_is_accepted(client: Client, content_type: str) -> None:
    resp = await client.post("/video/v1/uploads", data=b'{"cors_origin": "*"}',
                             headers={**BASIC, "Content-Type": content_type})
    assert resp.status == 201, await resp.text()


async def test_json_in_another_charset_is_415(client: Client) -> None:
    resp = await client.post("/video/v1/uploads", data='{"cors_origin": "*"}'.encode("utf-16"),
                             headers={**BASIC, "Content-Type": "application/json; charset=utf-16"})
    await error_of(resp, 415, "unsupported_media_type")


async def test_requests_without_a_body_need_no_content_type(client: Client) -> None:
    upload = await create_upload(client)
    resp = await client.put(f"/video/v1/uploads/{upload['id']}/cancel", headers=BASIC,
                            skip_auto_headers=["Content-Type"])
    assert resp.status == 200 and (await resp.json())["data"]["status"] == "cancelled"
    # a body nobody reads still has to be JSON
    other = await create_upload(client)
    resp = await client.put(f"/video/v1/uploads/{other['id']}/cancel", data=b"x",
                            headers={**BASIC, "Content-Type": "text/plain"})
    await error_of(resp, 415, "unsupported_media_type")
    resp = await client.put(f"/video/v1/uploads/{other['id']}/cancel", json={}, headers=BASIC)
    assert resp.status == 200
    # a required body that is missing is 400, whatever the type
    for headers in ({}, JSON, {"Content-Type": "text/plain"}):
        resp = await client.post("/video/v1/uploads", headers={**BASIC, **headers},
                                 skip_auto_headers=["Content-Type"])
        assert any("required" in m for m in await error_of(resp, 400, "invalid_parameters"))


# -- 2. nesting depth and size ----------------------------------------------------------------


def nested(depth: int) -> str:
    """A JSON value ``depth`` levels deep (arrays and objects in turn)."""
    value = "1"
    for level in range(depth):
        value = f"[{value}]" if level % 2 else f'{{"k": {value}}}'
    return value


@pytest.mark.parametrize("raw", [
    "[" * 10_000 + "]" * 10_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
    "[" * 10_000,                                        # never closed
    '{"cors_origin": "*", "new_asset_settings": {"input": [{"url": "https://x/y.srt", "deep": '
    + nested(10_000) + "}]}}",
])
async def test_deeply_nested_json_is_400_not_500(client: Client, raw: str) -> None:
    for path in ("/video/v1/uploads", "/api/asset/request-upload"):
        resp = await client.post(path, data=raw.encode(), headers={**AUTH, **JSON})
        messages = await error_of(resp, 400, "invalid_parameters")
        assert any("nest" in m for m in messages), messages
    assert await upload_count(client) == 0


async def test_nesting_up_to_the_limit_is_fine(client: Client) -> None:
    # the body object is level 1: 31 more levels are allowed, 32 more are not
    ok = {"name": "a.mp4", "extra": json.loads(nested(31))}
    resp = await client.post("/api/asset/request-upload", data=json.dumps(ok), headers={**AUTH, **JSON})
    assert resp.status == 200, await resp.text()
    deep = {"name": "a.mp4", "extra": json.loads(nested(32))}
    resp = await client.post("/api/asset/request-upload", data=json.dumps(deep), headers={**AUTH, **JSON})
    await error_of(resp, 400, "invalid_parameters")
    # brackets inside strings (escaped quotes too) are text, not nesting
    text = {"name": '[{"\\' + "[" * 400 + "{" * 100}
    resp = await client.post("/api/asset/request-upload", data=json.dumps(text), headers={**AUTH, **JSON})
    assert resp.status == 200, await resp.text()


async def test_oversized_json_is_413(client: Client) -> None:
    big = json.dumps({"cors_origin": "*", "new_asset_settings": {"passthrough": "x" * 100_000}}).encode()
    resp = await client.post("/video/v1/uploads", data=big, headers={**AUTH, **JSON})
    assert any("KiB" in m for m in await error_of(resp, 413, "too_large"))

    async def chunked() -> AsyncIterator[bytes]:   # no Content-Length: the limit holds while reading
        yield b'{"name": "'
        for _ in range(40):
            yield b"y" * 4096
        yield b'"}'

    resp = await client.post("/api/asset/request-upload", data=chunked(), headers={**AUTH, **JSON})
    await error_of(resp, 413, "too_large")
    assert (await resp.json())["errors"]
    assert await upload_count(client) == 0
    # the connection still serves the next request
    assert (await client.get("/video/v1/uploads", headers=AUTH)).status == 200


@pytest.mark.parametrize("raw", ['{"name": "a", "n": NaN}', '{"name": "a", "n": Infinity}',
                                 '{"name": "a", "n": -Infinity}'])
async def test_non_json_number_constants_are_400(client: Client, raw: str) -> None:
    """Python's json reads NaN/Infinity; JSON has neither (and they could not be written back)."""
    resp = await client.post("/api/asset/request-upload", data=raw.encode(), headers={**AUTH, **JSON})
    await error_of(resp, 400, "invalid_parameters")


# -- 3. asset cursors ---------------------------------------------------------------------------


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    cursor_of("nan|abc"), cursor_of("inf|abc"), cursor_of("-inf|abc"), cursor_of("NaN|abc"),
    cursor_of("1e999|abc"), cursor_of("1_000|abc"), cursor_of(" 1.5|abc"), cursor_of("1.5"),
    cursor_of("1.5|"), cursor_of("|abc"), cursor_of("1.5|a b"), cursor_of("1.5|abc|d"),
    "garbage!", "abc", "%00", "a" * 5, cursor_of("1.5|abc") + "!", "\u00e9t\u00e9",
    base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
    # the plain form (score_id)
    "nan_abc", "inf_abc", "-inf_abc", "1e999_abc", "1e5_abc", "1.5_", "_abc", "1.5_a-b", "1.5__abc", "0..0",
    "1.5_abc ", " 1.5_abc", "+1.5_abc", "1." + "5" * 401 + "_a", "9" * 301 + "_a", "1.5_" + "a" * 65,
])
async def test_malformed_asset_cursors_are_400(client: Client, cursor: str) -> None:
    for extra in ({}, {"upload_id": "x"}, {"limit": "2", "page": "3"}):   # refused even where it is unused
        resp = await client.get("/video/v1/assets", params={"cursor": cursor, **extra}, headers=AUTH)
        assert any("cursor" in m for m in await error_of(resp, 400, "invalid_parameters")), extra


async def test_valid_cursors_still_page(client: Client) -> None:
    made = [(await make_asset(client))[1] for _ in range(3)]
    resp = await client.get("/video/v1/assets?limit=2", headers=AUTH)
    first = await resp.json()
    assert [a["id"] for a in first["data"]] == made[::-1][:2]
    assert re.fullmatch(CURSOR_PATTERN, first["next_cursor"]), first["next_cursor"]
    resp = await client.get("/video/v1/assets", params={"limit": "2", "cursor": first["next_cursor"]},
                            headers=AUTH)
    second = await resp.json()
    assert resp.status == 200 and [a["id"] for a in second["data"]] == [made[0]]
    assert second["next_cursor"] is None
    # a well-formed cursor past the end is an empty page, and an empty cursor is the first page
    for past_the_end in ("1.5_zzz", "0_a", "-" + "9" * 300 + "." + "9" * 400 + "_" + "z" * 64):
        resp = await client.get("/video/v1/assets", params={"cursor": past_the_end}, headers=AUTH)
        assert resp.status == 200 and (await resp.json())["data"] == [], past_the_end
    # the base64 cursors earlier versions handed out still page (a listing may span an upgrade)
    score, _, last_id = first["next_cursor"].partition("_")
    resp = await client.get("/video/v1/assets", params={"limit": "2", "cursor": cursor_of(f"{score}|{last_id}")},
                            headers=AUTH)
    assert [a["id"] for a in (await resp.json())["data"]] == [made[0]]
    resp = await client.get("/video/v1/assets?cursor=", headers=AUTH)
    assert len((await resp.json())["data"]) == 3
    resp = await client.get("/video/v1/assets", params=[("cursor", first["next_cursor"])] * 2, headers=AUTH)
    await error_of(resp, 400, "invalid_parameters")


# -- 4. cors_origin -----------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [
    "", " ", "https://app.example.com\r\nX-Injected: 1", "https://app.example.com\n", "https://a.com, https://b.com",
    "https://a.com https://b.com", "https://app.example.com/", "https://app.example.com/path", "https://a.com?q",
    "https://a.com#f", "ftp://a.com", "app.example.com", "//app.example.com", "https://", "https://user@a.com",
    "https://a.com:0", "https://a.com:65536", "https://a.com:080", "https://a.com:", "null", "**", "https://*.a.com",
    "https://a..com", "https://-", "https://a.com.", "https://\u00e9t\u00e9.fr", "javascript:alert(1)",
    "https://[::1]", "file://",
])
async def test_bad_cors_origins_are_400(client: Client, origin: str) -> None:
    resp = await client.post("/video/v1/uploads", json={"cors_origin": origin}, headers=AUTH)
    messages = await error_of(resp, 400, "invalid_parameters")
    assert any(m.startswith("cors_origin:") for m in messages), messages
    assert await upload_count(client) == 0


@pytest.mark.parametrize("origin, stored", [
    ("*", "*"),
    ("https://app.example.com", "https://app.example.com"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("https://xn--tt-bja.fr", "https://xn--tt-bja.fr"),
    ("https://my_app.example.com:65535", "https://my_app.example.com:65535"),
    ("HTTPS://App.Example.COM", "https://app.example.com"),   # as browsers serialize Origin
    ("https://app.example.com:443", "https://app.example.com"),
    ("http://app.example.com:80", "http://app.example.com"),
    ("http://app.example.com:443", "http://app.example.com:443"),
])
async def test_good_cors_origins_are_stored_as_browsers_send_them(client: Client, origin: str, stored: str) -> None:
    upload = await create_upload(client, cors_origin=origin)
    assert upload["cors_origin"] == stored
    if stored != "*":   # and the upload URL's CORS follows it
        resp = await client.options(upload["url"], headers={"Origin": stored,
                                                            "Access-Control-Request-Method": "PUT"})
        assert resp.headers["Access-Control-Allow-Origin"] == stored


async def test_livepeer_uploads_take_any_origin_whatever_the_body_says(client: Client) -> None:
    """Livepeer's request-upload has no cors_origin; an extra field of that name changes nothing."""
    resp = await client.post("/api/asset/request-upload", json={"name": "a.mp4", "cors_origin": "\r\nx"},
                             headers=AUTH)
    assert resp.status == 200
    url = (await resp.json())["url"]
    resp = await client.options(url, headers={"Origin": "https://anywhere.example",
                                              "Access-Control-Request-Method": "PUT"})
    assert resp.headers["Access-Control-Allow-Origin"] == "https://anywhere.example"
    uploads = (await (await client.get("/video/v1/uploads", headers=AUTH)).json())["data"]
    assert [u["cors_origin"] for u in uploads] == ["*"]


# -- 5. token scopes ----------------------------------------------------------------------------


async def test_scopes_map_every_operation(client: Client) -> None:
    upload, asset_id = await make_asset(client)
    livepeer = await (await client.post("/api/asset/request-upload", json={"name": "l.mp4"}, headers=AUTH)).json()
    waiting = await create_upload(client)
    operations: list[tuple[str, str, str, dict[str, Any]]] = [   # method, path, scope, request kwargs
        ("POST", "/video/v1/uploads", "uploads", {"json": {"cors_origin": "*"}}),
        ("GET", "/video/v1/uploads", "uploads", {}),
        ("GET", f"/video/v1/uploads/{upload['id']}", "uploads", {}),
        ("PUT", f"/video/v1/uploads/{waiting['id']}/cancel", "uploads", {}),
        ("POST", "/files/", "uploads", {"headers": {**TUS, "Upload-Length": "3"}}),
        ("POST", "/api/asset/request-upload", "uploads", {"json": {"name": "b.mp4"}}),
        ("GET", "/video/v1/assets", "assets:read", {}),
        ("GET", f"/video/v1/assets/{asset_id}", "assets:read", {}),
        ("GET", upload["url"], "assets:read", {}),
        ("GET", f"/api/asset/{livepeer['asset']['id']}", "assets:read", {}),
        ("PATCH", f"/video/v1/assets/{asset_id}", "assets:write", {"json": {"passthrough": "p"}}),
        ("PUT", f"/video/v1/assets/{asset_id}/master-access", "assets:write", {"json": {"master_access": "none"}}),
        ("GET", "/video/v1/webhook-deliveries", "webhooks:read", {}),
        ("DELETE", f"/video/v1/assets/{asset_id}", "assets:write", {}),   # last: it removes the asset
    ]
    for method, path, scope, kwargs in operations:
        extra = kwargs.pop("headers", {})
        for token_id, (secret, scopes) in SCOPED.items():
            if scope in scopes:
                continue
            for credentials in (basic(token_id, secret), bearer(token_id)):
                resp = await client.request(method, path, headers={**extra, **credentials}, **kwargs)
                messages = await error_of(resp, 403, "forbidden")
                assert messages == [f"this token lacks the {scope} scope"], (method, path, token_id)
                if path.startswith("/api/"):
                    assert (await resp.json())["errors"] == messages
        owner = next(t for t, (_, scopes) in SCOPED.items() if scope in scopes)
        credentials = basic(owner, SCOPED[owner][0]) if method != "GET" else bearer(owner)
        resp = await client.request(method, path, headers={**extra, **credentials}, **kwargs)
        assert resp.status < 300, (method, path, owner, resp.status, await resp.text())
    assert (await (await client.get("/video/v1/uploads", headers=AUTH)).json())["data"]


async def test_a_scoped_token_refused_is_403_before_its_body_is_read(client: Client) -> None:
    resp = await client.put("/video/v1/assets/x/master-access", data=b"junk",
                            headers={**bearer("uploader"), "Content-Type": "text/plain"})
    await error_of(resp, 403, "forbidden")


async def test_unknown_or_missing_credentials_stay_401(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, basic("uploader", "reader-secret"),
                    basic("reader", "uploader-secret")):
        resp = await client.get("/video/v1/assets", headers=headers)
        await error_of(resp, 401, "unauthorized")
        assert resp.headers["WWW-Authenticate"].startswith("Basic")


def test_tokens_default_to_every_scope() -> None:
    settings = Settings.model_validate({"auth": {"tokens": [{"id": "a", "secret": "b"}]}})
    assert settings.auth.tokens[0].scopes == ["uploads", "assets:read", "assets:write", "webhooks:read"]


@pytest.mark.parametrize("token, fragment", [
    ({"id": "a", "secret": "b", "scopes": ["uploads", "assets:delete"]}, "scopes"),
    ({"id": "a", "secret": "b", "scopes": ["Uploads"]}, "scopes"),
    ({"id": "a", "secret": "b", "scopes": "uploads"}, "scopes"),
    ({"id": "a", "secret": "b", "scopes": []}, "scopes"),
    ({"id": "a", "secret": ""}, "secret"),
])
def test_bad_token_settings_stop_start_up(token: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"auth": {"tokens": [token]}})
    assert fragment in str(info.value)


def test_two_tokens_with_one_secret_stop_start_up() -> None:
    """Bearer carries only the secret: two tokens sharing one could not be told apart."""
    with pytest.raises(ValidationError, match="secret"):
        Settings.model_validate({"auth": {"tokens": [{"id": "a", "secret": "s", "scopes": ["uploads"]},
                                                     {"id": "b", "secret": "s"}]}})
    with pytest.raises(ValidationError, match="id"):
        Settings.model_validate({"auth": {"tokens": [{"id": "a", "secret": "s"}, {"id": "a", "secret": "t"}]}})


def test_unknown_scope_in_config_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("auth:\n  tokens:\n    - {id: web, secret: s, scopes: [uploads, assets:delete]}\n")
    assert settings_for_command(path, "upload-gateway") is None
    err = capsys.readouterr().err
    assert "cannot load settings" in err and "assets:delete" in err
    path.write_text("auth:\n  tokens:\n    - {id: web, secret: s, scopes: [uploads]}\n")
    assert load_settings(path).auth.tokens[0].scopes == ["uploads"]
