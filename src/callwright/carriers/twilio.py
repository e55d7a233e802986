"""Twilio: HTTP Basic ``AccountSid:AuthToken``, JSON resources under ``/Accounts/{AC…}``."""

from __future__ import annotations

from typing import Annotated, ClassVar

import httpx

from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers.base import Carrier, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class TwilioCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("account_sid",)

    account_sid: Annotated[str, pattern(r"AC[0-9a-fA-F]{32}", "must be AC followed by 32 hex digits")]
    auth_token: Secret
    from_number: E164


class Twilio(Carrier):
    provider = Provider.TWILIO
    credentials_model = TwilioCredentials

    def auth_failed_message(self) -> str:
        return "Twilio rejected the Account SID / Auth Token"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, TwilioCredentials)
        # 401 with Twilio error code 20003 for bad credentials.
        await self.request(
            http,
            "GET",
            f"{endpoints.twilio}/Accounts/{credentials.account_sid}.json",
            auth=(credentials.account_sid, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )
