"""Ingest from a URL at the API (in-process gateway, real Redis): Mux ``POST /video/v1/assets`` and
Livepeer ``POST /api/asset/upload/url`` answer at once with a ``preparing`` asset whose source is an empty
storage upload, record ``video.asset.created`` and queue the job; bad bodies are 400. The fetch itself
(and the SSRF guard) is the worker's: tests/e2e/test_url_ingest.py."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.app import ASSETS, EVENTS, JOBS, SERVICE
from tests.conftest import AUTH

Client = TestClient[Any, Any]
pytestmark = pytest.mark.parametrize("backend", ["filesystem"])
URL = "https://media.example.com/clips/clip.mp4?sig=abc"


async def create_asset(client: Client, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    resp = await client.post("/video/v1/assets", json=body, headers=AUTH)
    assert resp.status == status, await resp.text()
    return dict(await resp.json())


async def test_create_from_url_answers_a_preparing_asset_and_queues_it(client: Client) -> None:
    body = {"inputs": [{"url": URL}], "playback_policies": ["public"], "passthrough": "p-1",
            "master_access": "temporary", "max_resolution_tier": "1440p", "meta": {"title": "From a URL"},
            "static_renditions": [{"resolution": "highest"}], "test": True}
    asset = (await create_asset(client, body))["data"]
    assert asset["status"] == "preparing" and asset["ingest_type"] == "on_demand_url"
    assert "upload_id" not in asset and not any(k.startswith("_") for k in asset)
    assert URL not in str(asset)   # the source URL (maybe a credential) is internal
    assert [p["policy"] for p in asset["playback_ids"]] == ["public"]
    assert asset["passthrough"] == "p-1" and asset["meta"] == {"title": "From a URL"} and asset["test"] is True
    assert asset["master_access"] == "temporary" and asset["master"] == {"status": "preparing"}
    assert asset["max_resolution_tier"] == "1440p"
    assert asset["static_renditions"]["files"][0]["name"] == "highest.mp4"
    assert asset["progress"] == {"state": "ingesting", "progress": 0}

    resp = await client.get(f"/video/v1/assets/{asset['id']}", headers=AUTH)
    assert resp.status == 200 and (await resp.json())["data"] == asset
    stored = await client.app[ASSETS].get(asset["id"])
    assert stored is not None and stored.source_url == URL
    source = await client.app[SERVICE].get(stored.source)
    assert source.offset == 0 and source.length is None and not source.complete
    types = [e["type"] for e in await client.app[EVENTS].recent(100) if e["object_id"] == asset["id"]]
    assert types == ["video.asset.created", "video.asset.master.preparing"]
    job = await client.app[JOBS].queue.job(f"asset-{asset['id']}")
    assert job is not None and job.kwargs == {"asset_id": asset["id"]}


@pytest.mark.parametrize("body", [
    {"input": URL, "playback_policy": "public"},
    {"input": [{"url": URL}], "playback_policy": ["public"]},
    {"inputs": [{"url": URL, "type": "video", "start_time": 1}], "playback_policies": "public"},
])
async def test_legacy_input_and_policy_forms(client: Client, body: dict[str, Any]) -> None:
    asset = (await create_asset(client, body))["data"]
    assert asset["ingest_type"] == "on_demand_url" and [p["policy"] for p in asset["playback_ids"]] == ["public"]
    stored = await client.app[ASSETS].get(asset["id"])
    assert stored is not None and stored.source_url == URL


@pytest.mark.parametrize(("body", "fragment"), [
    ({}, "inputs is required"),
    ({"playback_policies": ["public"]}, "inputs is required"),
    ({"inputs": [{"url": "file:///etc/passwd"}]}, "http or https"),
    ({"inputs": [{"url": "ftp://example.com/a.mp4"}]}, "http or https"),
    ({"inputs": [{"url": "https://"}]}, "http or https"),
    ({"inputs": [{"url": "https://exa mple.com/a.mp4"}]}, "http or https"),
    ({"input": "javascript:alert(1)"}, "http or https"),
    ({"input": URL, "inputs": [{"url": URL}]}, "not both"),
    ({"inputs": None}, "not null"),
    ({"inputs": []}, "inputs"),
    ({"inputs": [{"url": URL}, {"url": URL, "type": "text"}]}, "inputs"),
    ({"inputs": [{}]}, "url"),
    ({"inputs": [{"url": URL}], "playback_policies": ["private"]}, "playback_policies"),
    ({"inputs": [{"url": URL}], "new_field": 1}, "unknown field"),
])
async def test_bad_bodies_are_400(client: Client, body: dict[str, Any], fragment: str) -> None:
    error = (await create_asset(client, body, status=400))["error"]
    assert error["type"] == "invalid_parameters" or error["type"], error
    assert error["messages"] and fragment in " ".join(error["messages"]), error
    assert await client.app[JOBS].depth() == 0


async def test_livepeer_upload_url_and_its_asset(client: Client) -> None:
    resp = await client.post("/api/asset/upload/url", json={"name": "clip.mp4", "url": URL, "staticMp4": True},
                             headers=AUTH)
    assert resp.status == 200, await resp.text()
    out = await resp.json()
    asset, task = out["asset"], out["task"]
    assert task["id"] and asset["id"] and asset["playbackId"] and asset["name"] == "clip.mp4"
    assert asset["source"] == {"type": "url", "url": URL} and asset["status"]["phase"] == "waiting"
    resp = await client.get(f"/api/asset/{asset['id']}", headers=AUTH)
    assert resp.status == 200 and await resp.json() == asset
    mux = (await (await client.get(f"/video/v1/assets/{asset['id']}", headers=AUTH)).json())["data"]
    assert mux["ingest_type"] == "on_demand_url" and mux["meta"] == {"title": "clip.mp4"}
    assert mux["static_renditions"]["files"][0]["resolution"] == "highest"
    assert await client.app[JOBS].depth() == 1

    resp = await client.post("/api/asset/upload/url", json={"name": "x", "url": "file:///etc/passwd"},
                             headers=AUTH)
    assert resp.status == 400
    body = await resp.json()
    assert body["errors"] and "http or https" in body["errors"][0]
