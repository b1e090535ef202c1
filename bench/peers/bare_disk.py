"""Ceiling: the least an aiohttp server can do with an upload body: stream it to a file, fsync, 200."""

from __future__ import annotations

import os
import sys

from aiohttp import web


async def sink(request: web.Request) -> web.Response:
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while chunk := await request.content.read(1024 * 1024):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    return web.Response(status=200)


app = web.Application()
app.router.add_route("*", "/{tail:.*}", sink)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
