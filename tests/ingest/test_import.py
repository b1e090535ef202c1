"""import_url into the real upload service (real Redis, both storage backends) from a real source on
loopback: whole imports, resumption after a broken body, a source that changed, error answers, servers
that ignore Range, size limits, redirects. The source's log shows what each call asked for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.ingest import (
    IngestRefused,
    SourceInterrupted,
    SourceInvalid,
    SourceStatus,
    SourceTooLarge,
    import_url,
)
from gateway.service import UploadService
from gateway.settings import IngestSettings
from tests.conftest import service_of
from tests.ingest.conftest import Source, SourceFile, last_modified

Client = TestClient[Any, Any]
MiB = 1024 * 1024


async def new_upload(service: UploadService) -> str:
    upload = await service.create(length=None, metadata="filename dmlkZW8ubXA0", extra={"owner": "someone"})
    return upload.id


async def stored(service: UploadService, upload_id: str) -> bytes:
    upload = await service.get(upload_id)
    assert upload.complete and upload.length is not None
    return b"".join([chunk async for chunk in service.read(upload, 0, upload.length)])


async def test_a_whole_import_stores_every_byte(client: Client, source: Source) -> None:
    service, data = service_of(client), os.urandom(3 * MiB + 17)
    source.files["a"] = SourceFile(data)
    upload_id = await new_upload(service)
    upload = await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert upload.complete and upload.offset == upload.length == len(data)
    assert await stored(service, upload_id) == data
    assert [(h.range, h.status, h.sent) for h in source.hits] == [(None, 200, len(data))]
    assert upload.extra["src_etag"] == '"v1"' and upload.extra["owner"] == "someone"
    # a finished import is not fetched again
    assert (await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)).complete
    assert len(source.hits) == 1


async def test_a_broken_body_resumes_from_the_stored_offset(client: Client, source: Source) -> None:
    service, data = service_of(client), os.urandom(4 * MiB + 3)
    source.files["a"] = SourceFile(data, drop_after=2 * MiB + 5)
    upload_id = await new_upload(service)
    with pytest.raises(SourceInterrupted) as caught:
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    upload = await service.get(upload_id)
    # progress: the bytes that arrived are kept, and the length is known from the first answer
    assert caught.value.retryable and caught.value.offset == upload.offset
    assert 0 < upload.offset <= 2 * MiB + 5 and upload.length == len(data) and not upload.complete
    await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert await stored(service, upload_id) == data
    first, second = source.hits
    assert (first.range, first.status, first.sent) == (None, 200, 2 * MiB + 5)
    # only the rest was asked for, and sent, guarded by the first answer's ETag
    assert (second.range, second.if_range, second.status) == (f"bytes={upload.offset}-", '"v1"', 206)
    assert second.sent == len(data) - upload.offset


async def test_a_cancelled_import_is_finished_by_the_next_call(client: Client, source: Source) -> None:
    """A killed process: the task is cancelled mid-body; the next call asks from what was stored."""
    service, data = service_of(client), os.urandom(2 * MiB)
    source.files["a"] = SourceFile(data, delay=0.01)
    upload_id = await new_upload(service)
    task = asyncio.create_task(import_url(service, upload_id, source.url("/files/a"), settings=source.allowed))
    deadline = time.monotonic() + 10
    while not source.hits or source.hits[0].sent < MiB:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    source.files["a"].delay = 0
    kept = (await service.get(upload_id)).offset
    await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert await stored(service, upload_id) == data
    assert source.hits[-1].range == (f"bytes={kept}-" if kept else None)


def _new_version(how: str, source: Source, old: bytes) -> bytes:
    """Change the source the way ``how`` says; returns its new bytes."""
    item = source.files["a"]
    new = os.urandom(len(old) // 4 if how == "shorter" else len(old) + 1000)
    if how == "etag":                        # the server honours If-Range: a 200 with the new version
        item.change(new, etag='"v2"')
    elif how == "etag-if-range-ignored":     # a 206 of the new version: its ETag gives it away
        item.change(new, etag='"v2"')
        item.honours_if_range = False
    elif how == "last-modified":             # no ETag: If-Range carries the date
        item.change(new, last_modified=last_modified(time.time()))
    elif how == "shorter":                   # now shorter than what is stored: 416
        item.change(new, etag='"v2"')
        item.honours_if_range = False
    elif how == "length-only":               # no validator at all: the total length differs
        item.change(new)
    return new


@pytest.mark.parametrize(("how", "ranges_asked"), [
    ("etag", ["first", "resume"]),                     # the resume's 200 is the new source: taken as is
    ("last-modified", ["first", "resume"]),
    ("etag-if-range-ignored", ["first", "resume", None]),   # the 206 is refused, the source asked again
    ("shorter", ["first", "resume", None]),
    ("length-only", ["first", "resume", None]),
])
async def test_a_source_that_changed_is_imported_again_from_zero(client: Client, source: Source, how: str,
                                                                 ranges_asked: list[str | None]) -> None:
    service, old = service_of(client), os.urandom(2 * MiB)
    validators: dict[str, Any] = {"etag": None} if how == "length-only" else {}
    if how == "last-modified":
        validators = {"etag": None, "last_modified": last_modified(time.time() - 3600)}
    source.files["a"] = SourceFile(old, drop_after=MiB + 1, **validators)
    upload_id = await new_upload(service)
    with pytest.raises(SourceInterrupted):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    before = await service.get(upload_id)
    assert before.offset > 0
    new = _new_version(how, source, old)
    upload = await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert await stored(service, upload_id) == new
    assert upload.length == len(new)
    expected = [None if r == "first" else f"bytes={before.offset}-" if r == "resume" else None
                for r in ranges_asked]
    assert [h.range for h in source.hits] == expected
    assert source.hits[1].if_range == {"length-only": None, "last-modified": before.extra["src_last_modified"]
                                       }.get(how, '"v1"')
    # the same upload, emptied in place: its id, creation time, metadata and other extra fields stay
    assert (upload.id, upload.created_at, upload.metadata) == (before.id, before.created_at, before.metadata)
    assert upload.extra["owner"] == "someone"
    assert upload.extra["src_etag"] == ("" if how in ("length-only", "last-modified") else '"v2"')


async def test_a_source_without_validators_or_range_that_shrank_is_imported_again(client: Client,
                                                                                 source: Source) -> None:
    """Nothing to compare but sizes: a chunked first answer (no length), then a 200 shorter than what is
    stored. The 200 is the new source: the upload is emptied and takes it."""
    service, old = service_of(client), os.urandom(2 * MiB)
    source.files["a"] = SourceFile(old, etag=None, ranges=False, chunked=True, drop_after=MiB + 3)
    upload_id = await new_upload(service)
    with pytest.raises(SourceInterrupted):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    before = await service.get(upload_id)
    assert before.offset > 0 and before.length is None
    new = os.urandom(before.offset // 2)
    source.files["a"] = SourceFile(new, etag=None, ranges=False)
    upload = await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert upload.length == len(new) and await stored(service, upload_id) == new
    assert [(h.range, h.status) for h in source.hits] == [(None, 200), (f"bytes={before.offset}-", 200)]


async def test_error_answers_are_typed_and_store_nothing_more(client: Client, source: Source) -> None:
    service = service_of(client)
    upload_id = await new_upload(service)
    with pytest.raises(SourceStatus, match="the source answered 404 Not Found") as caught:
        await import_url(service, upload_id, source.url("/files/missing"), settings=source.allowed)
    assert caught.value.source_status == 404 and not caught.value.retryable and caught.value.status == 502
    with pytest.raises(SourceStatus, match="500 Internal Server Error") as caught:
        await import_url(service, upload_id, source.url("/status/500"), settings=source.allowed)
    assert caught.value.retryable
    upload = await service.get(upload_id)
    assert (upload.offset, upload.length) == (0, None)
    # a 500 in the middle of an import keeps what arrived before it, and the import goes on afterwards
    data = os.urandom(3 * MiB)
    source.files["a"] = SourceFile(data, drop_after=MiB)
    with pytest.raises(SourceInterrupted):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    kept = (await service.get(upload_id)).offset
    source.files["a"].fail_with = 500
    with pytest.raises(SourceStatus):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert (await service.get(upload_id)).offset == kept
    await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert await stored(service, upload_id) == data


async def test_an_encoded_body_is_refused(client: Client, source: Source) -> None:
    """Accept-Encoding: identity was asked; gzip bytes would be stored as the video's bytes."""
    service = service_of(client)
    source.files["a"] = SourceFile(os.urandom(1000), headers={"Content-Encoding": "gzip"})
    upload_id = await new_upload(service)
    with pytest.raises(SourceInvalid, match="Content-Encoding 'gzip'"):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert (await service.get(upload_id)).offset == 0


async def test_a_server_that_ignores_range_still_works(client: Client, source: Source) -> None:
    service, data = service_of(client), os.urandom(3 * MiB + 1)
    source.files["a"] = SourceFile(data, ranges=False, drop_after=MiB + 7)
    upload_id = await new_upload(service)
    with pytest.raises(SourceInterrupted):
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    kept = (await service.get(upload_id)).offset
    assert kept > 0
    await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert await stored(service, upload_id) == data
    resumed = source.hits[1]
    assert (resumed.range, resumed.status, resumed.sent) == (f"bytes={kept}-", 200, len(data))


async def test_a_content_length_past_max_size_is_refused_before_reading(client: Client, source: Source) -> None:
    service = service_of(client)
    upload_id = await new_upload(service)
    too_long = service.settings.max_size + 1
    with pytest.raises(SourceTooLarge, match=f"the source is {too_long} bytes, above the maximum") as caught:
        await import_url(service, upload_id, source.url(f"/huge?length={too_long}"), settings=source.allowed)
    assert caught.value.status == 413 and isinstance(caught.value, IngestRefused)
    upload = await service.get(upload_id)
    assert (upload.offset, upload.length) == (0, None)


async def test_a_chunked_source_stops_at_max_size(client_factory: Any, source: Source) -> None:
    service = service_of(await client_factory(uploads={"max_size": "1MiB"}))
    source.files["a"] = SourceFile(os.urandom(2 * MiB), chunked=True)
    upload_id = await new_upload(service)
    with pytest.raises(SourceTooLarge, match="more than the upload may hold") as caught:
        await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert caught.value.offset == MiB and (await service.get(upload_id)).offset == MiB


async def test_a_chunked_source_gets_its_length_where_it_ends(client: Client, source: Source) -> None:
    service, data = service_of(client), os.urandom(MiB + MiB // 2)
    source.files["a"] = SourceFile(data, chunked=True, etag=None)
    source.files["empty"] = SourceFile(b"")
    upload_id, empty_id = await new_upload(service), await new_upload(service)
    upload = await import_url(service, upload_id, source.url("/files/a"), settings=source.allowed)
    assert upload.complete and upload.length == len(data)
    assert await stored(service, upload_id) == data
    empty = await import_url(service, empty_id, source.url("/files/empty"), settings=source.allowed)
    assert empty.complete and empty.length == 0


async def test_redirects_are_followed_on_every_call(client: Client, source: Source) -> None:
    service, data = service_of(client), os.urandom(2 * MiB)
    source.files["a"] = SourceFile(data, drop_after=MiB)
    upload_id = await new_upload(service)
    with pytest.raises(SourceInterrupted):
        await import_url(service, upload_id, source.url("/redirect/3/a"), settings=source.allowed)
    await import_url(service, upload_id, source.url("/redirect/3/a"), settings=source.allowed)
    assert await stored(service, upload_id) == data
    paths = [h.path for h in source.hits]
    assert paths == ["/redirect/3/a", "/redirect/2/a", "/redirect/1/a", "/files/a"] * 2
    assert source.hits[-1].range is not None and source.hits[-1].status == 206


async def test_a_refused_url_leaves_the_upload_untouched(client: Client, source: Source) -> None:
    service = service_of(client)
    source.files["a"] = SourceFile(os.urandom(1000))
    upload_id = await new_upload(service)
    nothing_allowed = IngestSettings()
    for url in (source.url("/files/a"), source.url("/files/a", host="localhost"), "file:///etc/passwd",
                f"http://2130706433:{source.port}/files/a", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(IngestRefused):
            await import_url(service, upload_id, url, settings=nothing_allowed)
    with pytest.raises(IngestRefused, match="too many redirects"):
        await import_url(service, upload_id, source.url("/redirect/6/a"), settings=source.allowed)
    upload = await service.get(upload_id)
    assert (upload.offset, upload.length) == (0, None)
    assert all(h.path.startswith("/redirect/") for h in source.hits)
