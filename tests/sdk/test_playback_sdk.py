"""Playback ids and signing keys through the official SDKs, against a real ``python -m gateway``:
``@mux/mux-node`` (tests/js/mux_playback_sdk.mjs) creates, reads and deletes playback ids, creates a
signing key and signs tokens with ``mux.jwt.signPlaybackId`` for every type, which the gateway's
``authorize`` accepts for that type's audience only; ``mux_python`` does the same through its
AssetsApi, PlaybackIDApi, SigningKeysApi and URLSigningKeysApi, with PyJWT signing as Python users do."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import mux_python
import pytest
from mux_python.rest import ApiException

from gateway import compose
from gateway.catalog.assets import AssetStore
from gateway.catalog.playback import Playback
from gateway.errors import Forbidden
from gateway.playback.keys import SigningKeys
from gateway.playback.tokens import authorize
from gateway.settings import Settings
from tests.browser.api import MuxApi
from tests.conftest import ROOT, TOKEN_ID, TOKEN_SECRET

pytestmark = pytest.mark.parametrize("backend", ["filesystem"])
JS = ROOT / "tests" / "js"
AUDIENCE = {"video": "v", "thumbnail": "t", "gif": "g", "storyboard": "s"}


@dataclass
class Gateway:
    base: str
    asset_id: str
    assets: AssetStore
    signing: SigningKeys

    async def playback(self, playback_id: str) -> Playback:
        found = await self.assets.playback(playback_id)
        assert found is not None, playback_id
        return found


def uploaded_asset(api: MuxApi) -> str:
    """An asset made by a direct upload (curl sends the file); its id."""
    upload = api.create_upload(new_asset_settings={"playback_policies": ["public"]})
    put = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary",
                          "@-", upload["url"]], input=os.urandom(1024), capture_output=True, check=True, timeout=60)
    assert put.stdout in (b"200", b"201"), put.stdout
    return str(api.wait_for_status(upload["id"], "asset_created")["asset_id"])


@pytest.fixture
async def gateway(gateway_factory: Any, settings_data: dict[str, Any]) -> AsyncIterator[Gateway]:
    """A gateway process, one asset, and the catalog and signing-key stores on the gateway's Redis."""
    api = MuxApi(gateway_factory().url)
    asset_id = uploaded_asset(api)
    settings = Settings(**settings_data)   # the gateway's Redis (a cluster under UPGW_TEST_REDIS=cluster)
    redis, keys = compose.redis(settings.redis), compose.keys(settings)
    yield Gateway(api.base, asset_id, AssetStore(redis, keys), SigningKeys(redis, keys))
    await redis.aclose()


def mux_node_playback(base: str, asset_id: str) -> dict[str, Any]:
    if shutil.which("node") is None or not (JS / "node_modules" / "@mux" / "mux-node").exists():
        pytest.fail("node and tests/js/node_modules/@mux/mux-node are required (scripts/install.sh --test)")
    options = {"baseURL": base, "tokenId": TOKEN_ID, "tokenSecret": TOKEN_SECRET, "assetId": asset_id}
    result = subprocess.run(["node", str(JS / "mux_playback_sdk.mjs"), json.dumps(options)],
                            capture_output=True, text=True, timeout=60, cwd=JS)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


async def refused(gateway: Gateway, playback: Playback, audience: str, token: str) -> str:
    with pytest.raises(Forbidden) as caught:
        await authorize(gateway.signing, playback, audience, token)
    return caught.value.message


async def test_mux_node_playback_ids_signing_keys_and_tokens(gateway: Gateway) -> None:
    out = mux_node_playback(gateway.base, gateway.asset_id)
    signed, public = out["signed"], out["public"]
    assert signed["policy"] == "signed" and public["policy"] == "public" and signed["id"] != public["id"], out
    assert out["retrieved"] == signed, out["retrieved"]
    assert out["lookup"] == {**signed, "object": {"type": "asset", "id": gateway.asset_id}}, out["lookup"]
    for name in ("afterDelete", "lookupAfterDelete"):
        assert not out[name]["ok"] and out[name]["status"] == 404 and out[name]["name"] == "NotFoundError", out[name]
    drm = out["drm"]
    assert not drm["ok"] and drm["status"] == 400 and drm["name"] == "BadRequestError", drm
    assert any("drm" in m for m in drm["error"]["error"]["messages"]), drm
    assert [p["policy"] for p in out["asset"]["playback_ids"]] == ["public", "signed"], out["asset"]

    key = out["key"]
    assert base64.b64decode(key["private_key"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert key["created_at"].isdigit() and abs(int(key["created_at"]) - time.time()) < 60, key
    assert out["keyRetrieved"] == {"id": key["id"], "created_at": key["created_at"]}, out["keyRetrieved"]
    assert key["id"] in out["keysListed"], out["keysListed"]

    playback = await gateway.playback(signed["id"])
    for kind, token in out["tokens"].items():
        header = jwt.get_unverified_header(token)
        claims = await authorize(gateway.signing, playback, AUDIENCE[kind], token)
        assert header["alg"] == "RS256" and claims["kid"] == key["id"] and claims["sub"] == signed["id"], claims
        for other in set(AUDIENCE.values()) - {AUDIENCE[kind]}:
            assert "needs aud" in await refused(gateway, playback, other, token)
    assert (await authorize(gateway.signing, playback, "t", out["withParams"]))["time"] == "2"
    multiple = out["multiple"]
    assert set(multiple) == {"playback-token", "thumbnail-token"}, multiple
    assert (await authorize(gateway.signing, playback, "v", multiple["playback-token"]))["aud"] == "v"
    assert (await authorize(gateway.signing, playback, "t", multiple["thumbnail-token"]))["aud"] == "t"

    # not for another playback id; and no token once its key is deleted
    elsewhere = Playback(id=public["id"], policy="signed", asset=playback.asset)
    assert "another playback id" in await refused(gateway, elsewhere, "v", out["tokens"]["video"])
    assert await gateway.signing.delete(key["id"])
    assert "unknown or was deleted" in await refused(gateway, playback, "v", out["tokens"]["video"])


async def test_mux_python_playback_ids_and_signing_keys(gateway: Gateway) -> None:
    configuration = mux_python.Configuration(host=gateway.base, username=TOKEN_ID, password=TOKEN_SECRET)
    with mux_python.ApiClient(configuration) as client:
        assets, lookup = mux_python.AssetsApi(client), mux_python.PlaybackIDApi(client)
        request = mux_python.CreatePlaybackIDRequest(policy=mux_python.PlaybackPolicy.SIGNED)
        created = assets.create_asset_playback_id(gateway.asset_id, request).data
        assert created.policy == "signed" and created.id, created
        assert assets.get_asset_playback_id(gateway.asset_id, created.id).data.id == created.id
        found = lookup.get_asset_or_livestream_id(created.id).data
        assert (found.id, found.policy, found.object.type, found.object.id) == (
            created.id, "signed", "asset", gateway.asset_id)
        listed = [p.policy for p in assets.get_asset(gateway.asset_id).data.playback_ids]
        assert listed == ["public", "signed"], listed

        system, video = mux_python.SigningKeysApi(client), mux_python.URLSigningKeysApi(client)
        keys = [system.create_signing_key().data, video.create_url_signing_key().data]
        assert all(base64.b64decode(k.private_key).startswith(b"-----BEGIN RSA PRIVATE KEY-----") for k in keys)
        got = system.get_signing_key(keys[1].id).data   # one set of keys under both paths
        assert (got.id, got.created_at, got.private_key) == (keys[1].id, keys[1].created_at, None)
        pages = [[k.id for k in system.list_signing_keys(limit=1, page=p).data] for p in (1, 2, 3)]
        assert pages == [[keys[1].id], [keys[0].id], []], pages
        assert {k.id for k in video.list_url_signing_keys().data} == {k.id for k in keys}

        playback = await gateway.playback(created.id)
        private = base64.b64decode(keys[0].private_key)
        token = jwt.encode({"sub": created.id, "aud": "v", "exp": int(time.time()) + 600}, private,
                           algorithm="RS256", headers={"kid": keys[0].id})
        assert (await authorize(gateway.signing, playback, "v", token))["sub"] == created.id

        video.delete_url_signing_key(keys[0].id)
        assert "unknown or was deleted" in await refused(gateway, playback, "v", token)
        with pytest.raises(ApiException) as gone:
            system.get_signing_key(keys[0].id)
        assert gone.value.status == 404, gone.value.body
        assets.delete_asset_playback_id(gateway.asset_id, created.id)
        with pytest.raises(ApiException) as deleted:
            lookup.get_asset_or_livestream_id(created.id)
        assert deleted.value.status == 404, deleted.value.body
