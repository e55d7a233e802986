"""Per-call tokens that authenticate carrier callbacks and media sockets.

A token is HMAC-SHA256(key, purpose + call id): unguessable without the platform's key, bound to
one call and one purpose (a callback token does not open the media socket), and verifiable without
a database read. ``keys`` is every active token key, current first, so tokens handed out before a
master-key rotation keep working for the calls in flight.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum


class TokenPurpose(StrEnum):
    CALLBACK = "callback"
    MEDIA = "media"
    # Per carrier connection, not per call: the secret in the URL of an Exotel connection's
    # Voicebot endpoint (services.exotel_voicebot), HMAC of the key and the connection id.
    VOICEBOT = "voicebot"


def call_token(key: bytes, call_id: str, purpose: TokenPurpose) -> str:
    digest = hmac.new(key, f"{purpose.value}:{call_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_call_token(keys: list[bytes], call_id: str, purpose: TokenPurpose, token: str | None) -> bool:
    if not token:
        return False
    return any(
        hmac.compare_digest(call_token(key, call_id, purpose).encode(), token.encode())
        for key in keys
    )
