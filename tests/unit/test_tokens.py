"""Signed playback tokens (gateway/playback/tokens.py) with real RSA keys made by SigningKeys on a real
Redis: what is accepted (kid in the header or in the claims, extra claims handed back), and every
refusal with its own message (no token, not a JWT, ``alg: none``, HS256 signed with the public key as
the secret, another RSA algorithm, no or unknown or deleted kid, a forged signature, expired, another
audience or playback id, a missing claim). Also how keys are kept: the private key never is."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from redis.asyncio import Redis

from gateway.catalog.assets import new_asset
from gateway.catalog.playback import Playback
from gateway.errors import Forbidden
from gateway.playback.keys import SigningKeys
from gateway.playback.tokens import authorize
from gateway.state.keys import Keys
from tests.servers import RedisService

ASSET = new_asset("A" * 24, {}, source="S" * 32)
SIGNED = Playback(id="P" * 24, policy="signed", asset=ASSET)


@dataclass
class Signer:
    signing: SigningKeys
    key_id: str
    private_pem: bytes

    def token(self, *, header_kid: bool = True, claims_kid: bool = False, alg: str = "RS256",
              **claims: Any) -> str:
        body: dict[str, Any] = {"sub": SIGNED.id, "aud": "v", "exp": int(time.time()) + 600, **claims}
        if claims_kid:
            body.setdefault("kid", self.key_id)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.private_pem, algorithm=alg,
                          headers={"kid": self.key_id} if header_kid else None)


@pytest.fixture
async def signer(redis_service: RedisService) -> AsyncIterator[Signer]:
    redis = Redis.from_url(redis_service.url)
    signing = SigningKeys(redis, Keys(f"t{uuid.uuid4().hex[:8]}"))
    created = await signing.create()
    yield Signer(signing, created.id, base64.b64decode(created.private_key))
    await redis.aclose()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any = None) -> str:
    """A JWT put together by hand (PyJWT refuses to make the malicious ones)."""
    head = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{head}.{b64url(sign(head.encode()) if sign else b'')}"


async def refusal(signer: Signer, token: str | None, audience: str = "v", playback: Playback = SIGNED) -> str:
    with pytest.raises(Forbidden) as caught:
        await authorize(signer.signing, playback, audience, token)
    assert caught.value.status == 403
    return caught.value.message


async def test_a_public_id_needs_no_token(signer: Signer) -> None:
    public = Playback(id=SIGNED.id, policy="public", asset=ASSET)
    assert await authorize(signer.signing, public, "v", None) == {}
    assert await authorize(signer.signing, public, "t", "not even a jwt") == {}


@pytest.mark.parametrize(("header_kid", "claims_kid"), [(True, False), (False, True), (True, True)])
async def test_kid_in_the_header_or_the_claims(signer: Signer, header_kid: bool, claims_kid: bool) -> None:
    token = signer.token(header_kid=header_kid, claims_kid=claims_kid, time="12.5")
    claims = await authorize(signer.signing, SIGNED, "v", token)
    assert claims["sub"] == SIGNED.id and claims["time"] == "12.5"   # thumbnail parameters come back


@pytest.mark.parametrize("audience", ["v", "t", "g", "s"])
async def test_each_audience_takes_only_its_own_tokens(signer: Signer, audience: str) -> None:
    assert (await authorize(signer.signing, SIGNED, audience, signer.token(aud=audience)))["aud"] == audience
    for other in {"v", "t", "g", "s"} - {audience}:
        assert f"needs aud {other!r}" in await refusal(signer, signer.token(aud=audience), other)


async def test_alg_none_is_refused(signer: Signer) -> None:
    token = handmade({"alg": "none", "kid": signer.key_id},
                     {"sub": SIGNED.id, "aud": "v", "exp": int(time.time()) + 600})
    assert await refusal(signer, token) == "the token must be signed with RS256, not 'none'"


async def test_hs256_signed_with_the_public_key_is_refused(signer: Signer) -> None:
    """The algorithm-confusion attack: the public key (which is no secret) used as an HMAC secret."""
    public = await signer.signing.public_key_pem(signer.key_id)
    assert public is not None and public.startswith(b"-----BEGIN PUBLIC KEY-----")
    claims = {"sub": SIGNED.id, "aud": "v", "exp": int(time.time()) + 600}
    for secret in (public, public.strip()):
        token = handmade({"alg": "HS256", "typ": "JWT", "kid": signer.key_id}, claims,
                         lambda data, key=secret: hmac.new(key, data, hashlib.sha256).digest())
        assert await refusal(signer, token) == "the token must be signed with RS256, not 'HS256'"


async def test_other_rsa_algorithms_are_refused(signer: Signer) -> None:
    assert await refusal(signer, signer.token(alg="RS512")) == "the token must be signed with RS256, not 'RS512'"


async def test_every_refusal_has_its_own_message(signer: Signer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    forged = jwt.encode({"sub": SIGNED.id, "aud": "v", "exp": int(time.time()) + 600}, stranger,
                        algorithm="RS256", headers={"kid": signer.key_id})
    elsewhere = Playback(id="Q" * 24, policy="signed", asset=ASSET)
    cases = {
        "missing": await refusal(signer, None),
        "empty": await refusal(signer, ""),
        "garbage": await refusal(signer, "abc.def"),
        "no kid": await refusal(signer, signer.token(header_kid=False)),
        "unknown kid": await refusal(signer, jwt.encode({"sub": SIGNED.id, "aud": "v", "exp": 2**33},
                                                        signer.private_pem, "RS256", headers={"kid": "nokey"})),
        "kids disagree": await refusal(signer, signer.token(claims_kid=True, kid="other")),
        "forged": await refusal(signer, forged),
        "expired": await refusal(signer, signer.token(exp=int(time.time()) - 5)),
        "no exp": await refusal(signer, signer.token(exp=None)),
        "no sub": await refusal(signer, signer.token(sub=None)),
        "wrong aud": await refusal(signer, signer.token(aud="t")),
        "other id": await refusal(signer, signer.token(), playback=elsewhere),
        "not yet": await refusal(signer, signer.token(nbf=int(time.time()) + 600)),
    }
    assert "?token=" in cases["missing"] and cases["empty"] == cases["missing"]
    assert cases["garbage"] == "the token is not a well-formed JWT"
    assert "names no signing key" in cases["no kid"]
    assert cases["unknown kid"] == "the token's signing key is unknown or was deleted"
    assert "disagree" in cases["kids disagree"]
    assert "signature does not verify" in cases["forged"]
    assert "expired" in cases["expired"]
    assert cases["no exp"] == "the token lacks the exp claim" and cases["no sub"] == "the token lacks the sub claim"
    assert "needs aud 'v' (video)" in cases["wrong aud"]
    assert "another playback id" in cases["other id"]
    assert "not valid yet" in cases["not yet"]
    distinct = {k: v for k, v in cases.items() if k != "empty"}
    assert len(set(distinct.values())) == len(distinct), cases


async def test_a_deleted_key_stops_verifying_at_once(signer: Signer) -> None:
    token = signer.token()
    assert await authorize(signer.signing, SIGNED, "v", token)
    assert await signer.signing.delete(signer.key_id)
    assert await refusal(signer, token) == "the token's signing key is unknown or was deleted"
    assert not await signer.signing.delete(signer.key_id)


async def test_a_drm_id_plays_nothing(signer: Signer) -> None:
    drm = Playback(id=SIGNED.id, policy="drm", asset=ASSET)
    assert "not supported" in await refusal(signer, signer.token(), playback=drm)


async def test_only_the_public_key_is_stored(signer: Signer) -> None:
    signing = signer.signing
    stored = await signing.redis.hgetall(signing.keys.signing_key(signer.key_id))
    assert set(stored) == {b"public_key", b"created_at"}
    assert signer.private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")   # PKCS#1, as Mux hands it out
    assert b"PRIVATE" not in b"".join(stored.values())
    key = await signing.get(signer.key_id)
    assert key is not None and key.mux() == {"id": signer.key_id, "created_at": str(key.created_at)}
    assert await signing.get("no/such key") is None and await signing.public_key_pem("../x") is None


async def test_keys_page_newest_first(signer: Signer) -> None:
    signing = signer.signing
    newer = [(await signing.create()).id for _ in range(2)]
    assert [k.id for k in await signing.page(limit=2)] == newer[::-1]
    assert [k.id for k in await signing.page(limit=2, page=2)] == [signer.key_id]
    assert await signing.page(limit=2, page=3) == []
