"""Boundary models for calls: the start request and the call as partners see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from callwright.api.schemas.agents import iso_utc
from callwright.api.schemas.text import LINE_CHARS, SafeJsonObject, SafeLine
from callwright.store.models import Call


class CallStartBody(BaseModel):
    """``POST /calls/start``. ``to_number`` is checked after agent and provider (contract order)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent_id: SafeLine = Field(min_length=1, max_length=64)
    to_number: SafeLine = Field(max_length=32)
    provider: Annotated[str, Field(max_length=32), LINE_CHARS] | None = None
    variables: SafeJsonObject = Field(default_factory=dict, max_length=100)
    connection_id: Annotated[str, Field(max_length=64), LINE_CHARS] | None = None


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value else None


def call_started(call: Call) -> dict[str, Any]:
    return {
        "call_id": call.id,
        "session_id": call.session_id,
        "status": call.status,
        "provider": call.provider,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "agent_id": call.agent_id,
    }


def call_public(call: Call, *, recording_url: str | None = None) -> dict[str, Any]:
    """The call as the API shows it; ``recording_url``: a freshly signed one to show instead of
    the stored URL (which expires)."""
    return {
        "call_id": call.id,
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "agent_name": call.agent.get("agent_name"),
        "provider": call.provider,
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "status": call.status,
        "disposition": call.disposition,
        "answered_by": call.answered_by,
        # Set when our own voicemail check (greeting words, beep) decided answered_by.
        "answered_by_confidence": call.answered_by_confidence,
        "answered_by_reason": call.answered_by_reason,
        "end_reason": call.end_reason,
        "hangup_cause": call.hangup_cause,
        "provider_call_id": call.provider_call_id,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
        "transcript": list(call.transcript or []),
        "latency": call.latency,
        "recording_url": recording_url or call.recording_url,
        "variables": dict(call.variables or {}),
        "created_at": _iso(call.created_at),
        "updated_at": _iso(call.updated_at),
    }
