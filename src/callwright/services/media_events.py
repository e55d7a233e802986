"""What the media stream tells the call record: stream started, first agent audio, stream ended."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from callwright.carriers.base import MediaStart
from callwright.domain.agent_spec import AgentSpec, SttSpec
from callwright.domain.agents import render_template
from callwright.domain.calls import CallEvent, CallStatus, EventKind
from callwright.domain.dictionaries import Pronouncer
from callwright.domain.end_reasons import EndReason
from callwright.domain.transfers import (
    AGENT_BACK_MESSAGE,
    TransferMode,
    TransferStatus,
    failed_record,
    is_pending,
    mode_of,
)
from callwright.services.call_state import apply_events, carrier_confirmed, lock_call, record_event, state_of
from callwright.services.transfers import returned_from_transfer
from callwright.services.webhook_outbox import call_changed, iso_utc
from callwright.store.models import Call, utcnow

# Why a warm transfer failed when the caller's stream ended before the bridge.
CALLER_LEFT = "the caller hung up before the transfer was bridged"
# Why a cold transfer failed when the stream ended before the carrier was asked to dial.
ENDED_BEFORE_HANDOFF = "the call's media ended before the transfer was handed to the carrier"

# The voice a call's agent speaks with when its snapshot names none (agents made before voices
# were resolved at creation).
FALLBACK_VOICE_ID = "piper-joe-us"

if TYPE_CHECKING:
    from callwright.platform import Platform
    from callwright.voice.call_rules import CallRules
    from callwright.voice.session import AgentScript, MediaOutcome

log = logging.getLogger("callwright.media")


def agent_script(call: Call, rules: CallRules | None = None) -> AgentScript:
    """What the agent does on this call, its ``{{var}}`` placeholders filled from the call's
    variables (a missing one renders as "")."""
    # Back from a transfer the human did not take: the agent says so instead of its intro.
    intro = AGENT_BACK_MESSAGE if returned_from_transfer(call) else None
    return script_for_agent(call.agent, call.variables or {}, rules, intro_override=intro)


def script_for_agent(
    agent: dict[str, Any],
    variables: dict[str, Any],
    rules: CallRules | None = None,
    *,
    intro_override: str | None = None,
) -> AgentScript:
    """What an agent (its stored snapshot) does on a call or a browser session."""
    from callwright.voice.call_rules import CallRules
    from callwright.voice.end_call import end_call_prompt
    from callwright.voice.session import AgentScript
    from callwright.voice.transfer import transfer_prompt

    spec = AgentSpec.parse(agent)

    def rendered(text: str | None) -> str | None:
        return render_template(text, variables) if text else None

    instructions = rendered(spec.end_call_instructions) if spec.end_call_enabled else None
    transfer_instructions = rendered(spec.transfer_instructions) if spec.transfer_enabled else None
    stt = spec.stt or SttSpec()
    intro = intro_override or rendered(spec.intro_message)
    return AgentScript(
        intro_message=intro,
        voice_id=spec.voice_id or FALLBACK_VOICE_ID,
        max_call_duration_secs=spec.max_call_duration_secs,
        prompt=transfer_prompt(end_call_prompt(rendered(spec.prompt) or "", instructions), transfer_instructions),
        llm=spec.llm,
        script=spec.script,
        stt_provider=stt.provider or "whisper",
        stt_language=stt.language or spec.language,
        end_call_enabled=spec.end_call_enabled,
        end_call_message=rendered(spec.end_call_message),
        end_call_instructions=instructions,
        transfer_message=rendered(spec.transfer_message),
        transfer_instructions=transfer_instructions,
        rules=rules or CallRules(),
        detect_voicemail=spec.voicemail_detection_enabled,
    )


async def prepare_intro(call: Call, *, platform: Platform | None = None) -> None:
    """Render the call's intro (its variables filled in) into the shared speech cache while the
    phone rings, so the greeting starts the moment the media stream opens; with ``platform`` on
    Redis, also leave it there for whichever node takes the stream (``shared_intros``). With
    ``platform``, the agent's dictionaries' pronunciations are applied, as the call will."""
    script = agent_script(call)
    if platform is not None and call.partner_id is not None:
        from callwright.services import dictionaries

        script = await dictionaries.with_dictionaries(
            platform=platform, partner_id=call.partner_id, spec=AgentSpec.parse(call.agent), script=script
        )
    await prerender_intro(script, platform=platform)


def spoken_intro(script: AgentScript) -> str:
    """The intro as the TTS is given it (the dictionaries' pronunciations applied): the form the
    speech cache holds it in."""
    return Pronouncer(dict(script.pronunciations))(script.intro_message or "")


async def prerender_intro(script: AgentScript, *, platform: Platform | None = None) -> None:
    """Render ``script``'s intro into the shared speech cache (a call's or a browser session's);
    with ``platform`` on Redis, also share it with the other nodes."""
    from callwright.services import shared_intros
    from callwright.voice.engines import tts_engine
    from callwright.voice.pipeline import CARRIER_SAMPLE_RATE

    if script.intro_message:
        text = spoken_intro(script)
        await tts_engine(script.voice_id).prerender(script.voice_id, text, sample_rate=CARRIER_SAMPLE_RATE)
        if platform is not None:
            await shared_intros.share(platform, voice_id=script.voice_id, sample_rate=CARRIER_SAMPLE_RATE, text=text)


async def fetch_intro(platform: Platform, script: AgentScript) -> None:
    """Before a stream's session starts: the intro another node rendered, into this node's cache."""
    from callwright.services import shared_intros
    from callwright.voice.pipeline import CARRIER_SAMPLE_RATE

    if script.intro_message:
        await shared_intros.fetch(
            platform, voice_id=script.voice_id, sample_rate=CARRIER_SAMPLE_RATE, text=spoken_intro(script)
        )


async def media_started(
    *, platform: Platform, call_id: str, start: MediaStart, socket_id: str | None = None
) -> Call | None:
    """The carrier's stream started: the call was answered, whatever order the callbacks come in.

    With ``socket_id``, the socket also claims the call's stream (``calls.media_socket_id``),
    only while no other socket holds it and only when its start names the carrier call the call
    already has; None when refused (nothing is changed). One transaction under the row lock."""
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        refusal = stream_refusal(call, start) if socket_id is not None else None
        if call is None or refusal is not None:
            await session.commit()
            log.warning("media stream for call %s refused: %s", call_id, refusal or "no such call")
            return None
        now = utcnow()
        if socket_id is not None:
            call.media_socket_id = socket_id
            call.media_ended_at = None  # a carrier's fresh stream after one that ended: it runs
        call.media_started_at = call.media_started_at or now
        carrier_confirmed(call)
        # An MCube call's stream names its executive leg's carrier call, not MCube's call.
        named = None if call.bridge_call_id else start.provider_call_id
        event = CallEvent(EventKind.ANSWERED, at=now, provider_call_id=named)
        payload = {"stream_id": start.stream_id, "encoding": start.encoding, "sample_rate": start.sample_rate}
        apply_events(
            session, call, [event], source="media", payload=payload, unchanged_kind="media_started"
        )
        await session.commit()
        return call


# Stream ends after which an inbound call may still be up: the stream was lost (the carrier may
# open another), the node drained (another takes the call over), or a human is being dialled.
_CALL_MAY_GO_ON = frozenset({EndReason.MEDIA_STREAM_LOST, EndReason.PLATFORM_SHUTTING_DOWN, EndReason.TRANSFERRED})


def inbound_call_over(call: Call, outcome: MediaOutcome) -> bool:
    """Whether an inbound call ended with its stream. A bound number's voice URL brings no status
    callback (we set none on the carrier's number), and when the stream closes the answer document
    has nothing left to run, so the carrier hangs up (Exotel: with no next applet). The
    reconciler settles the rest with the carrier's call-status API."""
    return (
        call.direction == "inbound"
        and not CallStatus(call.status).is_terminal
        and outcome.end_reason not in _CALL_MAY_GO_ON
        and (call.transfer or {}).get("status") != TransferStatus.PENDING.value
    )


def _inbound_ended(call: Call, outcome: MediaOutcome) -> CallEvent:
    answered = call.answered_at or outcome.started_at
    seconds = max(0, math.ceil((outcome.ended_at - answered).total_seconds()))
    return CallEvent(
        EventKind.ENDED,
        at=outcome.ended_at,
        provider_call_id=call.provider_call_id,
        outcome=CallStatus.COMPLETED,
        hangup_cause=outcome.description,
        duration_seconds=seconds,
    )


def transfer_failed_with_stream(call: Call, outcome: MediaOutcome) -> str | None:
    """Why a transfer still pending when the caller's stream ended has failed; None: it has not.

    A warm one not yet bridged: the caller hung up while the human was being called or briefed.
    A cold one the stream did not end by handing over: asked, but the call ended (or its stream
    moved) before the agent handed it to the carrier, so no dial report will ever settle it.
    """
    record = call.transfer
    if not is_pending(record):
        return None
    if mode_of(record) is TransferMode.WARM:
        return None if (record or {}).get("bridged_at") else CALLER_LEFT
    return None if outcome.end_reason is EndReason.TRANSFERRED else ENDED_BEFORE_HANDOFF


def stream_refusal(call: Call | None, start: MediaStart) -> str | None:
    """Why a socket may not carry the call's stream; None: it may."""
    if call is None:
        return "no such call"
    if CallStatus(call.status).is_terminal:
        return "the call is over"
    if call.media_socket_id is not None:
        return "another socket carries the call's stream"
    if call.bridge_call_id is not None:
        # An MCube call's executive leg (services.mcube_bridge): its stream names that leg.
        if start.provider_call_id != call.bridge_call_id:
            return f"its start names carrier call {start.provider_call_id!r}, not the call's executive leg"
        return None
    state = state_of(call)
    if state.provider_call_id_final and start.provider_call_id != state.provider_call_id:
        # A carrier's stream names the call the carrier told us about; another is not its own.
        return f"its start names carrier call {start.provider_call_id!r}, not the call's"
    return None


async def first_agent_audio(*, platform: Platform, call_id: str, at: datetime) -> None:
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is not None and call.first_agent_audio_at is None:
            call.first_agent_audio_at = at
        await session.commit()


async def media_ended(
    *,
    platform: Platform,
    call_id: str,
    outcome: MediaOutcome,
    recording_url: str | None = None,
    socket_id: str | None = None,
) -> None:
    """The stream ended: store its outcome and let go of the stream, if ``socket_id`` holds it."""
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is None:
            return
        if call.media_ended_at is not None and call.media_ended_at == outcome.ended_at:
            # Stored already: a try whose commit went through before its connection was lost.
            await session.commit()
            return
        if socket_id is not None and call.media_socket_id == socket_id:
            call.media_socket_id = None
        call.media_ended_at = outcome.ended_at
        if recording_url is not None:
            call.recording_url = recording_url
        if call.first_agent_audio_at is None and outcome.first_agent_audio_at is not None:
            call.first_agent_audio_at = outcome.first_agent_audio_at
        if outcome.transcript:
            # A stream after an unanswered transfer continues the conversation's transcript.
            earlier = list(call.transcript or []) if returned_from_transfer(call) else []
            call.transcript = earlier + outcome.transcript
        if outcome.latency is not None:
            call.latency = outcome.latency
        # When our side ended the stream (agent, time cap, platform), that is why the call ended,
        # even if the carrier's hang-up callback got here first with its generic words ("End Of
        # XML Instructions"); those stay in hangup_cause. A reason already set by the partner or
        # the voicemail logic is kept.
        ours = outcome.end_reason is not EndReason.CALLER_HUNG_UP
        if ours and (not call.end_reason or call.end_reason == call.hangup_cause):
            call.end_reason = outcome.description
        failure = transfer_failed_with_stream(call, outcome)
        if failure is not None:
            call.transfer = failed_record(
                dict(call.transfer or {}), failure, completed_at=iso_utc(utcnow()) or "", carrier_status=None
            )
        record_event(
            session,
            call,
            kind="media_ended",
            source="media",
            before=call.status,
            payload={"end_reason": outcome.end_reason, "error": outcome.error, "intro_spoken": outcome.intro_spoken},
        )
        if inbound_call_over(call, outcome):
            apply_events(session, call, [_inbound_ended(call, outcome)], source="media")
        # A call that went terminal while its media still ran gets its session.completed now.
        call_changed(session, call, status_before=call.status)
        await session.commit()
