"""``upgw upload --protocol ietf`` against real gateway and worker processes, its upload URLs through the
throttling proxy, which keeps every request's head: the bytes go to the direct upload's ``url`` with the
IETF Resumable Uploads draft (interop version 6: an empty creation declaring the length, then
``application/partial-upload`` appends, never a tus header); a clip becomes a ready asset; an upload
interrupted with SIGINT resumes from HEAD's offset on the next run and survives a dropped connection; an
upload begun with tus is finished with the draft."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli.conftest import MIB, head_offset, run_cli, start_cli, state_record, wait_for
from tests.cli.proxy import SeenRequest, ThrottledProxy
from tests.conftest import AUTH
from tests.e2e.test_worker import api

pytestmark = pytest.mark.parametrize("backend", ["filesystem"], indirect=True)

INTEROP = "upload-draft-interop-version"


def assert_ietf(requests: list[SeenRequest], path: str) -> None:
    """Every request went to the upload's own URL in the draft's interop version 6, none in tus."""
    assert requests, "the proxy saw no request"
    for seen in requests:
        assert seen.path == path, seen
        assert seen.headers.get(INTEROP) == "6" and "tus-resumable" not in seen.headers, seen
        if seen.method == "PATCH":
            assert seen.headers["content-type"] == "application/partial-upload", seen
            assert seen.headers["upload-complete"] in ("?0", "?1"), seen


def appended(patches: list[SeenRequest]) -> list[tuple[int, int, str]]:
    """(offset, bytes, completeness) of each append."""
    return [(int(p.headers["upload-offset"]), int(p.headers["content-length"]), p.headers["upload-complete"])
            for p in patches]


def stored_bytes(upload_url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(upload_url, headers=AUTH), timeout=30) as resp:
        body: bytes = resp.read()
        return body


def test_ietf_upload_of_a_clip_becomes_a_ready_asset(
        gateway_factory: Any, worker_factory: Any, proxy: ThrottledProxy, two_second_clip: Path,
        tmp_path: Path) -> None:
    gateway = gateway_factory(server={"public_url": proxy.url})   # upload URLs go through the proxy
    proxy.target_port = gateway.port
    worker_factory()
    size = two_second_clip.stat().st_size
    chunk = 64 * 1024
    assert size > 3 * chunk

    done = run_cli(two_second_clip, gateway.url, tmp_path / "state", "--protocol", "ietf", "--json",
                   "--chunk-size", "64KiB")
    assert done.returncode == 0, done.stderr
    asset = json.loads(done.stdout)
    assert asset["status"] == "ready" and abs(asset["duration"] - 2.0) < 0.2, asset
    assert f"complete ({size} bytes" in done.stderr

    requests = list(proxy.requests)
    path = requests[0].path
    assert_ietf(requests, path)
    creation, patches = requests[0], requests[1:]
    assert creation.method == "POST" and creation.headers["upload-complete"] == "?0", creation
    assert creation.headers["upload-length"] == str(size) and creation.headers["content-length"] == "0"
    assert {p.method for p in patches} == {"PATCH"}, requests
    expected = [(offset, min(chunk, size - offset), "?1" if offset + chunk >= size else "?0")
                for offset in range(0, size, chunk)]
    assert appended(patches) == expected
    created = re.search(r"^created upload (\w+) ", done.stderr, re.M)
    assert created is not None, done.stderr
    upload = api(gateway.url, "GET", f"/video/v1/uploads/{created.group(1)}")["data"]
    assert upload["asset_id"] == asset["id"], upload
    assert urlsplit(upload["url"]).path == path   # the direct upload's url, not its tus_endpoint
    assert stored_bytes(gateway.url + path) == two_second_clip.read_bytes()


def test_interrupted_ietf_upload_resumes_from_the_server_offset(
        gateway_factory: Any, proxy: ThrottledProxy, tmp_path: Path) -> None:
    proxy.rate = 4 * MIB
    gateway = gateway_factory(server={"public_url": proxy.url})
    proxy.target_port = gateway.port
    state = tmp_path / "state"
    data = os.urandom(32 * MIB)   # long enough that the second run is still sending when cut, on a busy CI
    junk = tmp_path / "junk.bin"
    junk.write_bytes(data)

    def direct(url: object) -> str:   # the test's own probes bypass the proxy and its request log
        return str(url).replace(proxy.url, gateway.url)

    def offset() -> int:
        record = state_record(state)
        return head_offset(direct(record["upload_url"])) if record is not None else 0

    first = start_cli(junk, gateway.url, state, "--protocol", "ietf", "--chunk-size", "1MiB", "--no-wait")
    wait_for(lambda: offset() >= 3 * MIB, 30, "the first run to store 3 MiB")
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=10)
    assert first.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command again" in stderr
    record = state_record(state)
    assert record is not None
    path = urlsplit(str(record["upload_url"])).path
    assert_ietf(proxy.requests, path)
    creation = proxy.requests[0]
    assert (creation.method, creation.headers["upload-complete"]) == ("POST", "?0"), creation
    assert creation.headers["upload-length"] == str(len(data))
    stored = offset()
    assert 3 * MIB <= stored < len(data) - 8 * MIB, stored

    proxy.reset_count()
    second = start_cli(junk, gateway.url, state, "--protocol", "ietf", "--chunk-size", "1MiB", "--no-wait",
                       "--json")
    wait_for(lambda: offset() >= stored + 2 * MIB, 30, "the second run to move on")
    wait_for(lambda: proxy.drop() > 0, 10, "a chunk in flight to cut")   # the network goes away mid-chunk...
    proxy.rate = None                          # ...and comes back fast
    stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert f"resuming upload {record['upload_id']}: the gateway has {stored} of {len(data)} bytes" in stderr
    assert "retrying" in stderr
    assert json.loads(stdout)["status"] == "asset_created"
    assert state_record(state) is None

    requests = list(proxy.requests)
    assert_ietf(requests, path)
    assert "POST" not in {r.method for r in requests}   # resumed, not started again
    assert requests[0].method == "HEAD" and requests[1].method == "PATCH", requests[:2]
    assert sum(r.method == "HEAD" for r in requests) >= 2   # and again after the dropped connection
    patches = appended([r for r in requests if r.method == "PATCH"])
    assert patches[0][0] == stored
    assert [o for o, _, _ in patches] == sorted(o for o, _, _ in patches)
    assert patches[-1][0] + patches[-1][1] == len(data) and patches[-1][2] == "?1"
    # ?1 on the append that reaches the end (sent again if the drop cut it), ?0 on every other
    assert all(complete == ("?1" if o + n == len(data) else "?0") for o, n, complete in patches), patches
    # the second run sent only what the server did not have yet (plus request headers)
    assert len(data) - stored <= proxy.forwarded < len(data) - stored + 256 * 1024
    assert stored_bytes(direct(record["upload_url"])) == data


def test_an_upload_begun_with_tus_is_finished_with_ietf(
        gateway_factory: Any, proxy: ThrottledProxy, tmp_path: Path) -> None:
    proxy.rate = 4 * MIB
    gateway = gateway_factory(server={"public_url": proxy.url})
    proxy.target_port = gateway.port
    state = tmp_path / "state"
    data = os.urandom(16 * MIB)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(data)

    def offset() -> int:
        record = state_record(state)
        return head_offset(str(record["upload_url"]).replace(proxy.url, gateway.url)) if record is not None else 0

    first = start_cli(junk, gateway.url, state, "--chunk-size", "1MiB", "--no-wait")   # tus, the default
    wait_for(lambda: offset() >= 2 * MIB, 30, "the tus run to store 2 MiB")
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=10)
    assert first.returncode == 130
    assert {r.headers.get("tus-resumable") for r in proxy.requests} == {"1.0.0"}
    stored = offset()
    record = state_record(state)
    assert record is not None and 0 < stored < len(data)

    proxy.rate = None
    proxy.reset_count()
    second = run_cli(junk, gateway.url, state, "--protocol", "ietf", "--chunk-size", "1MiB", "--no-wait")
    assert second.returncode == 0, second.stderr
    assert f"the gateway has {stored} of {len(data)} bytes" in second.stderr
    requests = list(proxy.requests)
    assert_ietf(requests, urlsplit(str(record["upload_url"])).path)
    assert [r.method for r in requests[:2]] == ["HEAD", "PATCH"] and requests[1].headers["upload-offset"] == str(stored)
    assert stored_bytes(str(record["upload_url"]).replace(proxy.url, gateway.url)) == data
