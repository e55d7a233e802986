"""The one small interface every carrier module implements, and the shapes it trades in.

A carrier module (``twilio.py``, ``plivo.py``, ``vobiz.py``, ``exotel.py``, ``mcube.py``) knows its
carrier's wire contract (shared spec: carriers.md) and nothing about our store or HTTP routes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from callwright.domain.errors import CallwrightError
from callwright.domain.masking import mask_identifier
from callwright.domain.providers import Provider


class CarrierAuthFailed(CallwrightError):
    """The carrier answered 401/403 to the partner's credentials."""

    status_code = 400
    code = "carrier_auth_failed"


class CarrierUnavailable(CallwrightError):
    """The carrier could not be reached, timed out, or answered 5xx."""

    status_code = 502
    code = "carrier_unavailable"


class CarrierRejected(CallwrightError):
    """The carrier answered with another 4xx: it understood and refused."""

    status_code = 502
    code = "carrier_rejected"


class CarrierCredentials(BaseModel):
    """The body of ``PUT /config/telephony/{provider}``; subclasses declare fields and rules.

    ``identifier_fields`` are stored in the clear (shown masked or as a placeholder);
    ``secret_fields`` are sealed at rest and never shown; ``masked_fields`` are the identifiers the
    PUT response masks (first 4 + ``****`` + last 4).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    secret_fields: ClassVar[tuple[str, ...]] = ()
    masked_fields: ClassVar[tuple[str, ...]] = ()

    def identifiers(self) -> dict[str, Any]:
        return self.model_dump(exclude=set(self.secret_fields))

    def secrets(self) -> dict[str, Any]:
        return self.model_dump(include=set(self.secret_fields))

    def public_view(self) -> dict[str, Any]:
        """What the PUT response shows: identifiers, masked where the contract says so."""
        view = {}
        for key, value in self.identifiers().items():
            view[key] = mask_identifier(value) if key in self.masked_fields and value else value
        return view


@dataclass(frozen=True, slots=True)
class CarrierEndpoints:
    """Base URLs of each carrier's REST API (the real carriers by default; the simulator in tests)."""

    vobiz: str
    plivo: str
    twilio: str
    exotel: str | None
    mcube: str
    timeout_secs: float = 10.0


class Carrier(ABC):
    provider: ClassVar[Provider]
    credentials_model: ClassVar[type[CarrierCredentials]]
    # False where the carrier documents no cheap authenticated read (MCube).
    verifies_credentials: ClassVar[bool] = True

    @property
    def display_name(self) -> str:
        return self.provider.display_name

    @abstractmethod
    async def verify(
        self, credentials: CarrierCredentials, *, http: httpx.AsyncClient, endpoints: CarrierEndpoints
    ) -> None:
        """Prove the credentials with the carrier's own API, or raise a ``Carrier*`` error."""

    # The call path (place_call, hangup, answer_document, parse_callback, validate_signature,
    # media_serializer) joins this interface with outbound calling.

    def auth_failed_message(self) -> str:
        return f"{self.display_name} rejected the credentials"

    async def request(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        timeout: float,
        **kwargs: Any,
    ) -> httpx.Response:
        """One REST request, with carrier failures turned into our errors (no secrets in them)."""
        try:
            response = await http.request(method, url, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            raise CarrierUnavailable(f"{self.display_name} did not answer in time") from None
        except httpx.HTTPError:
            raise CarrierUnavailable(f"{self.display_name} could not be reached") from None
        if response.status_code in (401, 403):
            raise CarrierAuthFailed(self.auth_failed_message())
        if response.status_code >= 500:
            raise CarrierUnavailable(
                f"{self.display_name} answered HTTP {response.status_code}; try again later"
            )
        if response.status_code >= 400:
            raise CarrierRejected(
                f"{self.display_name} refused the request with HTTP {response.status_code}"
            )
        return response
