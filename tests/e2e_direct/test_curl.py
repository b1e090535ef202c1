"""curl against direct-upload URLs made by ``POST /video/v1/uploads`` on a real ``python -m gateway``
(both storage backends): ``curl -T`` with the whole file, and a chunked loop of ``Content-Range`` PUTs
with ``bytes */N`` status checks, a lost-answer re-send and a gap in between."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser.api import MuxApi, download_sha256, sha256_hex

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def api(gateway_factory: Any) -> MuxApi:
    return MuxApi(gateway_factory().url)


def curl(*args: str, body: bytes | None = None) -> tuple[int, dict[str, str]]:
    """Run curl; (status, response headers with lower-cased names)."""
    result = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", *args], input=body,
                            capture_output=True, check=True, timeout=60)
    lines = result.stdout.decode().splitlines()
    blocks = [i for i, line in enumerate(lines) if line.startswith("HTTP/")]
    final = lines[blocks[-1]:]  # skip any "100 Continue"
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in final[1:]) if k}
    return int(final[0].split()[1]), headers


def put_chunk(url: str, data: bytes, content_range: str) -> tuple[int, dict[str, str]]:
    return curl("-X", "PUT", "--data-binary", "@-", "-H", f"Content-Range: {content_range}",
                "-H", "Content-Type: application/octet-stream", url, body=data)


def status_check(url: str, total: int) -> tuple[int, dict[str, str]]:
    return curl("-X", "PUT", "-H", f"Content-Range: bytes */{total}", "-H", "Content-Length: 0", url)


def test_curl_T_uploads_the_whole_file(api: MuxApi, tmp_path: Path) -> None:
    media = tmp_path / "clip.mp4"
    media.write_bytes(os.urandom(6 * MiB + 7))
    upload = api.create_upload(cors_origin="*")
    status, _ = curl("-T", str(media), upload["url"])
    assert status in (200, 201)
    assert download_sha256(upload["url"]) == (media.stat().st_size, sha256_hex(media))
    done = api.wait_for_status(upload["id"], "asset_created")
    assert api.get_asset(done["asset_id"])["upload_id"] == upload["id"]
    status, _ = status_check(upload["url"], media.stat().st_size)
    assert status in (200, 201)  # a status check on a finished upload


def test_chunked_curl_loop_with_status_checks(api: MuxApi) -> None:
    data = os.urandom(5 * 512 * KiB + 100)
    total, chunk = len(data), 512 * KiB
    upload = api.create_upload(cors_origin="*")
    url = upload["url"]
    status, headers = status_check(url, total)
    assert status == 308 and "range" not in headers, headers  # nothing stored yet

    start = 0
    while start < total:
        end = min(start + chunk, total) - 1
        if start == 2 * chunk:
            # a chunk past the stored offset (a gap) is refused with 503 and changes nothing
            status, headers = put_chunk(url, data[start + chunk:end + chunk + 1],
                                        f"bytes {start + chunk}-{end + chunk}/{total}")
            assert status == 503, (status, headers)
            assert status_check(url, total)[1].get("range") == f"bytes=0-{start - 1}"
        status, headers = put_chunk(url, data[start:end + 1], f"bytes {start}-{end}/{total}")
        if end + 1 == total:
            assert status in (200, 201), (status, headers)
            break
        assert status == 308 and headers.get("range") == f"bytes=0-{end}", (status, headers)
        assert "location" not in headers, headers
        # ask where the upload stands, as GCS clients do between chunks
        status, headers = status_check(url, total)
        assert status == 308 and headers.get("range") == f"bytes=0-{end}", (status, headers)
        if start == chunk:
            # the same chunk again (its answer was lost): acknowledged with the whole stored range
            status, headers = put_chunk(url, data[start:end + 1], f"bytes {start}-{end}/{total}")
            assert status == 308 and headers.get("range") == f"bytes=0-{end}", (status, headers)
            assert api.get_upload(upload["id"])["status"] == "waiting"
        start = end + 1
    assert download_sha256(url) == (total, hashlib.sha256(data).hexdigest())
    assert api.wait_for_status(upload["id"], "asset_created")["asset_id"]
