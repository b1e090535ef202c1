"""Journals: how a storage backend's durable steps reach Redis (see ``storage.base.Journal``)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from gateway.models import Commit, Part, Segment
from gateway.state.base import UploadStore

Action = Callable[[], Awaitable[None]]


class RedisJournal:
    """Commits straight to Redis, fenced by the lock token."""

    def __init__(self, state: UploadStore, upload_id: str, token: str) -> None:
        self.state = state
        self.upload_id = upload_id
        self.token = token
        self._actions: list[Action] = []

    async def commit(self, commit: Commit) -> None:
        await self.state.commit(self.upload_id, self.token, commit)

    async def parts(self) -> list[Part]:
        return await self.state.parts(self.upload_id)

    async def segments(self) -> list[Segment]:
        return await self.state.segments(self.upload_id)

    def on_durable(self, action: Action) -> None:
        self._actions.append(action)

    async def run_actions(self) -> None:
        actions, self._actions = self._actions, []
        for action in actions:
            with contextlib.suppress(Exception):
                await action()


class DeferredJournal(RedisJournal):
    """Holds commits back until :meth:`flush` (the checksum extension: a chunk whose checksum does not
    match must leave the offset unchanged, so nothing may be committed before the whole body is checked)."""

    def __init__(self, state: UploadStore, upload_id: str, token: str) -> None:
        super().__init__(state, upload_id, token)
        self.pending: list[Commit] = []

    async def commit(self, commit: Commit) -> None:
        self.pending.append(commit)

    async def flush(self) -> None:
        for commit in self.pending:
            await self.state.commit(self.upload_id, self.token, commit)
        self.pending = []

    def discard(self) -> None:
        self.pending = []
        self._actions = []
