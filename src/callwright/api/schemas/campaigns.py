"""Boundary models for campaigns: create and update bodies, schedule and retry rules, contacts,
and the campaign and contact as partners see them (Vocobase's campaign fields first)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from callwright.api.schemas.agents import iso_utc
from callwright.domain import campaign_guards as guards
from callwright.domain import campaign_retries as retries
from callwright.domain import campaign_windows as windows
from callwright.domain import campaigns as rules
from callwright.domain.agents import VARIABLE_NAME_RULE, is_variable_name
from callwright.domain.campaign_retries import AttemptOutcome
from callwright.domain.errors import ValidationFailed
from callwright.domain.phone import E164_RULE, is_e164
from callwright.store.models import Campaign, CampaignAttempt, CampaignContact

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallingWindowBody(BaseModel):
    """Open on these weekdays from ``start`` to ``end`` (local time of the recipient)."""

    model_config = _STRICT

    days: list[str] = Field(min_length=1, max_length=7, examples=[["mon", "tue", "wed", "thu", "fri"]])
    start: str = Field(examples=["10:00"], description="HH:MM, the recipient's local time")
    end: str = Field(examples=["19:00"], description="HH:MM (exclusive; 24:00 is midnight)")

    @model_validator(mode="after")
    def _valid(self) -> CallingWindowBody:
        windows.weekly_window(self.days, self.start, self.end)  # its ValueError names the rule
        self.days = [day.lower() for day in self.days]
        return self


class ScheduleBody(BaseModel):
    model_config = _STRICT

    start_at: datetime | None = Field(default=None, description="Nothing is dialled before it")
    end_at: datetime | None = Field(default=None, description="Nothing is dialled from it on")
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone for numbers whose own zone is unknown or ambiguous (several zones)",
    )
    calling_windows: list[CallingWindowBody] = Field(default_factory=list, max_length=windows.WINDOWS_MAX)
    blackout_dates: list[date] = Field(default_factory=list, max_length=windows.BLACKOUT_DATES_MAX)

    @field_validator("start_at", "end_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a UTC offset, like 2026-12-01T09:00:00Z")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value and not windows.is_zone(value):
            raise ValueError(f"must be an IANA time zone like Asia/Kolkata, not {value!r}")
        return value or None

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBody:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self

    def stored(self) -> dict[str, Any]:
        return {
            "start_at": iso_utc(self.start_at) if self.start_at else None,
            "end_at": iso_utc(self.end_at) if self.end_at else None,
            "timezone": self.timezone,
            "calling_windows": [window.model_dump() for window in self.calling_windows],
            "blackout_dates": sorted({day.isoformat() for day in self.blackout_dates}),
        }


class RetryRuleBody(BaseModel):
    model_config = _STRICT

    redial: bool = True
    spacing_secs: int | list[int] | None = Field(
        default=None,
        description="Seconds before a retry: one value, or one per retry (the last repeats); "
        "left out: the outcome's default",
        examples=[[600, 3600]],
    )

    @field_validator("spacing_secs")
    @classmethod
    def _spacing(cls, value: int | list[int] | None) -> list[int] | None:
        if value is None:
            return None
        values = [value] if isinstance(value, int) else value
        if not 1 <= len(values) <= retries.SPACINGS_MAX:
            raise ValueError(f"must hold 1 to {retries.SPACINGS_MAX} intervals")
        if any(not 0 <= v <= retries.SPACING_MAX_SECS for v in values):
            raise ValueError(f"must be between 0 and {retries.SPACING_MAX_SECS} seconds")
        return values


class RetryBody(BaseModel):
    """One attempt budget per contact (the first call included); a rule per retryable outcome.
    An outcome left out keeps its default rule."""

    model_config = _STRICT

    max_attempts: int = Field(
        default=retries.MAX_ATTEMPTS_DEFAULT, ge=retries.MAX_ATTEMPTS_MIN, le=retries.MAX_ATTEMPTS_MAX
    )
    busy: RetryRuleBody | None = None
    no_answer: RetryRuleBody | None = None
    voicemail: RetryRuleBody | None = Field(default=None, description="redial on voicemail")
    failed: RetryRuleBody | None = None
    carrier_refused: RetryRuleBody | None = None

    def stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"max_attempts": self.max_attempts}
        for outcome in retries.RETRYABLE:
            rule = getattr(self, outcome.value)
            if rule is not None:
                stored[outcome.value] = rule.model_dump(exclude_none=True)
        return stored


class CircuitBreakerBody(BaseModel):
    """Pause the campaign when at least ``failure_rate`` of its last ``window`` dials failed at
    the carrier (``failed`` or ``carrier_refused``)."""

    model_config = _STRICT

    failure_rate: float = Field(default=guards.FAILURE_RATE_DEFAULT, gt=0, le=1, examples=[0.5])
    window: int = Field(default=guards.WINDOW_DEFAULT, ge=guards.WINDOW_MIN, le=guards.WINDOW_MAX, examples=[20])

    def stored(self) -> dict[str, Any]:
        return {"failure_rate": self.failure_rate, "window": self.window}


_CALLER_IDS = Field(
    default=None,
    max_length=guards.CALLER_IDS_MAX,
    description="E.164 numbers of the carrier account the calls' caller ID rotates over; "
    "empty: the connection's own number",
    examples=[["+918011223344", "+918011223355"]],
)


def _checked_caller_ids(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for number in value:
        if not is_e164(number):
            raise ValueError(f"each number {E164_RULE} ({number[:32]!r} is not)")
    if len(set(value)) != len(value):
        raise ValueError("must not repeat a number")
    return value


class CampaignCreate(BaseModel):
    """``POST /campaigns`` (Vocobase's fields, then Callwright's schedule and retry rules)."""

    model_config = _STRICT

    name: str = Field(min_length=1, max_length=rules.NAME_MAX)
    agent_id: str = Field(min_length=1, max_length=64)
    provider: str = Field(min_length=1, max_length=32, description="twilio, plivo, vobiz, exotel or mcube")
    description: str | None = Field(default=None, max_length=rules.DESCRIPTION_MAX)
    concurrency_limit: int = Field(default=rules.CONCURRENCY_DEFAULT, ge=rules.CONCURRENCY_MIN, le=rules.CONCURRENCY_MAX)
    schedule: ScheduleBody | None = None
    retry: RetryBody | None = None
    circuit_breaker: CircuitBreakerBody | None = Field(
        default_factory=CircuitBreakerBody,
        description="left out: failure_rate 0.5 over the last 20 dials; null: no circuit breaker",
    )
    caller_ids: list[str] | None = _CALLER_IDS

    @field_validator("caller_ids")
    @classmethod
    def _caller_ids(cls, value: list[str] | None) -> list[str] | None:
        return _checked_caller_ids(value)


class CampaignUpdate(BaseModel):
    """``PATCH /campaigns/{id}``: the fields given change (while the campaign is draft or paused)."""

    model_config = _STRICT

    name: str | None = Field(default=None, min_length=1, max_length=rules.NAME_MAX)
    agent_id: str | None = Field(default=None, min_length=1, max_length=64)
    provider: str | None = Field(default=None, min_length=1, max_length=32)
    description: str | None = Field(default=None, max_length=rules.DESCRIPTION_MAX)
    concurrency_limit: int | None = Field(default=None, ge=rules.CONCURRENCY_MIN, le=rules.CONCURRENCY_MAX)
    schedule: ScheduleBody | None = None
    retry: RetryBody | None = None
    circuit_breaker: CircuitBreakerBody | None = Field(default=None, description="null: no circuit breaker")
    caller_ids: list[str] | None = _CALLER_IDS

    @field_validator("caller_ids")
    @classmethod
    def _caller_ids(cls, value: list[str] | None) -> list[str] | None:
        return _checked_caller_ids(value)


class ContactBody(BaseModel):
    model_config = _STRICT

    phone: str = Field(max_length=32, examples=["+919876543210"], description="E.164")
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict, description="Becomes the call's {{variables}}")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; overrides the number's")

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False).encode()) > rules.METADATA_MAX_BYTES:
            raise ValueError(f"must be at most {rules.METADATA_MAX_BYTES} bytes as JSON")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value and not windows.is_zone(value):
            raise ValueError(f"must be an IANA time zone like Asia/Kolkata, not {value!r}")
        return value or None


class ContactsBody(BaseModel):
    model_config = _STRICT

    contacts: list[ContactBody] = Field(min_length=1, max_length=rules.CONTACTS_PER_REQUEST_MAX)


# --- what partners see ------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value else None


def campaign_public(campaign: Campaign, *, agent_name: str | None, counts: dict[str, int]) -> dict[str, Any]:
    """The campaign as the API shows it: Vocobase's fields, in its order, then Callwright's."""
    total = sum(counts.values())
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "description": campaign.description,
        "agent_id": campaign.agent_id,
        "agent_name": agent_name,
        "provider": campaign.provider,
        "concurrency_limit": campaign.concurrency_limit,
        "status": campaign.status,
        "total_contacts": total,
        "completed_count": counts.get("completed", 0),
        "failed_count": counts.get("failed", 0),
        "skipped_count": counts.get("skipped", 0),
        "started_at": _iso(campaign.started_at),
        "paused_at": _iso(campaign.paused_at),
        "completed_at": _iso(campaign.completed_at),
        "created_at": _iso(campaign.created_at),
        # Callwright's additions.
        "pending_count": counts.get("pending", 0),
        "calling_count": counts.get("calling", 0),
        "canceled_at": _iso(campaign.canceled_at),
        "pause_reason": campaign.pause_reason,
        "schedule": schedule_public(campaign.schedule),
        "retry": retries.policy_to_json(retries.policy_from_json(campaign.retry or {})),
        "circuit_breaker": guards.breaker_to_json(guards.breaker_from_json(campaign.circuit_breaker)),
        "caller_ids": list(campaign.caller_ids or []),
        "updated_at": _iso(campaign.updated_at),
    }


def schedule_public(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "start_at": stored.get("start_at"),
        "end_at": stored.get("end_at"),
        "timezone": stored.get("timezone"),
        "calling_windows": list(stored.get("calling_windows") or []),
        "blackout_dates": list(stored.get("blackout_dates") or []),
    }


def attempt_public(attempt: CampaignAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "call_id": attempt.call_id,
        "outcome": attempt.outcome,
        "counted": attempt.counted,
        "started_at": _iso(attempt.created_at),
        "ended_at": _iso(attempt.ended_at),
    }


def contact_public(
    contact: CampaignContact, *, attempts: list[CampaignAttempt], zone: windows.RecipientZones
) -> dict[str, Any]:
    return {
        "contact_id": contact.id,
        "phone": contact.phone,
        "name": contact.name,
        "metadata": dict(contact.meta or {}),
        "state": contact.state,
        "attempts": contact.attempts,
        "last_outcome": contact.last_outcome,
        "result_reason": contact.result_reason,
        "next_attempt_at": _iso(contact.next_attempt_at) if contact.state == "pending" else None,
        "timezone": zone.label,
        "timezone_source": zone.source.value,
        "call_id": contact.current_call_id,
        "finished_at": _iso(contact.finished_at),
        "created_at": _iso(contact.created_at),
        "attempt_history": [attempt_public(a) for a in attempts],
    }


OUTCOMES = [outcome.value for outcome in AttemptOutcome]


def create_fields(body: CampaignCreate) -> dict[str, Any]:
    fields = body.model_dump(exclude={"schedule", "retry", "circuit_breaker", "caller_ids"})
    fields["schedule"] = body.schedule.stored() if body.schedule else {}
    fields["retry"] = body.retry.stored() if body.retry else {}
    fields["circuit_breaker"] = body.circuit_breaker.stored() if body.circuit_breaker else None
    fields["caller_ids"] = body.caller_ids or []
    return fields


def update_changes(body: CampaignUpdate) -> dict[str, Any]:
    """The fields the body sets; ``schedule`` and ``retry`` are replaced as a whole (``null``
    returns them to the defaults), ``description: null`` clears it."""
    given = body.model_fields_set
    for required in ("name", "agent_id", "provider", "concurrency_limit"):
        if required in given and getattr(body, required) is None:
            raise ValidationFailed(required, f"{required} cannot be null")
    structured = ("schedule", "retry", "circuit_breaker", "caller_ids")
    changes = {key: getattr(body, key) for key in given if key not in structured}
    if "schedule" in given:
        changes["schedule"] = body.schedule.stored() if body.schedule else {}
    if "retry" in given:
        changes["retry"] = body.retry.stored() if body.retry else {}
    if "circuit_breaker" in given:
        changes["circuit_breaker"] = body.circuit_breaker.stored() if body.circuit_breaker else None
    if "caller_ids" in given:
        changes["caller_ids"] = body.caller_ids or []
    return changes


class CsvMappingBody(BaseModel):
    """Which CSV column is what. Columns are named by their header (matched ignoring case)."""

    model_config = _STRICT

    phone: str = Field(default="phone", min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200, description="default: a `name` column if any")
    timezone: str | None = Field(default=None, max_length=200, description="default: a `timezone` column if any")
    variables: dict[str, str] | None = Field(
        default=None,
        max_length=100,
        description="variable name → column; default: every other column, named by its header",
    )

    @field_validator("variables")
    @classmethod
    def _names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if not is_variable_name(name):
                raise ValueError(f"keys {VARIABLE_NAME_RULE} ({name!r} does not)")
        return value
