"""The fuzz tests run against the filesystem backend unless a test parametrises ``backend`` itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def backend() -> str:
    return "filesystem"


@pytest.fixture
def storage_root(settings_data: dict[str, Any]) -> Path:
    return Path(settings_data["storage"]["filesystem"]["root"])
