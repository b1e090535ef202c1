"""API tokens: HTTP Basic ``id:secret`` (what the Mux SDKs send) or ``Bearer <secret>``, each limited to
its ``scopes`` (``auth.tokens[].scopes``; all of them unless the token says otherwise).

Tokens are one environment, as Mux's are: a token that may read assets reads every asset.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

from aiohttp import web

from gateway.errors import Forbidden, Unauthorized
from gateway.settings import Scope, Token

CHALLENGE = {"WWW-Authenticate": 'Basic realm="upload-gateway"'}


@dataclass(frozen=True, slots=True)
class _Known:
    id: bytes
    secret: bytes
    scopes: frozenset[str]


class Authenticator:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = [_Known(t.id.encode(), t.secret.get_secret_value().encode(), frozenset(t.scopes))
                       for t in tokens]

    def check(self, request: web.Request, scope: Scope) -> str:
        """The id of the token the request carries, if that token has ``scope``.

        Unauthorized (401) without valid credentials; Forbidden (403) for a valid token without the scope.
        """
        token = self._token(request)
        if scope not in token.scopes:
            raise Forbidden(f"this token lacks the {scope} scope")
        return token.id.decode()

    def _token(self, request: web.Request) -> _Known:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                token_id, _, secret = base64.b64decode(value, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                raise Unauthorized("malformed Basic credentials", headers=CHALLENGE) from None
            for known in self.tokens:
                if hmac.compare_digest(token_id, known.id) & hmac.compare_digest(secret, known.secret):
                    return known
        elif scheme.lower() == "bearer":
            for known in self.tokens:
                # a header's bytes as sent (aiohttp keeps undecodable ones as surrogates)
                if hmac.compare_digest(value.encode("utf-8", "surrogateescape"), known.secret):
                    return known
        raise Unauthorized("a valid API token is required (HTTP Basic id:secret or Bearer secret)",
                           headers=CHALLENGE)
