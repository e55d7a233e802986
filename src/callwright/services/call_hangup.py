"""Hanging up a live call: through the carrier's REST API, or by closing its media stream where
the carrier has no REST hang-up (Exotel: closing the Voicebot stream ends the call)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import CarrierUnavailable, NotSupported
from callwright.domain.call_commands import ControlCommand
from callwright.domain.calls import CallStatus
from callwright.domain.end_reasons import EndReason
from callwright.domain.errors import CallwrightError, Conflict
from callwright.domain.providers import Provider
from callwright.services.carrier_accounts import account_for_call
from callwright.store.models import Call

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.calls")

HANGUP_ATTEMPTS = 2
HANGUP_RETRY_DELAY_SECS = 0.5


async def hang_up(
    *, platform: Platform, session: AsyncSession, call: Call, reason: EndReason = EndReason.ENDED_BY_PLATFORM
) -> None:
    """End a live call. A carrier failure is retried once (a hang-up is idempotent); if it still
    fails, closing the call's media stream ends it instead, wherever it runs (every carrier ends a
    call whose stream closes); if no process carries it, the carrier's error is raised."""
    carrier = get_carrier(Provider(call.provider))
    try:
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        await _hang_up_with_retry(platform, carrier, call.provider_call_id or "", account)
    except NotSupported:
        if not await platform.control.run(call.id, ControlCommand.END, reason=reason):
            raise Conflict(
                f"{carrier.display_name} has no REST hang-up and no server carries this call's media "
                "stream; it ends when the caller hangs up or its time limit passes",
                code="hangup_not_possible",
            ) from None
        return
    except CarrierUnavailable as exc:
        if not await platform.control.run(call.id, ControlCommand.END, reason=reason):
            raise
        log.warning("call %s: %s; ended it by closing its media stream", call.id, exc.message)
        return
    # The carrier ends the stream too; ending it ourselves names the reason and stops the agent now.
    await platform.control.run(call.id, ControlCommand.END, reason=reason)


async def _hang_up_with_retry(platform: Platform, carrier, provider_call_id: str, account) -> None:
    for attempt in range(1, HANGUP_ATTEMPTS + 1):
        try:
            await carrier.hangup(
                provider_call_id, account, http=platform.http, endpoints=platform.endpoints
            )
            return
        except CarrierUnavailable as exc:
            if attempt == HANGUP_ATTEMPTS or exc.outcome_unknown:
                raise  # a timeout has already cost the partner a full carrier timeout
            delay = exc.retry_after if exc.retry_after is not None else HANGUP_RETRY_DELAY_SECS
            await asyncio.sleep(min(delay, HANGUP_RETRY_DELAY_SECS * 4))


async def hang_up_quietly(*, platform: Platform, call_id: str) -> None:
    """Ask the carrier to end a call that is not over yet; failures are logged, not raised (the
    carrier's own end of stream, its time limit or the reconciler close the call otherwise)."""
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        if call is None or CallStatus(call.status).is_terminal or not call.provider_call_id:
            return
        carrier = get_carrier(Provider(call.provider))
        try:
            account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
            await carrier.hangup(
                call.provider_call_id, account, http=platform.http, endpoints=platform.endpoints
            )
        except NotSupported:
            pass  # Exotel: closing the stream was the hang-up
        except CallwrightError as exc:
            log.warning("could not hang up call %s: %s", call_id, exc.message)
