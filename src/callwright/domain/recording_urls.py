"""Signed, expiring URLs for call recordings, served by the platform itself.

The signature is HMAC-SHA256(key, "recording:{call_id}:{expires}") with a key of its own
(derived from the master key for this purpose only), so it opens one call's recording until
``expires`` (Unix seconds) and nothing else. ``keys`` is every active key, current first: URLs
handed out before a master-key rotation keep working until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from enum import StrEnum

KEY_PURPOSE = b"callwright recording urls v1"


class UrlCheck(StrEnum):
    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


def recording_signature(key: bytes, call_id: str, expires: int) -> str:
    digest = hmac.new(key, f"recording:{call_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def recording_path(call_id: str) -> str:
    return f"/recordings/{call_id}.wav"


def recording_query(key: bytes, call_id: str, expires: int) -> str:
    return f"expires={expires}&sig={recording_signature(key, call_id, expires)}"


def check_recording_url(
    keys: list[bytes], call_id: str, expires: str | None, sig: str | None, *, now: float
) -> UrlCheck:
    """The signature is checked before the expiry, so a forged URL never learns more than
    "bad signature"."""
    if not sig or expires is None or not _is_unix_time(expires):
        return UrlCheck.BAD_SIGNATURE
    expires_at = int(expires)
    expected = [recording_signature(key, call_id, expires_at).encode() for key in keys]
    if not any(hmac.compare_digest(candidate, sig.encode()) for candidate in expected):
        return UrlCheck.BAD_SIGNATURE
    if expires_at <= now:
        return UrlCheck.EXPIRED
    return UrlCheck.VALID


def _is_unix_time(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 12
