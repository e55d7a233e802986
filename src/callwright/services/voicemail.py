"""Voicemail: what happens when the carrier, or our own second opinion, says a machine answered.

The carrier's verdict: the call is already marked ``disposition: voicemail, answered_by: machine``
by the state machine. Where the carrier reports that the greeting has ended with a beep (Twilio's
``machine_end_beep``) and the agent has a ``voicemail_message``, the message is spoken first;
otherwise the call is hung up at once through the carrier's REST API.

The second opinion (``domain.voicemail``, judged by the call's media session from the greeting's
words and its beep) is recorded as a call event with its confidence and reason; a confident
machine verdict marks the call the same way, then the message is left after the beep.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.agents import render_template
from callwright.domain.call_commands import ControlCommand
from callwright.domain.calls import CallEvent, EventKind
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import CallwrightError
from callwright.domain.providers import Provider
from callwright.domain.voicemail import GreetingVerdict, Verdict
from callwright.services.call_hangup import hang_up, hang_up_quietly
from callwright.services.call_state import apply_events, lock_call
from callwright.store.models import Call, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.voicemail")


async def on_machine_detected(
    *, platform: Platform, session: AsyncSession, call: Call, params: Mapping[str, str]
) -> None:
    agent = AgentSpec.parse(call.agent)
    if not agent.voicemail_detection_enabled:
        return
    carrier = get_carrier(Provider(call.provider))
    message = agent.voicemail_message
    try:
        if message and carrier.message_window_open(params):
            # Where the call's media runs: this process, or another one through Redis.
            text = render_template(message, call.variables or {})
            await platform.control.run(
                call.id, ControlCommand.SPEAK_THEN_END, text=text, reason=EndReason.VOICEMAIL
            )
        await hang_up(platform=platform, session=session, call=call, reason=EndReason.VOICEMAIL)
    except CallwrightError as exc:
        log.warning("call %s: voicemail hang-up failed: %s", call.id, exc.message)


async def on_greeting_verdict(*, platform: Platform, call_id: str, verdict: GreetingVerdict) -> None:
    """Record the second opinion; on a confident machine verdict, leave the message and hang up."""
    payload = {
        "answered_by": verdict.answered_by.value,
        "confidence": verdict.confidence,
        "reason": verdict.reason,
        "detector": "greeting",
    }
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        if call is None:
            return
        events = []
        # Our own second opinion, not the carrier's verdict (which a carrier gives once).
        if verdict.is_voicemail:
            events = [CallEvent(EventKind.MACHINE_DETECTED, at=utcnow(), by_carrier=False)]
        elif verdict.answered_by is Verdict.HUMAN:
            events = [CallEvent(EventKind.HUMAN_DETECTED, at=utcnow(), by_carrier=False)]
        applied = apply_events(
            session, call, events, source="media", payload=payload, unchanged_kind="greeting_verdict"
        )
        if applied:
            call.answered_by_confidence = verdict.confidence
            call.answered_by_reason = verdict.reason
        agent = AgentSpec.parse(call.agent)
        leave = verdict.is_voicemail and agent.voicemail_detection_enabled
        message = agent.voicemail_message
        rendered = render_template(message, call.variables or {}) if message else None
        await session.commit()
    if not leave:
        return
    # The verdict comes from the media session itself, so this normally runs where it lives.
    await platform.control.run(call_id, ControlCommand.LEAVE_VOICEMAIL, message=rendered)
    await hang_up_quietly(platform=platform, call_id=call_id)
