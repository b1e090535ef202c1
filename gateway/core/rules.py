"""The rules of an upload's bytes, whatever the dialect: where an append may start, how much it may
carry, when a length may be declared, what a concatenation may add up to, when an upload expires.

Pure functions over :class:`~gateway.models.Upload` values (h11's idea: the protocol's rules with no
I/O); :class:`~gateway.service.UploadService` applies them under the upload's lock. Each raises the
error the request gets.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import BadRequest, Forbidden, OffsetMismatch, PayloadTooLarge
from gateway.models import ConcatKind, Upload


def append_limit(upload: Upload, offset: int, claimed: int | None, room: int) -> int:
    """How many bytes an append at ``offset`` may store. ``claimed`` is what the request says it
    carries (None: unknown, e.g. chunked); ``room`` is what a deferred-length upload may still take.

    A claim past the limit is refused before anything is read, and no more than the claim is stored."""
    if upload.concat is ConcatKind.FINAL:
        raise Forbidden("a final upload of a concatenation cannot be appended to")
    if offset != upload.offset:
        raise OffsetMismatch(f"this request starts at byte {offset} but the upload holds {upload.offset} bytes",
                             headers={"Upload-Offset": str(upload.offset)})
    limit = upload.remaining if upload.remaining is not None else room
    if claimed is not None and claimed > limit:
        what = "length" if upload.length is not None else "maximum size"
        raise PayloadTooLarge(f"{claimed} bytes at offset {offset} exceed the upload's {what}")
    return limit if claimed is None else claimed


def declared_length(upload: Upload, length: int, *, max_size: int, room: int) -> int | None:
    """The length to record for a deferred upload (None: it is already recorded as that)."""
    if upload.length is not None:
        if upload.length != length:
            raise BadRequest(f"the upload's length is already {upload.length} bytes and cannot change to {length}")
        return None
    if length < upload.offset:
        raise BadRequest(f"a length of {length} bytes is below the {upload.offset} bytes already stored")
    check_length(length, max_size)
    if length > upload.offset + room:
        raise PayloadTooLarge(f"a length of {length} bytes would take a final upload that lists this one "
                              f"above the maximum of {max_size}")
    return length


def check_length(length: int, max_size: int) -> None:
    if length > max_size:
        raise PayloadTooLarge(f"a length of {length} bytes is above the maximum upload size of {max_size}")


def is_finished(upload: Upload) -> bool:
    """Every byte is stored (the object is not necessarily made whole yet)."""
    return upload.length is not None and upload.offset == upload.length


def held(upload: Upload) -> int:
    """The bytes an upload counts toward a final one: its length, or what it holds so far."""
    return upload.length if upload.length is not None else upload.offset


def room_in_finals(upload: Upload, others_by_final: Sequence[Sequence[Upload]], max_size: int) -> int:
    """How many more bytes ``upload`` may take, by ``max_size`` and by every final upload that lists it
    (each given as the other partials it lists)."""
    room = max_size - upload.offset
    for others in others_by_final:
        room = min(room, max_size - sum(held(p) for p in others) - upload.offset)
    return max(room, 0)


def check_partials(ids: Sequence[str], *, max_parts: int) -> None:
    if not ids:
        raise BadRequest("a final upload needs at least one partial upload")
    if len(set(ids)) != len(ids):
        raise BadRequest("a partial upload is listed more than once")
    if len(ids) > max_parts:
        raise BadRequest(f"a final upload takes at most {max_parts} partial uploads")


def check_partial(upload: Upload) -> None:
    if upload.concat is not ConcatKind.PARTIAL:
        raise BadRequest(f"upload {upload.id} was not created with Upload-Concat: partial")


def concat_total(partials: Sequence[Upload], max_size: int) -> int:
    """What the partials add up to (their lengths, or what they hold so far), within ``max_size``."""
    total = sum(held(p) for p in partials)
    if total > max_size:
        raise PayloadTooLarge(f"the partial uploads add up to {total} bytes, above the maximum of {max_size}")
    return total


def expiry(now: float, expiration: float, deadline: float | None) -> float:
    """Unfinished uploads expire ``expiration`` after their last write, never past a deadline (a direct
    upload's ``timeout``)."""
    sliding = now + expiration
    return sliding if deadline is None else min(sliding, deadline)


def terminable(upload: Upload, *, by_client: bool) -> None:
    """A client may not remove an upload that became an asset: its bytes belong to the asset."""
    if by_client and upload.complete and upload.extra.get("direct"):
        raise Forbidden("this upload became an asset; delete the asset through the API instead")
