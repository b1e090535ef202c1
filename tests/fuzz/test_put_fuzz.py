"""Fuzzing PUT + Content-Range resumption (GCS / UpChunk semantics) on upload URLs through the in-process
gateway: chunks that fit, overlap, leave gaps, overrun or undershoot their range, bodies sent with a
length or chunked, odd Content-Range and Content-Length values. No 5xx, no storage without a record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import AUTH, TUS
from tests.fuzz.support import (
    Client,
    assert_storage_has_records,
    expect,
    fuzz_settings,
    header_text,
    mutated,
    often,
    path_of,
    send,
    send_raw,
)


@dataclass(frozen=True)
class Put:
    """One chunk, relative to what is stored: ``bytes <stored+shift>-<..+size-1>/<total>``."""

    shift: int                  # where the range starts, relative to the stored offset (<= 0: no gap)
    size: int                   # bytes the range claims (0: a status check, ``bytes */N``)
    total: str                  # "fit" (the upload's length, else ``extra`` past the range), "star", "short", "more"
    extra: int
    body: str                   # the body is "exact"ly the range, or ``slack`` bytes "short"er or "long"er
    slack: int
    fill: bytes                 # the body is this, repeated
    literal: str | None         # a Content-Range sent instead of the computed one ("" = none at all)
    mode: str                   # "length" (chunked when the body is not exact) | "chunked" | "raw"
    method: str


puts = st.builds(
    Put,
    shift=often(st.just(0), st.integers(-20, -1), 2),
    size=st.one_of(st.integers(0, 40), st.integers(0, 300)),
    total=st.sampled_from(["fit", "fit", "fit", "star", "short", "more"]),
    extra=st.integers(0, 50),
    body=st.sampled_from(["exact", "exact", "exact", "short", "short", "long"]),
    slack=st.one_of(st.integers(1, 30), st.integers(1, 300)),
    fill=st.binary(min_size=1, max_size=8),
    literal=often(st.none(), st.one_of(st.just(""), header_text(), mutated(st.just("bytes 0-4/5")),
                      st.sampled_from(["bytes */*", "bytes 0-0/0", "bytes 5-4/10", "bytes 0-4/4",
                                       "bytes \u0660-\u0664/\u0665", "bytes=0-4/5", "bytes 0-4/5, bytes 5-9/10",
                                       f"bytes 0-{10**19 - 1}/*", "bytes 00-04/05", "Bytes 0-4/5"])), 6),
    mode=st.sampled_from(["length", "chunked", "raw"]),
    method=st.sampled_from(["PUT", "PUT", "PUT", "PUT", "POST", "PATCH"]),
)


@dataclass(frozen=True)
class Upload:
    how: str                    # "direct" (POST /video/v1/uploads, deferred) or "tus" (tus creation)
    length: int | None          # for "tus": Upload-Length, None for deferred


uploads = st.one_of(st.builds(Upload, st.just("direct"), st.none()),
                    st.builds(Upload, st.just("tus"), st.one_of(st.none(), st.integers(0, 400))))


async def make(client: Client, upload: Upload) -> str:
    if upload.how == "direct":
        answer = await send(client, "POST", "/video/v1/uploads", {**AUTH, "Content-Type": "application/json"},
                            b'{"cors_origin": "*"}')
        return str(answer.json()["data"]["url"])
    headers = {**TUS, **AUTH, **({"Upload-Length": str(upload.length)} if upload.length is not None
                                 else {"Upload-Defer-Length": "1"})}
    return (await send(client, "POST", "/files/", headers)).headers["Location"]


async def stored_state(client: Client, url: str) -> tuple[int, int | None]:
    state = await send(client, "HEAD", url, TUS)
    if state.status != 200:
        return 0, None
    length = state.headers.get("Upload-Length")
    return int(state.headers["Upload-Offset"]), int(length) if length is not None else None


def chunked_put(shift: int, size: int, extra: int, slack: int) -> Put:
    return Put(shift=shift, size=size, total="fit", extra=extra, body="short", slack=slack, fill=b"x", literal=None,
               mode="chunked", method="PUT")


@fuzz_settings(100)
@given(upload=uploads, chunks=st.lists(puts, min_size=1, max_size=5))
# a chunked body shorter than its range, then a resend that ends inside the part already stored
@example(upload=Upload("direct", None), chunks=[chunked_put(0, 1000, 1000, 500), chunked_put(-500, 1000, 0, 700)])
async def test_put_content_range(client: Client, storage_root: Path, upload: Upload, chunks: list[Put]) -> None:
    url = await make(client, upload)
    for chunk in chunks:
        stored, length = await stored_state(client, url)
        start = max(0, stored + chunk.shift)
        end = start + chunk.size - 1
        total = {"fit": str(length if length is not None else end + 1 + chunk.extra),
                 "star": "*", "short": str(max(0, end)), "more": str((length or end + 1) + 1)}[chunk.total]
        header = chunk.literal if chunk.literal is not None else (
            f"bytes {start}-{end}/{total}" if chunk.size > 0 else f"bytes */{total}")
        sent = {"exact": chunk.size, "long": chunk.size + chunk.slack,
                "short": max(0, chunk.size - chunk.slack)}[chunk.body]
        body = (chunk.fill * sent)[:sent]
        headers = {"Content-Range": header} if header else {}
        if chunk.mode == "raw":
            answer = await send_raw(client, chunk.method, path_of(client, url).encode(),
                                    [(k.encode(), v.encode()) for k, v in headers.items()], body)
        else:
            answer = await send(client, chunk.method, url, headers, body,
                                as_chunks=chunk.mode == "chunked" or chunk.body != "exact")
        if answer.status in (200, 308) and chunk.method == "PUT" and chunk.literal is None:
            now, _ = await stored_state(client, url)
            wanted = f"bytes=0-{now - 1}" if now else None
            expect(answer.status == 200 or answer.headers.get("Range") == wanted,
                   f"308 says Range {answer.headers.get('Range')!r} but {now} bytes are stored")
    await assert_storage_has_records(client, storage_root)


@fuzz_settings(15)
@given(upload=uploads, gap=st.integers(1, 20), size=st.integers(1, 20), chunked=st.booleans())
async def test_put_past_the_stored_offset(client: Client, storage_root: Path, upload: Upload, gap: int, size: int,
                                          chunked: bool) -> None:
    """A chunk that leaves a gap after the stored bytes (kept apart from the sequences above so that its
    answer, the documented retryable 503, cannot hide their failures)."""
    url = await make(client, upload)
    stored, length = await stored_state(client, url)
    start = stored + gap
    total = length if length is not None else start + size
    await send(client, "PUT", url, {"Content-Range": f"bytes {start}-{start + size - 1}/{total}"}, b"x" * size,
               as_chunks=chunked)
    await assert_storage_has_records(client, storage_root)


# -- raw framing: Content-Length and Transfer-Encoding as the bytes on the wire -------------------------

LENGTHS = ["{n}", "0{n}", " {n} ", "+{n}", "-{n}", "{n}.0", "0x{n}", "{n}, {n}", "{n},{n}", "{n} {n}",
           "\u0660{n}", "99999999999999999999999999", ""]
CHUNK_SIZES = ["{x}", "{x};ext=1", "{x} ", "0{x}", "0x{x}", "-{x}", "+{x}", "{x}\t", "ffffffffffffffffff"]


@fuzz_settings(60)
@given(upload=uploads, content_range=st.sampled_from(["bytes 0-4/5", "bytes 0-4/*", "bytes 0-9/10", "bytes */5"]),
       framing=st.one_of(st.builds(lambda form: ("length", form), st.sampled_from(LENGTHS)),
                         st.builds(lambda form: ("chunked", form), st.sampled_from(CHUNK_SIZES))),
       both=st.booleans())
async def test_put_raw_framing(client: Client, storage_root: Path, upload: Upload, content_range: str,
                               framing: tuple[str, str], both: bool) -> None:
    """Content-Length in odd spellings, chunk sizes in odd spellings, and both framings at once."""
    url = await make(client, upload)
    body = b"hello"
    kind, form = framing
    headers = [(b"Content-Range", content_range.encode())]
    if kind == "length":
        headers.append((b"Content-Length", form.format(n=len(body)).encode()))
        if both:
            headers.append((b"Transfer-Encoding", b"chunked"))
        wire = body
    else:
        headers.append((b"Transfer-Encoding", b"chunked"))
        if both:
            headers.append((b"Content-Length", b"5"))
        wire = form.format(x=len(body)).encode() + b"\r\n" + body + b"\r\n0\r\n\r\n"
    await send_raw(client, "PUT", path_of(client, url).encode(), headers, wire)
    await assert_storage_has_records(client, storage_root)


@fuzz_settings(20)
@given(document=st.one_of(st.binary(max_size=30), st.just(json.dumps({"a": 1}).encode())))
async def test_put_on_the_collection_and_unknown_uploads(client: Client, storage_root: Path, document: bytes) -> None:
    for target in ("/files/", "/files/unknown-upload", "/files/unknown-upload/tus"):
        await send(client, "PUT", target, {"Content-Range": f"bytes 0-{max(len(document), 1) - 1}/*"}, document)
    await assert_storage_has_records(client, storage_root)
