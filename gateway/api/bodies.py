"""Reading the JSON APIs' request bodies and query parameters, within bounds.

A body must be ``application/json`` (UTF-8), else 415: a cross-site HTML form can only send
``text/plain``, urlencoded or multipart bodies, and the browser may attach cached Basic credentials.
It is read up to :data:`MAX_BODY` bytes (413 beyond) and its nesting is measured before it is parsed
(400 beyond :data:`MAX_DEPTH`), so no body can exhaust the parser's recursion. A valid body is then
validated by its model in :mod:`gateway.api.schemas`.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)


def _messages(exc: ValidationError) -> list[str]:
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            out.append(f"{where}: unknown field")
        else:
            out.append(f"{where}: {error['msg']}")
    return out


MAX_BODY = 64 * 1024       # bytes; the largest legitimate body is a few KiB
MAX_DEPTH = 32             # nested arrays/objects, the body object itself being level 1
_READ = 16 * 1024
# Outside strings only brackets and quotes matter; inside, an escape takes the next character with it.
_TOKENS = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)


def require_json(request: web.Request) -> None:
    """415 unless a request that carries a body declares it ``application/json`` (UTF-8)."""
    if not request.body_exists:
        return
    charset = (request.charset or "utf-8").lower()
    if request.content_type != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("send the request body as application/json (UTF-8)")


def _too_deep(raw: bytes, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit``: one linear pass, before any parsing."""
    depth, in_string = 0, False
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token == b'"':
            in_string = not in_string
        elif in_string or len(token) == 2:
            continue
        elif token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


async def _read(request: web.Request) -> bytes:
    too_large = PayloadTooLarge(f"the request body is larger than {MAX_BODY // 1024} KiB")
    if (request.content_length or 0) > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    while chunk := await request.content.read(_READ):
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


async def parse_body(request: web.Request, model: type[M], *, optional: bool = False) -> M:
    require_json(request)
    raw = await _read(request)
    if not raw.strip():
        if optional:
            return model()
        raise BadRequest("a JSON request body is required")
    if _too_deep(raw, MAX_DEPTH):
        raise BadRequest(f"the request body nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = _messages(exc)
        raise BadRequest("; ".join(messages), messages=messages) from None


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
