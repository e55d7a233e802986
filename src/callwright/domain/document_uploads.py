"""Signed, expiring upload URLs for knowledge-base documents, served by the platform itself.

The signature is HMAC-SHA256(key, "document-upload:{document_id}:{expires}") with a key derived
from the master key for this purpose only: it lets one PUT of one document's bytes until
``expires`` (Unix seconds, 900 s after it was handed out, as Vocobase's presigned URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from callwright.domain.recording_urls import UrlCheck

KEY_PURPOSE = b"callwright document uploads v1"


def upload_signature(key: bytes, document_id: str, expires: int) -> str:
    digest = hmac.new(key, f"document-upload:{document_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def upload_path(document_id: str) -> str:
    return f"/uploads/documents/{document_id}"


def upload_query(key: bytes, document_id: str, expires: int) -> str:
    return f"expires={expires}&sig={upload_signature(key, document_id, expires)}"


def check_upload_url(keys: list[bytes], document_id: str, expires: str | None, sig: str | None, *, now: float) -> UrlCheck:
    """The signature first, then the expiry (a forged URL learns only "bad signature")."""
    if not sig or expires is None or not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
        return UrlCheck.BAD_SIGNATURE
    expires_at = int(expires)
    if not any(hmac.compare_digest(upload_signature(k, document_id, expires_at).encode(), sig.encode()) for k in keys):
        return UrlCheck.BAD_SIGNATURE
    if expires_at <= now:
        return UrlCheck.EXPIRED
    return UrlCheck.VALID
