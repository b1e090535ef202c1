"""Real browser clients against a real ``python -m gateway``: @mux/upchunk and tus-js-client in headless
Chromium (playwright-core + Debian's chromium), on a page served from another origin than the gateway,
uploading to URLs made by ``POST /video/v1/uploads`` and Livepeer's request-upload. Every upload is read
back with the API token and compared with the page's bytes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.api import BEARER, MuxApi, download_sha256, request, stored_bytes
from tests.browser.harness import KiB, MiB, PageServer, run_browser, sha256_of, xorshift_bytes

ASSET_STATUSES = {"preparing", "ready", "errored"}


@pytest.fixture
def api(gateway_factory: Any) -> MuxApi:
    return MuxApi(gateway_factory().url)


def chunk_ends(size: int, chunk: int) -> list[int]:
    return [min(start + chunk, size) - 1 for start in range(0, size, chunk)]


def assert_asset_created(api: MuxApi, upload: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The upload became an asset and the gateway holds exactly the bytes the page generated."""
    assert download_sha256(upload["url"]) == (report["size"], report["sha256"])
    done = api.wait_for_status(upload["id"], "asset_created")
    assert done["asset_id"], done
    asset = api.get_asset(done["asset_id"])
    assert asset["id"] == done["asset_id"] and asset["upload_id"] == upload["id"], asset
    assert asset["status"] in ASSET_STATUSES, asset
    return asset


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000, (path, len(data))


@pytest.mark.parametrize(("backend", "chunk_kib"), [("filesystem", 256), ("filesystem", 1024), ("s3", 256)],
                         ids=["fs-256k", "fs-1m", "s3-256k"])
def test_upchunk_uploads_a_file_in_chunks(api: MuxApi, page_server: PageServer, tmp_path: Path,
                                          chunk_kib: int) -> None:
    size, seed = 5 * MiB + 12345, 1001
    upload = api.create_upload(cors_origin=page_server.origin, new_asset_settings={"playback_policies": ["public"]})
    assert upload["status"] == "waiting" and upload["url"].startswith(api.base + "/files/"), upload
    shot = tmp_path / "upchunk.png"
    report = run_browser(page_server, size=size, seed=seed, screenshot=shot,
                         steps=[{"kind": "upchunk", "endpoint": upload["url"], "chunkSize": chunk_kib}])
    step = report["steps"][0]
    assert step["outcome"] == "success" and not step["errors"] and not step["attemptFailures"], step
    ends = chunk_ends(size, chunk_kib * KiB)
    assert [c["chunk"] for c in step["chunks"]] == list(range(len(ends))) and step["attempts"] == len(ends)
    for chunk, end in zip(step["chunks"][:-1], ends[:-1], strict=True):
        # the Range header must reach the page (CORS exposes it) and a 308 must carry no Location
        assert (chunk["status"], chunk["range"], chunk["location"]) == (308, f"bytes=0-{end}", None), chunk
    assert step["chunks"][-1]["status"] in (200, 201), step["chunks"][-1]
    assert report["sha256"] == sha256_of(xorshift_bytes(seed, size))  # the page made the bytes we think
    assert_asset_created(api, upload, report)
    assert_png(shot)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_upchunk_pause_and_resume(api: MuxApi, page_server: PageServer) -> None:
    size, chunk = 2 * MiB + 1, 256 * KiB
    upload = api.create_upload(cors_origin=page_server.origin)
    report = run_browser(page_server, size=size, seed=2002, steps=[{
        "kind": "upchunk", "endpoint": upload["url"], "chunkSize": 256, "pauseAfter": 3, "pauseMs": 1200,
        "statusDuringPause": True}])
    step = report["steps"][0]
    assert step["outcome"] == "success" and not step["errors"], step
    pause = step["pause"]
    assert pause["attemptsDuringPause"] == 0, pause  # nothing is sent while paused
    # the page's own status check while paused: exactly the three acknowledged chunks are stored
    assert (pause["status"]["status"], pause["status"]["range"]) == (308, f"bytes=0-{3 * chunk - 1}"), pause
    assert len(step["chunks"]) == len(chunk_ends(size, chunk)) and step["attempts"] == len(step["chunks"])
    assert_asset_created(api, upload, report)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_new_upchunk_instance_restarts_a_half_done_upload_from_byte_zero(api: MuxApi,
                                                                         page_server: PageServer) -> None:
    """A reloaded page has no state: a new UpChunk re-sends from byte 0 and must be told the stored range."""
    size, first_chunk = 3 * MiB + 500, 256 * KiB
    upload = api.create_upload(cors_origin=page_server.origin)
    url = upload["url"]
    stored = 5 * first_chunk + 100_000  # five chunks, then part of a sixth (a request cut short)
    report = run_browser(page_server, size=size, seed=3003, steps=[
        {"kind": "upchunk", "endpoint": url, "chunkSize": 256, "abortAfter": 5},
        {"kind": "put", "endpoint": url, "start": 5 * first_chunk, "end": stored - 1},
        {"kind": "status", "endpoint": url},
        {"kind": "upchunk", "endpoint": url, "chunkSize": 512},
    ])
    first, partial, status, second = report["steps"]
    assert first["outcome"] == "aborted" and len(first["chunks"]) == 5, first
    assert (partial["status"], partial["range"]) == (308, f"bytes=0-{stored - 1}"), partial
    assert (status["status"], status["range"]) == (308, f"bytes=0-{stored - 1}"), status
    assert second["outcome"] == "success" and not second["errors"] and not second["attemptFailures"], second
    ends = chunk_ends(size, 512 * KiB)
    assert second["attempts"] == len(ends) == len(second["chunks"])
    for chunk, end in zip(second["chunks"][:-1], ends[:-1], strict=True):
        # already-stored chunks are acknowledged with the whole stored range, the rest as they land
        assert (chunk["status"], chunk["range"]) == (308, f"bytes=0-{max(end, stored - 1)}"), second["chunks"]
    assert second["chunks"][-1]["status"] in (200, 201)
    assert_asset_created(api, upload, report)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_tus_js_client_in_chromium_with_the_uploads_tus_endpoint(api: MuxApi, page_server: PageServer) -> None:
    size = 4 * MiB + 99
    upload = api.create_upload(cors_origin="*")
    assert upload["tus_endpoint"], upload
    report = run_browser(page_server, size=size, seed=4004, steps=[
        {"kind": "tus", "endpoint": upload["tus_endpoint"], "chunkSize": MiB}])
    step = report["steps"][0]
    assert step["outcome"] == "success", step
    assert step["url"] == upload["url"], step  # the creation's Location is the upload URL itself
    creation = step["responses"][0]
    assert (creation["method"], creation["status"], creation["location"]) == ("POST", 201, upload["url"]), step
    patches = [r for r in step["responses"] if r["method"] == "PATCH"]
    assert [r["status"] for r in patches] == [204] * 5, step
    assert [int(r["offset"]) for r in patches] == [min((i + 1) * MiB, size) for i in range(5)], step
    assert_asset_created(api, upload, report)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_upchunk_start_finished_by_tus_js_client(api: MuxApi, page_server: PageServer) -> None:
    size = 3 * MiB + 77
    upload = api.create_upload(cors_origin=page_server.origin)
    report = run_browser(page_server, size=size, seed=5005, steps=[
        {"kind": "upchunk", "endpoint": upload["url"], "chunkSize": 256, "abortAfter": 4},
        {"kind": "tus", "uploadUrl": upload["url"], "endpoint": upload["tus_endpoint"], "chunkSize": 512 * KiB},
    ])
    first, second = report["steps"]
    assert first["outcome"] == "aborted" and len(first["chunks"]) == 4, first
    assert second["outcome"] == "success" and second["url"] == upload["url"], second
    head = second["responses"][0]
    assert (head["method"], head["status"], int(head["offset"])) == ("HEAD", 200, 4 * 256 * KiB), second
    assert all(r["method"] != "POST" for r in second["responses"]), second  # resumed, not re-created
    assert_asset_created(api, upload, report)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_cors_origin_is_enforced_in_the_browser(api: MuxApi, page_server: PageServer) -> None:
    """The same page origin spelled differently (127.0.0.1 vs localhost) is another origin: blocked."""
    size = MiB + 3
    other = f"http://127.0.0.1:{page_server.port}"
    assert other != page_server.origin
    denied = api.create_upload(cors_origin=other)
    allowed = api.create_upload(cors_origin=page_server.origin)
    report = run_browser(page_server, size=size, seed=6006, steps=[
        {"kind": "upchunk", "endpoint": denied["url"], "chunkSize": 256, "attempts": 1},
        {"kind": "status", "endpoint": denied["url"]},
        {"kind": "upchunk", "endpoint": allowed["url"], "chunkSize": 256},
    ])
    blocked, status, ok = report["steps"]
    assert blocked["outcome"] == "error" and not blocked["chunks"], blocked
    assert blocked["errors"][0]["message"] == "Server responded with 0. Stopping upload.", blocked
    assert status["status"] == 0, status  # fetch() fails too: no Access-Control-Allow-Origin for this page
    assert stored_bytes(denied["url"], size) == 0
    assert api.get_upload(denied["id"])["status"] == "waiting"
    assert ok["outcome"] == "success" and not ok["errors"], ok
    assert_asset_created(api, allowed, report)


@pytest.mark.parametrize("backend", ["filesystem"])
def test_cors_headers_on_the_upload_url(api: MuxApi) -> None:
    app, evil = "https://app.example.com", "https://evil.example.com"
    upload = api.create_upload(cors_origin=app)
    url, chunk = upload["url"], b"\x01" * 256 * KiB
    preflight = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-range,content-type"}
    reply = request("OPTIONS", url, None, {"Origin": app, **preflight})
    assert reply.status == 204 and reply.headers.get("Access-Control-Allow-Origin") == app, reply.describe()
    assert "PUT" in reply.headers.get("Access-Control-Allow-Methods", "").upper(), reply.describe()
    assert "content-range" in reply.headers.get("Access-Control-Allow-Headers", "").lower(), reply.describe()
    reply = request("OPTIONS", url, None, {"Origin": evil, **preflight})
    assert reply.headers.get("Access-Control-Allow-Origin") is None, reply.describe()
    reply = request("PUT", url, chunk, {"Origin": evil, "Content-Range": f"bytes 0-{len(chunk) - 1}/{4 * len(chunk)}"})
    assert reply.status == 403 and reply.headers.get("Access-Control-Allow-Origin") is None, reply.describe()
    assert stored_bytes(url, 4 * len(chunk)) == 0
    reply = request("PUT", url, chunk, {"Origin": app, "Content-Range": f"bytes 0-{len(chunk) - 1}/{4 * len(chunk)}"})
    assert reply.status == 308 and reply.headers.get("Access-Control-Allow-Origin") == app, reply.describe()
    exposed = {h.strip().lower() for h in reply.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {"range", "upload-offset", "location"} <= exposed, reply.describe()
    # "*" lets any page upload
    anyone = api.create_upload(cors_origin="*")
    reply = request("OPTIONS", anyone["url"], None, {"Origin": evil, **preflight})
    assert reply.status == 204 and reply.headers.get("Access-Control-Allow-Origin") in (evil, "*"), reply.describe()


@pytest.mark.parametrize("backend", ["filesystem"])
def test_livepeer_tus_endpoint_with_tus_js_client_in_chromium(api: MuxApi, page_server: PageServer) -> None:
    size = 2 * MiB + 4321
    created = api.livepeer_request_upload("clip.mp4")
    asset = created["asset"]
    assert created["url"] and created["tusEndpoint"] and created["task"]["id"], created
    assert asset["id"] and asset["playbackId"] and asset["status"]["phase"] == "waiting", created
    report = run_browser(page_server, size=size, seed=7007, steps=[
        {"kind": "tus", "endpoint": created["tusEndpoint"], "chunkSize": MiB}])
    step = report["steps"][0]
    assert step["outcome"] == "success" and step["url"] == created["url"], step
    assert download_sha256(step["url"]) == (size, report["sha256"])
    deadline = time.monotonic() + 15
    while True:  # the asset leaves "waiting" once the file is complete
        reply = api.call("GET", f"/api/asset/{asset['id']}", auth=BEARER)
        assert reply.status == 200, reply.describe()
        after = reply.json()
        if after["status"]["phase"] != "waiting" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (after["id"], after["playbackId"]) == (asset["id"], asset["playbackId"]), after
    assert after["status"]["phase"] in ("processing", "ready", "failed"), after
