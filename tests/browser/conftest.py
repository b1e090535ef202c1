"""Fixtures for the browser tests: the harness page's static server (session-wide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.harness import PageServer, serve_page


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    with serve_page() as server:
        yield server
