"""The image API of a playback id (gateway/playback/images.py) on an in-process gateway, both backends:
thumbnails against the frame ffmpeg extracts from the source at the same time, every fit mode's size,
rotation and flips, storyboards whose JSON, VTT and sheet agree, animated GIFs, the cache (a second
request runs no ffmpeg), single flight, the render pool's bounds under a burst, and the errors."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from gateway.app import IMAGES, SIGNING, STORAGE
from gateway.catalog.masters import MASTER, object_name
from gateway.errors import Unavailable
from gateway.playback.images import ImageRoutes
from gateway.playback.render import RenderPool
from tests.playback.conftest import Packaged, ReadyAsset, publish

FF = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
SMALL = (64, 36)   # frames are compared at this size, in grayscale


async def with_master(ready: ReadyAsset, packaged: Packaged) -> ReadyAsset:
    """``ready`` with its master stored (the packaged source clip: 640x360, 4 s of testsrc2)."""
    app = ready.client.app
    assert app is not None
    await app[STORAGE].put_object(object_name(ready.asset_id, MASTER), str(packaged.root / "source.mp4"))
    return ready


@pytest.fixture
async def shots(ready_asset: ReadyAsset, packaged: Packaged) -> ReadyAsset:
    return await with_master(ready_asset, packaged)


def images_of(ready: ReadyAsset) -> ImageRoutes:
    app = ready.client.app
    assert app is not None
    routes: ImageRoutes = app[IMAGES]
    return routes


async def fetch(ready: ReadyAsset, path: str, **query: Any) -> tuple[int, dict[str, str], bytes]:
    async with ready.client.get(f"/image/{ready.playback_id}/{path}", params=query) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def ffmpeg(*argv: str) -> bytes:
    done = await asyncio.to_thread(subprocess.run, [*FF, *argv], capture_output=True, check=True, timeout=60)
    return done.stdout


async def saved(tmp_path: Path, body: bytes, ext: str) -> Path:
    path = tmp_path / f"image-{time.monotonic_ns()}.{ext}"
    await asyncio.to_thread(path.write_bytes, body)
    return path


async def size_of(path: Path) -> tuple[int, int]:
    done = await asyncio.to_thread(subprocess.run, ["ffprobe", "-v", "error", "-select_streams", "v:0",
                                                    "-show_entries", "stream=width,height", "-of", "json",
                                                    str(path)], capture_output=True, check=True, timeout=30)
    stream = json.loads(done.stdout)["streams"][0]
    return int(stream["width"]), int(stream["height"])


async def gray(path: Path, crop: str = "") -> bytes:
    chain = f"{crop + ',' if crop else ''}scale={SMALL[0]}:{SMALL[1]}:flags=area,format=gray"
    return await ffmpeg("-i", str(path), "-frames:v", "1", "-vf", chain, "-f", "rawvideo", "-")


async def reference(packaged: Packaged, tmp_path: Path, at: float, filters: str = "") -> Path:
    """The frame ffmpeg itself extracts from the source at ``at`` (accurate seek), as PNG."""
    out = tmp_path / f"ref-{at}-{abs(hash(filters))}.png"
    chain = ["-vf", filters] if filters else []
    await ffmpeg("-ss", str(at), "-i", str(packaged.root / "source.mp4"), "-frames:v", "1", *chain, str(out))
    return out


def mad(a: bytes, b: bytes) -> float:
    assert len(a) == len(b) == SMALL[0] * SMALL[1]
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


async def test_thumbnail_is_the_frame_at_time(shots: ReadyAsset, packaged: Packaged, tmp_path: Path) -> None:
    status, headers, body = await fetch(shots, "thumbnail.jpg", time="1.3", width="320")
    assert status == 200, body
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"].startswith("public, max-age=")
    ours = await saved(tmp_path, body, "jpg")
    assert await size_of(ours) == (320, 180)
    same = mad(await gray(ours), await gray(await reference(packaged, tmp_path, 1.3)))
    other = mad(await gray(ours), await gray(await reference(packaged, tmp_path, 2.9)))
    assert same < 3 and other > 4 * same, (same, other)
    status, _, middle = await fetch(shots, "thumbnail.png")   # default: the middle, at the source's size
    assert status == 200
    path = await saved(tmp_path, middle, "png")
    assert await size_of(path) == (640, 360)
    assert mad(await gray(path), await gray(await reference(packaged, tmp_path, shots.duration / 2))) < 3


@pytest.mark.parametrize("ext", ["png", "webp"])
async def test_thumbnail_formats(shots: ReadyAsset, tmp_path: Path, ext: str) -> None:
    status, headers, body = await fetch(shots, f"thumbnail.{ext}", width="100")
    assert status == 200
    assert headers["Content-Type"] == f"image/{ext}"
    assert await size_of(await saved(tmp_path, body, ext)) == (100, 56)


@pytest.mark.parametrize(("fit_mode", "size"), [("preserve", (300, 169)), ("stretch", (300, 300)),
                                                 ("crop", (300, 300)), ("smartcrop", (300, 300)),
                                                 ("pad", (300, 300))])
async def test_fit_modes(shots: ReadyAsset, tmp_path: Path, fit_mode: str, size: tuple[int, int]) -> None:
    status, _, body = await fetch(shots, "thumbnail.png", width="300", height="300", fit_mode=fit_mode, time="1")
    assert status == 200, body
    path = await saved(tmp_path, body, "png")
    assert await size_of(path) == size
    if fit_mode == "pad":   # letterboxed: black bands above and below the 300x169 picture
        bands = await ffmpeg("-i", str(path), "-vf", "crop=300:60:0:0,format=gray", "-f", "rawvideo", "-")
        assert max(bands) < 20


async def test_odd_sizes_are_exact(shots: ReadyAsset, tmp_path: Path) -> None:
    for mode in ("pad", "crop", "stretch"):
        status, _, body = await fetch(shots, "thumbnail.jpg", width="201", height="151", fit_mode=mode)
        assert status == 200
        assert await size_of(await saved(tmp_path, body, "jpg")) == (201, 151)


@pytest.mark.parametrize(("query", "filters", "size"), [
    ({"rotate": "90"}, "transpose=clock", (360, 640)),
    ({"rotate": "270"}, "transpose=cclock", (360, 640)),
    ({"rotate": "180"}, "hflip,vflip", (640, 360)),
    ({"flip_h": "true"}, "hflip", (640, 360)),
    ({"flip_v": "true"}, "vflip", (640, 360)),
    ({"rotate": "90", "width": "180"}, "transpose=clock", (180, 320)),
])
async def test_rotate_and_flip(shots: ReadyAsset, packaged: Packaged, tmp_path: Path, query: dict[str, str],
                               filters: str, size: tuple[int, int]) -> None:
    status, _, body = await fetch(shots, "thumbnail.png", time="1.5", **query)
    assert status == 200, body
    ours = await saved(tmp_path, body, "png")
    assert await size_of(ours) == size
    turned = mad(await gray(ours), await gray(await reference(packaged, tmp_path, 1.5, filters)))
    plain = mad(await gray(ours), await gray(await reference(packaged, tmp_path, 1.5)))
    assert turned < 6 and plain > 3 * turned, (turned, plain)


async def test_time_past_the_end_is_the_last_frame(shots: ReadyAsset, packaged: Packaged, tmp_path: Path) -> None:
    status, _, body = await fetch(shots, "thumbnail.png", time="99")
    assert status == 200, body
    last = await reference(packaged, tmp_path, shots.duration - 1 / 30)
    assert mad(await gray(await saved(tmp_path, body, "png")), await gray(last)) < 3


@pytest.mark.parametrize(("query", "named"), [
    ({"width": "5000"}, "width"), ({"height": "0"}, "height"), ({"width": "12.5"}, "width"),
    ({"fit_mode": "cover"}, "fit_mode"), ({"rotate": "45"}, "rotate"), ({"flip_h": "yes"}, "flip_h"),
    ({"time": "soon"}, "time"), ({"time": "-1"}, "time"), ({"time": "nan"}, "time"),
])
async def test_bad_parameters(shots: ReadyAsset, query: dict[str, str], named: str) -> None:
    status, headers, body = await fetch(shots, "thumbnail.jpg", **query)
    assert status == 400
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_parameters" and named in error["messages"][0]
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert images_of(shots).pool.renders == 0


async def test_storyboard_covers_the_asset(shots: ReadyAsset, tmp_path: Path) -> None:
    status, headers, body = await fetch(shots, "storyboard.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    board = json.loads(body)
    assert images_of(shots).pool.renders == 0   # geometry alone: nothing rendered
    tiles, width, height = board["tiles"], board["tile_width"], board["tile_height"]
    assert board["duration"] == shots.duration and (width, height) == (256, 144)
    starts = [tile["start"] for tile in tiles]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < shots.duration
    assert len(tiles) == 4   # one a second for a 4 s asset
    assert board["url"] == f"{shots.client.make_url('/')}image/{shots.playback_id}/storyboard.jpg"
    columns = len({tile["x"] for tile in tiles})
    rows = len({tile["y"] for tile in tiles})
    assert (rows - 1) * columns < len(tiles) <= rows * columns
    status, headers, sheet = await fetch(shots, "storyboard.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert await size_of(await saved(tmp_path, sheet, "jpg")) == (columns * width, rows * height)

    status, headers, vtt = await fetch(shots, "storyboard.vtt")
    assert status == 200 and headers["Content-Type"] == "text/vtt; charset=utf-8"
    lines = vtt.decode().split("\n")
    assert lines[0] == "WEBVTT"
    cues = [(line, lines[n + 1]) for n, line in enumerate(lines) if " --> " in line]
    assert len(cues) == len(tiles)
    previous_end = "00:00:00.000"
    for (timing, target), tile in zip(cues, tiles, strict=True):
        start, end = timing.split(" --> ")
        assert start == previous_end
        previous_end = end
        assert target == f"{board['url']}#xywh={tile['x']},{tile['y']},{width},{height}"
    assert previous_end == "00:00:04.000"


async def test_animated_gif(shots: ReadyAsset, tmp_path: Path) -> None:
    status, headers, body = await fetch(shots, "animated.gif", start="1", end="3", fps="10")
    assert status == 200, body
    assert headers["Content-Type"] == "image/gif" and body[:6] == b"GIF89a"
    path = await saved(tmp_path, body, "gif")
    done = await asyncio.to_thread(subprocess.run, [
        "ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames,width,height",
        "-of", "json", str(path)], capture_output=True, check=True)
    stream = json.loads(done.stdout)["streams"][0]
    assert (stream["width"], stream["height"]) == (320, 180)
    assert abs(int(stream["nb_read_frames"]) - 20) <= 1
    status, headers, webp = await fetch(shots, "animated.webp", width="160")
    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    assert abs(webp.count(b"ANMF") - 60) <= 1   # 0-5 s cut to the 4 s asset, at 15 fps
    for query in ({"start": "1", "end": "12"}, {"start": "3", "end": "2"}, {"width": "641"}, {"fps": "31"}):
        status, _, _ = await fetch(shots, "animated.gif", **query)
        assert status == 400, query


async def test_cached_and_single_flight(shots: ReadyAsset) -> None:
    pool = images_of(shots).pool
    answers = await asyncio.gather(*(fetch(shots, "thumbnail.jpg", time="2.5", width="200") for _ in range(5)))
    assert {status for status, _, _ in answers} == {200}
    assert len({body for _, _, body in answers}) == 1
    assert pool.renders == 1   # five identical requests, one render
    for _ in range(3):
        status, _, body = await fetch(shots, "thumbnail.jpg", time="2.500", width="200")
        assert status == 200 and body == answers[0][2]
    assert pool.renders == 1   # served from storage
    async with shots.client.get(f"/image/{shots.playback_id}/thumbnail.jpg?time=2.5&width=200",
                                headers={"Range": "bytes=0-9"}) as resp:
        assert resp.status == 206 and await resp.read() == body[:10]
        etag = resp.headers["ETag"]
    async with shots.client.get(f"/image/{shots.playback_id}/thumbnail.jpg?time=2.5&width=200",
                                headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    assert pool.renders == 1


@pytest.mark.parametrize("backend", ["filesystem"], indirect=True)
async def test_burst_is_bounded(client_factory: Any, packaged: Packaged) -> None:
    client = await client_factory(playback={"render_concurrency": 1, "render_queue": 4})
    ready = await with_master(await publish(client, packaged), packaged)
    answers = await asyncio.gather(*(fetch(ready, "thumbnail.jpg", time=f"{n / 10:.1f}") for n in range(40)))
    statuses = [status for status, _, _ in answers]
    assert set(statuses) == {200, 503}, statuses
    assert statuses.count(200) >= 5
    for status, headers, body in answers:
        if status == 503:
            assert int(headers["Retry-After"]) >= 1
            assert json.loads(body)["error"]["type"] == "unavailable"
    assert images_of(ready).pool.renders == statuses.count(200)


async def test_signed_thumbnail_takes_parameters_from_the_token(client_factory: Any, packaged: Packaged,
                                                                tmp_path: Path) -> None:
    client = await client_factory()
    ready = await with_master(await publish(client, packaged, policy="signed"), packaged)
    app = client.app
    assert app is not None
    key = await app[SIGNING].create()

    def token(audience: str, **claims: Any) -> str:
        body = {"sub": ready.playback_id, "aud": audience, "exp": int(time.time()) + 600, **claims}
        return jwt.encode(body, base64.b64decode(key.private_key), algorithm="RS256", headers={"kid": key.id})

    assert (await fetch(ready, "thumbnail.jpg"))[0] == 403
    status, headers, body = await fetch(ready, "thumbnail.jpg", token=token("t", width=120), width="300")
    assert status == 200, body
    assert headers["Cache-Control"].startswith("private")
    assert await size_of(await saved(tmp_path, body, "jpg")) == (120, 68)   # the claim wins over the query
    assert (await fetch(ready, "storyboard.json", token=token("t")))[0] == 403   # another audience
    signed = token("s")
    status, _, body = await fetch(ready, "storyboard.json", token=signed)
    assert status == 200 and json.loads(body)["url"].endswith(f"/storyboard.jpg?token={signed}")


async def test_unknown_and_preparing(client_factory: Any, packaged: Packaged) -> None:
    client = await client_factory()
    async with client.get("/image/nosuchplaybackid/thumbnail.jpg") as resp:
        assert resp.status == 404
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
    preparing = await publish(client, packaged, ready=False)
    for path in ("thumbnail.jpg", "storyboard.vtt", "animated.gif"):
        assert (await fetch(preparing, path))[0] == 412


async def test_missing_master_is_404_not_500(ready_asset: ReadyAsset) -> None:
    status, _, body = await fetch(ready_asset, "thumbnail.jpg")
    assert status == 404 and "master" in json.loads(body)["error"]["messages"][0]


async def test_pool_times_out_and_close_kills(tmp_path: Path) -> None:
    marker = tmp_path / "pid"

    async def sleeper(output: str) -> list[list[str]]:
        return [["sh", "-c", f"echo $$ > {marker}; exec sleep 30"]]

    async def store(output: str) -> None:
        raise AssertionError("nothing to store")

    pool = RenderPool(concurrency=1, queue=1, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        await pool.render("slow", sleeper, "jpg", store)
    assert time.monotonic() - started < 5
    assert _gone(marker)

    pool = RenderPool(concurrency=1, queue=1, timeout=30)
    waiting = asyncio.ensure_future(pool.render("slow", sleeper, "jpg", store))
    await asyncio.sleep(1.0)   # the sleeper runs
    assert pool.renders == 1 and not _gone(marker)
    await pool.close()
    with pytest.raises(Unavailable):
        await waiting
    assert _gone(marker)


def _gone(marker: Path) -> bool:
    """The process whose pid ``marker`` holds is dead and reaped (or a zombie about to be)."""
    status = Path(f"/proc/{marker.read_text().strip()}/status")
    try:
        return "zombie" in status.read_text()
    except FileNotFoundError:
        return True
