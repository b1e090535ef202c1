"""Ingest from a URL end to end: real ``python -m gateway`` and ``python -m workers`` processes, a real
HTTP source on loopback (tests/ingest/conftest.py's Range-capable server, run in a thread) serving a clip
made by ffmpeg. The worker fetches only what ``ingest.allow_hosts`` lets it reach on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.conftest import AUTH
from tests.e2e.test_worker import api, events, master_location, probe, standard_clip  # noqa: F401
from tests.ingest.conftest import Source, SourceFile

pytestmark = pytest.mark.parametrize("backend", ["filesystem"], indirect=True)


class ThreadedSource:
    """tests/ingest/conftest.py's :class:`Source` served from a thread of its own, for tests whose gateway and
    worker are other processes."""

    def __init__(self) -> None:
        self.source = Source()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None

    def start(self) -> ThreadedSource:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/files/{name}", self.source.serve_file)
        app.router.add_get("/status/{code}", self.source.status)
        self.runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.source.port = int(self.runner.addresses[0][1])

    def stop(self) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def allow(self) -> dict[str, Any]:
        return {"allow_hosts": [f"127.0.0.1:{self.source.port}"], "read_timeout": "10s", "connect_timeout": "5s"}


@pytest.fixture
def served() -> Iterator[ThreadedSource]:
    server = ThreadedSource().start()
    yield server
    server.stop()


def wait(base: str, asset_id: str, until: set[str], timeout: float = 90, check: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    asset: dict[str, Any] = {}
    while time.monotonic() < deadline:
        asset = api(base, "GET", f"/video/v1/assets/{asset_id}")["data"]
        if asset["status"] in until or (check is not None and check(asset)):
            return asset
        time.sleep(0.2)
    raise AssertionError(f"asset never reached {until}: {asset}")


def create(base: str, url: str, **settings: Any) -> dict[str, Any]:
    created = api(base, "POST", "/video/v1/assets", {"inputs": [{"url": url}], **settings})["data"]
    assert created["status"] == "preparing" and created["ingest_type"] == "on_demand_url", created
    return dict(created)


def test_import_from_a_url_becomes_ready(gateway_factory: Any, worker_factory: Any, served: ThreadedSource,
                                         settings_data: dict[str, Any], standard_clip: Path) -> None:  # noqa: F811
    data = standard_clip.read_bytes()
    served.source.files["clip.mp4"] = SourceFile(data)
    gateway = gateway_factory()
    worker_factory(ingest=served.allow)
    created = create(gateway.url, served.source.url("/files/clip.mp4"), playback_policies=["public"],
                     passthrough="from-url")
    asset = wait(gateway.url, created["id"], {"ready", "errored"})
    assert asset["status"] == "ready", asset
    assert asset["ingest_type"] == "on_demand_url" and "upload_id" not in asset and asset["passthrough"] == "from-url"
    assert abs(asset["duration"] - 3.0) < 0.2 and asset["aspect_ratio"] == "16:9"
    assert asset["progress"] == {"state": "completed", "progress": 100}
    master = probe(master_location(settings_data, asset["id"]))
    assert sorted(s["codec_name"] for s in master["streams"]) == ["aac", "h264"]
    assert abs(float(master["format"]["duration"]) - 3.0) < 0.2
    assert [(h.range, h.status) for h in served.source.hits] == [(None, 200)]
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.created") == 1 and types.count("video.asset.ready") == 1
    assert "video.asset.errored" not in types


def test_a_dropped_connection_resumes_and_the_asset_is_ready_once(
        gateway_factory: Any, worker_factory: Any, served: ThreadedSource, settings_data: dict[str, Any],
        standard_clip: Path) -> None:  # noqa: F811
    data = standard_clip.read_bytes()
    half = len(data) // 2
    # paced like a network, so the worker has read (and stored) what arrived before the connection drops
    served.source.files["clip.mp4"] = SourceFile(data, drop_after=half, delay=0.02)
    gateway = gateway_factory()
    worker_factory(ingest=served.allow)
    created = create(gateway.url, served.source.url("/files/clip.mp4"))
    asset = wait(gateway.url, created["id"], {"ready", "errored"})
    assert asset["status"] == "ready", asset
    hits = served.source.hits
    assert (hits[0].range, hits[0].status) == (None, 200) and 0 < hits[0].sent <= half
    resumed = [h for h in hits[1:] if h.status == 206]
    assert resumed and resumed[0].range is not None and resumed[0].if_range == '"v1"', hits
    assert int(resumed[0].range.removeprefix("bytes=").rstrip("-")) > 0   # not from byte 0 again
    assert sum(h.sent for h in hits) < 2 * len(data)
    master = probe(master_location(settings_data, asset["id"]))
    assert sorted(s["codec_name"] for s in master["streams"]) == ["aac", "h264"]
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.ready") == 1 and "video.asset.errored" not in types


def test_a_killed_worker_mid_import_is_finished_by_another_from_where_it_stopped(
        gateway_factory: Any, worker_factory: Any, served: ThreadedSource, settings_data: dict[str, Any],
        standard_clip: Path) -> None:  # noqa: F811
    """The first attempt's connection drops halfway (its bytes are stored); the retry resumes and its
    worker is killed mid-body; another worker takes the job over and resumes from the stored offset (the
    filesystem backend stores what arrived when a body ends, not while a killed process writes it)."""
    data = standard_clip.read_bytes()
    half = len(data) // 2
    served.source.files["clip.mp4"] = SourceFile(data, drop_after=half, delay=0.3)   # 64 KiB every 0.3 s
    gateway = gateway_factory()
    first = worker_factory(ingest=served.allow)
    created = create(gateway.url, served.source.url("/files/clip.mp4"))
    hits = served.source.hits
    deadline = time.monotonic() + 60
    while not (len(hits) >= 2 and hits[1].sent > 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(hits) == 2 and hits[1].status == 206, hits
    # while the retry runs, the asset shows the stored share of the length (half was kept from the drop)
    asset = wait(gateway.url, created["id"], {"ready", "errored"}, timeout=10,
                 check=lambda a: a["progress"]["progress"] > 0)
    assert asset["status"] == "preparing" and asset["progress"]["state"] == "ingesting", asset
    assert 0 < asset["progress"]["progress"] < 100 and len(hits) == 2, (asset, hits)
    first.stop(kill=True)
    served.source.files["clip.mp4"].delay = 0
    worker_factory(ingest=served.allow)
    asset = wait(gateway.url, created["id"], {"ready", "errored"}, timeout=120)
    assert asset["status"] == "ready", asset
    starts = [int(h.range.removeprefix("bytes=").rstrip("-")) for h in hits[1:] if h.range]
    assert len(starts) == len(hits) - 1 >= 2 and all(start > 0 for start in starts), hits   # never from 0 again
    assert events(settings_data, asset["id"]).count("video.asset.ready") == 1


@pytest.mark.parametrize(("path", "fragment"), [
    ("/files/missing.mp4", "404"),
    ("/status/410", "410"),
])
def test_a_source_error_errors_the_asset(gateway_factory: Any, worker_factory: Any, served: ThreadedSource,
                                        settings_data: dict[str, Any], path: str, fragment: str) -> None:
    gateway = gateway_factory()
    worker_factory(ingest=served.allow)
    created = create(gateway.url, served.source.url(path))
    asset = wait(gateway.url, created["id"], {"ready", "errored"})
    assert asset["status"] == "errored" and asset["errors"]["type"] == "invalid_input", asset
    message = asset["errors"]["messages"][0]
    assert "could not be imported" in message and fragment in message, message
    assert asset["progress"]["state"] == "errored"
    assert len(served.source.hits) == 1   # not retried: a 4xx will not pass
    types = events(settings_data, asset["id"])
    assert types.count("video.asset.errored") == 1 and "video.asset.ready" not in types


def test_a_non_media_file_errors_as_an_upload_does(gateway_factory: Any, worker_factory: Any,
                                                    served: ThreadedSource, settings_data: dict[str, Any]) -> None:
    served.source.files["junk.mp4"] = SourceFile(bytes(range(256)) * 1024)
    gateway = gateway_factory()
    worker_factory(ingest=served.allow)
    created = create(gateway.url, served.source.url("/files/junk.mp4"))
    asset = wait(gateway.url, created["id"], {"ready", "errored"})
    assert asset["status"] == "errored" and asset["errors"]["type"] == "invalid_input", asset
    assert asset["errors"]["messages"] and "could not be imported" not in asset["errors"]["messages"][0]
    assert [h.status for h in served.source.hits] == [200]
    assert "video.asset.errored" in events(settings_data, asset["id"])


def test_a_loopback_url_is_refused_without_the_allow_list(
        gateway_factory: Any, worker_factory: Any, served: ThreadedSource, settings_data: dict[str, Any],
        standard_clip: Path) -> None:  # noqa: F811
    served.source.files["clip.mp4"] = SourceFile(standard_clip.read_bytes())
    gateway = gateway_factory()
    worker_factory()   # the default ingest settings: public addresses only
    created = create(gateway.url, served.source.url("/files/clip.mp4"))
    asset = wait(gateway.url, created["id"], {"ready", "errored"})
    assert asset["status"] == "errored" and asset["errors"]["type"] == "invalid_input", asset
    assert "non-public" in asset["errors"]["messages"][0], asset
    assert served.source.hits == []   # never contacted
    assert events(settings_data, asset["id"]).count("video.asset.errored") == 1


def test_a_file_url_is_400_at_the_api(gateway_factory: Any) -> None:
    gateway = gateway_factory()
    with pytest.raises(urllib.error.HTTPError) as caught:
        api(gateway.url, "POST", "/video/v1/assets", {"inputs": [{"url": "file:///etc/passwd"}]})
    assert caught.value.code == 400
    error = json.loads(caught.value.read())["error"]
    assert error["type"] and "http or https" in error["messages"][0]


def test_livepeer_upload_url_is_followed_to_ready(gateway_factory: Any, worker_factory: Any,
                                                  served: ThreadedSource, standard_clip: Path) -> None:  # noqa: F811
    served.source.files["clip.mp4"] = SourceFile(standard_clip.read_bytes())
    gateway = gateway_factory()
    worker_factory(ingest=served.allow)
    url = served.source.url("/files/clip.mp4")
    out = api(gateway.url, "POST", "/api/asset/upload/url", {"name": "clip.mp4", "url": url})
    asset_id, task = out["asset"]["id"], out["task"]
    assert task["id"] and out["asset"]["status"]["phase"] in ("waiting", "processing")
    deadline, asset = time.monotonic() + 90, out["asset"]
    phases = []
    while time.monotonic() < deadline and asset["status"]["phase"] not in ("ready", "failed"):
        time.sleep(0.2)
        request = urllib.request.Request(f"{gateway.url}/api/asset/{asset_id}", headers=AUTH)
        with urllib.request.urlopen(request, timeout=10) as resp:
            asset = json.loads(resp.read())
        phases.append(asset["status"]["phase"])
    assert asset["status"]["phase"] == "ready", asset
    assert asset["source"] == {"type": "url", "url": url} and asset["name"] == "clip.mp4"
    assert abs(asset["videoSpec"]["duration"] - 3.0) < 0.2
    assert set(phases) <= {"waiting", "processing", "ready"}
