"""Handing a live call to a human, and pressing keys on the line, through the call's carrier.

The path of a cold transfer (``domain.transfers``):

1. Asked by the partner (``request_transfer``, from ``POST /calls/{id}/transfer``), which reaches
   the process holding the call's media (``ControlCommand.TRANSFER``), or by the agent in the call.
2. The media session says the agent's ``transfer_message`` and calls ``start_transfer``: the call
   records a ``pending`` transfer and the carrier is told to dial the human.
3. Plivo and Vobiz fetch the dial document (``CallbackKind.TRANSFER``, ``dial_document``); Twilio
   got it inline. The media stream ends; the carrier rings the human.
4. The carrier reports the dial (``CallbackKind.DIAL``, ``dial_reported``): the outcome is typed
   on the call, and the carrier is told to hang up after a bridged call or to say that nobody
   answered first.

A warm transfer (``TransferMode.WARM``) starts the same way, then goes its own path:
``services.warm_transfers``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import AnswerDocument, CallbackKind, Carrier
from callwright.domain.agent_spec import AgentSpec
from callwright.domain.call_commands import ControlCommand
from callwright.domain.calls import CallStatus
from callwright.domain.errors import CallwrightError, Conflict, ValidationFailed
from callwright.domain.providers import Provider
from callwright.domain.transfers import (
    NOT_REACHED_MESSAGE,
    TransferMode,
    TransferSource,
    TransferStatus,
    failed_record,
    pending_record,
    settled_record,
    transfer_destination,
)
from callwright.services.call_state import lock_call, record_event
from callwright.services.call_urls import callback_url, media_parameters, stream_url
from callwright.services.carrier_accounts import account_for_call
from callwright.services.webhook_outbox import iso_utc
from callwright.store.models import Call, Partner, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.transfers")


def our_number(call: Call) -> str:
    """The caller id the human sees: the number we called from, or the one an inbound caller rang."""
    return call.to_number if call.direction == "inbound" else call.from_number


def carrier_can_transfer(carrier: Carrier, mode: TransferMode = TransferMode.COLD) -> None:
    if not carrier.supports_transfer:
        raise Conflict(
            f"this call cannot be transferred: {carrier.display_name} {carrier.transfer_refusal}",
            code="transfer_not_supported_by_carrier",
        )
    if mode is TransferMode.WARM and not carrier.supports_warm_transfer:
        raise Conflict(
            f"this call cannot be warm-transferred: warm transfer is not built for {carrier.display_name}; "
            "use a cold transfer (mode \"cold\")",
            code="warm_transfer_not_supported_by_carrier",
        )


async def request_transfer(
    *,
    platform: Platform,
    session: AsyncSession,
    partner: Partner,
    call_id: str,
    to: str | None,
    mode: TransferMode | None = None,
) -> Call:
    """``POST /calls/{id}/transfer``: check the call may be handed over, then have the process
    holding its media say the transfer message and transfer it (``mode``: the agent's
    ``transfer_mode`` when not given). Returns the call as it was asked."""
    from callwright.services.calls import get_call

    call = await get_call(session=session, partner=partner, call_id=call_id)  # tenancy: 404
    spec = AgentSpec.parse(call.agent or {})
    if not spec.transfer_enabled:
        raise Conflict(
            "this call's agent has transfer_enabled off; enable it on the agent to transfer its calls",
            code="transfer_not_enabled",
        )
    destination = to if to is not None else spec.transfer_number
    number = transfer_destination(destination)
    if number is None:
        field = "to" if to is not None else "transfer_number"
        raise ValidationFailed(field, f"{field} must be one E.164 phone number, like +14155551234")
    mode = mode or spec.transfer_mode
    carrier_can_transfer(get_carrier(Provider(call.provider)), mode)
    locked = await lock_call(session, call.id)
    assert locked is not None
    call = locked
    if CallStatus(call.status) is not CallStatus.IN_PROGRESS or call.media_ended_at is not None:
        raise Conflict("only a call in progress with its agent can be transferred", code="call_not_live")
    if call.transfer is not None:
        raise Conflict("this call was already transferred (see its transfer)", code="transfer_already_requested")
    # Recorded now, so a second request while the message is said is refused.
    call.transfer = pending_record(to=number, source=TransferSource.API, requested_at=_now(), mode=mode)
    await session.commit()  # ends the transaction (and the row lock) before the wait
    held = await platform.control.run(
        call.id, ControlCommand.TRANSFER, to=number, source=TransferSource.API.value, mode=mode.value
    )
    if not held:
        call = await lock_call(session, call.id) or call
        call.transfer = None
        await session.commit()
        raise Conflict("no server carries this call's media stream now; it cannot be transferred", code="call_not_live")
    return call


async def start_transfer(
    *,
    platform: Platform,
    call_id: str,
    to: str,
    source: TransferSource,
    mode: TransferMode = TransferMode.COLD,
    transcript: Sequence[Mapping[str, Any]] = (),
) -> bool:
    """The transfer message was said: record the transfer and tell the carrier to dial ``to``
    (warm: call the human first, with a summary of ``transcript``). False when it could not be
    asked (already transferred, the call is over, the carrier refused); a refusal is stored as a
    ``failed`` transfer with the carrier's words."""
    async with platform.sessions() as session:
        call = await lock_call(session, call_id)
        asked = call.transfer if call is not None else None
        # The partner's request recorded its transfer already; any other is a second one.
        ours = asked is not None and asked.get("status") == TransferStatus.PENDING.value and asked.get("to") == to
        if call is None or CallStatus(call.status).is_terminal or (asked is not None and not ours):
            await session.commit()
            return False
        if not ours:
            call.transfer = pending_record(to=to, source=source, requested_at=_now(), mode=mode)
        record_event(session, call, kind="transfer_requested", source=source.value, before=call.status,
                     payload={"to": to, "mode": mode.value})
        carrier = get_carrier(Provider(call.provider))
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        provider_call_id, caller_id = call.provider_call_id or "", our_number(call)
        await session.commit()
    if mode is TransferMode.WARM:
        from callwright.services import warm_transfers

        if not carrier.supports_warm_transfer:
            await warm_transfers.settle_failed(
                platform, call_id, failed=f"warm transfer is not built for {carrier.display_name}", refused=False
            )
            return False
        return await warm_transfers.start(
            platform=platform, call_id=call_id, to=to, transcript=transcript, carrier=carrier
        )
    key = platform.token_keys[0]
    try:
        await carrier.transfer(
            provider_call_id, account, to=to, caller_id=caller_id,
            document_url=callback_url(platform.settings, key, carrier.provider.value, call_id, CallbackKind.TRANSFER),
            action_url=callback_url(platform.settings, key, carrier.provider.value, call_id, CallbackKind.DIAL),
            http=platform.http, endpoints=platform.endpoints,
        )
    except CallwrightError as exc:
        log.warning("call %s: the transfer was refused: %s", call_id, exc.message)
        async with platform.sessions() as session:
            call = await lock_call(session, call_id)
            if call is not None and call.transfer is not None:
                call.transfer = failed_record(dict(call.transfer), exc.message, completed_at=_now())
                record_event(session, call, kind="transfer_failed", source="carrier", before=call.status,
                             payload={"reason": exc.message})
            await session.commit()
        return False
    return True


def dial_document(*, platform: Platform, carrier: Carrier, call: Call) -> AnswerDocument:
    """The document Plivo or Vobiz fetches at the transfer's ``aleg_url``: dial the human."""
    if call.transfer is None or call.transfer.get("status") != TransferStatus.PENDING.value:
        raise Conflict("no transfer is waiting to be dialled on this call", code="no_transfer_pending")
    action_url = callback_url(
        platform.settings, platform.token_keys[0], carrier.provider.value, call.id, CallbackKind.DIAL
    )
    return carrier.transfer_document(to=call.transfer["to"], caller_id=our_number(call), action_url=action_url)


def dial_reported(
    *, platform: Platform, session: AsyncSession, carrier: Carrier, call: Call, params: dict[str, Any]
) -> AnswerDocument:
    """The carrier's report of the dial to the human: type the outcome; say what it does next.

    Reached: hang up once the bridged call is over. Not reached: the call goes back to its agent
    on a fresh media stream (the carrier's own answer document), which opens by saying so
    (``media_events.agent_script``); a carrier without a media stream says the line itself."""
    result = carrier.parse_dial_result(params)
    if result is None or call.transfer is None:
        raise ValidationFailed("DialStatus", f"a {carrier.display_name} dial report must say how the dial went")
    if call.transfer.get("status") == TransferStatus.PENDING.value:
        call.transfer = settled_record(dict(call.transfer), result, completed_at=_now())
        record_event(session, call, kind="transfer_completed", source="carrier", before=call.status,
                     payload={"status": result.status.value, "carrier_status": result.carrier_status})
    if result.status.reached or not carrier.has_media_stream or CallStatus(call.status).is_terminal:
        return carrier.after_dial_document(result, message=NOT_REACHED_MESSAGE)
    return carrier.answer_document(
        stream_url=stream_url(platform.settings, carrier.provider.value, call.id),
        parameters=media_parameters(platform.token_keys[0], call.id),
    )


def returned_from_transfer(call: Call) -> bool:
    """Whether the call is back with its agent after a transfer that did not reach the human."""
    status = (call.transfer or {}).get("status")
    return status in {TransferStatus.BUSY.value, TransferStatus.NO_ANSWER.value, TransferStatus.FAILED.value}


async def send_dtmf(*, platform: Platform, call_id: str, digits: str) -> None:
    """Press ``digits`` on the call's line through its carrier; raises the carrier's refusal."""
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise Conflict("the call is gone", code="call_not_live")
        carrier = get_carrier(Provider(call.provider))
        account = await account_for_call(session=session, call=call, secretbox=platform.secretbox)
        provider_call_id = call.provider_call_id or ""
    await carrier.send_dtmf(provider_call_id, digits, account, http=platform.http, endpoints=platform.endpoints)
    async with platform.sessions() as session:
        call = await session.get(Call, call_id)
        if call is not None:
            record_event(session, call, kind="dtmf_sent", source="media", before=call.status, payload={"digits": digits})
        await session.commit()


def _now() -> str:
    return iso_utc(utcnow()) or ""
