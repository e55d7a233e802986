"""Boundary models for calls: the start request and the call as partners see it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callwright.api.schemas.agents import iso_utc
from callwright.api.schemas.text import LINE_CHARS, SafeJsonObject, SafeLine
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import CallStatus
from callwright.domain.credits import rupees
from callwright.store.models import Call


class CallTransferBody(BaseModel):
    """``POST /calls/{id}/transfer``: where to; without ``to``, the agent's ``transfer_number``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    to: str | None = Field(
        None, max_length=32, description="E.164 number; omit for the agent's transfer_number.",
        examples=["+919876543210"],
    )
    mode: Literal["cold", "warm"] | None = Field(
        None, description="`cold` or `warm` (Callwright's: the human hears a summary first, then the "
        "caller is bridged); omit for the agent's transfer_mode.",
    )


class CallStartBody(BaseModel):
    """``POST /calls/start``. ``to_number`` is checked after agent and provider (contract order)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent_id: SafeLine = Field(min_length=1, max_length=64)
    to_number: SafeLine = Field(max_length=32)
    provider: Annotated[str, Field(max_length=32), LINE_CHARS] | None = None
    variables: SafeJsonObject = Field(default_factory=dict, max_length=100)
    connection_id: Annotated[str, Field(max_length=64), LINE_CHARS] | None = None


class ExtractBody(BaseModel):
    """``POST /calls/{id}/extract``: ``dry_run`` returns the result without storing it."""

    model_config = ConfigDict(extra="forbid")

    dry_run: Annotated[bool, Field(strict=True)] = False


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


def error_message(call: Call) -> str | None:
    """Why a call failed, in the carrier's or the platform's words; null unless it failed."""
    if call.status != CallStatus.FAILED:
        return None
    return call.end_reason or call.hangup_cause or "the call failed"


def call_public(call: Call, *, recording_url: str | None = None) -> dict[str, Any]:
    """The call as ``GET /calls`` lists it; ``recording_url``: a freshly signed one to show
    instead of the stored URL (which expires).

    Post-call processing is complete once ``session.completed`` is written: the call is terminal
    and its media has ended (``session_completed_at``), so transcript and recording are final,
    and its post-call extraction, if any, has run."""
    done = call.session_completed_at is not None and call.extraction_due_at is None
    return {
        "call_id": call.id,
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "agent_name": AgentSpec.parse(call.agent).agent_name,
        "project_id": call.project_id,
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
        "credits_used": rupees(call.credits_used_paise or 0),  # ₹; 0 until the call has ended
        "transcript": list(call.transcript or []),
        "latency": call.latency,
        "recording_url": recording_url or call.recording_url,
        "transfer": call.transfer,
        "variables": dict(call.variables or {}),
        "error_message": error_message(call),
        # Post-call extraction still to run is post-call processing too (docs/extraction.md).
        "processing_complete": done,
        "pipeline_completed_at": _iso(call.session_completed_at) if done else None,
        "created_at": _iso(call.created_at),
        "updated_at": _iso(call.updated_at),
    }


def call_detail(call: Call, *, recording_url: str | None = None) -> dict[str, Any]:
    """``GET /calls/{id}``: the call, and its voice session nested as the Vocobase docs show it."""
    public = call_public(call, recording_url=recording_url)
    return public | {"session": _session(call, public)}


def _session(call: Call, public: dict[str, Any]) -> dict[str, Any]:
    """The conversation: it starts when the call is answered and ends with the call, so its
    ``duration_seconds`` is the call's connected time. Its ``status`` is the call's."""
    return {
        "session_id": call.session_id,
        "duration_seconds": call.duration_seconds,
        "transcript": public["transcript"],
        "latency": call.latency,
        "credits_used": public["credits_used"],
        "recording_url": public["recording_url"],
        "status": call.status,
        "started_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        # Post-call extraction's block (docs/extraction.md); null when the agent had no schema.
        "extraction": call.extraction,
    }


def session_public(call: Call, *, recording_url: str | None = None) -> dict[str, Any]:
    """``GET /sessions/{id}`` for a call's session."""
    return {
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "agent_name": AgentSpec.parse(call.agent).agent_name,
        "status": call.status,
        "duration_seconds": call.duration_seconds,
        "credits_used": rupees(call.credits_used_paise or 0),
        "transcript": list(call.transcript or []),
        "recording_url": recording_url or call.recording_url,
        "variables": dict(call.variables or {}),
        "started_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
    }
