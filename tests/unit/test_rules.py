"""The rules of an upload's bytes (gateway/core/rules.py), one test per rule, no I/O."""

from __future__ import annotations

import pytest

from gateway.core import rules
from gateway.errors import BadRequest, Forbidden, OffsetMismatch, PayloadTooLarge
from gateway.models import ConcatKind, Upload, UploadState

MAX = 1000


def upload(offset: int = 0, length: int | None = None, **changes: object) -> Upload:
    return Upload(id="u", offset=offset, length=length, part_size=100, created_at=0.0).with_(**changes)


def test_append_limit_is_what_remains_or_the_claim() -> None:
    assert rules.append_limit(upload(10, 100), 10, None, room=990) == 90
    assert rules.append_limit(upload(10, 100), 10, 40, room=990) == 40     # never more than claimed
    assert rules.append_limit(upload(10), 10, None, room=500) == 500        # deferred: the room left
    assert rules.append_limit(upload(100, 100), 100, 0, room=0) == 0


def test_append_must_start_at_the_offset() -> None:
    with pytest.raises(OffsetMismatch) as caught:
        rules.append_limit(upload(10, 100), 5, 1, room=990)
    assert caught.value.headers == {"Upload-Offset": "10"}


def test_a_claim_past_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(PayloadTooLarge, match="length"):
        rules.append_limit(upload(10, 100), 10, 91, room=990)
    with pytest.raises(PayloadTooLarge, match="maximum size"):
        rules.append_limit(upload(10), 10, 501, room=500)


def test_a_final_upload_takes_no_appends() -> None:
    with pytest.raises(Forbidden):
        rules.append_limit(upload(concat=ConcatKind.FINAL), 0, 0, room=MAX)


def test_declared_length() -> None:
    assert rules.declared_length(upload(10), 50, max_size=MAX, room=990) == 50
    assert rules.declared_length(upload(10, 50), 50, max_size=MAX, room=990) is None   # the same again
    with pytest.raises(BadRequest, match="cannot change"):
        rules.declared_length(upload(10, 50), 60, max_size=MAX, room=990)
    with pytest.raises(BadRequest, match="below"):
        rules.declared_length(upload(10), 5, max_size=MAX, room=990)
    with pytest.raises(PayloadTooLarge, match="maximum upload size"):
        rules.declared_length(upload(10), MAX + 1, max_size=MAX, room=990)
    with pytest.raises(PayloadTooLarge, match="final upload"):
        rules.declared_length(upload(10), 500, max_size=MAX, room=100)   # a final listing it would overflow


def test_finished_means_every_byte_stored() -> None:
    assert rules.is_finished(upload(5, 5)) and rules.is_finished(upload(0, 0))
    assert not rules.is_finished(upload(4, 5)) and not rules.is_finished(upload(5))


def test_room_in_finals() -> None:
    partial = upload(100, concat=ConcatKind.PARTIAL)
    assert rules.room_in_finals(partial, [], MAX) == 900
    others = [upload(0, 600), upload(50)]            # a length, and a deferred one holding 50
    assert rules.room_in_finals(partial, [others], MAX) == 250
    assert rules.room_in_finals(partial, [others, [upload(0, 899)]], MAX) == 1
    assert rules.room_in_finals(partial, [[upload(0, MAX)]], MAX) == 0    # never negative


def test_partial_lists() -> None:
    rules.check_partials(["a", "b"], max_parts=2)
    for ids, message in (([], "at least one"), (["a", "a"], "more than once"), (["a", "b", "c"], "at most 2")):
        with pytest.raises(BadRequest, match=message):
            rules.check_partials(ids, max_parts=2)
    rules.check_partial(upload(concat=ConcatKind.PARTIAL))
    with pytest.raises(BadRequest):
        rules.check_partial(upload())


def test_concat_total() -> None:
    assert rules.concat_total([upload(0, 400), upload(300)], MAX) == 700
    with pytest.raises(PayloadTooLarge):
        rules.concat_total([upload(0, 600), upload(401)], MAX)


def test_expiry_slides_but_never_past_the_deadline() -> None:
    assert rules.expiry(100.0, 60.0, None) == 160.0
    assert rules.expiry(100.0, 60.0, 130.0) == 130.0
    assert rules.expiry(100.0, 60.0, 500.0) == 160.0


def test_only_uploads_that_are_not_assets_may_be_terminated_by_clients() -> None:
    asset = upload(5, 5, state=UploadState.COMPLETE, extra={"direct": "d"})
    rules.terminable(asset, by_client=False)          # the API deletes the asset and its source
    rules.terminable(upload(2, 5, extra={"direct": "d"}), by_client=True)
    rules.terminable(upload(5, 5, state=UploadState.COMPLETE), by_client=True)   # a partial, say
    with pytest.raises(Forbidden):
        rules.terminable(asset, by_client=True)
