"""Vobiz: a Plivo-derived API. Auth is the ``X-Auth-ID`` / ``X-Auth-Token`` header pair."""

from __future__ import annotations

from typing import Annotated, ClassVar

import httpx

from callwright.carriers._fields import E164, Secret, pattern
from callwright.carriers.base import Carrier, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class VobizCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_token",)
    masked_fields: ClassVar[tuple[str, ...]] = ("auth_id",)

    auth_id: Annotated[
        str,
        pattern(r"(MA|SA)_[A-Za-z0-9]{4,40}", "must look like MA_XXXXXXXX (or SA_… for a sub-account)"),
    ]
    auth_token: Secret
    from_number: E164


def auth_headers(auth_id: str, auth_token: str) -> dict[str, str]:
    return {"X-Auth-ID": auth_id, "X-Auth-Token": auth_token}


class Vobiz(Carrier):
    provider = Provider.VOBIZ
    credentials_model = VobizCredentials

    def auth_failed_message(self) -> str:
        return "Vobiz rejected the Auth ID / Auth Token"

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        assert isinstance(credentials, VobizCredentials)
        # GET /auth/me: 200 with the account's limits, 401 for bad credentials.
        await self.request(
            http,
            "GET",
            f"{endpoints.vobiz}/auth/me",
            headers=auth_headers(credentials.auth_id, credentials.auth_token),
            timeout=endpoints.timeout_secs,
        )
