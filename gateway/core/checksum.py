"""The tus checksum extension: parse ``Upload-Checksum`` and hash a request body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from typing import Protocol

from gateway.errors import BadRequest


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _factory(name: str) -> Hasher:
    if name == "crc32":
        return _Crc32()
    return hashlib.new(name)


ALGORITHMS = ("sha1", "sha256", "sha512", "md5", "crc32")


class Checksum:
    """An expected digest and the running hash that must match it."""

    def __init__(self, algorithm: str, expected: bytes) -> None:
        self.algorithm = algorithm
        self.expected = expected
        self.hasher = _factory(algorithm)

    def matches(self) -> bool:
        return self.hasher.digest() == self.expected


def parse_upload_checksum(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; 400 for anything malformed or unsupported."""
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise BadRequest("Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm, encoded = parts
    if algorithm not in ALGORITHMS:
        raise BadRequest(f"unsupported checksum algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    try:
        expected = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("the Upload-Checksum digest is not valid base64") from None
    if len(expected) != len(_factory(algorithm).digest()):
        raise BadRequest(f"a {algorithm} digest has {len(_factory(algorithm).digest())} bytes")
    return Checksum(algorithm, expected)
