"""Sessions: ``GET /sessions/{id}``, a call's voice session by the ``session_id`` that
``POST /calls/start`` returned."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import SessionId
from callwright.api.schemas.calls import session_public
from callwright.services import calls as call_service
from callwright.services.recordings import shown_recording_url

router = APIRouter(tags=["sessions"])

_SESSION_EXAMPLE = {
    "session_id": "5d1e7f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
    "agent_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "agent_name": "Reminder bot",
    "status": "completed",
    "duration_seconds": 30,
    "transcript": [
        {"role": "bot", "content": "Hi Asha, this is a reminder.", "timestamp": "2026-11-24T10:00:05.400000Z",
         "latency_ms": None},
    ],
    "recording_url": None,
    "variables": {"name": "Asha"},
    "started_at": "2026-11-24T10:00:05.000000Z",
    "ended_at": "2026-11-24T10:00:35.000000Z",
}

_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {"success": True, "data": _SESSION_EXAMPLE}}}}
}


@router.get(
    "/sessions/{session_id}",
    summary="Get a session",
    description="A call's voice session: the agent, the call's status, the connected time, the "
    "transcript, a freshly signed recording URL and the call's variables. `started_at` is when "
    "the call was answered (null if it never was). Browser sessions are not built yet, so every "
    "session is a call's.",
    responses=_OK | error_responses(401, 404),
)
async def get_session(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    session_id: SessionId,
) -> dict[str, Any]:
    call = await call_service.get_call_by_session(session=session, partner=partner, session_id=session_id)
    return ok(session_public(call, recording_url=shown_recording_url(platform=platform, call=call)))
