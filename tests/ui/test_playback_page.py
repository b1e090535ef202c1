"""The uploader page plays what it uploaded: a ready asset shows its thumbnail (``/image/<id>/thumbnail``)
as a poster, a scrub bar that shows the storyboard tile under the pointer, and an HLS player (the
vendored hls.js) that plays the asset's ladder to the end, in headless Chromium against a real gateway
and worker, with the page's Content-Security-Policy in force."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.conftest import Stack
from tests.ui.session import Session, open_session
from tests.ui.test_uploader_page import assert_no_problems, sign_in, start_upload, wait_for_ready_asset, wait_until_done


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Session]:
    with open_session(tmp_path / "browser.log") as session:
        yield session


def test_a_ready_asset_plays_with_its_thumbnail_and_storyboard(stack: Stack, page: Session, clip: Path) -> None:
    sign_in(page, stack.url)
    upload_id = start_upload(page, clip, client="tus", chunk_kib=256)
    wait_until_done(page)
    asset_id = stack.api.get_upload(upload_id)["asset_id"]
    wait_for_ready_asset(page, asset_id)
    asset = stack.api.get_asset(asset_id)
    playback_id = asset["playback_ids"][0]["id"]
    block = f'li.asset[data-asset-id="{asset_id}"] .playback[data-playback-id="{playback_id}"]'
    page.wait_for(block)

    # the poster is the asset's thumbnail, decoded by the browser at the width asked for
    page.wait_for_function(f"() => {{ const img = document.querySelector('{block} img.poster');"
                           " return img && img.complete && img.naturalWidth === 320; }", timeout=30)

    # hovering the scrub bar at 3/4 shows the storyboard tile of that moment
    page.evaluate(f"""() => {{
        const bar = document.querySelector('{block} .scrub');
        const box = bar.getBoundingClientRect();
        bar.dispatchEvent(new PointerEvent('pointermove', {{clientX: box.left + box.width * 0.75,
                                                           clientY: box.top + 2, bubbles: true}}));
    }}""")
    page.wait_for_function(f"() => {{ const p = document.querySelector('{block} .scrub-preview');"
                           " return !p.hidden && p.style.backgroundImage.includes('storyboard.jpg'); }")
    start = float(page.evaluate(f"() => document.querySelector('{block} .scrub-preview').dataset.tileStart"))
    duration = float(asset["duration"])
    assert 0.5 * duration <= start <= 0.75 * duration + 0.01, (start, duration)
    sheet = page.evaluate(f"""async () => {{
        const img = new Image(); img.src = '/image/{playback_id}/storyboard.jpg'; await img.decode();
        return [img.naturalWidth, img.naturalHeight]; }}""")
    assert sheet[0] > 0 and sheet[1] > 0, sheet

    # play: hls.js loads the multivariant playlist and plays to the end with no fatal error
    page.click(f"{block} .play")
    page.wait_for_function(f"() => {{ const v = document.querySelector('{block} video');"
                           " return v && (v.ended || v.dataset.error); }", timeout=40, polling=200)
    assert page.evaluate(f"() => document.querySelector('{block} video').dataset.error || null") is None
    played = page.evaluate(f"() => document.querySelector('{block} video').currentTime")
    assert abs(float(played) - duration) < 0.5, (played, duration)
    assert_no_problems(page)   # no CSP violation, no script error
