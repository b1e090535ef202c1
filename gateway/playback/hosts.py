"""``stream.<domain>`` and ``image.<domain>`` (``playback.host_routing``): Mux's hosts on one gateway.

mux-player with ``custom-domain="example.test"`` (and the Mux SDKs' URL helpers) build
``https://stream.example.test/<id>.m3u8`` and ``https://image.example.test/<id>/thumbnail.jpg``. With
host routing on, a request whose Host is ``stream.<anything>`` and whose path is ``/<id>.m3u8`` or
``/<id>/...`` is answered as ``/stream/<id>...``, and ``image.<anything>`` + ``/<id>/...`` as
``/image/<id>/...``; the query string is kept. Paths already under ``/stream`` or ``/image``, other paths
(``/healthz``) and every other host are left alone. So with host routing on, ``stream.`` and ``image.``
hosts serve playback only: the API and the upload URLs belong on another host name.

The request is cloned with the new path, resolved again by the app's router, and the resolved handler is
called in place of the one the original path matched. The playback dialect the handler marks on the
clone is copied back, so an error raised inside (answered by gateway/http.py's error middleware on the
original request) is shaped like any other playback answer.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from gateway.http import DIALECT, Handler

PREFIXES = {"stream": "/stream", "image": "/image"}


def routed_path(host: str, path: str) -> str | None:
    """The path a request for ``host`` + ``path`` (raw, still percent-encoded) is answered under; None
    when host routing leaves it alone."""
    label = host.split(":", 1)[0].split(".", 1)
    if len(label) != 2 or not label[1] or (prefix := PREFIXES.get(label[0].lower())) is None:
        return None
    if path.startswith(("/stream/", "/image/")) or path in ("/stream", "/image"):
        return None
    head, slash, rest = path[1:].partition("/")
    if not head or (not slash and not (prefix == "/stream" and head.endswith(".m3u8"))):
        return None
    if slash and not rest:
        return None
    return prefix + path


@web.middleware
async def host_routing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = routed_path(request.host, request.rel_url.raw_path)
    if path is None:
        return await handler(request)
    clone = request.clone(rel_url=URL.build(path=path, query_string=request.rel_url.raw_query_string,
                                            encoded=True))
    match = await request.app.router.resolve(clone)
    match.add_app(request.app)
    match.freeze()
    clone._match_info = match   # what aiohttp's own dispatch sets (Application._handle)
    try:
        return await match.handler(clone)
    finally:
        if (dialect := clone.get(DIALECT)) is not None:
            request[DIALECT] = dialect
