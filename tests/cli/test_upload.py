"""``python -m gateway upload`` against real gateway and worker processes (upload URLs through a throttling
proxy where a test needs time to interrupt): a clip becomes a ready asset (human summary and ``--json``); an
upload interrupted with SIGINT continues from the server's offset on the next run and survives a dropped
connection; random bytes end errored (exit 1); a wrong token (2), a missing file (2) and no gateway (3) are
clear errors; a cancelled or lost stored upload starts fresh; an empty file's upload errors (1)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import MIB, cli_env, head_offset, offset_reaches, run_cli, start_cli, state_record, wait_for
from tests.cli.proxy import ThrottledProxy
from tests.conftest import AUTH
from tests.e2e.test_worker import api
from upgw.state import FileIdentity, StateStore

pytestmark = pytest.mark.parametrize("backend", ["filesystem"], indirect=True)


def test_clip_becomes_a_ready_asset_with_summary_and_json(
        gateway_factory: Any, worker_factory: Any, two_second_clip: Path, tmp_path: Path) -> None:
    gateway = gateway_factory()
    worker_factory()
    state = tmp_path / "state"

    human = run_cli(two_second_clip, gateway.url, state)
    assert human.returncode == 0, human.stderr
    match = re.search(r"^asset\s+(\w+)$", human.stdout, re.M)
    assert match is not None, human.stdout
    assert re.search(r"^status\s+ready$", human.stdout, re.M) and "320x240" in human.stdout
    assert api(gateway.url, "GET", f"/video/v1/assets/{match.group(1)}")["data"]["status"] == "ready"
    assert f"complete ({two_second_clip.stat().st_size} bytes" in human.stderr
    assert not list(state.glob("*.json"))     # the resume state is gone once the asset is final

    machine = run_cli(two_second_clip, gateway.url, state, "--json", "--master-access",
                      "--passthrough", "cli-42", "--max-resolution-tier", "1080p", "--chunk-size", "64KiB")
    assert machine.returncode == 0, machine.stderr
    asset = json.loads(machine.stdout)
    assert asset["status"] == "ready" and abs(asset["duration"] - 2.0) < 0.2
    assert asset["id"] != match.group(1)      # a second run after a finished one is a new upload
    assert asset["passthrough"] == "cli-42" and asset["max_resolution_tier"] == "1080p"
    assert asset["master"]["status"] == "ready" and asset["master"]["url"].startswith("http")
    assert {t["type"] for t in asset["tracks"]} == {"video", "audio"}


def test_interrupted_upload_resumes_and_survives_a_dropped_connection(
        gateway_factory: Any, worker_factory: Any, proxy: ThrottledProxy, tmp_path: Path) -> None:
    proxy.rate = 4 * MIB
    gateway = gateway_factory(server={"public_url": proxy.url})   # upload URLs go through the proxy
    proxy.target_port = gateway.port
    worker_factory()
    state = tmp_path / "state"
    data = os.urandom(20 * MIB)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(data)

    first = start_cli(junk, gateway.url, state, "--chunk-size", "1MiB")
    wait_for(offset_reaches(state, 3 * MIB), 30, "the first run to store 3 MiB")
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=10)
    assert first.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again" in stderr
    record = state_record(state)
    assert record is not None
    stored = head_offset(str(record["upload_url"]))
    assert 3 * MIB <= stored < len(data)

    proxy.reset_count()
    second = start_cli(junk, gateway.url, state, "--chunk-size", "1MiB")
    wait_for(lambda: head_offset(str(record["upload_url"])) >= stored + 2 * MIB, 30, "the second run to move on")
    wait_for(lambda: proxy.drop() > 0, 10, "a chunk in flight to cut")   # the network goes away mid-chunk...
    proxy.rate = None                          # ...and comes back fast
    stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == 1, stderr      # random bytes: the asset errors
    assert f"resuming upload {record['upload_id']}: the gateway has {stored} of {len(data)} bytes" in stderr
    assert "retrying" in stderr
    assert re.search(r"^status\s+errored$", stdout, re.M) and "invalid_input" in stdout
    # the second run sent only what the server did not have yet (plus request headers)
    assert len(data) - stored <= proxy.forwarded < len(data) - stored + 256 * 1024
    assert state_record(state) is None
    request = urllib.request.Request(str(record["upload_url"]), headers=AUTH)
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.read() == data


def test_wrong_token_missing_file_and_no_gateway_are_clear_errors(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = gateway_factory()
    state = tmp_path / "state"
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)

    wrong = run_cli(small, gateway.url, state, "--token", "test:not-the-secret")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "rejected the API token (401" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not state.exists() or not list(state.glob("*.json"))

    missing = run_cli(tmp_path / "nope.mp4", gateway.url, state)
    assert missing.returncode == 2 and "not a readable file" in missing.stderr

    # the console script, against a port nobody listens on
    upgw = Path(sys.executable).with_name("upgw")
    unreachable = subprocess.run([str(upgw), "upload", str(small), "--url", "http://127.0.0.1:9", "--retries", "1",
                                  "--state-dir", str(state)], env=cli_env(), capture_output=True, text=True,
                                 timeout=30)
    assert unreachable.returncode == 3 and "gave up after 2 attempts" in unreachable.stderr


def test_cancelled_stored_upload_starts_fresh_and_empty_file_errors(
        gateway_factory: Any, proxy: ThrottledProxy, tmp_path: Path) -> None:
    proxy.rate = 2 * MIB
    gateway = gateway_factory(server={"public_url": proxy.url})
    proxy.target_port = gateway.port
    state = tmp_path / "state"
    video = tmp_path / "video.bin"
    video.write_bytes(os.urandom(8 * MIB))

    first = start_cli(video, gateway.url, state, "--chunk-size", "256KiB", "--no-wait")
    wait_for(offset_reaches(state, 512 * 1024), 30, "some bytes stored")
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=10)
    assert first.returncode == 130
    record = state_record(state)
    assert record is not None
    api(gateway.url, "PUT", f"/video/v1/uploads/{record['upload_id']}/cancel")

    proxy.rate = None
    again = run_cli(video, gateway.url, state, "--no-wait", "--json")
    assert again.returncode == 0, again.stderr
    assert "cannot be continued" in again.stderr and "starting a new upload" in again.stderr
    upload = json.loads(again.stdout)
    assert upload["id"] != record["upload_id"] and upload["status"] == "asset_created"

    # a stored upload whose URL answers 404 although the API still lists it as waiting: also a fresh start
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(MIB))
    waiting = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    lost = {**waiting, "url": waiting["url"] + "-lost"}
    StateStore(state).save(FileIdentity.of(other, gateway.url), lost)
    again = run_cli(other, gateway.url, state, "--no-wait")
    assert again.returncode == 0, again.stderr
    assert f"the upload at {lost['url']} is gone (HTTP 404)" in again.stderr
    assert "starting a new upload" in again.stderr and "asset_created" in again.stdout

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    errored = run_cli(empty, gateway.url, state)
    assert errored.returncode == 1 and "errored" in errored.stderr
