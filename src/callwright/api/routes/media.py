"""The carrier's media WebSocket for one call: ``/media/{provider}/{call_id}``.

Accepted only with the call's media token: in the URL query (Vobiz, Plivo, Exotel) or, for
Twilio, which drops query strings from stream URLs, in the ``start`` message's custom parameters.
A socket without a valid token is closed with 1008 (policy violation) before anything is spoken.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from callwright import collector
from callwright.carriers import get_carrier
from callwright.carriers.base import Carrier, MediaStart
from callwright.domain.call_tokens import TokenPurpose, verify_call_token
from callwright.domain.calls import CallStatus
from callwright.domain.ids import parse_call_id
from callwright.domain.providers import parse_provider
from callwright.domain.voicemail import GreetingVerdict
from callwright.platform import Platform
from callwright.services import call_hangup, media_events, recordings, voice_config, voicemail
from callwright.services.carrier_accounts import account_for_call
from callwright.store.models import Call
from callwright.voice.socket_watch import MEDIA_STREAM_LOST, WatchedSocket

log = logging.getLogger("callwright.media")
router = APIRouter()

POLICY_VIOLATION = 1008
START_TIMEOUT_SECS = 10.0
MAX_MESSAGES_BEFORE_START = 10


async def _read_start(websocket: WebSocket, carrier: Carrier) -> MediaStart | None:
    """Read the carrier's opening messages (Twilio/Exotel send ``connected`` first) until ``start``."""
    for _ in range(MAX_MESSAGES_BEFORE_START):
        text = await asyncio.wait_for(websocket.receive_text(), timeout=START_TIMEOUT_SECS)
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(message, dict) and (start := carrier.parse_media_start(message)) is not None:
            return start
    return None


@router.websocket("/media/{provider}/{call_id}")
async def media_stream(websocket: WebSocket, provider: str, call_id: str) -> None:
    platform: Platform = websocket.app.state.platform
    # Counted from the handshake, not from the session: a balanced `callwright serve` steers new
    # connections by it, and a call whose session is still starting is load already.
    platform.media_sockets += 1
    platform.media_sockets_changed.set()
    try:
        await _media_stream(websocket, platform, provider, call_id)
    finally:
        platform.media_sockets -= 1
        platform.media_sockets_changed.set()
        if not platform.media_sockets and getattr(websocket.app.state, "settle_collector_when_idle", False):
            # No call up in this process: the moment to collect what calls left behind.
            collector.settle_when_idle()


async def _media_stream(websocket: WebSocket, platform: Platform, provider: str, call_id: str) -> None:
    parsed, known_id = parse_provider(provider), parse_call_id(call_id)
    query_token = websocket.query_params.get("token")
    if parsed is None or known_id is None or (
        query_token is not None
        and not verify_call_token(platform.token_keys, call_id, TokenPurpose.MEDIA, query_token)
    ):
        await websocket.close(code=POLICY_VIOLATION)
        return
    call_id = known_id
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        if call is None or call.provider != parsed.value or CallStatus(call.status).is_terminal:
            await websocket.close(code=POLICY_VIOLATION)
            return
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)

    carrier = get_carrier(parsed)
    await websocket.accept()
    try:
        start = await _read_start(websocket, carrier)
    except (TimeoutError, WebSocketDisconnect):
        start = None
    token = query_token or (start.custom_parameters.get("token") if start else None)
    if start is None or not verify_call_token(platform.token_keys, call_id, TokenPurpose.MEDIA, token):
        log.warning("media socket for call %s refused: no start or bad token", call_id)
        await websocket.close(code=POLICY_VIOLATION)
        return
    # The carrier streams the caller's audio from its start message on: the recording's clock
    # starts now.
    recorder = recordings.recorder_for(platform=platform, call=call)

    from callwright.voice.session import CallMediaSession  # heavy (Pipecat): load on first call

    async def first_audio(at: datetime) -> None:
        await media_events.first_agent_audio(platform=platform, call_id=call_id, at=at)

    async def greeting_verdict(verdict: GreetingVerdict) -> None:
        await voicemail.on_greeting_verdict(platform=platform, call_id=call_id, verdict=verdict)

    media = CallMediaSession(
        WatchedSocket(websocket, idle_timeout_secs=platform.settings.media_idle_timeout_secs),
        serializer=carrier.media_serializer(start, account),
        script=media_events.agent_script(call, voice_config.call_rules(platform.settings)),
        audio_out_packet_bytes=carrier.media_packet_bytes,
        on_first_agent_audio=first_audio,
        llm_defaults=voice_config.llm_defaults(platform.settings),
        on_greeting_verdict=greeting_verdict,
        recorder=recorder,
    )
    platform.media_sessions[call_id] = media
    await media_events.media_started(platform=platform, call_id=call_id, start=start)
    try:
        outcome = await media.run()
        # Kept before the outcome is stored, so the session.completed webhook carries its URL.
        recording_url = await recordings.save_recording(platform=platform, call=call, recorder=recorder)
    finally:
        platform.media_sessions.pop(call_id, None)
        if recorder is not None:
            recorder.discard()  # a no-op once saved
    await media_events.media_ended(
        platform=platform, call_id=call_id, outcome=outcome, recording_url=recording_url
    )
    if outcome.end_reason == MEDIA_STREAM_LOST:
        # The carrier may still hold the caller on a line we no longer hear or speak on.
        await call_hangup.hang_up_quietly(platform=platform, call_id=call_id)
