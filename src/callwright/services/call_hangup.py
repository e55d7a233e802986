"""Hanging up a live call: through the carrier's REST API, or by closing its media stream where
the carrier has no REST hang-up (Exotel: closing the Voicebot stream ends the call)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import NotSupported
from callwright.domain.errors import Conflict
from callwright.domain.providers import Provider
from callwright.platform import Platform
from callwright.services.carrier_accounts import account_for_call
from callwright.store.models import Call

log = logging.getLogger("callwright.calls")


async def hang_up(*, platform: Platform, session: AsyncSession, call: Call, reason: str = "ended_by_platform") -> None:
    carrier = get_carrier(Provider(call.provider))
    media = platform.media_sessions.get(call.id)
    try:
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        await carrier.hangup(
            call.provider_call_id or "", account, http=platform.http, endpoints=platform.endpoints
        )
    except NotSupported:
        if media is None:
            raise Conflict(
                f"{carrier.display_name} has no REST hang-up and this call's media stream is not "
                "on this node; it ends when the caller hangs up or its time limit passes",
                code="hangup_not_possible",
            ) from None
    if media is not None:
        await media.end(reason)
