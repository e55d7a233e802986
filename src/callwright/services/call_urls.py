"""The URLs a carrier uses to reach us for one call, each carrying that call's token."""

from __future__ import annotations

from urllib.parse import urlencode

from callwright.carriers import get_carrier
from callwright.carriers.base import CallbackKind
from callwright.domain.call_tokens import TokenPurpose, call_token
from callwright.domain.providers import Provider
from callwright.settings import Settings


def callback_url(settings: Settings, key: bytes, provider: str, call_id: str, kind: CallbackKind) -> str:
    token = call_token(key, call_id, TokenPurpose.CALLBACK)
    base = settings.public_url.rstrip("/")
    if get_carrier(Provider(provider)).callback_token_in_path:
        # The token is URL-safe base64: a path segment as it is.
        return f"{base}/telephony/{provider}/{call_id}/{kind.value}/{token}"
    return f"{base}/telephony/{provider}/{call_id}/{kind.value}?{urlencode({'token': token})}"


def stream_url(settings: Settings, provider: str, call_id: str) -> str:
    """The media WebSocket URL without its token (carriers add it their own way)."""
    return f"{settings.public_ws_url}/media/{provider}/{call_id}"


def media_parameters(key: bytes, call_id: str) -> dict[str, str]:
    return {"call_id": call_id, "token": call_token(key, call_id, TokenPurpose.MEDIA)}


def stream_url_with_token(settings: Settings, key: bytes, provider: str, call_id: str) -> str:
    return f"{stream_url(settings, provider, call_id)}?{urlencode(media_parameters(key, call_id))}"
