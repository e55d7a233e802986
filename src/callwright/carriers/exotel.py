"""Exotel: HTTP Basic ``api_key:api_token`` against the account's regional subdomain."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from callwright.carriers._fields import PhoneNumber, Secret, pattern
from callwright.carriers.base import Carrier, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class ExotelCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_token")
    masked_fields: ClassVar[tuple[str, ...]] = ("account_sid",)

    account_sid: Annotated[
        str,
        Field(min_length=2, max_length=64),
        pattern(r"[A-Za-z0-9_-]+", "must contain only letters, digits, '-' and '_'"),
    ]
    api_key: Secret
    api_token: Secret
    # Singapore or Mumbai cluster.
    subdomain: Literal["api.exotel.com", "api.in.exotel.com"]
    caller_id: PhoneNumber
    applet_id: Annotated[str, Field(max_length=64)] | None = None


def api_base(subdomain: str, override: str | None) -> str:
    """``https://{subdomain}``, or the override's scheme and host (CALLWRIGHT_EXOTEL_API_URL)."""
    if override:
        parts = urlsplit(override)
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return f"https://{subdomain}"


class Exotel(Carrier):
    provider = Provider.EXOTEL
    credentials_model = ExotelCredentials

    def auth_failed_message(self) -> str:
        return "Exotel rejected the API key / API token (or this server's IP is not whitelisted)"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, ExotelCredentials)
        base = api_base(credentials.subdomain, endpoints.exotel)
        await self.request(
            http,
            "GET",
            f"{base}/v2_beta/Accounts/{credentials.account_sid}/IncomingPhoneNumbers",
            auth=(credentials.api_key, credentials.api_token),
            timeout=endpoints.timeout_secs,
        )
