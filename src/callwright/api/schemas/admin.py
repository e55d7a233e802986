"""Request bodies of the operator API (``/admin/v1``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callwright.api.schemas.text import FREE_TEXT_CHARS, NAME_CHARS, SafeLine, SafeName
from callwright.domain.credits import parse_rate
from callwright.domain.rate_limits import MAX_PER_MINUTE
from callwright.services.operator import MAX_CPS
from callwright.services.partners import MAX_AGENT_LIMIT, MAX_CONCURRENCY_LIMIT


class PartnerCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "acme-corp",
                "display_name": "Acme Corp",
                "allowed_telephony_providers": ["twilio", "vobiz"],
                "concurrency_limit": 10,
                "agent_limit": 50,
                "requests_per_minute": 60,
                "calls_per_minute": 10,
            }
        },
    )

    name: SafeName = Field(description="Slug: lowercase letters, digits and '-', like acme-corp.")
    display_name: Annotated[str, Field(max_length=200), NAME_CHARS] | None = None
    allowed_telephony_providers: list[SafeLine] = Field(
        default_factory=list, description="Any of twilio, plivo, vobiz, exotel, mcube."
    )
    concurrency_limit: int | None = Field(
        default=None, ge=0, le=MAX_CONCURRENCY_LIMIT, description="Default from settings."
    )
    agent_limit: int | None = Field(
        default=None, ge=0, le=MAX_AGENT_LIMIT, description="Default from settings."
    )
    requests_per_minute: int | None = Field(
        default=None,
        ge=0,
        le=MAX_PER_MINUTE,
        description="Per API key, on endpoints other than /calls/*; 0 = no limit. Default from settings.",
    )
    calls_per_minute: int | None = Field(
        default=None,
        ge=0,
        le=MAX_PER_MINUTE,
        description="Per API key, on /calls/*; 0 = no limit. Default from settings.",
    )


class PartnerUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"status": "suspended", "concurrency_limit": 20}},
    )

    display_name: Annotated[str, Field(min_length=1, max_length=200), NAME_CHARS] | None = None
    status: Literal["active", "suspended"] | None = None
    concurrency_limit: int | None = Field(default=None, ge=0, le=MAX_CONCURRENCY_LIMIT)
    agent_limit: int | None = Field(default=None, ge=0, le=MAX_AGENT_LIMIT)
    requests_per_minute: int | None = Field(
        default=None, ge=0, le=MAX_PER_MINUTE, description="Per API key; 0 = no limit."
    )
    calls_per_minute: int | None = Field(
        default=None, ge=0, le=MAX_PER_MINUTE, description="Per API key, on /calls/*; 0 = no limit."
    )


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"test": False}})

    test: bool = Field(default=False, description="Issue an rg_test_… key instead of rg_live_….")


class ConnectionSwitches(BaseModel):
    """Operator-only switches on a partner's carrier connection. Omitted fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"carrier_voicemail_detection": True, "cps": 5}},
    )

    carrier_voicemail_detection: bool | None = Field(
        default=None, description="Ask the carrier to detect answering machines (where it can)."
    )
    cps: float | None = Field(
        default=None,
        gt=0,
        le=MAX_CPS,
        description="Calls per second to pace this account to; null clears it (carrier default).",
    )

    @field_validator("carrier_voicemail_detection")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        # Runs only when the field is sent: omitting it keeps the current setting, null is a mistake.
        if value is None:
            raise ValueError("must be true or false")
        return value


class CreditEntryCreate(BaseModel):
    """A top-up (amount > 0) or an adjustment (either sign, with a note), in ₹."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"amount": "5000.00", "note": "invoice 2026-114"}},
    )

    amount: Decimal = Field(description="₹, at most two decimal places, like 5000 or 12.50.")
    note: Annotated[str, Field(max_length=500), FREE_TEXT_CHARS] | None = None


class RateBody(BaseModel):
    """A per-minute call rate in ₹ (whole paise); null clears it, so the next level applies."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"rate_per_minute": "3.60"}})

    rate_per_minute: Decimal | None = Field(
        description="₹ per minute, billed in 15-second buckets; null: inherit."
    )

    def paise(self) -> int | None:
        """The rate in whole paise per minute, or None to inherit (raises naming the field)."""
        return None if self.rate_per_minute is None else parse_rate(self.rate_per_minute)
