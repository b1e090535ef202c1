"""API tokens: HTTP Basic ``id:secret`` (what the Mux SDKs send) or ``Bearer <secret>``."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from gateway.errors import Unauthorized
from gateway.settings import Token

CHALLENGE = {"WWW-Authenticate": 'Basic realm="upload-gateway"'}


class Authenticator:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = [(t.id.encode(), t.secret.get_secret_value().encode()) for t in tokens]

    def check(self, request: web.Request) -> str:
        """The id of the token the request carries; Unauthorized otherwise."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "basic":
            try:
                token_id, _, secret = base64.b64decode(value, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                raise Unauthorized("malformed Basic credentials", headers=CHALLENGE) from None
            for known_id, known_secret in self.tokens:
                if hmac.compare_digest(token_id, known_id) & hmac.compare_digest(secret, known_secret):
                    return known_id.decode()
        elif scheme.lower() == "bearer":
            for known_id, known_secret in self.tokens:
                if hmac.compare_digest(value.encode(), known_secret):
                    return known_id.decode()
        raise Unauthorized("a valid API token is required (HTTP Basic id:secret or Bearer secret)",
                           headers=CHALLENGE)
