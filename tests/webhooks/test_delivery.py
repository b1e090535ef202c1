"""Webhooks end to end: real ``python -m gateway`` and ``python -m workers`` processes on a real Redis,
posting to a real receiver in this process; signatures checked in Python and by @mux/mux-node."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import AUTH
from tests.webhooks.receiver import Receiver, Request, node_verify
from workers.webhooks.signature import verify

pytestmark = pytest.mark.parametrize("backend", ["filesystem"], indirect=True)

INGEST = ["video.upload.created", "video.asset.created", "video.upload.asset_created", "video.asset.ready"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "one-second.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=1",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30",
                    "-c:a", "aac", "-ac", "2", "-shortest", str(path)], check=True, timeout=60)
    return path


def hooks(receiver: Receiver, *paths: str, **values: Any) -> dict[str, Any]:
    return {"endpoints": [{"url": receiver.url(p), "secret": f"secret{p}"} for p in paths],
            "first_retry": "0.5s", "max_retry_delay": "4s", "timeout": "2s", **values}


def api(base: str, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={**(AUTH if auth else {}), "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def stream_events(settings: dict[str, Any]) -> list[dict[str, str]]:
    client = redis.Redis.from_url(settings["redis"]["url"])
    try:
        entries = client.xrange(f"{settings['redis']['key_prefix']}:events")
    finally:
        client.close()
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def unsettled(settings: dict[str, Any]) -> int:
    """Deliveries still scheduled (see gateway/webhooks/store.py)."""
    client = redis.Redis.from_url(settings["redis"]["url"])
    try:
        return int(client.zcard(f"{settings['redis']['key_prefix']}:{{webhooks}}:due"))
    finally:
        client.close()


def delivered(requests: list[Request], path: str = "/hook") -> set[str]:
    return {r.event["id"] for r in requests if r.path == path and r.status == 200}


def check_signatures(requests: list[Request]) -> None:
    for r in requests:
        verify(r.headers["Mux-Signature"], r.body, f"secret{r.path}")
    results = node_verify([(r.body, r.headers, f"secret{r.path}") for r in requests])
    assert all(result["ok"] for result in results), results


def test_a_direct_upload_is_announced_to_every_endpoint_signed_and_once(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], receiver: Receiver,
        clip: Path) -> None:
    config = hooks(receiver, "/a", "/b", environment_name="Staging", environment_id="env42")
    gateway = gateway_factory(webhooks=config)
    worker_factory(webhooks=config)
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    subprocess.run(["curl", "-sS", "--fail", "-T", str(clip), upload["url"]], check=True, timeout=60)
    receiver.wait_for(lambda rs: {"/a", "/b"} <= {r.path for r in rs if r.event["type"] == "video.asset.ready"},
                      60, "video.asset.ready at both endpoints")
    recorded = stream_events(settings_data)
    assert set(INGEST) <= {e["type"] for e in recorded}
    requests = receiver.wait_for(lambda rs: all({e["id"] for e in recorded} <= delivered(rs, p) for p in ("/a", "/b")),
                                 10, "every recorded event at both endpoints")
    time.sleep(0.5)                                     # a duplicate would show up now
    requests = receiver.requests
    assert Counter((r.path, r.event["id"]) for r in requests) == {
        (p, e["id"]): 1 for p in ("/a", "/b") for e in recorded}
    check_signatures(requests)

    by_type = {r.event["type"]: r.event for r in requests if r.path == "/a"}
    asset_id = by_type["video.asset.ready"]["data"]["id"]
    for event_type in INGEST:
        event = by_type[event_type]
        assert set(event) == {"type", "id", "created_at", "object", "environment", "data", "attempts",
                              "accessor_source", "accessor", "request_id"}
        assert event["environment"] == {"name": "Staging", "id": "env42"} and event["attempts"] == []
        assert event["accessor"] is None and event["request_id"] is None and event["accessor_source"] is None
        assert event["created_at"].endswith("Z")
        kind = event_type.split(".")[1]
        assert event["object"] == {"type": kind, "id": upload["id"] if kind == "upload" else asset_id}
        assert event["data"]["id"] == event["object"]["id"]
    for event_type in ("video.asset.created", "video.asset.ready"):
        assert isinstance(by_type[event_type]["data"]["created_at"], int)
    assert by_type["video.asset.ready"]["data"]["status"] == "ready"
    assert by_type["video.upload.asset_created"]["data"]["asset_id"] == asset_id
    rest = api(gateway.url, "GET", f"/video/v1/assets/{asset_id}")["data"]
    assert str(by_type["video.asset.ready"]["data"]["created_at"]) == str(rest["created_at"])
    assert all(r.headers["Content-Type"] == "application/json" for r in requests)

    log = api(gateway.url, "GET", "/video/v1/webhook-deliveries?limit=100")["data"]
    assert len(log) == 2 * len(recorded)
    assert {(e["url"], e["event_id"]) for e in log} == {(receiver.url(p), e["id"])
                                                        for p in ("/a", "/b") for e in recorded}
    assert all(e["status_code"] == 200 and e["state"] == "delivered" and e["attempt"] == 1 and
               e["next_retry_at"] is None and e["error"] is None and isinstance(e["duration_ms"], int)
               for e in log)
    assert len(api(gateway.url, "GET", "/video/v1/webhook-deliveries")["data"]) == min(25, len(log))
    assert len(api(gateway.url, "GET", "/video/v1/webhook-deliveries?limit=2")["data"]) == 2
    for path, auth, status in [("/video/v1/webhook-deliveries", False, 401),
                               ("/video/v1/webhook-deliveries?limit=101", True, 400)]:
        with pytest.raises(urllib.error.HTTPError) as failure:
            api(gateway.url, "GET", path, auth=auth)
        assert failure.value.code == status


def test_failing_attempts_are_retried_with_growing_delays_and_listed_in_later_payloads(
        gateway_factory: Any, worker_factory: Any, receiver: Receiver) -> None:
    receiver.fail_first = 3
    config = hooks(receiver, "/hook")
    gateway = gateway_factory(webhooks=config)
    worker_factory(webhooks=config)
    upload = api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})["data"]
    requests = receiver.wait_for(lambda rs: any(r.status == 200 for r in rs), 20, "a successful attempt")
    assert [r.status for r in requests] == [500, 500, 500, 200]
    assert {r.event["id"] for r in requests} == {requests[0].event["id"]}
    assert requests[0].event["data"]["id"] == upload["id"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    for gap, delay in zip(gaps, [0.5, 1.0, 2.0], strict=True):     # first_retry, doubling
        assert delay - 0.05 <= gap <= delay + 1.5, gaps
    check_signatures(requests)

    for number, r in enumerate(requests):
        attempts = r.event["attempts"]
        assert len(attempts) == number
        assert all(a["response_status_code"] == 500 and a["response_body"] == "nope" and
                   a["response_headers"]["X-Receiver"] == "tests" and a["address"] == receiver.url("/hook") and
                   a["webhook_id"] == 1 and a["max_attempts"] > 4 and a["created_at"].endswith("Z")
                   for a in attempts)
        assert attempts == requests[-1].event["attempts"][:number]     # history only grows
    assert len({a["id"] for a in requests[-1].event["attempts"]}) == 3

    log = api(gateway.url, "GET", "/video/v1/webhook-deliveries")["data"]
    assert [(e["attempt"], e["status_code"], e["state"]) for e in log] == [
        (4, 200, "delivered"), (3, 500, "retrying"), (2, 500, "retrying"), (1, 500, "retrying")]
    assert all(e["next_retry_at"] and e["error"] == "HTTP 500" for e in log[1:]) and log[0]["next_retry_at"] is None


def test_an_endpoint_that_was_down_gets_everything_once_it_is_up(
        gateway_factory: Any, worker_factory: Any, settings_data: dict[str, Any], receiver: Receiver) -> None:
    config = hooks(receiver, "/hook", max_retry_delay="1s")
    receiver.down()
    gateway = gateway_factory(webhooks=config)
    worker_factory(webhooks=config)
    for _ in range(5):
        api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        log = api(gateway.url, "GET", "/video/v1/webhook-deliveries?limit=100")["data"]
        if len({e["event_id"] for e in log if e["attempt"] >= 2}) == 5:
            break
        time.sleep(0.2)
    assert all(e["status_code"] is None and e["state"] == "retrying" and e["error"] for e in log), log
    assert receiver.requests == []
    receiver.up()
    ids = {e["id"] for e in stream_events(settings_data)}
    assert len(ids) == 5
    requests = receiver.wait_for(lambda rs: delivered(rs) == ids, 10, "every event after coming up")
    check_signatures(requests)
    assert all(len(r.event["attempts"]) >= 2 for r in requests)
    assert all(a["response_status_code"] is None for r in requests for a in r.event["attempts"])


def test_a_killed_worker_loses_no_event(gateway_factory: Any, worker_factory: Any,
                                        settings_data: dict[str, Any], receiver: Receiver) -> None:
    receiver.delay = 0.3                         # answers take a while: some are in flight at the kill
    config = hooks(receiver, "/hook", timeout="1s")
    gateway = gateway_factory(webhooks=config)
    first = worker_factory(webhooks=config, log={"level": "INFO", "format": "json"})
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            for _ in range(40):
                api(gateway.url, "POST", "/video/v1/uploads", {"cors_origin": "*"})
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    receiver.wait_for(lambda rs: len(rs) >= 5 and receiver.in_flight > 0, 20, "deliveries in flight")
    first.stop(kill=True)
    killed_at = time.monotonic()
    time.sleep(0.5)
    worker_factory(webhooks=config, log={"level": "INFO", "format": "json"})
    producer.join(30)
    assert not errors
    ids = {e["id"] for e in stream_events(settings_data)}
    assert len(ids) == 40
    # the killed worker's claims come back when their lease (timeout + 5 s) runs out
    requests = receiver.wait_for(lambda rs: delivered(rs) == ids and not unsettled(settings_data), 30,
                                 "every event delivered and every delivery settled after the kill")
    # what was in flight at the kill was never recorded as answered, so it was sent again: at least once
    assert len(requests) > len(ids)
    assert max(r.at for r in requests) - killed_at < 15
    check_signatures(requests)
