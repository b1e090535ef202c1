"""Properties of the tus and PUT header parsers (no I/O): for any text they return a value or raise a
4xx GatewayError, never anything else; values built from their parts parse back to those parts."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from gateway.core.checksum import ALGORITHMS, parse_upload_checksum
from gateway.core.content_range import parse_content_range, stored_range
from gateway.core.tus_headers import parse_concat, parse_metadata, parse_range, parse_uint
from gateway.errors import GatewayError
from tests.fuzz.support import fuzz_settings

BASE = "http://127.0.0.1:8080/files/"

# Any text a header can arrive as: any code point, surrogates included (aiohttp decodes header bytes as
# UTF-8 with surrogateescape, so a non-UTF-8 byte arrives as a lone surrogate), controls, long runs.
any_char = st.characters(codec=None, exclude_categories=())
anything = st.one_of(
    st.text(any_char, max_size=60),
    st.text(st.sampled_from("0123456789 ,;-/*=+bytes\t\u0660\u00b2\uff11"), max_size=60),
    st.builds(lambda s, n: s * n, st.text(any_char, min_size=1, max_size=6), st.integers(1, 3000)),
    st.builds(lambda n: "1" * n, st.integers(1, 6000)),   # digit runs past int()'s 4300-digit limit
    st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
DIGITS = [f"bytes={'1' * 5000}-", f"bytes=-{'9' * 5000}", f"bytes=0-{'9' * 5000}"]


def outcome(parse: Callable[[], Any]) -> Any:
    """Run a parser: its value, or None when it refused with a 4xx GatewayError (anything else fails)."""
    try:
        return parse()
    except GatewayError as exc:
        assert exc.status < 500, f"{type(exc).__name__} with status {exc.status}: {exc}"
        return None


# -- any text ------------------------------------------------------------------------------------------


@fuzz_settings(400)
@given(value=st.one_of(st.none(), anything))
def test_parse_uint_any_text(value: str | None) -> None:
    result = outcome(lambda: parse_uint("Upload-Length", value))
    assert result is None or (isinstance(result, int) and 0 <= result < 10**19)


@fuzz_settings(400)
@given(value=st.one_of(st.none(), anything))
def test_parse_metadata_any_text(value: str | None) -> None:
    result = outcome(lambda: parse_metadata(value))
    if result:
        assert all(isinstance(k, str) and k.isascii() and isinstance(v, bytes) for k, v in result.items())


@fuzz_settings(400)
@given(value=st.one_of(st.none(), anything, st.builds(lambda s: "final;" + s, anything)))
def test_parse_concat_any_text(value: str | None) -> None:
    result = outcome(lambda: parse_concat(value, BASE))
    if result is not None and result.final:
        assert result.upload_ids and len(set(result.upload_ids)) == len(result.upload_ids)
        assert all(i and "/" not in i for i in result.upload_ids)


@fuzz_settings(400)
@given(value=st.one_of(st.none(), anything, st.builds(lambda s: "bytes=" + s, anything), st.sampled_from(DIGITS)),
       size=st.integers(0, 2**63))
def test_parse_range_any_text(value: str | None, size: int) -> None:
    result = outcome(lambda: parse_range(value, size))
    if result is not None:
        start, end = result
        assert 0 <= start <= end <= size, f"{value!r} of {size} bytes gave the range {result}"


@fuzz_settings(50)
@given(value=st.one_of(st.builds(lambda n: f"bytes=-{n}", st.integers(0, 10**6)),
                       st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 9), st.integers(0, 9))))
@example(value="bytes=-5")
def test_parse_range_never_selects_nothing(value: str) -> None:
    """A satisfiable range selects at least one byte: of an empty object no range does (RFC 9110 14.1.1
    makes a suffix range of a zero-length representation unsatisfiable); else 206 says ``bytes 0--1/0``."""
    result = outcome(lambda: parse_range(value, 0))
    assert result is None, f"{value!r} of an empty object gave the range {result}"


@fuzz_settings(400)
@given(value=st.one_of(st.none(), anything, st.builds(lambda a, s: f"{a} {s}", st.sampled_from(ALGORITHMS), anything)))
def test_parse_upload_checksum_any_text(value: str | None) -> None:
    result = outcome(lambda: parse_upload_checksum(value))
    if result is not None:
        assert result.algorithm in ALGORITHMS


@fuzz_settings(400)
@given(value=st.one_of(anything, st.builds(lambda s: "bytes " + s, anything)))
def test_parse_content_range_any_text(value: str) -> None:
    result = outcome(lambda: parse_content_range(value))
    if result is not None:
        assert (result.start is None) == (result.end is None)
        if result.start is not None and result.end is not None:
            assert 0 <= result.start <= result.end
            assert result.total is None or result.end < result.total


# -- round trips ---------------------------------------------------------------------------------------


@fuzz_settings(200)
@given(n=st.integers(0, 10**19 - 1), pad=st.sampled_from(["", " ", "\t", "  "]))
def test_parse_uint_round_trip(n: int, pad: str) -> None:
    assert parse_uint("Upload-Offset", f"{pad}{n}{pad}") == n


metadata_keys = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","),
                        min_size=1, max_size=20)


@fuzz_settings(200)
@given(pairs=st.dictionaries(metadata_keys, st.binary(max_size=40), max_size=6),
       separator=st.sampled_from([",", ", ", " ,", " , "]))
def test_parse_metadata_round_trip(pairs: dict[str, bytes], separator: str) -> None:
    header = separator.join(f"{k} {base64.b64encode(v).decode()}" if v else k for k, v in pairs.items())
    assert parse_metadata(header) == pairs


upload_ids = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     min_size=1, max_size=32)


@fuzz_settings(200)
@given(ids=st.lists(upload_ids, min_size=1, max_size=8, unique=True),
       absolute=st.lists(st.booleans(), min_size=8, max_size=8),
       separator=st.sampled_from([" ", "  ", "\t", " \t "]))
def test_parse_concat_round_trip(ids: list[str], absolute: list[bool], separator: str) -> None:
    urls = [f"{BASE if whole else '/files/'}{i}" for i, whole in zip(ids, absolute, strict=False)]
    parsed = parse_concat("final;" + separator.join(urls), BASE)
    assert parsed is not None and parsed.final and parsed.upload_ids == tuple(ids)
    partial = parse_concat("partial", BASE)
    assert partial is not None and not partial.final


@fuzz_settings(200)
@given(size=st.integers(1, 2**62), data=st.data())
def test_parse_range_round_trip(size: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, size - 1))
    last = data.draw(st.integers(start, size + 10))
    assert parse_range(f"bytes={start}-{last}", size) == (start, min(last + 1, size))
    assert parse_range(f"bytes={start}-", size) == (start, size)
    suffix = data.draw(st.integers(1, size + 10))
    assert parse_range(f"bytes=-{suffix}", size) == (max(0, size - suffix), size)


def _digest(algorithm: str, body: bytes) -> bytes:
    return zlib.crc32(body).to_bytes(4, "big") if algorithm == "crc32" else hashlib.new(algorithm, body).digest()


@fuzz_settings(200)
@given(algorithm=st.sampled_from(ALGORITHMS), body=st.binary(max_size=200))
def test_parse_upload_checksum_round_trip(algorithm: str, body: bytes) -> None:
    expected = _digest(algorithm, body)
    checksum = parse_upload_checksum(f"{algorithm} {base64.b64encode(expected).decode()}")
    assert checksum is not None and checksum.algorithm == algorithm and checksum.expected == expected
    checksum.hasher.update(body)
    assert checksum.matches()


@fuzz_settings(300)
@given(total=st.integers(1, 10**19 - 1), data=st.data(), star=st.booleans())
def test_parse_content_range_round_trip(total: int, data: st.DataObject, star: bool) -> None:
    start = data.draw(st.integers(0, total - 1))
    end = data.draw(st.integers(start, total - 1))
    parsed = parse_content_range(f"bytes {start}-{end}/{'*' if star else total}")
    assert (parsed.start, parsed.end, parsed.total) == (start, end, None if star else total)
    assert parsed.size == end - start + 1
    status = parse_content_range(f"bytes */{total}")
    assert (status.start, status.end, status.total, status.size) == (None, None, total, 0)


@fuzz_settings(100)
@given(offset=st.integers(1, 10**18))
def test_stored_range_is_a_parseable_range(offset: int) -> None:
    header = stored_range(offset)
    assert header is not None and parse_range(header, offset) == (0, offset)
