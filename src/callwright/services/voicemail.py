"""Voicemail: what happens when the carrier says a machine answered.

The call is already marked ``disposition: voicemail, answered_by: machine`` by the state machine.
Where the carrier reports that the greeting has ended with a beep (Twilio's ``machine_end_beep``)
and the agent has a ``voicemail_message``, the message is spoken first; otherwise the call is hung
up at once through the carrier's REST API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.domain.agents import render_template
from callwright.domain.errors import CallwrightError
from callwright.domain.providers import Provider
from callwright.platform import Platform
from callwright.services.call_hangup import hang_up
from callwright.store.models import Call

log = logging.getLogger("callwright.voicemail")


async def on_machine_detected(
    *, platform: Platform, session: AsyncSession, call: Call, params: Mapping[str, str]
) -> None:
    if not call.agent.get("voicemail_detection_enabled"):
        return
    carrier = get_carrier(Provider(call.provider))
    message = call.agent.get("voicemail_message")
    media = platform.media_sessions.get(call.id)
    try:
        if message and media is not None and carrier.message_window_open(params):
            await media.speak_then_end(render_template(message, call.variables or {}), reason="voicemail")
        await hang_up(platform=platform, session=session, call=call, reason="voicemail")
    except CallwrightError as exc:
        log.warning("call %s: voicemail hang-up failed: %s", call.id, exc.message)
