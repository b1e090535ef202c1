"""Signing keys for signed playback (Mux's ``/video/v1/signing-keys``): an RSA key pair is made, the
private key handed out once (base64 of its PEM), only the public key kept.

    <p>:{<kid>}:signing_key   hash  public_key (PEM, SubjectPublicKeyInfo), created_at (unix seconds)
    <p>:signing_keys          zset  kid -> created_at (the listing)

The private key is PKCS#1 (``-----BEGIN RSA PRIVATE KEY-----``), base64-encoded, as Mux hands it out:
``@mux/mux-node``'s ``jwt.signPlaybackId`` takes that form (it wraps PKCS#1 into PKCS#8 itself), and
so do PyJWT and the other SDKs. It exists only in the answer to :meth:`SigningKeys.create`.

No key is cached by id: every check reads the PEM from Redis (one HGET), so a deleted key stops
verifying tokens at once, on every gateway. Only the parsing of a PEM is cached, keyed by the PEM's own
bytes (:func:`_parse`), which can never be stale.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import time
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from gateway.catalog.records import new_id
from gateway.state.keys import Keys

KEY_ID = re.compile(r"[A-Za-z0-9]{1,64}")
KEY_BITS = 2048
KEY_ID_LENGTH = 32


@dataclass(frozen=True)
class SigningKey:
    """A stored signing key: its id and when it was made (never the private key)."""

    id: str
    created_at: int

    def mux(self) -> dict[str, str]:
        """Mux's SigningKey object without ``private_key`` (``created_at`` a string, as Mux sends it)."""
        return {"id": self.id, "created_at": str(self.created_at)}


class NewSigningKey(NamedTuple):
    """What :meth:`SigningKeys.create` hands out, once: the id, the private key and the creation time."""

    id: str
    private_key: str   # base64 of the PKCS#1 PEM
    created_at: int

    def mux(self) -> dict[str, str]:
        return {"id": self.id, "private_key": self.private_key, "created_at": str(self.created_at)}


def _generate() -> tuple[bytes, bytes]:
    """A fresh RSA key pair: (private PEM, PKCS#1; public PEM, SubjectPublicKeyInfo). Slow: run in a thread."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


@functools.lru_cache(maxsize=256)
def _parse(pem: bytes) -> rsa.RSAPublicKey | None:
    """The public key a stored PEM holds (None if it is not an RSA public key)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


class SigningKeys:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def create(self, *, now: float | None = None) -> NewSigningKey:
        """A new key pair; the public half stored, the private half returned (and nowhere kept)."""
        private, public = await asyncio.to_thread(_generate)
        key_id = new_id(KEY_ID_LENGTH)
        moment = now or time.time()
        created_at = int(moment)
        # the record before the index: a listed id always names a key
        await self.redis.hset(self.keys.signing_key(key_id),
                              mapping={"public_key": public, "created_at": str(created_at)})
        await self.redis.zadd(self.keys.signing_keys, {key_id: moment})   # the exact time orders the listing
        return NewSigningKey(key_id, base64.b64encode(private).decode("ascii"), created_at)

    async def get(self, key_id: str) -> SigningKey | None:
        if KEY_ID.fullmatch(key_id) is None:
            return None
        raw = await self.redis.hget(self.keys.signing_key(key_id), "created_at")
        return None if raw is None else SigningKey(key_id, int(raw))

    async def page(self, *, limit: int, page: int = 1) -> list[SigningKey]:
        """Newest first; page ``page`` of ``limit`` (empty past the end)."""
        start = (page - 1) * limit
        rows = await self.redis.zrevrange(self.keys.signing_keys, start, start + limit - 1, withscores=True)
        found = [SigningKey(raw.decode(), int(score)) for raw, score in rows]
        # an index entry whose record a crash (or a racing delete) removed is skipped
        exists = [await self.redis.exists(self.keys.signing_key(k.id)) for k in found]
        return [k for k, there in zip(found, exists, strict=True) if there]

    async def delete(self, key_id: str) -> bool:
        """Forget the key (tokens it signed stop verifying at once); False when there was none."""
        if KEY_ID.fullmatch(key_id) is None:
            return False
        removed = await self.redis.delete(self.keys.signing_key(key_id))
        await self.redis.zrem(self.keys.signing_keys, key_id)
        return bool(removed)

    async def public_key_pem(self, key_id: str) -> bytes | None:
        """The PEM of the public key ``key_id`` names; None for an unknown or deleted key."""
        if KEY_ID.fullmatch(key_id) is None:
            return None
        raw = await self.redis.hget(self.keys.signing_key(key_id), "public_key")
        return None if raw is None else bytes(raw)

    async def public_key(self, key_id: str) -> rsa.RSAPublicKey | None:
        """The public key ``key_id`` names, parsed; None for an unknown or deleted key."""
        pem = await self.public_key_pem(key_id)
        return None if pem is None else _parse(pem)
