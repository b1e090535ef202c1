"""Real players on /stream/: hls.js and <mux-player> in Debian's Chromium (driven by tests/js/hls_play.mjs)
play a ready asset to ``ended`` from a page on another origin (CORS), switching rungs on the way. The
pages are served here, not by the gateway; the players come from tests/js/node_modules."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.browser.harness import CHROMIUM, JS, require_browser
from tests.playback.conftest import Packaged, ReadyAsset, publish
from tests.servers import free_port

pytestmark = [pytest.mark.node, pytest.mark.parametrize("backend", ["filesystem"])]
VENDOR = {"/vendor/hls.js": JS / "node_modules" / "hls.js" / "dist" / "hls.min.js",
          "/vendor/mux-player.js": JS / "node_modules" / "@mux" / "mux-player" / "dist" / "mux-player.js"}

HLS_PAGE = """<!doctype html><video id="v" muted playsinline></video>
<script src="/vendor/hls.js"></script><script>
window.result = new Promise((resolve) => {
  const video = document.getElementById("v"), errors = [], fragments = [];
  const hls = new Hls({ startLevel: 0 });
  let levels = [];
  hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
    levels = data.levels.map((l) => l.height);
    video.playbackRate = 4;
    video.play().catch((e) => errors.push({ details: String(e), fatal: false }));
  });
  hls.on(Hls.Events.FRAG_BUFFERED, (_, data) => {
    fragments.push(data.frag.level);
    if (fragments.length === 1) hls.nextLevel = levels.length - 1;   // switch rungs mid-way
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    errors.push({ type: data.type, details: data.details, fatal: data.fatal });
    if (data.fatal) resolve({ ended: false, errors, fragments, levels });
  });
  video.addEventListener("ended", () => resolve({
    ended: true, errors, fragments, levels, currentTime: video.currentTime, duration: video.duration,
    frames: video.getVideoPlaybackQuality().totalVideoFrames }));
  hls.loadSource(SRC);
  hls.attachMedia(video);
});
</script>"""

MUX_PAGE = """<!doctype html><script src="/vendor/mux-player.js"></script>
<mux-player id="p" ATTRIBUTES muted stream-type="on-demand" disable-tracking disable-cookies
            style="width: 480px"></mux-player><script>
window.result = new Promise((resolve) => {
  const player = document.getElementById("p"), events = [];
  for (const name of ["loadedmetadata", "playing"]) player.addEventListener(name, () => events.push(name));
  player.addEventListener("ended", () => resolve({ ended: true, events, currentTime: player.currentTime,
                                                   duration: player.duration }));
  player.addEventListener("error", () => resolve({ ended: false, events,
    error: player.error && { code: player.error.code, message: player.error.message } }));
  customElements.whenDefined("mux-player").then(() => {
    player.playbackRate = 4;
    player.play().catch((e) => events.push("play() refused: " + e));
  });
});
</script>"""


@pytest.fixture
async def pages() -> AsyncIterator[tuple[dict[str, str], str]]:
    """A page server on another origin (``localhost``; the gateway is 127.0.0.1): path -> HTML."""
    html: dict[str, str] = {}

    async def serve(request: web.Request) -> web.StreamResponse:
        if request.path in VENDOR:
            return web.FileResponse(VENDOR[request.path], headers={"Content-Type": "text/javascript"})
        if request.path not in html:
            raise web.HTTPNotFound()
        return web.Response(text=html[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    server = TestServer(app, host="localhost")
    await server.start_server()
    yield html, f"http://localhost:{server.port}"
    await server.close()


async def play(page_url: str, *args: str) -> dict[str, Any]:
    require_browser()
    options = {"pageUrl": page_url, "timeoutMs": 60000, "executablePath": str(CHROMIUM), "args": list(args)}
    process = await asyncio.create_subprocess_exec("node", str(JS / "hls_play.mjs"), json.dumps(options), cwd=JS,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode(errors="replace")[-4000:]
    report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return report


async def test_hlsjs_plays_to_the_end(ready_asset: ReadyAsset, pages: tuple[dict[str, str], str]) -> None:
    html, origin = pages
    src = str(ready_asset.client.make_url(f"/stream/{ready_asset.playback_id}.m3u8"))
    html["/hls.html"] = HLS_PAGE.replace("SRC", json.dumps(src))
    report = await play(origin + "/hls.html")
    assert report["ended"], report
    assert report["levels"] == [270, 360]
    assert not [e for e in report["errors"] if e["fatal"]], report["errors"]
    assert set(report["fragments"]) == {0, 1}, report["fragments"]   # both rungs played
    assert abs(report["duration"] - ready_asset.duration) < 0.2 and report["frames"] > 0


async def test_mux_player_plays_src(ready_asset: ReadyAsset, pages: tuple[dict[str, str], str]) -> None:
    html, origin = pages
    src = str(ready_asset.client.make_url(f"/stream/{ready_asset.playback_id}.m3u8"))
    html["/mux.html"] = MUX_PAGE.replace("ATTRIBUTES", f'src="{src}"')
    report = await play(origin + "/mux.html")
    assert report["ended"] and "playing" in report["events"], report


def _certificate(directory: Path) -> ssl.SSLContext:
    """A self-signed certificate for stream.example.test and image.example.test."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stream.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("stream.example.test"), x509.DNSName("image.example.test"),
             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(key, hashes.SHA256()))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_mux_player_custom_domain(client_factory: Any, packaged: Packaged, tmp_path: Path,
                                        pages: tuple[dict[str, str], str]) -> None:
    """``custom-domain="example.test"``: mux-player asks https://stream.example.test/<id>.m3u8; Chromium
    resolves it to the gateway (a TLS listener added beside its plain one) and host routing answers."""
    client = await client_factory(playback={"host_routing": True})
    asset = await publish(client, packaged)
    runner = client.server.runner
    assert runner is not None
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=_certificate(tmp_path)).start()
    html, origin = pages
    html["/custom.html"] = MUX_PAGE.replace(
        "ATTRIBUTES", f'playback-id="{asset.playback_id}" custom-domain="example.test"')
    rules = f"MAP stream.example.test 127.0.0.1:{port}, MAP image.example.test 127.0.0.1:{port}"
    report = await play(origin + "/custom.html", f"--host-resolver-rules={rules}", "--ignore-certificate-errors")
    assert report["ended"] and "playing" in report["events"], report
    asked = [line for line in report["log"] if "https://stream.example.test/" in line]
    assert any(line.startswith(f"response: 200 https://stream.example.test/{asset.playback_id}.m3u8")
               for line in asked), asked
