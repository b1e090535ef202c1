"""HLS and static renditions served under /stream/ (gateway/playback/stream.py), on both backends."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import m3u8
from yarl import URL

from gateway.app import ASSETS, STORAGE
from gateway.catalog.models import AssetStatus, RungStatus
from gateway.catalog.playback import hls_object
from tests.conftest import AUTH
from tests.playback.conftest import Packaged, ReadyAsset, publish

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def playback_headers(headers: Any) -> None:
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Range" in headers["Access-Control-Expose-Headers"]


async def text(client: Any, path: str, status: int = 200, **kwargs: Any) -> str:
    response = await client.get(path, **kwargs)
    body: str = (await response.read()).decode(errors="replace")
    assert response.status == status, body
    playback_headers(response.headers)
    return body


async def test_multivariant_lists_ready_rungs_lowest_first(ready_asset: ReadyAsset) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id
    response = await client.get(f"/stream/{pid}.m3u8")
    assert response.status == 200
    assert response.headers["Content-Type"] == PLAYLIST_TYPE
    assert response.headers["Cache-Control"] == "public, max-age=10"
    playback_headers(response.headers)
    body = await response.text()
    assert body.startswith("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
    playlist = m3u8.loads(body)
    assert playlist.is_variant
    assert [p.uri for p in playlist.playlists] == [f"{pid}/270p/index.m3u8", f"{pid}/360p/index.m3u8"]
    by_rung = {rung.name: rung for rung in ready_asset.asset.hls or ()}
    for variant, name in zip(playlist.playlists, ("270p", "360p"), strict=True):
        info, rung = variant.stream_info, by_rung[name]
        assert (info.bandwidth, info.average_bandwidth) == (rung.bandwidth, rung.average_bandwidth)
        assert info.resolution == (rung.width, rung.height)
        assert info.codecs == "avc1.4d401e,mp4a.40.2"
        assert info.frame_rate == 30.0
    assert "FRAME-RATE=30.000" in body
    head = await client.head(f"/stream/{pid}.m3u8")
    assert head.status == 200 and await head.read() == b""
    assert int(head.headers["Content-Length"]) == len(body.encode())


async def test_playback_modifiers(ready_asset: ReadyAsset) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id

    async def rungs(query: str) -> list[str]:
        playlist = m3u8.loads(await text(client, f"/stream/{pid}.m3u8?{query}"))
        return [p.uri.split("/")[1] for p in playlist.playlists]

    assert await rungs("max_resolution=270p") == ["270p"]
    assert await rungs("max_resolution=1080p") == ["270p", "360p"]
    assert await rungs("min_resolution=360p") == ["360p"]
    assert await rungs("rendition_order=desc") == ["360p", "270p"]
    assert await rungs("rendition_order=desc&max_resolution=360p&min_resolution=270p") == ["360p", "270p"]
    assert await rungs("min_resolution=720p") == ["360p"]        # above the ladder: the nearest rung
    for bad in ("max_resolution=240p", "max_resolution=720", "min_resolution=huge", "rendition_order=up",
                "min_resolution=720p&max_resolution=360p"):
        body = await text(client, f"/stream/{pid}.m3u8?{bad}", 400)
        assert '"invalid_parameters"' in body


async def test_media_playlist_and_segments(ready_asset: ReadyAsset, packaged: Packaged) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id
    response = await client.get(f"/stream/{pid}/360p/index.m3u8")
    assert response.status == 200 and response.headers["Content-Type"] == PLAYLIST_TYPE
    assert response.headers["Cache-Control"] == "public, max-age=10"
    media = m3u8.loads(await response.text())
    assert media.is_endlist and media.playlist_type == "vod" and media.version == 7
    assert media.segment_map[0].uri == "init.mp4"
    assert [s.uri for s in media.segments] == [f"seg{i:05d}.m4s" for i in range(len(media.segments))]
    assert abs(sum(s.duration for s in media.segments) - ready_asset.duration) < 0.1

    for file in ("init.mp4", "seg00000.m4s", media.segments[-1].uri):
        stored = (packaged.root / "360p" / file).read_bytes()
        got = await client.get(f"/stream/{pid}/360p/{file}")
        assert got.status == 200 and await got.read() == stored
        assert got.headers["Content-Type"] == "video/mp4"
        assert got.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        playback_headers(got.headers)
        ranged = await client.get(f"/stream/{pid}/360p/{file}", headers={"Range": "bytes=8-99"})
        assert ranged.status == 206 and await ranged.read() == stored[8:100]
        assert ranged.headers["Content-Range"] == f"bytes 8-99/{len(stored)}"
        past = await client.get(f"/stream/{pid}/360p/{file}", headers={"Range": f"bytes={len(stored)}-"})
        assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{len(stored)}"
        assert past.headers["Cache-Control"] == "no-store"
        playback_headers(past.headers)
        head = await client.head(f"/stream/{pid}/360p/{file}")
        assert head.status == 200 and int(head.headers["Content-Length"]) == len(stored)
        assert await head.read() == b""


async def test_static_renditions(ready_asset: ReadyAsset, packaged: Packaged) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id
    for file, kind in (("highest.mp4", "video/mp4"), ("audio.m4a", "audio/mp4")):
        stored = (packaged.root / file).read_bytes()
        got = await client.get(f"/stream/{pid}/{file}")
        assert got.status == 200 and await got.read() == stored
        assert got.headers["Content-Type"] == kind and got.headers["Cache-Control"] == "public, max-age=3600"
        playback_headers(got.headers)
        ranged = await client.get(f"/stream/{pid}/{file}", headers={"Range": "bytes=-10"})
        assert ranged.status == 206 and await ranged.read() == stored[-10:]
        head = await client.head(f"/stream/{pid}/{file}")
        assert head.status == 200 and int(head.headers["Content-Length"]) == len(stored)
    assert "static_renditions" in await text(client, f"/stream/{pid}/1080p.mp4", 404)
    plain = await publish(client, packaged, static=False)
    for file in ("highest.mp4", "audio.m4a"):
        body = await text(client, f"/stream/{plain.playback_id}/{file}", 404)
        assert "static_renditions" in body and "mp4_support" in body
    await text(client, f"/stream/{plain.playback_id}.m3u8")


async def test_not_found(ready_asset: ReadyAsset) -> None:
    client, pid, asset_id = ready_asset.client, ready_asset.playback_id, ready_asset.asset_id
    for path in ("/stream/nosuchid.m3u8", "/stream/nosuchid/360p/init.mp4", "/stream/nosuchid/highest.mp4",
                 f"/stream/{pid}/720p/index.m3u8", f"/stream/{pid}/999p/init.mp4", f"/stream/{pid}/audio/init.mp4",
                 f"/stream/{pid}/foo/init.mp4", f"/stream/{pid}/360p/seg1.m4s", f"/stream/{pid}/360p/x.mp4",
                 f"/stream/{pid}/360p/index.m3u8.bak", f"/stream/{pid}/master.mp4", f"/stream/{pid}/360p",
                 f"/stream/{pid}/360p/init.mp4/x", f"/stream/{pid}.m3u8.m3u8", f"/stream/{pid}", "/stream/", "/stream",
                 f"/stream/{pid}/360p/..%2F..%2Fhighest.mp4", f"/stream/{pid}/..%2F360p/init.mp4",
                 f"/stream/{pid}/%2E%2E/init.mp4", f"/stream/{pid}/360p%2Finit.mp4",
                 f"/stream/{pid}/360p/..%2f..%2f..%2f{asset_id}%2fhighest.mp4", f"/stream/{pid}/360p/%2e%2e",
                 f"/stream/{pid}/360p/../../highest.mp4", f"/stream/{pid}/../{pid}/highest.mp4x",
                 f"/stream/{pid}%2F360p%2Finit.mp4"):
        response = await client.get(URL(path, encoded=True))
        body = await response.text()
        assert response.status == 404, (path, body)
        assert '"not_found"' in body, path
        playback_headers(response.headers)
        assert response.headers["Cache-Control"] == "no-store"
    # a deleted playback id stops playing at once
    await text(client, f"/stream/{pid}/360p/init.mp4")
    deleted = await client.delete(f"/video/v1/assets/{asset_id}/playback-ids/{pid}", headers=AUTH)
    assert deleted.status == 204
    for path in (f"/stream/{pid}.m3u8", f"/stream/{pid}/360p/init.mp4", f"/stream/{pid}/highest.mp4"):
        await text(client, path, 404)


async def test_preparing_is_412(client_factory: Any, packaged: Packaged) -> None:
    client = await client_factory()
    preparing = await publish(client, packaged, ready=False)
    for path in (".m3u8", "/360p/index.m3u8", "/360p/init.mp4", "/highest.mp4"):
        body = await text(client, f"/stream/{preparing.playback_id}{path}", 412)
        assert "preparing" in body


async def test_cors_preflight_and_methods(ready_asset: ReadyAsset) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id
    for path in (f"/stream/{pid}.m3u8", f"/stream/{pid}/360p/seg00000.m4s", f"/stream/{pid}/highest.mp4"):
        response = await client.options(path, headers={
            "Origin": "https://player.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range"})
        assert response.status == 204, path
        playback_headers(response.headers)
        assert "Range" in response.headers["Access-Control-Allow-Headers"]
        assert "GET" in response.headers["Access-Control-Allow-Methods"]
        answer = await client.get(path, headers={"Origin": "https://player.example"})
        assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await client.request(method, f"/stream/{pid}.m3u8")
        assert response.status == 405, method
        playback_headers(response.headers)


async def test_host_routing(client_factory: Any, packaged: Packaged) -> None:
    client = await client_factory(playback={"host_routing": True})
    asset = await publish(client, packaged)
    pid, stream = asset.playback_id, {"Host": "stream.example.test"}
    playlist = m3u8.loads(await text(client, f"/{pid}.m3u8?max_resolution=270p", headers=stream))
    assert [p.uri for p in playlist.playlists] == [f"{pid}/270p/index.m3u8"]
    media = m3u8.loads(await text(client, f"/{pid}/270p/index.m3u8", headers={"Host": "stream.cdn.example:8443"}))
    assert media.segment_map[0].uri == "init.mp4"
    ranged = await client.get(f"/{pid}/270p/init.mp4", headers={**stream, "Range": "bytes=0-7"})
    assert ranged.status == 206 and len(await ranged.read()) == 8
    assert ranged.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await client.get(f"/{pid}/highest.mp4", headers=stream)).status == 200
    assert (await client.get(f"/stream/{pid}.m3u8", headers=stream)).status == 200   # already prefixed
    await text(client, "/nosuchid.m3u8", 404, headers=stream)          # errors keep the playback dialect
    await text(client, f"/{pid}/360p/..%2Finit.mp4", 404, headers=stream)
    preflight = await client.options(f"/{pid}.m3u8", headers={**stream, "Origin": "https://a.example",
                                                                "Access-Control-Request-Method": "GET"})
    assert preflight.status == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert (await client.get("/healthz", headers=stream)).status == 200  # other paths are left alone
    for host in ("example.test", "upload.example.test", "streamexample.test", "stream"):
        assert (await client.get(f"/{pid}.m3u8", headers={"Host": host})).status == 404, host
    off = await client_factory()
    plain = await publish(off, packaged)
    assert (await off.get(f"/{plain.playback_id}.m3u8", headers=stream)).status == 404
    assert (await off.get(f"/stream/{plain.playback_id}.m3u8", headers=stream)).status == 200


async def test_ffmpeg_decodes_every_rung(ready_asset: ReadyAsset) -> None:
    client, pid = ready_asset.client, ready_asset.playback_id
    url = str(client.make_url(f"/stream/{pid}.m3u8"))
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-protocol_whitelist", "http,tcp", "-i", url,
        "-map", "0", "-f", "null", "-", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0 and err == b"", err.decode(errors="replace")
    probe = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-protocol_whitelist", "http,tcp", "-show_entries", "stream=codec_type,height",
        "-of", "csv=p=0", url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    listed, err = await asyncio.wait_for(probe.communicate(), 60)
    assert probe.returncode == 0, err.decode(errors="replace")
    assert set(listed.decode().split()) == {"video,270", "video,360", "audio"}, listed   # (programs repeat them)


async def test_errored_rung_is_not_served(client_factory: Any, packaged: Packaged) -> None:
    """Only READY rungs are listed and served, whatever storage holds."""
    client = await client_factory()
    full = await publish(client, packaged)    # stores the files; its asset is READY with both rungs
    app = client.app
    assert app is not None
    assets = app[ASSETS]
    half = await publish(client, packaged, ready=False)
    for rung in packaged.rungs:               # the same files under the half-made asset
        for path in (packaged.root / rung.name).iterdir():
            await app[STORAGE].put_object(hls_object(half.asset_id, rung.name, path.name), str(path))
    rungs = (packaged.rungs[0], replace(packaged.rungs[1], status=RungStatus.ERRORED, bandwidth=None))
    assert await assets.write(half.asset, replace(half.asset, status=AssetStatus.READY, hls=rungs))
    playlist = m3u8.loads(await text(client, f"/stream/{half.playback_id}.m3u8"))
    assert [p.uri.split("/")[1] for p in playlist.playlists] == ["360p"]
    for file in ("index.m3u8", "init.mp4", "seg00000.m4s"):
        await text(client, f"/stream/{half.playback_id}/270p/{file}", 404)
        await text(client, f"/stream/{full.playback_id}/270p/{file}")
