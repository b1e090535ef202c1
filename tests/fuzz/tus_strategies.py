"""Hypothesis strategies for tus requests: values that are valid, nearly valid, or anything at all."""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass

from hypothesis import strategies as st

from gateway.core.checksum import ALGORITHMS
from tests.conftest import TOKEN_SECRET
from tests.fuzz.support import OCTET, bodies, header_text, mutated, often

uints = st.one_of(st.integers(0, 300), st.integers(0, 2**70)).map(str)
BEARER = f"Bearer {TOKEN_SECRET}"

metadata_keys = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","), min_size=1, max_size=12),
    st.sampled_from(["filename", "filetype", "name", "contentType"]),
    header_text(8),
)
metadata_values = st.one_of(
    st.binary(max_size=30),
    st.sampled_from(["video/mp4", "text/html", "a\";b.mp4", "é.mov", "../../etc/passwd"]).map(str.encode),
)


@st.composite
def metadata(draw: st.DrawFn) -> str:
    """Nearly valid ``Upload-Metadata``: keys may repeat or hold spaces, commas, non-ASCII."""
    pairs = draw(st.lists(st.tuples(metadata_keys, metadata_values), max_size=5))
    return ",".join(f"{k} {base64.b64encode(v).decode()}" if v or draw(st.booleans()) else k for k, v in pairs)


valid_metadata = st.dictionaries(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","), min_size=1, max_size=12),
    metadata_values, max_size=4,
).map(lambda pairs: ",".join(f"{k} {base64.b64encode(v).decode()}".rstrip() for k, v in pairs.items()))


def digest(algorithm: str, body: bytes) -> bytes:
    return zlib.crc32(body).to_bytes(4, "big") if algorithm == "crc32" else hashlib.new(algorithm, body).digest()


def comments() -> st.SearchStrategy[str]:
    """Media types with (nested) comments, as RFC 5322 parsers read them (a deep nesting is a recursion)."""
    return st.builds(lambda prefix, n, close: prefix + "(" * n + ")" * (n if close else 0),
                     st.sampled_from(["", f"{OCTET}; x=", f"{OCTET} ", "a/b; c="]),
                     st.one_of(st.integers(1, 20), st.integers(20, 3000)), st.booleans())


# Anything a header may be instead of its valid value (None: the header is left out).
FUZZY: dict[str, st.SearchStrategy[str | None]] = {
    "Tus-Resumable": st.one_of(st.none(), st.sampled_from(["0.2.2", "1.0", "1.0.0 ", "1.0.0,1.0.0"]), header_text()),
    "Authorization": st.one_of(st.none(), header_text(), mutated(st.just(BEARER)),
                               st.just("Basic " + base64.b64encode(b"test:test-secret").decode()),
                               mutated(st.just("Basic dGVzdDp0ZXN0LXNlY3JldA=="))),
    "Upload-Length": st.one_of(st.none(), uints, mutated(uints), header_text()),
    "Upload-Defer-Length": st.one_of(st.none(), st.just("1"), mutated(st.just("1")), header_text()),
    "Upload-Offset": st.one_of(st.none(), uints, mutated(st.just("0")), header_text()),
    "Upload-Metadata": st.one_of(st.none(), metadata(), mutated(valid_metadata), header_text()),
    "Upload-Concat": st.one_of(st.none(), st.just("partial"), mutated(st.just("partial")), header_text(),
                               mutated(st.just("final;/files/x"))),
    "Upload-Checksum": st.one_of(st.none(), header_text(), mutated(st.sampled_from([f"{a} AAAA" for a in ALGORITHMS])),
                                 st.builds(lambda a, d: f"{a} {base64.b64encode(d).decode()}",
                                           st.sampled_from(ALGORITHMS), st.binary(max_size=70))),
    "Content-Type": st.one_of(st.none(), mutated(st.just(OCTET)), header_text(), comments(),
                              st.sampled_from([f"{OCTET}; charset=utf-8", "application/octet-stream",
                                               "Application/Offset+Octet-Stream", "application/json"])),
    "X-HTTP-Method-Override": st.one_of(st.sampled_from(["PATCH", "DELETE", "HEAD", "GET", "OPTIONS", "POST",
                                                         "patch", " PATCH ", "PUT"]), header_text(10)),
    "Origin": st.one_of(st.just("http://app.example"), header_text()),
    "X-Request-ID": header_text(80),
}


def fuzzed(names: list[str], most: int = 3) -> st.SearchStrategy[dict[str, str | None]]:
    """Up to ``most`` of the headers ``names``, each with a FUZZY value."""
    return st.lists(st.sampled_from(names), unique=True, max_size=most).flatmap(
        lambda chosen: st.fixed_dictionaries({name: FUZZY[name] for name in chosen}))


@dataclass(frozen=True)
class Checksum:
    """A well-formed ``Upload-Checksum`` that is right (for the body sent) or wrong."""

    algorithm: str
    right: bool

    def header(self, body: bytes) -> str:
        value = digest(self.algorithm, body if self.right else body + b"!")
        return f"{self.algorithm} {base64.b64encode(value).decode()}"


checksums = often(st.none(), st.builds(Checksum, st.sampled_from(ALGORITHMS), st.booleans()), 2)


@dataclass(frozen=True)
class Final:
    """An ``Upload-Concat: final;...`` header over partial uploads the example creates first."""

    lengths: tuple[int | None, ...]   # each partial's Upload-Length (None: deferred)
    filled: tuple[bool, ...]          # ... and whether it gets its bytes before the final is created
    refs: tuple[int | str, ...]       # a partial (index) or a literal piece of text, in header order
    absolute: bool
    separator: str


finals = st.builds(
    Final,
    lengths=st.lists(st.one_of(st.none(), st.integers(0, 20)), max_size=3).map(tuple),
    filled=st.lists(st.booleans(), min_size=3, max_size=3).map(tuple),
    refs=st.lists(st.one_of(st.integers(0, 3), st.integers(0, 3), header_text(20)), max_size=4).map(tuple),
    absolute=st.booleans(),
    separator=st.sampled_from([" ", " ", "\t", "  ", ","]),
)

ranges = st.one_of(st.none(), st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 70), st.integers(0, 70)),
                   st.builds(lambda n: f"bytes=-{n}", st.integers(0, 70)), header_text(),
                   mutated(st.just("bytes=0-")), st.builds(lambda n: f"bytes={'1' * n}-", st.integers(1, 6000)))


@dataclass(frozen=True)
class Creation:
    """One tus creation request (``POST /files/``): a valid one with up to three headers fuzzed."""

    valid: dict[str, str | None]
    fuzzed: dict[str, str | None]
    checksum: Checksum | None
    final: Final | None
    body: bytes
    ranges: tuple[str | None, ...]   # Range headers of downloads tried afterwards
    delete: bool                     # and whether it is terminated at the end

    def headers(self, concat: str | None = None) -> dict[str, str]:
        headers: dict[str, str | None] = {"Tus-Resumable": "1.0.0", "Authorization": BEARER, **self.valid}
        if headers.get("Upload-Length") == "<body>":   # creation-with-upload of the whole file
            headers.update({"Upload-Length": str(len(self.body)), "Content-Type": OCTET})
        if self.checksum is not None:
            headers["Upload-Checksum"] = self.checksum.header(self.body)
        if concat is not None:
            headers.update({"Upload-Concat": concat, "Upload-Length": None, "Upload-Defer-Length": None})
        headers.update(self.fuzzed)
        return {k: v for k, v in headers.items() if v is not None}


creations = st.builds(
    Creation,
    valid=st.fixed_dictionaries({
        "Upload-Length": st.one_of(st.none(), st.integers(0, 100).map(str), st.just("<body>")),
        "Upload-Metadata": st.one_of(st.none(), valid_metadata),
        "Upload-Concat": st.sampled_from([None, None, "partial"]),
        "Content-Type": st.sampled_from([None, OCTET, OCTET]),
    }).map(lambda h: {**h, "Upload-Defer-Length": None if h["Upload-Length"] else "1"}),
    fuzzed=fuzzed(sorted(FUZZY)),
    checksum=checksums,
    final=often(st.none(), finals, 3),
    body=bodies,
    ranges=st.lists(ranges, max_size=2).map(tuple),
    delete=st.booleans(),
)


# -- PATCH sequences on one upload ------------------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    """A valid PATCH of ``body`` at the stored offset plus ``delta``, with up to two headers fuzzed."""

    delta: int
    fuzzed: dict[str, str | None]
    checksum: Checksum | None
    body: bytes
    chunked: bool
    as_post: bool                 # POST with X-HTTP-Method-Override: PATCH


@dataclass(frozen=True)
class Op:
    """HEAD, GET (with a Range), DELETE or OPTIONS on the upload."""

    method: str
    range: str | None = None


PATCH_FUZZED = ["Upload-Offset", "Content-Type", "Upload-Length", "Upload-Checksum", "Tus-Resumable",
                "X-HTTP-Method-Override", "Origin", "Upload-Concat", "Authorization"]
patches = st.builds(
    Patch,
    delta=often(st.just(0), st.integers(-3, 3), weight=6),
    fuzzed=st.one_of(st.just({}), fuzzed(PATCH_FUZZED, 2)),
    checksum=checksums,
    body=st.one_of(bodies, st.builds(lambda piece, n: piece * n, st.binary(min_size=1, max_size=8),
                                     st.integers(100, 9000))),   # up to 72 KB, cheaply
    chunked=st.booleans(),
    as_post=st.integers(0, 5).map(lambda n: n == 0),
)
ops = often(patches, st.builds(Op, st.sampled_from(["HEAD", "GET", "DELETE", "OPTIONS"]), ranges))


@dataclass(frozen=True)
class Target:
    """The upload a sequence works on."""

    length: int | None
    partial: bool
    metadata: str


targets = st.builds(Target, length=st.one_of(st.none(), st.just(0), st.integers(0, 100), st.integers(0, 100_000)),
                    partial=st.booleans(), metadata=valid_metadata)
