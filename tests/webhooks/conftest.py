"""Fixtures for the webhook tests: a real receiver, one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().up()
    yield server
    server.close()
