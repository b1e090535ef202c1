"""A signed playback id: every /stream/ URL needs its token, and every URL a playlist lists carries it on."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any
from urllib.parse import quote

import jwt
import m3u8

from gateway.app import SIGNING
from gateway.playback.keys import SigningKeys
from tests.playback.conftest import Packaged, ReadyAsset, publish


async def signed_asset(client_factory: Any, packaged: Packaged) -> tuple[ReadyAsset, SigningKeys, str, bytes]:
    client = await client_factory()
    asset = await publish(client, packaged, policy="signed")
    app = client.app
    assert app is not None
    signing: SigningKeys = app[SIGNING]
    key = await signing.create()
    return asset, signing, key.id, base64.b64decode(key.private_key)


def sign(private: bytes, kid: str, sub: str, aud: str = "v", **claims: Any) -> str:
    payload = {"sub": sub, "aud": aud, "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


async def test_signed_playlists_carry_the_token(client_factory: Any, packaged: Packaged) -> None:
    asset, _, kid, private = await signed_asset(client_factory, packaged)
    client, pid = asset.client, asset.playback_id
    token = sign(private, kid, pid)
    assert quote(token, safe="") == token
    for path in (f"/stream/{pid}.m3u8", f"/stream/{pid}/360p/index.m3u8", f"/stream/{pid}/360p/init.mp4",
                 f"/stream/{pid}/highest.mp4"):
        refused = await client.get(path)
        assert refused.status == 403, path
        assert refused.headers["Access-Control-Allow-Origin"] == "*"
        assert "token" in (await refused.json())["error"]["messages"][0]

    response = await client.get(f"/stream/{pid}.m3u8?token={token}")
    assert response.status == 200 and response.headers["Cache-Control"] == "private, max-age=10"
    variants = m3u8.loads(await response.text()).playlists
    assert [p.uri for p in variants] == [f"{pid}/{r}/index.m3u8?token={token}" for r in ("270p", "360p")]

    media_response = await client.get(f"/stream/{variants[0].uri}")
    assert media_response.status == 200 and media_response.headers["Cache-Control"] == "private, max-age=10"
    media = m3u8.loads(await media_response.text())
    assert media.segment_map[0].uri == f"init.mp4?token={token}"
    assert all(s.uri.endswith(f".m4s?token={token}") for s in media.segments)
    for uri in (media.segment_map[0].uri, media.segments[0].uri):
        got = await client.get(f"/stream/{pid}/270p/{uri}")
        assert got.status == 200 and got.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    static = await client.get(f"/stream/{pid}/audio.m4a?token={token}", headers={"Range": "bytes=0-3"})
    assert static.status == 206 and static.headers["Cache-Control"] == "private, max-age=3600"


async def test_signed_refusals_and_claims(client_factory: Any, packaged: Packaged) -> None:
    asset, signing, kid, private = await signed_asset(client_factory, packaged)
    client, pid = asset.client, asset.playback_id
    for token in (sign(private, kid, pid, aud="t"), sign(private, kid, "someoneelse"),
                  sign(private, kid, pid, exp=int(time.time()) - 60), "not-a-jwt",
                  sign(private, kid, pid) + "%22%0A%23EXT-X-ENDLIST"):
        response = await client.get(f"/stream/{pid}.m3u8?token={token}")
        assert response.status in (403,), (token, await response.text())
    # Mux's modifiers may be claims of the token; the claims win over the query
    token = sign(private, kid, pid, max_resolution="270p")
    playlist = m3u8.loads(await (await client.get(f"/stream/{pid}.m3u8?token={token}&max_resolution=1080p")).text())
    assert [p.uri.split("?")[0] for p in playlist.playlists] == [f"{pid}/270p/index.m3u8"]
    token = sign(private, kid, pid)
    assert await signing.delete(kid)
    assert (await client.get(f"/stream/{pid}.m3u8?token={token}")).status == 403


async def test_ffmpeg_follows_signed_urls(client_factory: Any, packaged: Packaged) -> None:
    asset, _, kid, private = await signed_asset(client_factory, packaged)
    url = str(asset.client.make_url(f"/stream/{asset.playback_id}.m3u8?token={sign(private, kid, asset.playback_id)}"))
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-protocol_whitelist", "http,tcp", "-i", url,
        "-map", "0", "-f", "null", "-", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0 and err == b"", err.decode(errors="replace")
