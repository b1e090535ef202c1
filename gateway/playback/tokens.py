"""The token of a signed playback id: an RS256 JWT as Mux's SDKs sign it.

TO BE FILLED IN (helper D).
"""

from __future__ import annotations

from typing import Any

from gateway.catalog.playback import Playback
from gateway.errors import Forbidden
from gateway.playback.keys import SigningKeys

AUDIENCES = ("v", "t", "g", "s")   # video (HLS and static renditions), thumbnail, gif, storyboard


async def authorize(signing: SigningKeys, playback: Playback, audience: str, token: str | None) -> dict[str, Any]:
    """The claims of ``token`` for ``playback`` and ``audience`` (empty for a public id). Forbidden (403,
    a clear message) when a signed id's token is missing, malformed, not RS256, expired, for another id
    or audience, or signed by an unknown or deleted key."""
    if playback.policy == "public":
        return {}
    raise Forbidden("signed playback is not available yet")
