"""IETF Resumable Uploads with real clients against real ``python -m gateway`` processes: tus-js-client in
Node (``ietf-draft-03`` = interop 5, ``ietf-draft-05`` = interop 6), interrupted and resumed, and curl with
the draft's raw headers (it prints the 104)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AUTH
from tests.e2e.test_clients import download, head, media, node, sha256

__all__ = ["media"]   # the module-scoped fixture, shared
MiB = 1024 * 1024


@pytest.mark.parametrize("protocol", ["ietf-draft-03", "ietf-draft-05"])
@pytest.mark.parametrize("chunk", [None, 4 * MiB], ids=["one-patch", "4mib-chunks"])
def test_tus_js_client_ietf_in_node(gateway_factory: Any, media: Path, protocol: str, chunk: int | None) -> None:
    gateway = gateway_factory()
    options: dict[str, Any] = {"endpoint": gateway.url + "/files/", "file": str(media), "headers": AUTH,
                               "protocol": protocol, "metadata": {"filename": "random.bin"}}
    if chunk:
        options["chunkSize"] = chunk
    result = node(options)
    assert sha256(download(result["url"])) == sha256(media.read_bytes())


@pytest.mark.parametrize("protocol", ["ietf-draft-03", "ietf-draft-05"])
def test_tus_js_client_ietf_resumes_an_interrupted_upload(gateway_factory: Any, media: Path, protocol: str) -> None:
    gateway = gateway_factory()
    common = {"endpoint": gateway.url + "/files/", "file": str(media), "headers": AUTH, "protocol": protocol,
              "chunkSize": 2 * MiB}
    first = node({**common, "abortAfter": 6 * MiB})
    assert first.get("aborted") and first["url"]
    offset = int(head(first["url"])["Upload-Offset"])
    assert 0 < offset < media.stat().st_size
    second = node({**common, "uploadUrl": first["url"]})
    assert second["url"] == first["url"]
    assert sha256(download(first["url"])) == sha256(media.read_bytes())


def test_curl_with_the_drafts_raw_headers(gateway_factory: Any, tmp_path: Path) -> None:
    gateway = gateway_factory()
    data = tmp_path / "clip.bin"
    data.write_bytes(bytes(range(256)) * 4096)
    done = subprocess.run(["curl", "-si", "-X", "POST", gateway.url + "/files/",
                           "-H", f"Authorization: {AUTH['Authorization']}", "-H", "Upload-Draft-Interop-Version: 8",
                           "-H", "Upload-Complete: ?1", "--data-binary", f"@{data}"],
                          capture_output=True, text=True, timeout=60, check=True)
    statuses = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("HTTP/1.1 ")]
    assert statuses == ["104", "201"], done.stdout[:2000]
    location = next(line.split(": ", 1)[1].strip() for line in done.stdout.splitlines()
                    if line.lower().startswith("location:"))
    assert "upload-complete: ?1" in done.stdout.lower()
    assert download(location) == data.read_bytes()
