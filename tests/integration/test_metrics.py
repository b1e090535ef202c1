"""/metrics (Prometheus text), /readyz, and the counters moving with real requests."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.app import DRAINING
from tests.conftest import AUTH, TUS


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


async def test_metrics_count_uploads_bytes_requests_and_queue(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    before = await resp.text()
    assert value(before, "upgw_uploads_created_total") == 0
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "10"})
    location = resp.headers["Location"]
    resp = await client.patch(location, data=b"12345", headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    resp = await client.patch(location, data=b"67890", headers={
        **TUS, "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"})
    assert resp.status == 204
    assert (await client.delete(location, headers=TUS)).status == 403   # it became an asset
    resp = await client.post("/files/", headers={**TUS, **AUTH, "Upload-Length": "10"})
    assert (await client.delete(resp.headers["Location"], headers=TUS)).status == 204
    await client.head(location + "x", headers=TUS)
    text = await (await client.get("/metrics")).text()
    assert value(text, "upgw_uploads_created_total") == 2
    assert value(text, "upgw_uploads_finished_total") == 1
    assert value(text, "upgw_bytes_received_total") == 10
    assert value(text, 'upgw_uploads_terminated_total{reason="terminated"}') == 1
    assert value(text, 'upgw_requests_total{method="PATCH",status="204"}') == 2
    assert value(text, 'upgw_requests_total{method="HEAD",status="404"}') == 1
    assert value(text, 'upgw_request_duration_seconds_count{method="PATCH"}') == 2
    assert value(text, 'upgw_upload_duration_seconds_count') == 1
    assert value(text, 'upgw_queue_jobs{state="queued"}') == 1     # the finished upload's asset job
    assert "upgw_requests_in_flight" in text


async def test_readyz_and_healthz(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/readyz")).status == 200
    assert (await client.get("/healthz")).status == 200


async def test_readyz_is_503_while_draining(client: TestClient[Any, Any]) -> None:
    client.app[DRAINING][0] = True
    resp = await client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["status"] == "draining"
    assert (await client.get("/healthz")).status == 200   # alive, just not taking new traffic
