"""Sessions: ``GET /sessions/{id}`` (a call's voice session, or a browser session), and browser
sessions over WebRTC: ``POST /sessions/webrtc`` and the browser's offer, ``POST /sessions/{id}/offer``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from callwright.api.deps import CurrentPartner, PlatformDep, SessionDep
from callwright.api.envelope import error_responses, ok
from callwright.api.path_ids import SessionId
from callwright.api.schemas.calls import session_public
from callwright.api.schemas.text import SafeLine
from callwright.domain.browser_sessions import MAX_SDP_CHARS, OFFER_WINDOW_SECS
from callwright.domain.errors import NotFound
from callwright.services import browser_sessions
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
_SESSION_ID = "7a9c1e3b-5d2f-4b6a-9c8e-0f1a2b3c4d5e"
_STARTED_EXAMPLE = {
    "session_id": _SESSION_ID,
    "agent_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "status": "created",
    "offer_url": f"https://voice.example.com/api/v2/sessions/{_SESSION_ID}/offer",
    "offer_expires_at": "2026-11-24T10:02:00.000000Z",
    "ice_servers": [],
}
_ANSWER_EXAMPLE = {"sdp": "v=0\r\no=- 3912 3912 IN IP4 203.0.113.7\r\n…", "type": "answer"}


def _example(data: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": {"success": True, "data": data}}}}}


class WebRtcSessionBody(BaseModel):
    """``POST /sessions/webrtc``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent_id: SafeLine = Field(min_length=1, max_length=64, description="The agent to talk to.")


class SdpOffer(BaseModel):
    """The browser's ``RTCSessionDescription`` of its offer, as ``pc.localDescription`` gives it."""

    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS, description="The offer's SDP, with its ICE candidates.")
    type: str = Field(max_length=16, description='"offer".', examples=["offer"])


@router.post(
    "/sessions/webrtc",
    summary="Start a browser (WebRTC) session",
    description="Talk to one of your agents from a browser. Vocobase answers with a Daily room "
    "(`daily_room_url`, `daily_token`); Callwright involves no third party and answers with an "
    "`offer_url` instead: POST the browser's SDP offer `{sdp, type}` there (with this API key) "
    f"within {OFFER_WINDOW_SECS} s and get the platform's answer `{{sdp, type}}`. `ice_servers` "
    "is what to give `RTCPeerConnection` (empty: host candidates only, the browser reaches this "
    "host directly). Limits: 10 starts a minute per key (429 `rate_limited`), and live browser "
    "sessions up to the partner's concurrency limit (429 `concurrency_limit`). The agent runs "
    "as on a phone call (its intro, prompt, brain, voice, end-call and duration rules); "
    "`session.completed` fires at the end without `call`.",
    responses=_example(_STARTED_EXAMPLE) | error_responses(400, 401, 404, 429),
)
async def start_webrtc_session(
    body: WebRtcSessionBody, partner: CurrentPartner, session: SessionDep, platform: PlatformDep
) -> dict[str, Any]:
    row = await browser_sessions.start_session(session=session, partner=partner, agent_id=body.agent_id)
    browser_sessions.prepare(platform, row)
    public = browser_sessions.session_public(row)
    return ok(
        {
            "session_id": row.id,
            "agent_id": row.agent_id,
            "status": public["status"],
            "offer_url": f"{platform.settings.public_url.rstrip('/')}/api/v2/sessions/{row.id}/offer",
            "offer_expires_at": public["offer_expires_at"],
            "ice_servers": [],
        }
    )


@router.post(
    "/sessions/{session_id}/offer",
    summary="Answer a browser session's SDP offer",
    description="The browser's offer (`RTCPeerConnection.createOffer()`, after ICE gathering "
    "completed so its candidates are in the SDP; one audio track, the microphone) → the "
    "platform's answer `{sdp, type: \"answer\"}` to give `setRemoteDescription`. One offer per "
    "session: a second answers 409 `offer_already_answered`, a late one 409 `session_expired`. "
    "The agent starts talking once the peer connection is up. A server that is shutting down "
    "answers 503 `draining` (retry).",
    responses=_example(_ANSWER_EXAMPLE) | error_responses(400, 401, 404, 409, 503),
)
async def answer_offer(
    body: SdpOffer, partner: CurrentPartner, platform: PlatformDep, session_id: SessionId
) -> dict[str, Any]:
    answer = await browser_sessions.answer_offer(
        platform=platform, partner=partner, session_id=session_id, sdp=body.sdp, type_=body.type
    )
    return ok(answer)


@router.get(
    "/sessions/{session_id}",
    summary="Get a session",
    description="A call's voice session (the `session_id` of `POST /calls/start`): the agent, the "
    "call's status, the connected time, the transcript, a freshly signed recording URL and the "
    "call's variables; `started_at` is when the call was answered (null if it never was). A "
    "browser session (`POST /sessions/webrtc`) answers the same fields plus `type: \"webrtc\"`, "
    "`end_reason`, `latency`, `offer_expires_at`, `first_agent_audio_at` and `created_at`; its "
    "status is created → connecting → in_progress → completed | failed (expired: no offer came); "
    "while it is in progress its transcript so far is shown when this request reaches the process "
    "carrying it (with one process, always); it is not recorded and not billed.",
    responses=_example(_SESSION_EXAMPLE) | error_responses(401, 404),
)
async def get_session(
    partner: CurrentPartner,
    session: SessionDep,
    platform: PlatformDep,
    session_id: SessionId,
) -> dict[str, Any]:
    try:
        call = await call_service.get_call_by_session(session=session, partner=partner, session_id=session_id)
    except NotFound:
        row = await browser_sessions.find_session(session=session, partner=partner, session_id=session_id)
        if row is None:
            raise
        return ok(browser_sessions.session_public(row, platform=platform))
    return ok(session_public(call, recording_url=shown_recording_url(platform=platform, call=call)))
