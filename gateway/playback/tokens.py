"""The token of a signed playback id: an RS256 JWT as Mux's SDKs sign it.

Claims: ``sub`` the playback id, ``aud`` what the URL serves (``v`` video: HLS and static renditions,
``t`` thumbnail, ``g`` gif, ``s`` storyboard; ``@mux/mux-node`` maps its ``type`` names ``video``,
``thumbnail``, ``gif``, ``storyboard`` to exactly these letters), ``exp``; other claims (thumbnail
parameters, say) are handed back to the route. The signing key's id, ``kid``, is read from the JOSE
header (older SDKs) or from the claims (``@mux/mux-node`` 15.3 puts it there); when both carry one they
must agree. Only RS256 is accepted: ``alg: none`` and HMAC (the classic confusion attack, HS256 "signed"
with the public key as the secret) are refused before any key is looked at.

Every refusal is 403 with its own message; none says more than the token itself already does.
"""

from __future__ import annotations

from typing import Any

import jwt

from gateway.catalog.playback import Playback
from gateway.errors import Forbidden
from gateway.playback.keys import SigningKeys

AUDIENCES = ("v", "t", "g", "s")   # video (HLS and static renditions), thumbnail, gif, storyboard
AUDIENCE_NAMES = {"v": "video", "t": "thumbnail", "g": "gif", "s": "storyboard"}
ALGORITHM = "RS256"
REQUIRED = ["exp", "sub", "aud"]


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the claims, unverified: only to choose the key (and refuse a wrong algorithm)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Forbidden("the token is not a well-formed JWT") from None
    return header, claims


def key_id(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """The signing key's id, from the header or the claims (both: they must agree)."""
    given = [v for v in (header.get("kid"), claims.get("kid")) if v is not None]
    if not given:
        raise Forbidden("the token names no signing key (kid, in its header or its claims)")
    if not all(isinstance(v, str) for v in given):
        raise Forbidden("the token's kid is not a string")
    if len(set(given)) > 1:
        raise Forbidden("the token's kid in its header and in its claims disagree")
    return str(given[0])


def _verify(token: str, key: Any, audience: str) -> dict[str, Any]:
    wanted = f"{audience!r} ({AUDIENCE_NAMES.get(audience, audience)})"
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience,
                                            options={"require": REQUIRED})
    except jwt.InvalidSignatureError:
        raise Forbidden("the token's signature does not verify with its signing key") from None
    except jwt.ExpiredSignatureError:
        raise Forbidden("the token has expired (exp is in the past)") from None
    except jwt.ImmatureSignatureError:
        raise Forbidden("the token is not valid yet (nbf or iat is in the future)") from None
    except jwt.InvalidAudienceError:
        raise Forbidden(f"the token is for another kind of URL: this one needs aud {wanted}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise Forbidden(f"the token lacks the {exc.claim} claim") from None
    except jwt.PyJWTError as exc:
        raise Forbidden(f"the token is not valid ({exc})") from None
    return claims


async def authorize(signing: SigningKeys, playback: Playback, audience: str, token: str | None) -> dict[str, Any]:
    """The claims of ``token`` for ``playback`` and ``audience`` (empty for a public id). Forbidden (403,
    a clear message) when a signed id's token is missing, malformed, not RS256, expired, for another id
    or audience, or signed by an unknown or deleted key."""
    if playback.policy == "public":
        return {}
    if playback.policy != "signed":
        raise Forbidden(f"{playback.policy} playback ids are not supported by this gateway")
    if not token:
        raise Forbidden("a signed playback id needs ?token= (a JWT signed with one of your signing keys)")
    header, unverified = _peek(token)
    algorithm = header.get("alg")
    if algorithm != ALGORITHM:
        raise Forbidden(f"the token must be signed with {ALGORITHM}, not {algorithm!r}")
    key = await signing.public_key(key_id(header, unverified))
    if key is None:
        raise Forbidden("the token's signing key is unknown or was deleted")
    claims = _verify(token, key, audience)
    if claims["sub"] != playback.id:
        raise Forbidden("the token is for another playback id (sub)")
    return claims
