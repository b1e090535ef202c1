"""An upload's bytes never run as a page on the gateway's origin, whatever its metadata claims, even in
a browser that holds the API's Basic credentials (real Chromium)."""

from __future__ import annotations

import base64
import urllib.request
from pathlib import Path

from tests.conftest import TOKEN_ID, TOKEN_SECRET
from tests.ui.conftest import Stack
from tests.ui.session import BrowserError, open_session

PAYLOAD = (b"<html><head><title>page</title></head><body><script>"
           b"document.title = 'pwned'; try { parent.pwned = true } catch (e) {}"
           b"fetch('/video/v1/webhook-deliveries').then(r => { try { parent.apiStatus = r.status } catch (e) {} });"
           b"</script></body></html>")


def tus_upload(base: str, filetype: str) -> str:
    auth = "Basic " + base64.b64encode(f"{TOKEN_ID}:{TOKEN_SECRET}".encode()).decode()
    meta = "filetype " + base64.b64encode(filetype.encode()).decode()
    create = urllib.request.Request(base + "/files/", method="POST", headers={
        "Tus-Resumable": "1.0.0", "Authorization": auth, "Upload-Length": str(len(PAYLOAD)),
        "Upload-Metadata": meta})
    with urllib.request.urlopen(create, timeout=10) as resp:
        location = str(resp.headers["Location"])
    patch = urllib.request.Request(location, data=PAYLOAD, method="PATCH", headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    with urllib.request.urlopen(patch, timeout=10) as resp:
        assert resp.status == 204
    return location


def test_html_with_a_media_type_never_runs(gateway_only: Stack, tmp_path: Path) -> None:
    urls = {filetype: tus_upload(gateway_only.url, filetype)
            for filetype in ("video/mp4, text/html", "text/html", "video/mp4", "image/svg+xml")}
    with open_session(tmp_path / "browser.log", credentials=(TOKEN_ID, TOKEN_SECRET)) as page:
        for filetype, url in urls.items():
            page.goto("about:blank")
            try:
                page.goto(url)          # opened directly, as a victim would open a link
            except BrowserError as exc:  # a download (Content-Disposition: attachment) is no page at all
                assert "Download is starting" in str(exc) or "ERR_ABORTED" in str(exc), exc
            page.wait_for_function("() => document.readyState === 'complete'")
            state = page.evaluate("() => ({ title: document.title, scripts: document.scripts.length })")
            assert state["title"] != "pwned" and state["scripts"] == 0, (filetype, state)
