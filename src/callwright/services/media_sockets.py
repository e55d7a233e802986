"""A carrier's media socket for one call: who may open it, one at a time, and what it carries.

Before the socket is accepted (else HTTP 403 on the upgrade): the call exists, is not over and
belongs to this carrier; no other socket carries its stream; and the socket carries the call's
media token in its URL (the last path segment for Plivo and Vobiz, the query for Exotel) or,
where the token travels in the start message (Twilio, whose stream URLs take no query), the
carrier's signature on the upgrade request.

After it is accepted (else closed with 1008 before any agent session runs): the carrier's start
message comes within ``media_start_timeout_secs`` of the accept (the whole opening, Twilio's and
Exotel's ``connected`` included, not each message), carries the token where the carrier puts it
there, and names the carrier call the call already has, when the carrier has named one. The
socket then claims the call's stream in the store: ``calls.media_socket_id`` is set under the
call's row lock only while it is free, so across every worker process and node one socket at a
time carries a call, and its close releases only its own claim.

Carrier reconnects: no carrier as we configure it reconnects a stream that ran (Vobiz's
``maxRetries`` stays 0, and a retry would send a fresh start with a new stream id; Twilio and
Plivo document no reconnect; Exotel retries a failed handshake once, carriers.md §4.4). So a new
socket for a live call is accepted once the previous one has let go, for the same carrier call
(its stream id may differ): a handshake retry, or a carrier's fresh stream after a drop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, cast

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import update

from callwright.carriers import get_carrier
from callwright.carriers.base import Account, Carrier, MediaStart
from callwright.domain.call_tokens import TokenPurpose, verify_call_token
from callwright.domain.calls import CallStatus
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import CallwrightError
from callwright.domain.ids import parse_call_id
from callwright.domain.providers import parse_provider
from callwright.domain.text import line_problem, params_problem
from callwright.domain.voicemail import GreetingVerdict
from callwright.metrics import ACTIVE_CALLS, CALLS_ENDED, TURN_LATENCY_SECONDS
from callwright.services import (
    call_hangup,
    call_tools,
    mcube_bridge,
    media_events,
    recordings,
    session_setup,
    voice_config,
    voicemail,
)
from callwright.services.carrier_accounts import account_for_call
from callwright.store.db import retry_while_unreachable
from callwright.store.models import Call
from callwright.voice.socket_watch import WatchedSocket

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.voice.recorder import CallRecorder
    from callwright.voice.session import CallMediaSession

log = logging.getLogger("callwright.media")

POLICY_VIOLATION = 1008
# Messages a carrier sends before ``start`` (Twilio and Exotel: one ``connected``); more is not
# a carrier's opening.
MAX_MESSAGES_BEFORE_START = 10


@dataclass(frozen=True, slots=True)
class Admission:
    """A socket the carrier may have opened: checked before it is accepted."""

    call_id: str
    call: Call  # as it was before the socket was accepted
    carrier: Carrier
    account: Account
    url_token: str | None


@dataclass(slots=True)
class Stream:
    """A socket whose start was the carrier's and which holds the call's stream."""

    admission: Admission
    start: MediaStart
    socket_id: str
    call: Call
    recorder: CallRecorder | None


async def admit(
    *,
    platform: Platform,
    provider: str,
    call_id: str,
    url_token: str | None,
    url: str,
    headers: Mapping[str, str],
) -> Admission | None:
    """The socket's credentials and the call's state, before accepting it; None: refuse it.

    ``url`` is the socket's URL as the carrier requested it (our public WebSocket base). An id
    that cannot be a call's (not a UUID) is refused before any query."""
    parsed, known_id = parse_provider(provider), parse_call_id(call_id)
    if parsed is None or known_id is None:
        return None
    call_id = known_id
    carrier = get_carrier(parsed)
    if not carrier.has_media_stream:
        return None
    if url_token is not None:
        if not verify_call_token(platform.token_keys, call_id, TokenPurpose.MEDIA, url_token):
            return None
    elif not carrier.media_token_in_start:
        return None  # this carrier carries the token in the stream URL: none there, no socket
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        # An MCube call's stream comes from the carrier its executive leg arrived on
        # (services.mcube_bridge), with that connection's credentials.
        bridged = call is not None and mcube_bridge.is_bridged(call) and call.bridge_provider == parsed.value
        if (
            call is None
            or (call.provider != parsed.value and not bridged)
            or CallStatus(call.status).is_terminal
            or call.media_socket_id is not None
            or call_id in platform.media_sessions
        ):
            return None
        try:
            if bridged:
                account = await mcube_bridge.leg_account(session, call, secretbox=platform.secretbox)
            else:
                account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        except CallwrightError as exc:  # its connection was removed
            log.warning("media socket for call %s refused: %s", call_id, exc.message)
            return None
    if url_token is None and not carrier.verify_media_upgrade(url=url, headers=headers, account=account):
        log.warning("media socket for call %s refused: no valid %s signature", call_id, carrier.display_name)
        return None
    return Admission(call_id=call_id, call=call, carrier=carrier, account=account, url_token=url_token)


async def read_start(websocket: WebSocket, carrier: Carrier, *, timeout_secs: float) -> MediaStart | None:
    """The carrier's ``start``, read within ``timeout_secs`` of the whole opening; None when it
    does not come in time, the socket closes first, or the opening is not a carrier's."""
    try:
        async with asyncio.timeout(timeout_secs):
            for _ in range(MAX_MESSAGES_BEFORE_START):
                try:
                    message = json.loads(await websocket.receive_text())
                except (json.JSONDecodeError, KeyError):  # not JSON text (a binary frame: KeyError)
                    return None
                if isinstance(message, dict) and (start := carrier.parse_media_start(message)) is not None:
                    return start
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        return None
    return None


def start_problem(start: MediaStart) -> str | None:
    """Which field of a carrier's start message is not one line of text, and why; or None."""
    fields = {"stream id": start.stream_id, "call id": start.provider_call_id, "encoding": start.encoding}
    for name, value in fields.items():
        if (problem := line_problem(value)) is not None:
            return f"{name} {problem}"
    if (found := params_problem(start.custom_parameters)) is not None:
        return f"custom parameter {found[1]}"
    return None


async def open_stream(
    *, platform: Platform, websocket: WebSocket, admission: Admission
) -> Stream | None:
    """Read the carrier's start and claim the call's stream for this socket; None: close it."""
    carrier, call_id = admission.carrier, admission.call_id
    start = await read_start(websocket, carrier, timeout_secs=platform.settings.media_start_timeout_secs)
    token = admission.url_token or (start.custom_parameters.get("token") if start else None)
    if start is None or not verify_call_token(platform.token_keys, call_id, TokenPurpose.MEDIA, token):
        log.warning("media socket for call %s refused: no start in time, or a bad token", call_id)
        return None
    if (problem := start_problem(start)) is not None:
        # Its ids reach the store (PostgreSQL refuses a NUL in text and JSON): refused, not stored.
        log.warning("media socket for call %s refused: its start message's %s", call_id, problem)
        return None
    # The carrier streams the caller's audio from its start message on: the recording's clock
    # starts now.
    recorder = recordings.recorder_for(platform=platform, call=admission.call)
    socket_id = str(uuid.uuid4())
    call = await media_events.media_started(platform=platform, call_id=call_id, start=start, socket_id=socket_id)
    if call is None:
        if recorder is not None:
            recorder.discard()
        return None
    return Stream(admission=admission, start=start, socket_id=socket_id, call=call, recorder=recorder)


async def release(*, platform: Platform, call_id: str, socket_id: str) -> None:
    """Let go of the call's stream, if this socket still holds it (never another's claim)."""
    async with platform.sessions() as session:
        await session.execute(
            update(Call)
            .where(Call.id == call_id, Call.media_socket_id == socket_id)
            .values(media_socket_id=None)
        )
        await session.commit()


def register(platform: Platform, call_id: str, media: CallMediaSession) -> bool:
    """Make the session reachable by call id in this process (ending the call, voicemail)."""
    if call_id in platform.media_sessions:
        return False
    platform.media_sessions[call_id] = media
    platform.control.session_started(call_id)  # commands from other processes come straight here
    return True


def unregister(platform: Platform, call_id: str, media: CallMediaSession) -> None:
    """Forget the session, only if it is still the one registered for the call."""
    if platform.media_sessions.get(call_id) is media:
        del platform.media_sessions[call_id]
        platform.control.session_ended(call_id)
        if platform.draining:
            platform.calls_ended_while_draining.add(call_id)


async def store_media_end(
    platform: Platform,
    call_id: str,
    socket_id: str,
    write: Callable[[], Awaitable[object]],
    *,
    what: str,
) -> None:
    """Store what a media session leaves at its end (``write``), waiting out a short database
    outage. Until it is stored this process still answers for the call: its reconciler heartbeats
    it, so no node's reconciler takes the call, silent through the outage, for a lost stream and
    ends it "media stream lost" before its end is stored. Called with no await between the
    session's unregistering and it, so that no moment leaves the call answered for by nobody."""
    pending = (call_id, socket_id)
    platform.media_ends_pending.add(pending)
    try:
        await retry_while_unreachable(write, what=what)
    finally:
        platform.media_ends_pending.discard(pending)


async def carry(*, platform: Platform, websocket: WebSocket, stream: Stream) -> None:
    """Run the call's agent on the stream until it ends; store what happened; let go of it."""
    from callwright.voice.legs import CarrierSocketLeg  # heavy (Pipecat): load on first call
    from callwright.voice.session import CallMediaSession

    call, call_id, carrier = stream.call, stream.admission.call_id, stream.admission.carrier
    recorder = stream.recorder

    async def first_audio(at: datetime) -> None:
        await media_events.first_agent_audio(platform=platform, call_id=call_id, at=at)

    async def greeting_verdict(verdict: GreetingVerdict) -> None:
        await voicemail.on_greeting_verdict(platform=platform, call_id=call_id, verdict=verdict)

    released = False
    carrier_label = carrier.provider.value
    active = ACTIVE_CALLS.labels(platform.settings.node_name, carrier_label)
    active.inc()
    setup: session_setup.SessionSetup | None = None
    try:
        # WatchedSocket stands in for the WebSocket it wraps (every call but receive passes through).
        watched = cast(WebSocket, WatchedSocket(websocket, idle_timeout_secs=platform.settings.media_idle_timeout_secs))
        leg = CarrierSocketLeg(
            watched,
            serializer=carrier.media_serializer(stream.start, stream.admission.account),
            audio_out_packet_bytes=carrier.media_packet_bytes,
        )
        setup = await session_setup.setup_session(
            platform=platform, partner_id=call.partner_id, agent_id=call.agent_id, agent=call.agent,
            script=media_events.agent_script(call, voice_config.call_rules(platform.settings)),
            output_sample_rate=leg.output_sample_rate,
        )
        await media_events.fetch_intro(platform, setup.script)  # rendered by the dialing node, maybe not this one
        media = CallMediaSession(
            leg,
            script=setup.script,
            background=setup.background,
            on_first_agent_audio=first_audio,
            llm_defaults=voice_config.llm_defaults(platform.settings),
            on_greeting_verdict=greeting_verdict,
            recorder=recorder,
            actions=await call_tools.actions_for_call(platform=platform, call=call),
            knowledge=setup.knowledge,
        )
        if not register(platform, call_id, media):
            # This process already runs a session for the call (the store's claim forbids it).
            await websocket.close(code=POLICY_VIOLATION)
            return
        try:
            outcome = await media.run()
            CALLS_ENDED.labels(carrier_label, outcome.end_reason.value).inc()
            for turn in media.conversation.turns:
                if turn.role == "bot" and turn.latency_ms is not None:
                    TURN_LATENCY_SECONDS.labels(carrier_label).observe(turn.latency_ms / 1000)
            # Kept before the outcome is stored, so the session.completed webhook carries its URL.
            recording_url = await recordings.save_recording(platform=platform, call=call, recorder=recorder)
        finally:
            unregister(platform, call_id, media)
        # The call's record (transcript, end, latency): kept through a short database outage.
        await store_media_end(
            platform,
            call_id,
            stream.socket_id,
            partial(
                media_events.media_ended,
                platform=platform,
                call_id=call_id,
                outcome=outcome,
                recording_url=recording_url,
                socket_id=stream.socket_id,
            ),
            what=f"call {call_id}: storing its media outcome",
        )
        released = True
    finally:
        active.dec()
        if setup is not None:
            setup.release()
        if recorder is not None:
            recorder.discard()  # a no-op once saved
        if not released:
            await store_media_end(
                platform,
                call_id,
                stream.socket_id,
                partial(release, platform=platform, call_id=call_id, socket_id=stream.socket_id),
                what=f"call {call_id}: releasing its stream",
            )
    if outcome.end_reason in (EndReason.MEDIA_STREAM_LOST, EndReason.PLATFORM_SHUTTING_DOWN):
        # The carrier may still hold the caller on a line we no longer hear or speak on.
        await call_hangup.hang_up_quietly(platform=platform, call_id=call_id)
