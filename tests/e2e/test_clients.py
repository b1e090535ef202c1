"""Real clients against real ``python -m gateway`` processes: tuspy, tus-js-client (Node), curl, raw
sockets that drop or stall mid-PATCH, two gateways sharing Redis and storage, and a killed gateway."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tusclient import client as tus_client
from tusclient.storage.filestorage import FileStorage

from tests.conftest import AUTH, ROOT, TUS

MiB = 1024 * 1024
JS = ROOT / "tests" / "js"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "random.bin"
    path.write_bytes(os.urandom(24 * MiB + 321))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(url: str) -> bytes:
    request = urllib.request.Request(url, headers=AUTH)
    with urllib.request.urlopen(request, timeout=30) as resp:
        return bytes(resp.read())


def head(url: str) -> dict[str, str]:
    request = urllib.request.Request(url, method="HEAD", headers=TUS)
    with urllib.request.urlopen(request, timeout=30) as resp:
        return dict(resp.headers)


def post(base: str, length: int) -> str:
    request = urllib.request.Request(base + "/files/", method="POST",
                                     headers={**TUS, **AUTH, "Upload-Length": str(length)})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return str(resp.headers["Location"])


def test_tuspy_upload_with_checksums_and_no_metadata(gateway_factory: Any, media: Path) -> None:
    gateway = gateway_factory()
    client = tus_client.TusClient(gateway.url + "/files/", headers=AUTH)
    uploader = client.uploader(str(media), chunk_size=5 * MiB, upload_checksum=True)
    uploader.upload()
    assert uploader.url is not None
    assert sha256(download(uploader.url)) == sha256(media.read_bytes())


def test_tuspy_resumes_an_interrupted_upload(gateway_factory: Any, media: Path, tmp_path: Path) -> None:
    gateway = gateway_factory()
    store = FileStorage(str(tmp_path / "tuspy.json"))  # type: ignore[no-untyped-call]
    client = tus_client.TusClient(gateway.url + "/files/", headers=AUTH)
    first = client.uploader(str(media), chunk_size=3 * MiB, store_url=True, url_storage=store,
                            metadata={"filename": "random.bin"})
    first.upload(stop_at=9 * MiB)
    assert first.url is not None
    assert int(head(first.url)["Upload-Offset"]) == 9 * MiB
    second = client.uploader(str(media), chunk_size=3 * MiB, store_url=True, url_storage=store)
    assert second.url == first.url and second.offset == 9 * MiB
    second.upload()
    assert sha256(download(first.url)) == sha256(media.read_bytes())


def node(options: dict[str, Any]) -> dict[str, Any]:
    if shutil.which("node") is None or not (JS / "node_modules" / "tus-js-client").exists():
        pytest.fail("node and tests/js/node_modules are required (scripts/install.sh --test)")
    result = subprocess.run(["node", str(JS / "tus_upload.mjs"), json.dumps(options)],
                            capture_output=True, text=True, timeout=120, cwd=JS)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("mode", [{"chunkSize": None}, {"chunkSize": 8 * MiB}, {"parallelUploads": 3}],
                         ids=["one-patch", "8mib-chunks", "parallel-concat"])
def test_tus_js_client_in_node(gateway_factory: Any, media: Path, mode: dict[str, Any]) -> None:
    gateway = gateway_factory()
    options = {"endpoint": gateway.url + "/files/", "file": str(media), "headers": AUTH,
               "metadata": {"filename": "random.bin", "filetype": "application/octet-stream"},
               **{k: v for k, v in mode.items() if v is not None}}
    result = node(options)
    deadline = time.monotonic() + 20
    while "Upload-Offset" not in head(result["url"]) and time.monotonic() < deadline:
        time.sleep(0.1)  # a parallel upload's final is concatenated as soon as its partials finish
    assert sha256(download(result["url"])) == sha256(media.read_bytes())


def test_tus_js_client_resumes_an_upload_started_elsewhere(gateway_factory: Any, media: Path) -> None:
    gateway = gateway_factory()
    url = post(gateway.url, media.stat().st_size)
    data = media.read_bytes()
    subprocess.run(["curl", "-sf", "-X", "PATCH", url, "-H", "Tus-Resumable: 1.0.0", "-H", "Upload-Offset: 0",
                    "-H", "Content-Type: application/offset+octet-stream", "--data-binary", "@-"],
                   input=data[: 5 * MiB + 17], check=True, timeout=60)
    node({"endpoint": gateway.url + "/files/", "uploadUrl": url, "file": str(media), "chunkSize": 4 * MiB})
    assert sha256(download(url)) == sha256(data)


def test_curl_upload_and_download(gateway_factory: Any, media: Path, tmp_path: Path) -> None:
    gateway = gateway_factory()
    out = subprocess.run(["curl", "-sf", "-i", "-X", "POST", gateway.url + "/files/", "-H", "Tus-Resumable: 1.0.0",
                          "-H", f"Authorization: {AUTH['Authorization']}",
                          "-H", f"Upload-Length: {media.stat().st_size}"],
                         capture_output=True, text=True, check=True).stdout
    url = next(line.split(" ", 1)[1].strip() for line in out.splitlines() if line.lower().startswith("location:"))
    subprocess.run(["curl", "-sf", "-X", "PATCH", "-T", str(media), url, "-H", "Tus-Resumable: 1.0.0",
                    "-H", "Upload-Offset: 0", "-H", "Content-Type: application/offset+octet-stream"],
                   check=True, timeout=60)
    target = tmp_path / "back.bin"
    subprocess.run(["curl", "-sf", "-o", str(target), url, "-H", f"Authorization: {AUTH['Authorization']}"],
                   check=True)
    assert sha256(target.read_bytes()) == sha256(media.read_bytes())


async def raw_patch(url: str, offset: int, total: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a PATCH announcing ``total`` body bytes and send only its headers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write((f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
                  f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode())
    await writer.drain()
    return reader, writer


async def wait_offset(url: str, expected: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        offset = int((await asyncio.to_thread(head, url))["Upload-Offset"])
        if offset == expected or time.monotonic() > deadline:
            return offset
        await asyncio.sleep(0.1)


async def test_disconnect_mid_patch_keeps_every_received_byte(gateway_factory: Any) -> None:
    gateway = gateway_factory()
    data = os.urandom(13 * MiB + 5)
    url = post(gateway.url, 20 * MiB)
    _reader, writer = await raw_patch(url, 0, 20 * MiB)
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.5)
    writer.transport.abort()  # RST, mid-body
    assert await wait_offset(url, len(data)) == len(data)
    rest = os.urandom(20 * MiB - len(data))
    request = urllib.request.Request(url, data=rest, method="PATCH", headers={
        **TUS, "Upload-Offset": str(len(data)), "Content-Type": "application/offset+octet-stream"})
    await asyncio.to_thread(urllib.request.urlopen, request)
    assert sha256(await asyncio.to_thread(download, url)) == sha256(data + rest)


async def test_newer_request_makes_a_stalled_one_release(gateway_factory: Any) -> None:
    gateway = gateway_factory()
    url = post(gateway.url, 4 * MiB)
    reader, writer = await raw_patch(url, 0, 4 * MiB)
    writer.write(b"x" * MiB)
    await writer.drain()
    await asyncio.sleep(0.3)  # the client now stalls, holding the lock
    started = time.monotonic()
    offset = int((await asyncio.to_thread(head, url))["Upload-Offset"])
    assert offset == MiB and time.monotonic() - started < 5
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert b" 400 " in status_line  # upload_interrupted
    writer.close()
    request = urllib.request.Request(url, data=b"y" * 3 * MiB, method="PATCH", headers={
        **TUS, "Upload-Offset": str(MiB), "Content-Type": "application/offset+octet-stream"})
    resp = await asyncio.to_thread(urllib.request.urlopen, request)
    assert resp.headers["Upload-Offset"] == str(4 * MiB)
    assert await asyncio.to_thread(download, url) == b"x" * MiB + b"y" * 3 * MiB


def test_two_gateways_continue_each_others_uploads(gateway_factory: Any, media: Path) -> None:
    first, second = gateway_factory(), gateway_factory()
    data = media.read_bytes()
    url = post(first.url, len(data))
    half = 11 * MiB + 3
    for gateway, start, end in ((first, 0, half), (second, half, len(data))):
        target = url.replace(first.url, gateway.url)
        request = urllib.request.Request(target, data=data[start:end], method="PATCH", headers={
            **TUS, "Upload-Offset": str(start), "Content-Type": "application/offset+octet-stream"})
        urllib.request.urlopen(request, timeout=60)
    assert sha256(download(url.replace(first.url, second.url))) == sha256(data)


async def test_a_killed_gateway_never_loses_acknowledged_bytes(gateway_factory: Any) -> None:
    gateway = gateway_factory()
    data = os.urandom(30 * MiB)
    url = post(gateway.url, len(data))
    request = urllib.request.Request(url, data=data[:10 * MiB], method="PATCH", headers={
        **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    await asyncio.to_thread(urllib.request.urlopen, request)  # acknowledged: 10 MiB
    _reader, writer = await raw_patch(url, 10 * MiB, 20 * MiB)
    writer.write(data[10 * MiB: 22 * MiB])
    await writer.drain()
    await asyncio.sleep(0.3)
    gateway.stop(kill=True)
    writer.transport.abort()
    gateway.start()
    offset = int((await asyncio.to_thread(head, url))["Upload-Offset"])
    assert 10 * MiB <= offset <= 22 * MiB
    deadline = time.monotonic() + 20
    while True:  # the dead holder's lock runs out within its TTL; clients retry 423 (tus-js-client does)
        request = urllib.request.Request(url, data=data[offset:], method="PATCH", headers={
            **TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        try:
            await asyncio.to_thread(urllib.request.urlopen, request)
            break
        except urllib.error.HTTPError as exc:
            assert exc.code == 423 and time.monotonic() < deadline, exc.code
            await asyncio.sleep(0.5)
    assert int((await asyncio.to_thread(head, url))["Upload-Offset"]) == len(data)
    assert sha256(await asyncio.to_thread(download, url)) == sha256(data)


async def test_graceful_shutdown_commits_what_arrived(gateway_factory: Any) -> None:
    gateway = gateway_factory()
    data = os.urandom(9 * MiB + 11)
    url = post(gateway.url, 20 * MiB)
    _reader, writer = await raw_patch(url, 0, 20 * MiB)
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.5)
    await asyncio.to_thread(gateway.stop)  # SIGTERM while the body is still open
    writer.close()
    gateway.start()
    assert int((await asyncio.to_thread(head, url))["Upload-Offset"]) == len(data)
