"""tus-js-client's IETF modes (``ietf-draft-03`` sends interop version 5, ``ietf-draft-05`` version 6) in
headless Chromium, on a page from another origin: a browser cannot see the 104, so these check what a
browser app relies on: CORS for the draft's headers, 2xx with Location, Upload-Offset on every answer, and
an interrupted upload resumed from the server's offset."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.api import BEARER, MuxApi, download_sha256
from tests.browser.harness import MiB, PageServer, run_browser


@pytest.fixture
def api(gateway_factory: Any) -> MuxApi:
    return MuxApi(gateway_factory().url)


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
@pytest.mark.parametrize("protocol, interop", [("ietf-draft-03", "5"), ("ietf-draft-05", "6")])
def test_ietf_upload_interrupted_and_resumed_in_chromium(api: MuxApi, page_server: PageServer, protocol: str,
                                                          interop: str) -> None:
    size = 3 * MiB + 321
    endpoint = api.base + "/files/"
    report = run_browser(page_server, size=size, seed=7007, steps=[
        {"kind": "tus", "endpoint": endpoint, "protocol": protocol, "chunkSize": MiB, "headers": BEARER,
         "abortAfter": 2},
    ])
    first = report["steps"][0]
    assert first["outcome"] == "aborted", first
    creation = first["responses"][0]
    assert (creation["method"], creation["status"], creation["interop"]) == ("POST", 201, interop), first
    assert creation["complete"] == "?0" and creation["location"], first
    url = first["url"]
    report = run_browser(page_server, size=size, seed=7007, steps=[
        {"kind": "tus", "endpoint": endpoint, "uploadUrl": url, "protocol": protocol, "chunkSize": MiB,
         "headers": BEARER},
    ])
    second = report["steps"][0]
    assert second["outcome"] == "success", second
    head = second["responses"][0]
    assert (head["method"], head["status"], int(head["offset"])) == ("HEAD", 204, 2 * MiB), second
    assert all(r["method"] != "POST" for r in second["responses"]), second   # resumed, not re-created
    assert second["responses"][-1]["complete"] == "?1", second
    assert download_sha256(url) == (report["size"], report["sha256"])


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
def test_ietf_upload_to_a_direct_upload_url_needs_no_token(api: MuxApi, page_server: PageServer) -> None:
    size = 2 * MiB + 5
    upload = api.create_upload(cors_origin=page_server.origin)
    report = run_browser(page_server, size=size, seed=8008, steps=[
        {"kind": "tus", "endpoint": upload["url"], "protocol": "ietf-draft-05", "chunkSize": MiB}])
    step = report["steps"][0]
    assert step["outcome"] == "success", step
    assert step["url"] == upload["url"], step      # the direct upload's URL is the upload resource
    assert download_sha256(upload["url"]) == (report["size"], report["sha256"])
    assert api.wait_for_status(upload["id"], "asset_created")["asset_id"]
