"""The uploader page in headless Chromium against a real gateway and worker: sign in, upload with
tus-js-client, with UpChunk and with tus-js-client speaking the IETF draft (interop version 6), watch the
asset turn ready in the list without a reload, pause and resume, and resume a tus or IETF upload after
the page was reloaded mid-upload."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.api import download_sha256, request, sha256_hex
from tests.conftest import TOKEN_ID, TOKEN_SECRET, TUS
from tests.ui.conftest import CLIP_NAME, Stack
from tests.ui.session import Session, open_session

PROGRESS = "Number(document.getElementById('progress').value)"
PERCENT = f"() => {PROGRESS}"
TIMES = "\N{MULTIPLICATION SIGN}"  # as the page writes a resolution: 320 TIMES 180
SLOW = 4 * 1024 * 1024  # bytes per second: time to act mid-upload on a fast machine too
NO_OVERFLOW = "() => document.documentElement.scrollWidth <= window.innerWidth"
UNLABELLED = """() => Array.from(document.querySelectorAll('input, button, progress'))
  .filter((e) => e.offsetParent !== null || e.type === 'file')
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
  .map((e) => e.id || e.outerHTML)"""


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Session]:
    with open_session(tmp_path / "browser.log") as session:
        yield session


def sign_in(page: Session, url: str, secret: str = TOKEN_SECRET) -> None:
    page.goto(url + "/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    page.fill("#token-id", TOKEN_ID)
    page.fill("#token-secret", secret)
    page.click("#sign-in")
    if secret == TOKEN_SECRET:
        page.wait_for("#upload-section")


def start_upload(page: Session, file: Path, *, client: str, chunk_kib: int, master: bool = False) -> str:
    """Pick the file and options, press Upload; the direct upload's id (shown under the bar)."""
    page.set_input_files("#file", file)
    page.check(f"#client-{client}")
    page.check("#master-access", master)
    page.fill("#chunk-size", str(chunk_kib))
    page.click("#start")
    page.wait_for_function("() => document.getElementById('upload-id').textContent.startsWith('Direct upload ')")
    return page.text("#upload-id").removeprefix("Direct upload ").strip()


def wait_until_done(page: Session, timeout: float = 60) -> None:
    page.wait_for_function("() => document.getElementById('percent').textContent === '100 %'", timeout=timeout)
    page.wait_for_function(
        "() => document.getElementById('upload-status').textContent.startsWith('Upload complete')")


def wait_for_ready_asset(page: Session, asset_id: str, timeout: float = 45) -> None:
    page.wait_for(f'li.asset[data-asset-id="{asset_id}"][data-status="ready"]', timeout=timeout)


def asset_text(page: Session, asset_id: str, part: str) -> str:
    return page.text(f'li.asset[data-asset-id="{asset_id}"] {part}').strip()


def assert_png(path: Path, min_width: int, min_height: int) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    assert min_width <= width <= 4000 and min_height <= height <= 8000, (width, height)
    assert len(data) > 5000, len(data)
    return width, height


def page_problems(page: Session) -> list[str]:
    """Errors the page logged (CSP violations arrive as console errors) and uncaught exceptions."""
    events = page.events()
    return [f"console.error: {m['text']} at {m.get('location')}" for m in events["console"]
            if m["type"] == "error"] + [f"pageerror: {e}" for e in events["pageErrors"]]


def assert_no_problems(page: Session) -> None:
    problems = page_problems(page)
    assert not problems, "\n".join(problems)


def assert_ietf_requests(requests: list[dict[str, Any]], upload_url: str) -> None:
    """Every request went to the direct upload's url in the IETF draft's interop version 6, none in tus;
    appends are application/partial-upload, ?1 on the one that ends the upload."""
    assert requests, "no upload requests"
    for r in requests:
        assert r["url"] == upload_url and r["interop"] == "6" and r["tusResumable"] is None, r
        if r["method"] == "PATCH":
            assert r["contentType"] == "application/partial-upload" and r["complete"] in ("?0", "?1"), r
    assert requests[-1]["method"] == "PATCH" and requests[-1]["complete"] == "?1", requests[-1]


def stored_offset(upload_url: str) -> int:
    reply = request("HEAD", upload_url, headers=TUS)
    assert reply.status == 200, reply.describe()
    return int(reply.headers["Upload-Offset"])


def test_tus_upload_to_a_ready_asset_without_reloading(stack: Stack, page: Session, clip: Path,
                                                       tmp_path: Path) -> None:
    sign_in(page, stack.url, secret="wrong")
    page.wait_for_function("() => document.getElementById('login-error').textContent !== ''")
    assert page.text("#login-error") == "That token was not accepted."
    page.events(clear=True)  # Chromium logs the 401 it just got
    page.fill("#token-secret", TOKEN_SECRET)
    page.click("#sign-in")
    page.wait_for("#upload-section")
    assert page.evaluate("() => sessionStorage.length") == 1 and page.evaluate("() => localStorage.length") == 0
    assert page.evaluate(UNLABELLED) == []
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page ever reloads

    upload_id = start_upload(page, clip, client="tus", chunk_kib=256)
    wait_until_done(page)
    upload = stack.api.get_upload(upload_id)
    assert upload["status"] == "asset_created" and upload["cors_origin"] == stack.url, upload
    assert upload["new_asset_settings"] == {"playback_policies": ["public"], "passthrough": CLIP_NAME}, upload
    asset_id = upload["asset_id"]
    wait_for_ready_asset(page, asset_id)
    asset = stack.api.get_asset(asset_id)
    assert asset["status"] == "ready", asset
    page.wait_for_function("() => document.getElementById('upload-status').textContent.endsWith('is ready.')")

    assert page.evaluate("() => window.sameDocument") is True and page.events()["navigations"] == 1
    assert asset_text(page, asset_id, ".duration dd") == f"{asset['duration']:.1f} s"
    assert asset_text(page, asset_id, ".duration dd") in ("2.0 s", "2.1 s")
    assert asset_text(page, asset_id, ".resolution dd") == f"320{TIMES}180 ({asset['resolution_tier']})"
    assert asset_text(page, asset_id, ".asset-title") == CLIP_NAME  # the name as text, not markup
    assert page.evaluate("() => document.querySelectorAll('#assets img:not(.poster)').length") == 0
    assert page.evaluate("() => document.title") == "Upload gateway"
    assert not asset.get("non_standard_input_reasons"), asset
    assert page.evaluate(f"() => document.querySelector('[data-asset-id=\"{asset_id}\"] .reasons')") is None
    assert page.evaluate("() => localStorage.length") == 0  # tus fingerprint and direct upload forgotten
    assert download_sha256(upload["url"]) == (clip.stat().st_size, sha256_hex(clip))

    requests = [(r["method"], r["url"]) for r in page.events()["requests"]]
    assert requests[0] == ("POST", upload["url"] + "/tus"), requests
    assert {m for m, _ in requests[1:]} == {"PATCH"}, requests

    shot = tmp_path / "uploader.png"
    page.screenshot(shot)
    assert_png(shot, 1024, 400)
    page.viewport(360, 740)
    assert page.evaluate(NO_OVERFLOW), "the page scrolls sideways at 360 px"
    narrow = tmp_path / "uploader-narrow.png"
    page.screenshot(narrow)
    assert assert_png(narrow, 360, 600)[0] == 360
    assert_no_problems(page)


def test_upchunk_upload_with_master_access(stack: Stack, page: Session, clip_444: Path) -> None:
    """A non-standard input this time: the list shows why it was transcoded."""
    clip = clip_444
    sign_in(page, stack.url)
    upload_id = start_upload(page, clip, client="upchunk", chunk_kib=256, master=True)
    wait_until_done(page)
    upload = stack.api.get_upload(upload_id)
    assert upload["new_asset_settings"]["master_access"] == "temporary", upload
    requests = page.events()["requests"]
    assert [(r["method"], r["url"]) for r in requests] == [("PUT", upload["url"])], requests
    assert requests[0]["contentRange"] == f"bytes 0-{clip.stat().st_size - 1}/{clip.stat().st_size}"

    asset_id = upload["asset_id"]
    wait_for_ready_asset(page, asset_id)
    link = f'li.asset[data-asset-id="{asset_id}"] a.master-link'
    page.wait_for(link, timeout=30)
    href = page.evaluate(f"() => document.querySelector('{link}').href")
    assert href == stack.api.get_asset(asset_id)["master"]["url"] and href.startswith(stack.url + "/downloads/")
    master = request("GET", href)
    assert master.status == 200 and master.headers["Content-Type"] == "video/mp4", master.describe()
    assert master.body[4:8] == b"ftyp"
    assert asset_text(page, asset_id, ".resolution dd").startswith(f"320{TIMES}180")
    assert stack.api.get_asset(asset_id)["non_standard_input_reasons"] == {"unsupported_pixel_format": "yuv444p"}
    reasons = page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '[data-asset-id="{asset_id}"] .reasons li'), (li) => li.textContent)""")
    assert reasons == ["unsupported_pixel_format: yuv444p"], reasons
    assert_no_problems(page)


def test_ietf_upload_to_a_ready_asset(stack: Stack, page: Session, clip: Path) -> None:
    """The third client: tus-js-client with ``protocol: 'ietf-draft-05'`` against the direct upload's url."""
    size = clip.stat().st_size
    sign_in(page, stack.url)
    page.evaluate("() => { window.sameDocument = true; }")
    upload_id = start_upload(page, clip, client="ietf", chunk_kib=256)
    wait_until_done(page)
    upload = stack.api.get_upload(upload_id)
    assert upload["status"] == "asset_created" and upload["cors_origin"] == stack.url, upload
    asset_id = upload["asset_id"]
    wait_for_ready_asset(page, asset_id)
    assert stack.api.get_asset(asset_id)["status"] == "ready"
    page.wait_for_function("() => document.getElementById('upload-status').textContent.endsWith('is ready.')")
    assert page.evaluate("() => window.sameDocument") is True
    assert asset_text(page, asset_id, ".asset-title") == CLIP_NAME

    requests = page.events()["requests"]
    assert_ietf_requests(requests, upload["url"])
    creation = requests[0]   # starts the direct upload (no token: the url is the capability), bytes follow
    assert (creation["method"], creation["complete"], creation["length"]) == ("POST", "?0", str(size)), creation
    assert [(r["method"], int(r["offset"])) for r in requests[1:]] == [
        ("PATCH", offset) for offset in range(0, size, 256 * 1024)], requests
    assert page.evaluate("() => localStorage.length") == 0  # fingerprint and direct upload forgotten
    assert download_sha256(upload["url"]) == (size, sha256_hex(clip))
    assert_no_problems(page)


@pytest.mark.parametrize("client", ["tus", "upchunk", "ietf"])
def test_pause_and_resume(gateway_only: Stack, page: Session, random_file: Path, client: str) -> None:
    size = random_file.stat().st_size
    sign_in(page, gateway_only.url)
    page.throttle(SLOW)
    upload_id = start_upload(page, random_file, client=client, chunk_kib=256)
    upload = gateway_only.api.get_upload(upload_id)
    # speed and time left show up once a little has been sent
    page.wait_for_function(f"""() => {PROGRESS} >= 5
        && /^\\d+\\.\\d MiB\\/s$/.test(document.getElementById('speed').textContent)
        && / left$/.test(document.getElementById('eta').textContent)""", polling=10)
    page.click("#pause")
    page.wait_for_function("() => document.getElementById('upload-status').textContent.startsWith('Paused')")
    assert page.evaluate("() => document.activeElement.id") == "resume"
    time.sleep(0.5)  # UpChunk finishes the chunk in flight; tus-js-client's abort() ends its PATCH
    stored = stored_offset(upload["url"])
    shown = page.evaluate(PERCENT)
    page.events(clear=True)
    time.sleep(1)
    assert page.events()["requests"] == [], "requests were sent while paused"
    assert stored_offset(upload["url"]) == stored and 0 < stored < size, (stored, size)
    assert page.evaluate(PERCENT) == shown and 5 <= shown < 100, shown
    assert page.text("#speed") == "" and page.text("#eta") == ""

    page.throttle(-1)
    page.click("#resume")
    wait_until_done(page, timeout=90)
    requests = page.events()["requests"]
    if client in ("tus", "ietf"):  # asks for the offset, then goes on from it
        assert (requests[0]["method"], int(requests[1]["offset"])) == ("HEAD", stored), requests[:2]
        if client == "ietf":
            assert_ietf_requests(requests, upload["url"])
    else:  # the next chunk starts at a 256 KiB boundary the server already holds
        first = int(requests[0]["contentRange"].split()[1].split("-")[0])
        assert first == stored and first % (256 * 1024) == 0, requests[0]
    assert download_sha256(upload["url"]) == (size, sha256_hex(random_file))


@pytest.mark.parametrize("client", ["tus", "ietf"])
def test_upload_resumes_after_a_page_reload(gateway_only: Stack, page: Session, random_file: Path,
                                            client: str) -> None:
    size = random_file.stat().st_size
    sign_in(page, gateway_only.url)
    page.throttle(SLOW)
    upload_id = start_upload(page, random_file, client=client, chunk_kib=256)
    upload = gateway_only.api.get_upload(upload_id)
    page.wait_for_function(f"() => {PROGRESS} >= 10", polling=10)
    page.reload()
    page.throttle(-1)
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    page.wait_for("#upload-section")  # still signed in (sessionStorage survives a reload)
    before = stored_offset(upload["url"])
    assert 0 < before < size, before
    keys = page.evaluate("() => Object.keys(localStorage).sort()")
    assert len(keys) == 2 and keys[0].startswith("tus::tus-br-random.bin-") and keys[1].startswith(
        "upgw.direct:random.bin:"), keys
    page.events(clear=True)

    page.set_input_files("#file", random_file)
    assert "partly uploaded before" in page.text("#upload-status")
    page.check(f"#client-{client}")  # the reloaded page starts with its default choice again
    page.click("#start")
    page.wait_for_function("() => document.getElementById('upload-status').textContent.includes('resuming')")
    assert page.text("#upload-id") == f"Direct upload {upload_id}"  # the same direct upload, continued
    wait_until_done(page, timeout=90)
    requests = page.events()["requests"]
    assert all(r["url"] == upload["url"] for r in requests), requests  # no new upload was created
    assert requests[0]["method"] == "HEAD" and requests[1]["method"] == "PATCH", requests[:2]
    assert int(requests[1]["offset"]) == before, (requests[1], before)
    if client == "ietf":
        assert_ietf_requests(requests, upload["url"])
    assert download_sha256(upload["url"]) == (size, sha256_hex(random_file))
    assert gateway_only.api.get_upload(upload_id)["status"] == "asset_created"
    assert page.evaluate("() => localStorage.length") == 0

    page.click("#sign-out")  # the token goes with the session; after a reload the page asks again
    page.wait_for("#login-section")
    assert page.evaluate("() => sessionStorage.length") == 0
    page.reload()
    page.wait_for("#login-section")
    assert page.evaluate("() => document.getElementById('upload-section').hidden") is True


def test_ietf_continues_an_upload_begun_with_upchunk(gateway_only: Stack, page: Session, random_file: Path) -> None:
    """tus-js-client has no stored URL for an upload UpChunk began: in IETF mode the page resumes the
    remembered direct upload from its url (HEAD, then PATCH from the server's offset) instead of POSTing
    there again, which the gateway would refuse (409: it already holds bytes)."""
    size = random_file.stat().st_size
    sign_in(page, gateway_only.url)
    page.throttle(SLOW)
    upload_id = start_upload(page, random_file, client="upchunk", chunk_kib=256)
    upload = gateway_only.api.get_upload(upload_id)
    page.wait_for_function(f"() => {PROGRESS} >= 10", polling=10)
    page.click("#pause")
    page.wait_for_function("() => document.getElementById('upload-status').textContent.startsWith('Paused')")
    page.reload()
    page.throttle(-1)
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    page.wait_for("#upload-section")
    time.sleep(0.5)  # the chunk UpChunk had in flight is done
    before = stored_offset(upload["url"])
    assert 0 < before < size, before
    page.events(clear=True)

    page.set_input_files("#file", random_file)
    assert "partly uploaded before" in page.text("#upload-status")
    page.check("#client-ietf")
    page.click("#start")
    wait_until_done(page, timeout=90)
    assert page.text("#upload-id") == f"Direct upload {upload_id}"
    requests = page.events()["requests"]
    assert_ietf_requests(requests, upload["url"])
    assert [r["method"] for r in requests[:2]] == ["HEAD", "PATCH"] and int(requests[1]["offset"]) == before
    assert "POST" not in {r["method"] for r in requests}, requests
    assert download_sha256(upload["url"]) == (size, sha256_hex(random_file))
    assert gateway_only.api.get_upload(upload_id)["status"] == "asset_created"
    assert_no_problems(page)
