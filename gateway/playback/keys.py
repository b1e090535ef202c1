"""Signing keys for signed playback (Mux's ``/video/v1/signing-keys``): an RSA key pair is made, the
private key handed out once (base64 of its PEM), only the public key kept (``<p>:{<kid>}:signing_key``).

TO BE FILLED IN (helper D): create / get / page / delete, ``public_key(kid)``.
"""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.state.keys import Keys


class SigningKeys:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def public_key_pem(self, key_id: str) -> bytes | None:
        """The PEM of the public key ``key_id`` names; None for an unknown or deleted key."""
        raise NotImplementedError
