"""The uploader as the README tells a new user to run it: from any directory, by the venv's ``upgw``,
``python -m upgw`` or ``python -m gateway upload``; and it is a client that loads no server clients."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import cli_env

VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
@pytest.mark.parametrize("command", [
    [str(VENV_BIN / "upgw")],
    [sys.executable, "-m", "upgw"],
    [sys.executable, "-m", "gateway", "upload"],
], ids=["upgw", "python -m upgw", "python -m gateway upload"])
def test_documented_commands_upload_from_any_directory(command: list[str], gateway_factory: Any,
                                                       tmp_path: Path) -> None:
    gateway = gateway_factory()
    file = tmp_path / "notes.bin"
    file.write_bytes(os.urandom(300_000))
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()
    args = [*command] if command[-1] == "upload" else [*command, "upload"]
    done = subprocess.run([*args, str(file), "--url", gateway.url, "--no-wait", "--json",
                           "--state-dir", str(tmp_path / "state")],
                          cwd=elsewhere, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "complete (300000 bytes" in done.stderr


def test_the_uploader_imports_no_server_clients() -> None:
    code = ("import sys, upgw, upgw.upload, upgw.transfer, upgw.wait\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'minio', 'saq', 'pydantic', "
            "'yaml', 'prometheus_client'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"
