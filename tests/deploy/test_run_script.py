"""``bash scripts/run.sh`` (the README's run command) as a user and a service manager run it: the banner
comes once the gateway answers, and TERM, HUP or INT to the script stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, TOKEN_ID, TOKEN_SECRET
from tests.servers import free_port


def session_processes(sid: int) -> list[str]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [row[2] for row in rows if len(row) == 3 and row[1] == str(sid) and row[0] != str(sid)]


def default_signals() -> None:
    """Start the script as a terminal or a service manager would: HUP and INT not ignored. (A shell
    cannot trap a signal ignored when it started, and pytest run under ``nohup`` or with ``&`` in a
    script passes HUP or INT on ignored.)"""
    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["TERM", "HUP", "INT"])
def test_run_script_prints_when_ready_and_stops_everything(tmp_path: Path, sig: signal.Signals) -> None:
    port, redis_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "server": {"host": "127.0.0.1", "port": port, "public_url": f"http://127.0.0.1:{port}"},
        "storage": {"backend": "filesystem", "filesystem": {"root": str(tmp_path / "storage")}},
        "auth": {"tokens": [{"id": TOKEN_ID, "secret": TOKEN_SECRET}]},
        "log": {"level": "WARNING"},
    }))
    env: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("UPGW_")}
    env.update(UPGW_REDIS_PORT=str(redis_port), UPGW_VAR_DIR=str(tmp_path / "var"))
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(["bash", "scripts/run.sh", str(config)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_signals)
    try:
        deadline = time.monotonic() + 120   # the first run may install the runtime packages
        while "is running" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()
            time.sleep(0.2)
        # the banner came after the gateway was ready, not before
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
            assert resp.status == 200
        started = session_processes(proc.pid)
        assert any("redis-server" in p for p in started) and any("-m gateway" in p for p in started)
        assert any("-m workers" in p for p in started)
        os.kill(proc.pid, sig)            # the script only, as a service manager or a terminal would
        proc.wait(30)
        deadline = time.monotonic() + 15
        while (left := session_processes(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, left
    finally:
        if proc.poll() is None:
            proc.kill()
        with_pg = subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)], check=False)
        assert with_pg.returncode in (0, 1)
