"""Fuzzing the tus endpoints through the in-process gateway: creation, PATCH sequences, HEAD, GET and
DELETE with generated headers and bodies, and raw bytes aiohttp's client would not send (non-UTF-8
header values, odd upload ids). Every response is below 500, and no stored file lacks its record."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from tests.conftest import AUTH, TUS
from tests.fuzz.support import (
    OCTET,
    Client,
    assert_s3_has_records,
    assert_storage_has_records,
    expect,
    fuzz_settings,
    non_utf8,
    often,
    path_of,
    raw_header_bytes,
    send,
    send_raw,
)
from tests.fuzz.tus_strategies import (
    Creation,
    Final,
    Op,
    Patch,
    Target,
    creations,
    metadata,
    ops,
    ranges,
    targets,
    uints,
)


async def new_upload(client: Client, length: int | None, *, partial: bool = False, metadata: str = "") -> str:
    headers = {**TUS, **AUTH, **({"Upload-Length": str(length)} if length is not None
                                 else {"Upload-Defer-Length": "1"})}
    if partial:
        headers["Upload-Concat"] = "partial"
    if metadata:
        headers["Upload-Metadata"] = metadata
    answer = await send(client, "POST", "/files/", headers)
    assert answer.status == 201, answer
    return answer.headers["Location"]


async def concat_header(client: Client, final: Final) -> str:
    urls = []
    for length, filled in zip(final.lengths, final.filled, strict=False):
        url = await new_upload(client, length, partial=True)
        if filled and length:
            await send(client, "PATCH", url, {**TUS, "Content-Type": OCTET, "Upload-Offset": "0"}, b"x" * length)
        urls.append(url if final.absolute else path_of(client, url))
    pieces = [ref if isinstance(ref, str) else urls[ref % len(urls)] if urls else "/files/nothing"
              for ref in final.refs]
    return "final;" + final.separator.join(pieces)


@fuzz_settings(200)
@given(creation=creations)
async def test_tus_creation(client: Client, storage_root: Path, creation: Creation) -> None:
    await create_and_use(client, creation)
    await assert_storage_has_records(client, storage_root)


@pytest.mark.s3
@pytest.mark.parametrize("backend", ["s3"])
@fuzz_settings(15)
@given(creation=creations)
async def test_tus_creation_s3(client: Client, creation: Creation) -> None:
    """A few creations on the S3 backend: there storage is a multipart upload, begun before the record."""
    await create_and_use(client, creation)
    await assert_s3_has_records(client)


async def create_and_use(client: Client, creation: Creation) -> None:
    headers = creation.headers(await concat_header(client, creation.final) if creation.final else None)
    answer = await send(client, "POST", "/files/", headers, creation.body)
    if answer.status == 201:
        location = answer.headers["Location"]
        described = await send(client, "HEAD", location, TUS)
        expect(described.status == 200, described)
        sent = headers.get("Upload-Metadata", "").strip()
        if sent and "X-HTTP-Method-Override" not in headers:
            expect(described.headers.get("Upload-Metadata") == sent, described)
        for wanted in creation.ranges:
            await send(client, "GET", location, {**AUTH, **({"Range": wanted} if wanted is not None else {})})
        if creation.delete:
            await send(client, "DELETE", location, TUS)


@fuzz_settings(100)
@given(target=targets, sequence=st.lists(ops, min_size=1, max_size=5))
# bytes sent (chunked) to an upload that is already complete
@example(target=Target(0, partial=False, metadata=""),
         sequence=[Patch(delta=0, fuzzed={}, checksum=None, body=b"x", chunked=True, as_post=False)])
async def test_tus_patch_sequence(client: Client, storage_root: Path, target: Target,
                                  sequence: list[Patch | Op]) -> None:
    url = await new_upload(client, target.length, partial=target.partial, metadata=target.metadata)
    for op in sequence:
        if isinstance(op, Op):
            headers = {**(AUTH if op.method == "GET" else TUS), **({"Range": op.range} if op.range else {})}
            await send(client, op.method, url, headers)
            continue
        state = await send(client, "HEAD", url, TUS)
        stored = int(state.headers["Upload-Offset"]) if state.status == 200 else 0
        sent: dict[str, str | None] = {**TUS, "Content-Type": OCTET, "Upload-Offset": str(stored + op.delta)}
        if op.checksum is not None:
            sent["Upload-Checksum"] = op.checksum.header(op.body)
        if op.as_post:
            sent["X-HTTP-Method-Override"] = "PATCH"
        sent.update(op.fuzzed)
        headers = {k: v for k, v in sent.items() if v is not None}
        answer = await send(client, "POST" if op.as_post else "PATCH", url, headers, op.body, as_chunks=op.chunked)
        if answer.status == 204 and not op.fuzzed:   # tus core: a successful PATCH stored exactly its body
            expect(answer.headers["Upload-Offset"] == str(stored + len(op.body)),
                   f"204 for {len(op.body)} bytes at {stored}, but Upload-Offset {answer.headers['Upload-Offset']}")
            after = await send(client, "HEAD", url, TUS)
            expect(after.headers.get("Upload-Offset") == answer.headers["Upload-Offset"], after)
    await assert_storage_has_records(client, storage_root)


@fuzz_settings(60)
@given(size=st.sampled_from([0, 1, 2, 10, 50]), wanted=st.lists(ranges, min_size=1, max_size=3),
       method=st.sampled_from(["GET", "GET", "HEAD"]))
@example(size=10, wanted=[f"bytes={'1' * 5000}-"], method="GET")   # past int()'s 4300 digits
@example(size=0, wanted=["bytes=-5"], method="GET")                 # a suffix of nothing
async def test_download_ranges(client: Client, size: int, wanted: list[str | None], method: str) -> None:
    """Downloads of a finished upload (of 0 to 50 bytes) with any Range."""
    url = await new_upload(client, size)
    if size:
        await send(client, "PATCH", url, {**TUS, "Content-Type": OCTET, "Upload-Offset": "0"}, bytes(range(size)))
    for header in wanted:
        answer = await send(client, method, url, {**AUTH, **({"Range": header} if header is not None else {})})
        if answer.status == 206:   # a partial answer names a real, non-empty part of the file
            served = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", answer.headers.get("Content-Range", ""))
            expect(served is not None and int(served[1]) <= int(served[2]) < int(served[3]) == size,
                   f"206 with Content-Range {answer.headers.get('Content-Range')!r} for {header!r} of {size} bytes")


# -- raw bytes on the wire ---------------------------------------------------------------------------

RAW_VALUES = {   # a header, and valid values of it that get non-UTF-8 bytes spliced in
    "Upload-Metadata": metadata(),
    "Upload-Concat": st.sampled_from(["partial", "final;{p}", "final;{p} {q}", "final;/files/abc"]),
    "Upload-Length": uints,
    "Upload-Defer-Length": st.just("1"),
    "Upload-Offset": st.just("0"),
    "Upload-Checksum": st.sampled_from(["sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", "md5 XrY7u+Ae7tCTyyK7j1rNww=="]),
    "Content-Type": st.just(OCTET),
    "Content-Range": st.sampled_from(["bytes 0-4/5", "bytes */5", "bytes 0-4/*"]),
    "Range": st.sampled_from(["bytes=0-4", "bytes=-2"]),
    "Tus-Resumable": st.just("1.0.0"),
    "X-HTTP-Method-Override": st.sampled_from(["PATCH", "DELETE", "HEAD"]),
    "Authorization": st.just(f"Bearer {AUTH['Authorization'].split()[1]}"),
    "Origin": st.just("http://app.example"),
    "X-Request-ID": st.just("request-1"),
    "Expect": st.just("100-continue"),
}
# the headers of creation, tus metadata and concatenation first (non-UTF-8 bytes there are known to matter)
CREATION_HEADERS = ["Upload-Metadata"] * 4 + ["Upload-Concat"] * 4 + [
    "Upload-Length", "Upload-Defer-Length", "Upload-Checksum", "Content-Type", "Tus-Resumable",
    "X-HTTP-Method-Override", "Authorization", "Origin", "X-Request-ID", "Expect"]
UPLOAD_HEADERS = ["Upload-Offset", "Upload-Length", "Upload-Checksum", "Content-Type", "Content-Range", "Range",
                  "Tus-Resumable", "X-HTTP-Method-Override", "Authorization", "Origin", "X-Request-ID", "Expect",
                  "Upload-Metadata", "Upload-Concat"]


def raw_values(name: str) -> st.SearchStrategy[bytes]:
    return often(non_utf8(RAW_VALUES[name]), raw_header_bytes(), 2)


async def direct_upload(client: Client) -> str:
    made = await send(client, "POST", "/video/v1/uploads", {**AUTH, "Content-Type": "application/json"}, b"{}")
    return path_of(client, str(made.json()["data"]["url"]))


@fuzz_settings(120)
@given(name_value=st.sampled_from(CREATION_HEADERS).flatmap(lambda n: st.tuples(st.just(n), raw_values(n))),
       bound=st.integers(0, 3).map(lambda n: n == 0), body=st.sampled_from([b"", b"hello"]))
@example(name_value=("Upload-Metadata", b"\xfffilename aGVsbG8="), bound=False, body=b"")   # a non-UTF-8 key
@example(name_value=("Upload-Concat", b"final;/files/\xc3\xa9"), bound=False, body=b"")     # non-ASCII
@example(name_value=("Upload-Concat", b"final;{p}\xff"), bound=False, body=b"")
@example(name_value=("Authorization", b"Bearer \xfftest-secret"), bound=False, body=b"")
@example(name_value=("Expect", b"\xff100-continue"), bound=True, body=b"")
async def test_raw_creation_headers(client: Client, storage_root: Path, name_value: tuple[str, bytes], bound: bool,
                                    body: bytes) -> None:
    """POST /files/ (or a direct upload's bound tus endpoint) with one header's bytes not UTF-8."""
    name, value = name_value
    if b"{p}" in value or b"{q}" in value:   # a final concatenation of real partial uploads
        for placeholder in (b"{p}", b"{q}"):
            partial = await new_upload(client, 3, partial=True)
            value = value.replace(placeholder, path_of(client, partial).encode())
    headers = {"Tus-Resumable": b"1.0.0", "Authorization": AUTH["Authorization"].encode(), "Upload-Length": b"5",
               "Content-Type": OCTET.encode()}
    if name == "Upload-Concat" or name == "Upload-Defer-Length":
        del headers["Upload-Length"]
    headers = {k: v for k, v in headers.items() if k != name} | {name: value}
    target = (await direct_upload(client)) + "/tus" if bound else "/files/"
    await send_raw(client, "POST", target.encode(), [(k.encode(), v) for k, v in headers.items()], body)
    await assert_storage_has_records(client, storage_root)


@fuzz_settings(80)
@given(name_value=st.sampled_from(UPLOAD_HEADERS).flatmap(lambda n: st.tuples(st.just(n), raw_values(n))),
       method=st.sampled_from(["PATCH", "PATCH", "HEAD", "PUT", "PUT", "GET", "DELETE", "OPTIONS", "POST"]),
       body=st.sampled_from([b"", b"hello"]), complete=st.booleans())
async def test_raw_upload_headers(client: Client, storage_root: Path, name_value: tuple[str, bytes], method: str,
                                  body: bytes, complete: bool) -> None:
    """Requests on an upload (tus and PUT dialects, downloads) with one header's bytes not UTF-8."""
    name, value = name_value
    target = await direct_upload(client)
    if complete:
        await send(client, "PUT", target, {}, b"12345")
    headers = {"Tus-Resumable": b"1.0.0", "Authorization": AUTH["Authorization"].encode()}
    if method in ("PATCH", "POST"):
        headers.update({"Content-Type": OCTET.encode(), "Upload-Offset": b"0", "Upload-Length": b"5",
                        "X-HTTP-Method-Override": b"PATCH"})
    if method == "PUT":
        headers = {"Content-Range": b"bytes 0-4/5"}
    headers = {k: v for k, v in headers.items() if k != name} | {name: value}
    await send_raw(client, method, target.encode(), [(k.encode(), v) for k, v in headers.items()], body)
    await assert_storage_has_records(client, storage_root)


upload_ids = st.one_of(
    st.binary(min_size=1, max_size=30).map(lambda b: quote_from_bytes(b, safe="").encode()),
    st.lists(st.integers(0x21, 0xFF).filter(lambda b: b not in b"/?#%"), min_size=1, max_size=30).map(bytes),
    st.sampled_from([b"..", b".", b"%2e%2e", b"..%2f..%2fetc", b"%00", b"%ff", b"objects", b".healthz",
                     b"a" * 2000]),
)


@fuzz_settings(50)
@given(upload_id=upload_ids, method=st.sampled_from(["HEAD", "PATCH", "PUT", "GET", "DELETE", "POST", "OPTIONS"]),
       tail=st.sampled_from([b"", b"/tus"]))
async def test_raw_upload_ids(client: Client, storage_root: Path, upload_id: bytes, method: str, tail: bytes) -> None:
    note(f"upload id {upload_id!r}")
    headers = [(b"Tus-Resumable", b"1.0.0"), (b"Authorization", AUTH["Authorization"].encode()),
               (b"Content-Type", OCTET.encode()), (b"Upload-Offset", b"0"), (b"Upload-Length", b"5")]
    if method == "PUT":
        headers = [(b"Content-Range", b"bytes 0-4/5")]
    await send_raw(client, method, b"/files/" + upload_id + tail, headers, b"hello" if method != "HEAD" else b"")
    await assert_storage_has_records(client, storage_root)
