"""The uploader page over plain HTTP: what ``/`` and ``/static/...`` answer, their security headers, and
that no request path reaches a file outside ``gateway/ui/static``."""

from __future__ import annotations

import re
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.ui.pages import STATIC_ROOT, UploaderPage, load_files
from tests.browser.api import request
from tests.conftest import TOKEN_SECRET
from tests.ui.conftest import Stack

TYPES = {
    "/static/app.css": "text/css",
    "/static/js/main.js": "text/javascript",
    "/static/js/api.js": "text/javascript",
    "/static/vendor/tus.min.js": "text/javascript",
    "/static/vendor/upchunk.js": "text/javascript",
    "/static/vendor/hls.light.min.js": "text/javascript",
    "/static/js/player.js": "text/javascript",
    "/static/favicon.svg": "image/svg+xml",
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if any(name.startswith("on") for name, _ in attrs) or dict(attrs).get("style") is not None:
            self.inline.append(f"<{tag} {attrs}>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def assert_security_headers(headers: Message, path: str) -> None:
    get = headers.get
    csp = get("Content-Security-Policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'" and directives.get("style-src") == "'self'", (path, csp)
    assert directives.get("default-src") == "'none'" and directives.get("frame-ancestors") == "'none'", csp
    assert "unsafe" not in csp, csp
    assert get("X-Content-Type-Options") == "nosniff", path
    assert get("Referrer-Policy") == "no-referrer", path


def test_index_is_html_with_a_strict_policy_and_no_secret(gateway_only: Stack) -> None:
    reply = request("GET", gateway_only.url + "/")
    assert reply.status == 200, reply.describe()
    assert reply.headers.get("Content-Type", "").startswith("text/html"), reply.describe()
    assert "charset=utf-8" in reply.headers.get("Content-Type", "")
    assert_security_headers(reply.headers, "/")
    html = reply.body.decode()
    assert TOKEN_SECRET not in html and "Authorization" not in html
    tags = Tags()
    tags.feed(html)
    assert not tags.inline, tags.inline  # no inline script, handler or style: the CSP would block them
    scripts = [attrs.get("src") for tag, attrs in tags.tags if tag == "script"]
    assert scripts == ["/static/vendor/tus.min.js", "/static/vendor/upchunk.js", "/static/vendor/hls.light.min.js",
                       "/static/js/main.js"]
    for tag, attrs in tags.tags:  # nothing from another origin (the machine may be offline)
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not re.match(r"(https?:)?//", value), (tag, attrs)
    # the CSP lets the page talk to where upload URLs point (here the same origin)
    assert gateway_only.url in reply.headers["Content-Security-Policy"]

    head = request("HEAD", gateway_only.url + "/")
    assert head.status == 200 and head.body == b"" and head.headers.get("ETag"), head.describe()
    again = request("GET", gateway_only.url + "/", headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status == 304 and again.body == b"", again.describe()
    assert_security_headers(again.headers, "/ (304)")


def test_static_files_have_their_content_types(gateway_only: Stack) -> None:
    for path, content_type in TYPES.items():
        reply = request("GET", gateway_only.url + path)
        assert reply.status == 200, reply.describe()
        assert reply.headers.get("Content-Type", "").split(";")[0] == content_type, reply.describe()
        assert reply.body == (STATIC_ROOT / path.removeprefix("/static/")).read_bytes()
        assert reply.headers.get("Cache-Control") == "no-cache", reply.describe()
        assert_security_headers(reply.headers, path)
    # the vendored clients keep their licence headers
    for path, name in (("/static/vendor/tus.min.js", b"tus-js-client v"), ("/static/vendor/upchunk.js",
                                                                         b"@mux/upchunk v")):
        head = request("GET", gateway_only.url + path).body[:400]
        assert name in head and b"MIT License" in head, head
    # every page file is served; nothing else is
    assert set(load_files()) >= {p.removeprefix("/static/") for p in TYPES} | {"index.html"}
    assert request("GET", gateway_only.url + "/static/README.md").status == 404
    assert request("GET", gateway_only.url + "/static/").status == 404
    assert request("GET", gateway_only.url + "/static/js/").status == 404
    assert request("GET", gateway_only.url + "/static/nope.js").status == 404


def test_no_path_escapes_the_static_folder(gateway_only: Stack) -> None:
    attempts = [
        "/static/../app.py", "/static/../../gateway/app.py", "/static/..%2fapp.py", "/static/%2e%2e/app.py",
        "/static/%2e%2e%2fapp.py", "/static/..%2f..%2fgateway%2fapp.py", "/static/%252e%252e%252fapp.py",
        "/static/..\\app.py", "/static/..%5capp.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
        "/static/js/../../pages.py", "/static/js/%2e%2e/%2e%2e/pages.py", "/static/./index.html/../../pages.py",
        "/static/vendor/../../__init__.py", "/static/%E2%80%A5/app.py", "/static/%00../app.py",
    ]
    for path in attempts:
        reply = request("GET", gateway_only.url + path)
        assert reply.status in (400, 404), reply.describe()
        assert b"import" not in reply.body and b"root:" not in reply.body, reply.describe()
    # the JSON API still wants a token; the page does not
    assert request("GET", gateway_only.url + "/video/v1/assets").status == 401
    assert request("GET", gateway_only.url + "/static/js/main.js").status == 200


def test_only_regular_files_with_known_types_are_loaded(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("index.html", "a.js", "sub/b.css", ".hidden.js", ".git/c.js", "notes.md", "x.py"):
        (tmp_path / name).write_text(name)
    (tmp_path / "link.js").symlink_to("/etc/hostname")
    files = load_files(tmp_path)
    assert sorted(files) == ["a.js", "index.html", "sub/b.css"]
    assert files["sub/b.css"].content_type == "text/css; charset=utf-8" and files["sub/b.css"].body == b"sub/b.css"
    assert len({f.etag for f in files.values()}) == 3
    with pytest.raises(ValueError, match=r"index\.html"):
        UploaderPage({}, upload_origin="http://127.0.0.1:8080")
