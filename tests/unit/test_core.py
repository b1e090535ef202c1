"""The pure protocol core: header parsing, part arithmetic, checksums, settings."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.core.checksum import parse_upload_checksum
from gateway.core.parts import MAX_PARTS, MIN_PART, MiB, part_size_for, plan_concat
from gateway.core.tus_headers import parse_concat, parse_metadata, parse_range, parse_uint
from gateway.core.units import parse_duration, parse_size
from gateway.errors import BadRequest
from gateway.settings import load_settings


def test_parse_uint() -> None:
    assert parse_uint("X", "0") == 0 and parse_uint("X", " 42 ") == 42 and parse_uint("X", None) is None
    for bad in ("-1", "+1", "1.0", "", "1 2", "١٢"):
        with pytest.raises(BadRequest):
            parse_uint("X", bad)


def test_parse_metadata() -> None:
    assert parse_metadata("") == {} and parse_metadata(None) == {}
    assert parse_metadata("filename aGVsbG8=,is_confidential") == {"filename": b"hello", "is_confidential": b""}
    assert parse_metadata("a YQ==, b Yg==") == {"a": b"a", "b": b"b"}
    for bad in ("a YQ==,a Yg==", "a ***", "a YQ== b", ",", "a\tb YQ==", "a YQ==,"):
        with pytest.raises(BadRequest):
            parse_metadata(bad)


def test_parse_concat() -> None:
    base = "http://h:8080/files/"
    assert parse_concat(None, base) is None
    assert not parse_concat("partial", base).final  # type: ignore[union-attr]
    parsed = parse_concat("final;http://H:8080/files/a /files/b", base)
    assert parsed is not None and parsed.upload_ids == ("a", "b")
    for bad in ("final;", "final;/other/a", "final;/files/a/b", "whole", "final;/files/",
                "final;/files/a /files/a",                       # one partial listed twice
                "final;http://other:8080/files/a",               # another host
                "final;https://h:8080/files/a", "final;http://h/files/a",   # another scheme or port
                "final;/files/\u00e9", "partial\u00e9", "final;http://[::1/files/a"):
        with pytest.raises(BadRequest):
            parse_concat(bad, base)


def test_parse_metadata_refuses_non_ascii() -> None:
    for bad in ("fil\u00e9name aGVsbG8=", "filename aGVsbG8=\udcff", "\udcc3\udca9 YQ=="):
        with pytest.raises(BadRequest):
            parse_metadata(bad)


def test_parse_range() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 1)
    assert parse_range("bytes=5-", 10) == (5, 10)
    assert parse_range("bytes=-3", 10) == (7, 10)
    assert parse_range("bytes=8-100", 10) == (8, 10)
    assert parse_range("bytes=0-1,3-4", 10) is None  # multiple ranges: whole body
    for bad in ("bytes=10-", "bytes=-0", "bytes=5-4"):
        with pytest.raises(BadRequest):
            parse_range(bad, 10)
    with pytest.raises(BadRequest):                          # an empty file has no ranges at all
        parse_range("bytes=-5", 0)
    assert parse_range("bytes=" + "1" * 5000 + "-", 10) is None   # absurd numbers: the whole file
    assert parse_range("bytes=\u0660-\u0664", 10) is None         # only ASCII digits are digits


def test_part_size_fits_10000_parts() -> None:
    assert part_size_for(1, max_size=500 * 1024**3, preferred=8 * MiB) == 8 * MiB
    assert part_size_for(None, max_size=500 * 1024**3, preferred=8 * MiB) * MAX_PARTS >= 500 * 1024**3
    size = part_size_for(2 * 1024**4, max_size=5 * 1024**4, preferred=8 * MiB)
    assert size % MiB == 0 and size * MAX_PARTS >= 2 * 1024**4
    assert part_size_for(10, max_size=100, preferred=1) == MIN_PART


@pytest.mark.parametrize("sizes", [[3], [6 * MiB, 1000, 7 * MiB, 3], [1, 2, 3], [12 * MiB, 12 * MiB],
                                   [5 * MiB, 5 * MiB - 1, 5 * MiB], [0, 6 * MiB, 0], [MiB] * 11])
def test_plan_concat_covers_every_byte_in_order_with_valid_part_sizes(sizes: list[int]) -> None:
    parts = plan_concat(sizes, min_part=5 * MiB, max_part=8 * MiB)
    flat = [piece for part in parts for piece in part]
    position = {i: 0 for i in range(len(sizes))}
    for piece in flat:
        assert piece.start == position[piece.source]
        position[piece.source] = piece.end
    assert [position[i] for i in range(len(sizes))] == sizes
    assert [p.source for p in flat] == sorted(p.source for p in flat)
    for part in parts[:-1]:
        assert 5 * MiB <= sum(p.size for p in part) <= 8 * MiB


def test_plan_concat_copies_big_partials_server_side() -> None:
    parts = plan_concat([6 * MiB, 7 * MiB])
    assert all(len(part) == 1 for part in parts)


def test_checksum_header() -> None:
    digest = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    checksum = parse_upload_checksum(f"sha256 {digest}")
    assert checksum is not None
    checksum.hasher.update(b"abc")
    assert checksum.matches()
    for bad in ("sha256", f"sha256  {digest}", "sha3 YWJj", "sha256 YWJj", f"SHA256 {digest}"):
        with pytest.raises(BadRequest):
            parse_upload_checksum(bad)


def test_sizes_and_durations() -> None:
    assert parse_size("8MiB") == 8 * MiB and parse_size("1GB") == 10**9 and parse_size(12) == 12
    assert parse_duration("24h") == 86400 and parse_duration("90s") == 90 and parse_duration(5) == 5
    with pytest.raises(ValueError):
        parse_size("lots")


def test_settings_file_then_environment(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.yaml"
    path.write_text("server: {port: 9000, host: 0.0.0.0}\nuploads: {max_size: 1GiB}\n"
                    "auth: {tokens: [{id: a, secret: b}]}\n")
    monkeypatch.setenv("UPGW_SERVER__PORT", "9100")
    monkeypatch.setenv("UPGW_STORAGE__BACKEND", "s3")
    monkeypatch.setenv("UPGW_STORAGE__S3__BUCKET", "videos")
    settings = load_settings(path)
    assert settings.server.port == 9100 and settings.server.host == "0.0.0.0"  # env wins, file kept
    assert settings.storage.backend == "s3" and settings.storage.s3.bucket == "videos"
    assert settings.uploads.max_size == 1024**3
    assert settings.auth.tokens[0].secret.get_secret_value() == "b"


def test_shipped_config_has_the_promised_keys() -> None:
    from pathlib import Path

    import yaml

    data = yaml.safe_load((Path(__file__).parents[2] / "config.yaml").read_text())
    assert set(data["server"]) >= {"host", "port", "public_url"}
    assert set(data["redis"]) >= {"url"}
    assert data["storage"]["backend"] == "filesystem" and "root" in data["storage"]["filesystem"]
    assert set(data["storage"]["s3"]) >= {"endpoint", "access_key", "secret_key", "bucket", "region"}
    assert {"id", "secret"} <= set(data["auth"]["tokens"][0])
    assert set(data["uploads"]) >= {"max_size", "expiration"}
    load_settings(Path(__file__).parents[2] / "config.yaml")
