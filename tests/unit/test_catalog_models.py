"""The catalog's state machines: each transition table allows exactly the moves listed here (every pair of
statuses is tried), and the record checks the stores run before every write refuse the rest."""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from gateway.catalog.models import (
    ASSET_TRANSITIONS,
    FILE_TRANSITIONS,
    MASTER_TRANSITIONS,
    RENDITIONS_TRANSITIONS,
    UPLOAD_TRANSITIONS,
    Asset,
    AssetStatus,
    DirectUpload,
    FileStatus,
    Master,
    MasterStatus,
    Progress,
    ProgressState,
    RenditionFile,
    RenditionsStatus,
    StaticRenditions,
    UploadStatus,
    advance,
    check_asset,
    check_upload,
)
from gateway.errors import GatewayError, InvalidTransition

U, A, M, R, F = UploadStatus, AssetStatus, MasterStatus, RenditionsStatus, FileStatus

# name -> (table, every status of the machine, the moves it allows)
MACHINES: dict[str, tuple[Mapping[Any, frozenset[Any]], list[Any], set[tuple[Any, Any]]]] = {
    "upload": (UPLOAD_TRANSITIONS, list(U), {
        (U.WAITING, U.ASSET_CREATED), (U.WAITING, U.ERRORED), (U.WAITING, U.CANCELLED), (U.WAITING, U.TIMED_OUT)}),
    "asset": (ASSET_TRANSITIONS, list(A), {(A.PREPARING, A.READY), (A.PREPARING, A.ERRORED)}),
    "master": (MASTER_TRANSITIONS, [None, *M], {
        (None, M.PREPARING), (None, M.ERRORED),
        (M.PREPARING, M.READY), (M.PREPARING, M.ERRORED), (M.PREPARING, None),
        (M.READY, M.PREPARING), (M.READY, None),
        (M.ERRORED, None)}),
    "static renditions": (RENDITIONS_TRANSITIONS, list(R), {(R.PREPARING, R.READY), (R.PREPARING, R.ERRORED)}),
    "rendition file": (FILE_TRANSITIONS, list(F), {
        (F.PREPARING, F.READY), (F.PREPARING, F.SKIPPED), (F.PREPARING, F.ERRORED)}),
}


def every_pair() -> Iterator[Any]:
    for name, (_, states, allowed) in MACHINES.items():
        for current in states:
            for to in states:
                yield pytest.param(name, current, to, (current, to) in allowed, id=f"{name}:{current}->{to}")


@pytest.mark.parametrize("name", list(MACHINES))
def test_every_status_has_a_row_and_names_only_statuses(name: str) -> None:
    table, states, _ = MACHINES[name]
    assert set(table) == set(states)
    assert all(targets <= set(states) for targets in table.values())


@pytest.mark.parametrize(("name", "current", "to", "allowed"), list(every_pair()))
def test_advance_allows_exactly_the_listed_moves(name: str, current: Hashable, to: Hashable, allowed: bool) -> None:
    table = MACHINES[name][0]
    if allowed:
        assert advance(table, current, to, machine=name) == to
    else:
        with pytest.raises(InvalidTransition, match="is not an allowed transition"):
            advance(table, current, to, machine=name)


def test_an_invalid_transition_is_an_internal_error() -> None:
    with pytest.raises(GatewayError) as caught:
        advance(ASSET_TRANSITIONS, A.READY, A.PREPARING, machine="asset x")
    assert caught.value.status == 500 and caught.value.type == "internal_error"
    assert "asset x: ready -> preparing" in caught.value.message


# -- the record checks -------------------------------------------------------------------------------

def upload(status: UploadStatus = U.WAITING) -> DirectUpload:
    return DirectUpload(id="u1", status=status, timeout=3600, new_asset_settings={}, test=False,
                        storage_upload="s1", asset_id="a1", created=1.0)


def file(status: FileStatus = F.PREPARING, file_id: str = "f1") -> RenditionFile:
    return RenditionFile(id=file_id, name="highest.mp4", ext="mp4", resolution="highest", status=status)


def asset(status: AssetStatus = A.PREPARING, **fields: Any) -> Asset:
    return Asset(id="a1", status=status, created_at=1, created=1.0, upload_id="u1", source="s1",
                 progress=Progress(ProgressState.INGESTING, 0), **fields)


@pytest.mark.parametrize(("current", "to"), [(c, t) for c in U for t in U if c != t])
def test_check_upload_follows_the_table(current: UploadStatus, to: UploadStatus) -> None:
    old, new = upload(current), upload(to)
    if (current, to) in MACHINES["upload"][2]:
        check_upload(old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_upload(old, new)


def test_changes_that_keep_the_status_are_not_transitions() -> None:
    check_upload(upload(U.CANCELLED), replace(upload(U.CANCELLED), deadline=5.0))
    check_asset(asset(A.READY), replace(asset(A.READY), passthrough="p"))
    ready = Master(M.READY, url="https://x/1")
    check_asset(asset(A.READY, master=ready), asset(A.READY, master=replace(ready, url="https://x/2")))


def test_a_record_cannot_change_its_id() -> None:
    with pytest.raises(InvalidTransition):
        check_upload(upload(), replace(upload(), id="u2"))
    with pytest.raises(InvalidTransition):
        check_asset(asset(), replace(asset(), id="a2"))


@pytest.mark.parametrize(("current", "to"), [(c, t) for c in A for t in A if c != t])
def test_check_asset_follows_the_asset_table(current: AssetStatus, to: AssetStatus) -> None:
    if (current, to) in MACHINES["asset"][2]:
        check_asset(asset(current), asset(to))
    else:
        with pytest.raises(InvalidTransition):
            check_asset(asset(current), asset(to))


MASTERS = [None, *M]


@pytest.mark.parametrize(("current", "to"), [(c, t) for c in MASTERS for t in MASTERS if c != t])
def test_check_asset_follows_the_master_table(current: MasterStatus | None, to: MasterStatus | None) -> None:
    old = asset(master=None if current is None else Master(current))
    new = asset(master=None if to is None else Master(to))
    if (current, to) in MACHINES["master"][2]:
        check_asset(old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_asset(old, new)


@pytest.mark.parametrize(("current", "to"), [(c, t) for c in F for t in F if c != t])
def test_check_asset_follows_the_rendition_tables(current: FileStatus, to: FileStatus) -> None:
    old = asset(static_renditions=StaticRenditions(R.PREPARING, (file(current),)))
    new = asset(static_renditions=StaticRenditions(R.PREPARING, (file(to),)))
    if (current, to) in MACHINES["rendition file"][2]:
        check_asset(old, new)
    else:
        with pytest.raises(InvalidTransition):
            check_asset(old, new)
    with pytest.raises(InvalidTransition):   # and the whole: ready is final
        check_asset(asset(static_renditions=StaticRenditions(R.READY, (file(F.READY),))),
                    asset(static_renditions=StaticRenditions(R.ERRORED, (file(F.READY),))))


def test_static_renditions_are_chosen_when_the_asset_is_created() -> None:
    chosen = StaticRenditions(R.PREPARING, (file(), file(file_id="f2")))
    for before, after in ((None, chosen), (chosen, None),
                          (chosen, replace(chosen, files=chosen.files[:1])),
                          (chosen, replace(chosen, files=chosen.files[::-1]))):
        with pytest.raises(InvalidTransition):
            check_asset(asset(static_renditions=before), asset(static_renditions=after))
