"""Plivo: HTTP Basic ``auth_id:auth_token``; paths under ``/Account/{auth_id}/`` end with a slash."""

from __future__ import annotations

from typing import Annotated, ClassVar

import httpx

from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers.base import Carrier, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class PlivoCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("auth_id",)

    # The Plivo SDK's own rule (plivo.utils.validators.is_account_id): MA/SA + 18 of [A-Z0-9].
    auth_id: Annotated[
        str, pattern(r"(M|S)A[A-Z0-9]{18}", "must be MA or SA followed by 18 capital letters or digits")
    ]
    auth_token: Secret
    from_number: E164


class Plivo(Carrier):
    provider = Provider.PLIVO
    credentials_model = PlivoCredentials

    def auth_failed_message(self) -> str:
        return "Plivo rejected the Auth ID / Auth Token"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, PlivoCredentials)
        await self.request(
            http,
            "GET",
            f"{endpoints.plivo}/Account/{credentials.auth_id}/",
            auth=(credentials.auth_id, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )
