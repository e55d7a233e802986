"""MCube (VMC Technologies): click-to-call with an account JWT. No credential check is documented."""

from __future__ import annotations

from typing import ClassVar

import httpx

from callwright.carriers._fields import PhoneNumber, Secret
from callwright.carriers.base import Carrier, CarrierCredentials, CarrierEndpoints
from callwright.domain.providers import Provider


class MCubeCredentials(CarrierCredentials):
    secret_fields: ClassVar[tuple[str, ...]] = ("jwt_token",)

    jwt_token: Secret
    # The executive's number; MCube's API takes the 10-digit national form.
    exe_number: PhoneNumber


class MCube(Carrier):
    provider = Provider.MCUBE
    credentials_model = MCubeCredentials
    verifies_credentials = False

    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        # MCube documents no authenticated read; the first click-to-call is the first real check.
        return None
