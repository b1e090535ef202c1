"""The uploader page: ``GET /`` answers ``static/index.html``, ``GET /static/<path>`` the files next to it.

What is served is fixed when the app is built: every file under ``gateway/ui/static`` with a known
extension is read into memory once (about 550 KB, hls.js included) and looked up by its exact relative path, so no
request path ever reaches the filesystem and ``..``, encoded or not, can only miss (404). Neither route
needs a token; the page asks for one and calls the JSON API with it.

Every response carries the security headers: a Content-Security-Policy that allows only this origin's
scripts and styles (no inline script, no eval) and lets the page connect to this origin and to the
gateway's public URL (where upload URLs point), ``X-Content-Type-Options: nosniff`` and
``Referrer-Policy: no-referrer``. Files are revalidated by ETag (``Cache-Control: no-cache``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from gateway.errors import NotFound

log = logging.getLogger("gateway.ui")
STATIC_ROOT = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def load_files(root: Path = STATIC_ROOT) -> dict[str, StaticFile]:
    """Every servable file under ``root`` by its relative POSIX path (symlinks and dotfiles skipped)."""
    files: dict[str, StaticFile] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if (path.is_symlink() or not path.is_file() or path.suffix not in CONTENT_TYPES
                or any(part.startswith(".") for part in name.split("/"))):
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[name] = StaticFile(body, CONTENT_TYPES[path.suffix], etag)
    return files


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(upload_origin: str) -> dict[str, str]:
    """The headers on every page response; ``upload_origin`` is where the gateway's upload URLs point."""
    connect = "'self'" if not upload_origin else f"'self' {upload_origin}"
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self' blob:; "
              f"connect-src {connect}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


class UploaderPage:
    def __init__(self, files: dict[str, StaticFile], *, upload_origin: str) -> None:
        if "index.html" not in files:
            raise ValueError("the uploader page needs index.html")
        self.files = files
        self.headers = security_headers(upload_origin)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.index), web.get("/static/{name:.+}", self.static)]

    async def index(self, request: web.Request) -> web.Response:
        return self._serve(request, self.files["index.html"])

    async def static(self, request: web.Request) -> web.Response:
        file = self.files.get(request.match_info["name"])
        if file is None:
            raise NotFound("no such file")
        return self._serve(request, file)

    def _serve(self, request: web.Request, file: StaticFile) -> web.Response:
        headers = {**self.headers, "ETag": file.etag, "Cache-Control": "no-cache"}
        if file.etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
            return web.Response(status=304, headers=headers)
        return web.Response(body=file.body, headers={**headers, "Content-Type": file.content_type})


def uploader_routes(base_url: str) -> list[web.RouteDef]:
    """The page's routes for a gateway whose upload URLs start with ``base_url``; none (and a warning)
    when the static files were not installed, so the API runs without the page."""
    files = load_files()
    if "index.html" not in files:
        log.warning("ui.static_missing", extra={"path": str(STATIC_ROOT)})
        return []
    return UploaderPage(files, upload_origin=origin_of(base_url)).routes()
