"""The uploader's pieces without a gateway: options, tokens, resume records, the progress line, the summary,
and its HTTP helper against a bare socket server (interim answers skipped, a streamed body)."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest

from upgw import build_parser, main, shown_command
from upgw.api import Credentials
from upgw.errors import CliError
from upgw.http import send
from upgw.ietf import FileSlice
from upgw.options import upload_options
from upgw.progress import Progress, format_eta, render
from upgw.state import FileIdentity, StateStore
from upgw.summary import describe

MIB = 1024 * 1024


def test_options_defaults_come_from_the_environment() -> None:
    parser = build_parser("upgw", {"UPGW_URL": "http://gw:9000/", "UPGW_TOKEN": "a:b"})
    options = upload_options(parser.parse_args(["upload", "f.mp4", "--chunk-size", "1MiB", "--timeout", "2m",
                                                "--master-access", "--passthrough", "p"]))
    assert options.url == "http://gw:9000" and options.token == "a:b"
    assert options.chunk_size == MIB and options.timeout == 120.0 and options.wait
    assert options.new_asset_settings() == {"playback_policies": ["public"], "passthrough": "p",
                                            "master_access": "temporary"}


def test_protocol_option_and_its_environment_default(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def protocol(environ: dict[str, str], *args: str) -> str:
        return upload_options(build_parser("upgw", environ).parse_args(["upload", "f.mp4", *args])).protocol

    assert protocol({}) == "tus"
    assert protocol({}, "--protocol", "ietf") == "ietf"
    assert protocol({"UPGW_PROTOCOL": "ietf"}) == "ietf"
    assert protocol({"UPGW_PROTOCOL": "ietf"}, "--protocol", "tus") == "tus"
    assert main(["upload", "f.mp4", "--protocol", "http2"], prog="upgw") == 2
    monkeypatch.setenv("UPGW_PROTOCOL", "IETF")   # a default from the environment is checked too
    assert main(["upload", "f.mp4"], prog="upgw") == 2
    err = capsys.readouterr().err
    assert "argument --protocol: 'http2' is not one of tus, ietf" in err and "'IETF' is not one of" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", "f.mp4", "--chunk-size", "lots"], prog="upgw") == 2
    assert main(["upload", "f.mp4", "--max-resolution-tier", "720p"], prog="upgw") == 2
    assert main([], prog="upgw") == 2
    assert "--chunk-size" in capsys.readouterr().err


def test_tokens_and_the_shown_command_hide_the_secret() -> None:
    assert Credentials.parse("id:secret").authorization == "Basic aWQ6c2VjcmV0"
    assert Credentials.parse("secret").authorization == "Bearer secret"
    with pytest.raises(CliError, match="no API token"):
        Credentials.parse("")
    shown = shown_command("upgw", ["upload", "a b.mp4", "--token", "id:secret"])
    assert shown == "upgw upload 'a b.mp4' --token 'id:***'" and "secret" not in shown


def test_resume_records_follow_the_file(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"12345")
    store = StateStore(tmp_path / "state")
    identity = FileIdentity.of(video, "http://gw/")
    assert store.load(identity) is None
    saved = store.save(identity, {"id": "u1", "url": "http://gw/files/x", "tus_endpoint": "http://gw/files/x/tus"})
    assert store.load(FileIdentity.of(video, "http://gw")) == saved
    assert store.load(FileIdentity.of(video, "http://other")) is None    # another gateway: another upload
    os.utime(video, ns=(0, 0))                                            # the file changed
    assert store.load(FileIdentity.of(video, "http://gw")) is None
    store.forget(identity)
    assert list((tmp_path / "state").iterdir()) == []


def test_progress_line_and_its_non_terminal_log() -> None:
    assert render(5 * MIB, 20 * MIB, 2.5 * MIB) == (
        "[######------------------]  25.0%  5.0/20.0 MiB  2.5 MiB/s  ETA 0:06")
    assert format_eta(None) == "--:--" and format_eta(3725) == "1:02:05"
    now = [0.0]
    out = io.StringIO()
    progress = Progress(out, 100 * MIB, clock=lambda: now[0])
    progress.start(10 * MIB)               # resumed: the speed counts this run's bytes only
    for step in range(1, 91):
        now[0] = step * 0.1
        progress.update(10 * MIB + step * MIB)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[##") and "-- MiB/s" in lines[0]
    assert 9 <= len(lines) <= 11 and "10.0 MiB/s" in lines[-2] and lines[-1].startswith("[" + "#" * 24 + "]")


def test_summary_names_what_matters() -> None:
    text = describe({"id": "a1", "status": "ready", "duration": 2.0333, "resolution_tier": "720p",
                     "tracks": [{"type": "video", "max_width": 640, "max_height": 360, "max_frame_rate": 30},
                                {"type": "audio", "max_channels": 2}],
                     "non_standard_input_reasons": {"video_codec": "hevc"},
                     "master": {"status": "ready", "url": "http://m"}}, "u1")
    assert text.splitlines()[0].split() == ["asset", "a1"]
    for part in ("ready", "2.03 s", "720p", "video 640x360 30 fps; audio 2 ch", "video_codec: hevc", "http://m"):
        assert part in text


def test_send_skips_interim_answers_and_streams_a_file_slice(tmp_path: Path) -> None:
    """The draft's 104 Upload Resumption Supported (and a 103) come before the final answer; http.client
    alone skips only 100 and would return the 104. The body is the slice of the file, read as it is sent."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            conn.sendall(b"HTTP/1.1 104 Upload Resumption Supported\r\nLocation: /interim\r\n"
                         b"Upload-Draft-Interop-Version: 6\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n")
            while len(body) < length:
                body += conn.recv(65536)
            received.extend([head, body])
            conn.sendall(b"HTTP/1.1 201 Created\r\nLocation: /final\r\nUpload-Offset: 0\r\n"
                         b"Content-Length: 2\r\nConnection: close\r\n\r\nok")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    file = tmp_path / "f.bin"
    data = os.urandom(300_000)
    file.write_bytes(data)
    with file.open("rb") as stream, listener:
        stream.seek(1000)
        response = send("POST", f"http://127.0.0.1:{listener.getsockname()[1]}/files/x",
                        headers={"Content-Length": "200000"}, body=FileSlice(stream, 200_000), timeout=10)
        server.join(10)
    assert (response.status, response.headers["location"], response.body) == (201, "/final", b"ok")
    assert received[1] == data[1000:201_000] and b"Transfer-Encoding" not in received[0]
