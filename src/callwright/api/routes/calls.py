"""Calls: start, list, get, end, and the partner's concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from pydantic import StringConstraints

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import CallId
from callwright.api.schemas.calls import (
    CallStartBody,
    CallTransferBody,
    ExtractBody,
    call_detail,
    call_public,
    call_started,
)
from callwright.api.schemas.text import LINE_CHARS
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import CallStatus
from callwright.domain.transfers import TransferMode
from callwright.platform import Platform
from callwright.services import calls as call_service
from callwright.services import extraction as extraction_service
from callwright.services import transfers
from callwright.services.call_hangup import hang_up
from callwright.services.recordings import shown_recording_url
from callwright.store.models import Call

router = APIRouter(tags=["calls"])

_CALL_ID = "0b7c6a9e-4f2d-4c1e-9a55-3f1f2f0a7c11"
_START_EXAMPLE = {
    "success": True,
    "data": {
        "call_id": _CALL_ID,
        "session_id": "5d1e7f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
        "status": "pending",
        "provider": "vobiz",
        "from_number": "+918011223344",
        "to_number": "+919876543210",
        "agent_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    },
}
CALL_EXAMPLE = {
    "call_id": _CALL_ID,
    "session_id": "5d1e7f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
    "agent_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "agent_name": "Reminder bot",
    "project_id": "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "provider": "vobiz",
    "direction": "outbound",
    "from_number": "+918011223344",
    "to_number": "+919876543210",
    "status": "completed",
    "disposition": "completed",
    "answered_by": "unknown",
    "end_reason": "NORMAL_CLEARING",
    "hangup_cause": "NORMAL_CLEARING",
    "provider_call_id": "c8f4a3e2-1b0d-4e5f-9a8b-7c6d5e4f3a2b",
    "started_at": "2026-11-24T10:00:00.000000Z",
    "answered_at": "2026-11-24T10:00:05.000000Z",
    "ended_at": "2026-11-24T10:00:35.000000Z",
    "duration_seconds": 30,
    "credits_used": 1.8,
    "transcript": [],
    "latency": None,
    "recording_url": None,
    "variables": {"name": "Asha"},
    "error_message": None,
    "processing_complete": True,
    "pipeline_completed_at": "2026-11-24T10:00:36.000000Z",
    "created_at": "2026-11-24T10:00:00.000000Z",
    "updated_at": "2026-11-24T10:00:36.000000Z",
}
DETAIL_EXAMPLE = CALL_EXAMPLE | {
    "session": {
        "session_id": CALL_EXAMPLE["session_id"],
        "duration_seconds": 30,
        "transcript": [],
        "latency": None,
        "recording_url": None,
        "status": "completed",
        "started_at": "2026-11-24T10:00:05.000000Z",
        "ended_at": "2026-11-24T10:00:35.000000Z",
        "extraction": None,
    }
}
_EXTRACTION_EXAMPLE = {
    "status": "success",
    "values": {"interested": True, "callback_at": "2026-05-01T15:00:00Z", "outcome": "callback_requested"},
    "model": "gpt-4o-mini",
    "extractedAt": "2026-11-24T10:00:38Z",
    "latencyMs": 1840,
    "attempts": 1,
    "error": None,
}
_STATUSES = ", ".join(s.value for s in CallStatus)


def call_filter(
    agent_id: Annotated[str | None, Query(max_length=64, description="Only this agent's calls.")] = None,
    provider: Annotated[str | None, Query(max_length=16, description="Only calls through this carrier.")] = None,
    direction: Annotated[Literal["inbound", "outbound"] | None, Query(description="inbound or outbound.")] = None,
    number: Annotated[
        str | None,
        Query(max_length=32, pattern=r"^\+?[0-9]{1,31}$", description="Digits in the caller's or the called number."),
    ] = None,
    created_from: Annotated[datetime | None, Query(description="Created at or after (ISO 8601; UTC if no zone).")] = None,
    created_to: Annotated[datetime | None, Query(description="Created before (ISO 8601; UTC if no zone).")] = None,
) -> call_service.CallFilter:
    """The list filters the console uses, beyond Vocobase's ``status``."""
    return call_service.CallFilter(
        agent_id=agent_id,
        provider=provider,
        direction=direction,
        number=number,
        created_from=created_from,
        created_to=created_to,
    )


CallFilterDep = Annotated[call_service.CallFilter, Depends(call_filter)]



@router.post(
    "/calls/start",
    summary="Start an outbound call",
    description="Checks, in order: the agent exists (404), the provider is allowed (403 "
    "`provider_not_allowed`), the provider is configured (400 `provider_not_configured`), "
    "`to_number` is E.164 (400 `VALIDATION_ERROR`), the balance covers one 15-second bucket at the "
    "call's rate (403 `insufficient_credits`), a concurrency slot is free (429 `concurrency_limit`, with "
    "Retry-After). The call is created `pending` and dialled asynchronously through the partner's "
    "own carrier. The same `Idempotency-Key` within 24 h returns the same call and never dials "
    "twice.",
    responses={200: {"content": {"application/json": {"example": _START_EXAMPLE}}}}
    | error_responses(400, 401, 403, 404, 409, 429),
)
async def start_call(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    body: CallStartBody,
    idempotency_key: Annotated[
        Annotated[str, StringConstraints(max_length=255), LINE_CHARS] | None, Header()
    ] = None,
) -> dict[str, Any]:
    call, created = await call_service.start_call(
        session=session,
        partner=partner,
        request=call_service.StartCall(**body.model_dump()),
        admission=platform.admission,
        idempotency_key=idempotency_key,
        sqlite=platform.sqlite_file,
        default_rate_paise=platform.settings.default_rate_paise,
        dnd=(platform.dnd_gate, platform.secretbox),
        inbound_reserved_share=platform.settings.inbound_reserved_share,
    )
    if created:
        platform.control.wake_dialer()
    return ok(call_started(call))


@router.get(
    "/calls",
    summary="List calls",
    description="Newest first, as `data: {calls, total, limit, offset}` (the Vocobase docs' "
    "shape). `pagination {limit, offset, total}` beside `data` repeats the paging, as on every "
    "Callwright list. `status` filters, in any case: " + _STATUSES + "; `project_id` keeps the calls of one "
    "project's agents (404 if unknown). Callwright also narrows by `agent_id`, `provider`, "
    "`direction`, `number` (digits in either number) and `created_from`/`created_to` (ISO 8601).",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "data": {"calls": [CALL_EXAMPLE], "total": 1, "limit": 10, "offset": 0},
                        "pagination": {"limit": 10, "offset": 0, "total": 1},
                    }
                }
            }
        }
    }
    | error_responses(400, 401),
)
async def list_calls(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    narrow: CallFilterDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    status: Annotated[str | None, Query(max_length=32, description=_STATUSES)] = None,
    project_id: Annotated[
        str | None, Query(max_length=64, description="Only calls on this project's agents (404 if unknown).")
    ] = None,
) -> dict[str, Any]:
    calls, total = await call_service.list_calls(
        session=session,
        partner=partner,
        limit=limit,
        offset=offset,
        status=status,
        project_id=project_id,
        narrow=narrow,
    )
    page = {"limit": limit, "offset": offset, "total": total}
    return {
        "success": True,
        "data": {"calls": [_public(c, platform) for c in calls]} | page,
        "pagination": page,
    }


@router.get(
    "/calls/concurrency",
    summary="Concurrency: limit, active calls, remaining slots",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "data": {
                            "limit": 10,
                            "limit_source": "partner",
                            "active": 2,
                            "remaining": 8,
                            "statuses_counted": ["PENDING", "RINGING", "IN_PROGRESS"],
                        },
                    }
                }
            }
        }
    }
    | error_responses(401),
)
async def get_concurrency(partner: CurrentPartner, session: SessionDep) -> dict[str, Any]:
    return ok(await call_service.concurrency(session=session, partner=partner))


@router.get(
    "/calls/{call_id}",
    summary="Get a call",
    description="The call (status, disposition, timestamps, duration, carrier call id and hang-up "
    "cause, `error_message` when it failed) with its voice `session` nested: transcript, latency, "
    "recording URL, status, started_at, ended_at, and `extraction` (post-call extraction's block, "
    "null without a schema). `processing_complete` is false and `pipeline_completed_at` null until "
    "the call has ended, its media is closed (then `session.completed` is written) and its "
    "post-call extraction, if any, has run.",
    responses={200: {"content": {"application/json": {"example": {"success": True, "data": DETAIL_EXAMPLE}}}}}
    | error_responses(401, 404),
)
async def get_call(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, call_id: CallId
) -> dict[str, Any]:
    call = await call_service.get_call(session=session, partner=partner, call_id=call_id)
    return ok(_detail(call, platform))


@router.post(
    "/calls/{call_id}/end",
    summary="End a call",
    description="A call not yet dialled is canceled at once. A live call is hung up through the "
    "carrier; its final status, duration and cause arrive with the carrier's hang-up callback. "
    "Ending an ended call changes nothing. Answers the call as `GET /calls/{id}` does.",
    responses={200: {"content": {"application/json": {"example": {"success": True, "data": DETAIL_EXAMPLE}}}}}
    | error_responses(401, 404, 502),
)
async def end_call(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, call_id: CallId
) -> dict[str, Any]:
    call, needs_hangup = await call_service.request_end(session=session, partner=partner, call_id=call_id)
    if needs_hangup:
        await hang_up(platform=platform, session=session, call=call)
        call = await call_service.get_call(session=session, partner=partner, call_id=call_id)
    return ok(_detail(call, platform))


@router.post(
    "/calls/{call_id}/extract",
    summary="Run post-call extraction (Test Analysis / replay)",
    description="Runs post-call extraction again on the call's stored transcript with the agent's "
    "*current* `extraction_config` (not the one the call had). `dry_run: true` returns the result "
    "without storing it; `false` (the default) stores it as the call's `session.extraction`. The "
    "`session.completed` webhook is never sent again. 400 `extraction_not_configured` when the "
    "agent has no `extraction_config`. Counts against the `/calls/*` rate limit, like a call "
    "start. Waits for the model (one request per try, at most `extraction_max_attempts`).",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "success": True,
                        "data": {
                            "call_id": _CALL_ID,
                            "session_id": CALL_EXAMPLE["session_id"],
                            "dry_run": True,
                            "extraction": _EXTRACTION_EXAMPLE,
                        },
                    }
                }
            }
        }
    }
    | error_responses(400, 401, 404, 429),
)
async def replay_extraction(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    call_id: CallId,
    body: ExtractBody | None = None,
) -> dict[str, Any]:
    dry_run = body.dry_run if body is not None else False
    return ok(
        await extraction_service.replay(
            platform=platform, session=session, partner=partner, call_id=call_id, dry_run=dry_run
        )
    )


@router.post(
    "/calls/{call_id}/transfer",
    summary="Transfer a live call to a human",
    description="The agent says its `transfer_message`, then the carrier dials `to` (or the agent's "
    "`transfer_number`) and bridges the caller (cold transfer). With `mode: \"warm\"` (or the agent's "
    "`transfer_mode`), the human is called first and hears a summary of the call while the caller "
    "stays with the agent, then both are bridged. Needs `transfer_enabled` on the "
    "call's agent and a carrier that can transfer: Plivo, Vobiz or Twilio (Exotel and MCube answer "
    "409 naming why). Answers once the transfer is queued; the outcome (`transferred`, `busy`, "
    "`no_answer`, `failed`) arrives as the call's `transfer` and in `session.completed`.",
    responses={
        200: {"content": {"application/json": {"example": {"success": True, "data": {
            "message": "Call transfer queued", "callId": _CALL_ID,
            "sessionId": "5d1e7f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "to": "+919876543210",
        }}}}}
    }
    | error_responses(400, 401, 404, 409),
)
async def transfer_call(
    partner: CurrentPartner, session: SessionDep, platform: PlatformDep, call_id: CallId,
    body: CallTransferBody | None = None,
) -> dict[str, Any]:
    to = body.to if body is not None else None
    mode = TransferMode(body.mode) if body is not None and body.mode is not None else None
    call = await transfers.request_transfer(
        platform=platform, session=session, partner=partner, call_id=call_id, to=to, mode=mode
    )
    return ok({"message": "Call transfer queued", "callId": call.id, "sessionId": call.session_id,
               "to": to or AgentSpec.parse(call.agent or {}).transfer_number})


def _public(call: Call, platform: Platform) -> dict[str, Any]:
    return call_public(call, recording_url=shown_recording_url(platform=platform, call=call))


def _detail(call: Call, platform: Platform) -> dict[str, Any]:
    return call_detail(call, recording_url=shown_recording_url(platform=platform, call=call))
