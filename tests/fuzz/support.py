"""Shared pieces of the fuzz tests: settings, header and body strategies, a raw HTTP/1.1 client for the
bytes aiohttp's client will not send, and the two invariants every request must keep:

- every request is answered, never with a 5xx (no backend is down here, so even a 503 is a failure),
  and no answer carries a Python traceback;
- no storage without a record: every upload file under the storage root has its Redis record.

Async ``@given`` tests: pytest-asyncio (``asyncio_mode = "auto"``) recognises a coroutine test wrapped
by ``hypothesis.given`` and runs each example's inner coroutine with ``run_until_complete`` on the test's
own event loop, the loop the async ``client`` fixture was built on. So one in-process gateway (and one
Redis prefix, one storage root) serves every example of a test; that is why the function-scoped-fixture
health check is suppressed, and why the invariants are checked (and any leftovers cleaned up) after
each example, so that one example's fault is not blamed on the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, event, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from multidict import CIMultiDict

from tests.conftest import service_of

Client = TestClient[Any, Any]
T = TypeVar("T")
OCTET = "application/offset+octet-stream"

# FUZZ_SCALE=10 runs ten times as many examples (for a longer local hunt); CI runs the default.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
# Shrinking a failure replays whole request sequences and may take minutes (Hypothesis allows itself 300 s,
# past pytest's 120 s timeout), so CI reports the failing example as found: every failure message already
# names the exact request that failed, and the notes list the requests before it. FUZZ_SHRINK=1 shrinks.
SHRINK = os.environ.get("FUZZ_SHRINK", "") not in ("", "0")
PHASES = tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)


def fuzz_settings(max_examples: int) -> settings:
    return settings(max_examples=max(1, round(max_examples * SCALE)), deadline=None, print_blob=True,
                    phases=PHASES,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def often(common: st.SearchStrategy[T], rare: st.SearchStrategy[T], weight: int = 4) -> st.SearchStrategy[T]:
    """``common`` about ``weight`` times as often as ``rare`` (``one_of`` picks its branches evenly and
    merges repeated ones, so repeating a branch does not weigh it)."""
    return st.integers(0, weight).flatmap(lambda n: rare if n == 0 else common)


# -- header values ---------------------------------------------------------------------------------

# aiohttp's client refuses C0 controls (but tab) and DEL in a header and sends the rest as UTF-8.
_CONTROLS = "".join(chr(c) for c in range(0x20) if c != 0x09) + "\x7f"
SENDABLE = st.characters(codec="utf-8", exclude_characters=_CONTROLS)
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


@st.composite
def _long(draw: st.DrawFn, piece: st.SearchStrategy[str]) -> str:
    """A long value cheaply: a short piece repeated (up to ~10 KiB, past aiohttp's 8 KiB field limit)."""
    text = draw(piece.filter(bool))
    return text * draw(st.integers(1, 10_000 // len(text)))


def header_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Arbitrary header values aiohttp's client can send: mostly ASCII, some any Unicode, some long."""
    return st.one_of(st.text(ASCII, max_size=max_size), st.text(SENDABLE, max_size=max_size),
                     _long(st.text(SENDABLE, max_size=8)))


def mutated(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid value, or one with a character inserted, replaced or dropped, or padded with spaces."""

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        value = draw(valid)
        how = draw(st.sampled_from(["keep", "insert", "replace", "drop", "pad"]))
        if how == "keep":
            return value
        if how == "pad":
            return draw(st.sampled_from([" ", "\t", "  "])) + value + draw(st.sampled_from(["", " ", "\t"]))
        at = draw(st.integers(0, len(value)))
        char = draw(st.one_of(st.sampled_from(list(" ,;/=+-*\t0é\u0660")), SENDABLE))
        if how == "insert":
            return value[:at] + char + value[at:]
        if how == "replace":
            return value[:at] + char + value[at + 1:]
        return value[:at] + value[at + 1:]

    return mutate()


def raw_header_bytes(max_size: int = 40) -> st.SearchStrategy[bytes]:
    """Header values as bytes on the wire, any byte but CR and LF (mostly printable, often non-UTF-8)."""
    byte = st.one_of(st.integers(0x20, 0x7E), st.integers(0x80, 0xFF), st.sampled_from([0x00, 0x01, 0x09, 0x7F]))
    return st.lists(byte, max_size=max_size).map(bytes)


def non_utf8(valid: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """A valid value's bytes with non-ASCII bytes (a lone high byte, or a Latin-1 / UTF-8 letter) spliced in."""

    @st.composite
    def splice(draw: st.DrawFn) -> bytes:
        value = draw(valid).encode()
        junk = draw(st.sampled_from([b"\xff", b"\x80", b"\xe9", b"\xc3\xa9", b"\xc3", b"\xed\xa0\x80",
                                     b"\xf0\x9f\x98"]))
        at = draw(st.integers(0, len(value)))
        return value[:at] + junk + value[at:]

    return splice()


bodies = st.one_of(st.just(b""), st.binary(max_size=64))


# -- requests --------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes
    request: str = ""
    raw: bytes = field(default=b"", repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


_FAILURES: dict[str, type[AssertionError]] = {}


def failure(kind: str) -> type[AssertionError]:
    """One AssertionError subclass per kind of failure (e.g. ``Status500OnPOST``): Hypothesis tells bugs
    apart by exception type and line, so a test reports each kind it finds instead of only the first."""
    if kind not in _FAILURES:
        _FAILURES[kind] = type(kind, (AssertionError,), {})
    return _FAILURES[kind]


def check(answer: Answer) -> Answer:
    """The per-response invariant: an answer, never a 5xx, never a traceback."""
    method = answer.request.split(" ", 1)[0]
    if answer.status == 0:
        raise failure(f"NoAnswerTo{method}")(f"no response at all to {answer.request}")
    if answer.status == 503 and b"resend from there" in answer.body:
        return answer   # the PUT dialect's documented answer to a gap: retryable (UpChunk retries 503)
    if answer.status >= 500:
        raise failure(f"Status{answer.status}On{method}")(
            f"{answer.status} for {answer.request}\n  -> {answer.body[:600]!r}")
    if b"Traceback" in answer.body:
        raise failure(f"TracebackOn{method}")(f"a traceback for {answer.request}: {answer.body[:2000]!r}")
    return answer


def log(text: str, *, as_event: str = "") -> None:
    """``note`` (and ``event``) inside a Hypothesis example; nothing in fixtures, which run outside one."""
    with contextlib.suppress(InvalidArgument):
        note(text)
        if as_event:
            event(as_event)


def expect(condition: bool, message: object) -> None:
    """A protocol property beyond the two invariants (kept apart so a failure names what was expected)."""
    assert condition, message


def _short(value: str | bytes) -> str:
    return repr(value) if len(value) <= 120 else f"{value[:100]!r}...({len(value)} long)"


def describe(method: str, url: str, headers: Mapping[str, str] | Sequence[tuple[bytes, bytes]],
             body: bytes | None) -> str:
    items = headers.items() if isinstance(headers, Mapping) else headers
    shown = ", ".join(f"{k!r}: {_short(v)}" for k, v in items)
    return f"{method} {url} {{{shown}}} body={'<chunked>' if body is None else repr(body[:80])}" + (
        f" ({len(body)} bytes)" if body is not None and len(body) > 80 else "")


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def send(client: Client, method: str, url: str, headers: Mapping[str, str] | None = None,
               body: bytes = b"", *, as_chunks: bool = False) -> Answer:
    """One request through aiohttp's client (nothing added: no automatic Content-Type), checked."""
    headers = dict(headers or {})
    what = describe(method, url, headers, None if as_chunks else body)
    log(what)
    try:
        resp = await client.request(method, url, headers=headers, data=chunked(body) if as_chunks else body,
                                    allow_redirects=False, skip_auto_headers=("Content-Type",))
        async with resp:
            answer = Answer(resp.status, CIMultiDict(resp.headers), await resp.read(), what)
    except aiohttp.ClientResponseError as exc:   # aiohttp's own parser refused the request (e.g. 8 KiB fields)
        answer = Answer(exc.status, CIMultiDict(exc.headers or {}), exc.message.encode(), what)
    log(f"  -> {answer.status} {answer.body[:200]!r}", as_event=f"{method} -> {answer.status}")
    return check(answer)


async def send_raw(client: Client, method: str, target: bytes, headers: Sequence[tuple[bytes, bytes]],
                   body: bytes = b"", *, timeout: float = 20.0) -> Answer:
    """One request written byte for byte on its own connection (``Connection: close``), checked.

    A ``Content-Length`` for ``body`` is added unless the headers carry one (or Transfer-Encoding)."""
    assert client.port is not None
    items = [(b"Host", b"127.0.0.1"), (b"Connection", b"close"), *headers]
    if not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in items):
        items.append((b"Content-Length", str(len(body)).encode()))
    wire = method.encode() + b" " + target + b" HTTP/1.1\r\n"
    wire += b"".join(name + b": " + value + b"\r\n" for name, value in items) + b"\r\n" + body
    what = describe(method, target.decode("latin-1"), items, body)
    log(what)
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(wire)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(timeout):
            data = await reader.read()   # the server closes after its answer
    except ConnectionError:
        data = b""
    except TimeoutError:   # no answer (or no close) in time: reported as no response at all
        data = b""
        what += f" [nothing for {timeout:.0f} s]"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    answer = parse_response(data)
    answer.request = what
    log(f"  -> {answer.status} {answer.body[:200]!r}", as_event=f"raw {method} -> {answer.status}")
    return check(answer)


def parse_response(data: bytes) -> Answer:
    """The final response in ``data`` (skipping 1xx), or status 0 when there is none."""
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return Answer(0, CIMultiDict(), data, raw=data)
        if 100 <= status < 200:
            data = rest
            continue
        headers = CIMultiDict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
        return Answer(status, headers, rest, raw=data)
    return Answer(0, CIMultiDict(), b"")


def path_of(client: Client, url: str) -> str:
    """The path of an absolute URL the gateway handed out."""
    return url.split(str(client.port), 1)[1] if url.startswith("http") else url


# -- the storage invariant --------------------------------------------------------------------------


def stored_files(root: Path) -> dict[str, int]:
    """Upload id -> size of every upload file under the filesystem root (not objects/ nor .healthz)."""
    if not root.exists():
        return {}
    return {p.name: p.stat().st_size for p in root.iterdir() if p.is_file() and not p.name.startswith(".")}


async def assert_storage_has_records(client: Client, root: Path) -> None:
    """Every upload file under the filesystem root has a Redis record holding no more than the file.

    Files without a record are removed after being reported, so later examples start clean."""
    service = service_of(client)
    orphans: list[str] = []
    short: list[str] = []
    for name, size in sorted(stored_files(root).items()):
        upload = await service.state.get(name)
        if upload is None:
            orphans.append(f"{name} ({size} bytes)")
            (root / name).unlink()
        elif size < upload.offset:
            short.append(f"{name}: {size} bytes on disk, offset {upload.offset}")
    assert not orphans, f"storage without a record: {orphans}"
    assert not short, f"acknowledged bytes missing from storage: {short}"


async def assert_s3_has_records(client: Client) -> None:
    """The S3 form of the invariant: every object, segment and open multipart upload under the prefix
    (assets' ``objects/`` aside) belongs to an upload with a Redis record. Orphans are removed once reported."""
    from gateway.storage.s3 import S3Storage

    service = service_of(client)
    storage = service.storage
    assert isinstance(storage, S3Storage)
    prefix = storage.prefix

    def listing() -> dict[str, list[tuple[str, str | None]]]:   # upload id -> [(key, multipart id or None)]
        found: dict[str, list[tuple[str, str | None]]] = {}
        for item in storage.client.list_objects(storage.bucket, prefix=prefix, recursive=True):
            name = str(item.object_name)[len(prefix):]
            if not name.startswith("objects/"):
                found.setdefault(name.split(".seg/")[0], []).append((str(item.object_name), None))
        for upload in storage.client._list_multipart_uploads(storage.bucket, prefix=prefix).uploads:
            found.setdefault(str(upload.object_name)[len(prefix):], []).append(
                (str(upload.object_name), str(upload.upload_id)))
        return found

    def remove(pieces: list[tuple[str, str | None]]) -> None:
        for key, multipart in pieces:
            if multipart is None:
                storage.client.remove_object(storage.bucket, key)
            else:
                storage.client._abort_multipart_upload(storage.bucket, key, multipart)

    orphans: list[str] = []
    for upload_id, pieces in sorted((await asyncio.to_thread(listing)).items()):
        if await service.state.get(upload_id) is None:
            orphans.append(f"{upload_id}: {[key for key, _ in pieces]}")
            await asyncio.to_thread(remove, pieces)
    assert not orphans, f"S3 storage without a record: {orphans}"
