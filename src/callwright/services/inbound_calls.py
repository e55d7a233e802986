"""A call someone places to a partner's number: (connection, called number) → the number's agent →
a call with ``direction: inbound`` on the same call and media path as an outbound one.

A bound number's carrier sends its calls to one URL per connection,
``/inbound/{provider}/{connection_id}`` (``phone_numbers.inbound_url``): Twilio's VoiceUrl, a
Plivo or Vobiz application's answer_url. Those requests are signed, and are checked as the
carrier's callbacks are (``carrier_callbacks.check_proof``: the signature with the connection's
credentials, nonces spent once); a forged one is refused with 403 and creates nothing. Exotel signs
nothing: its calls come through the connection's Voicebot URL, whose path holds a per-connection
secret (``exotel_voicebot``), which hands an inbound call it does not know to ``connect`` here.

The call is admitted like any other, against the partner's whole concurrency limit (outbound
starts leave ``inbound_reserved_share`` of it free), then answered at once: the carrier gets the
answer document that opens the media stream, with the call's media token. A number with no agent,
a suspended partner or a full house gets the carrier's spoken refusal and a hang-up
(``domain.inbound.InboundRefusal``), or, where the carrier cannot speak (Exotel), an HTTP refusal.

The carrier's call id is the call's idempotency key (``inbound:{provider}:{id}``), so a carrier
retrying its answer URL (Plivo, Vobiz) finds the call it created, and gets its answer again under
the outbound rules (``carrier_callbacks.check_answer_servable``), never a second call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.carriers import get_carrier
from callwright.carriers.base import Carrier, InboundCall
from callwright.carriers.exotel import same_number
from callwright.domain.calls import CallEvent, EventKind
from callwright.domain.credits import check_can_start
from callwright.domain.dialing import DialState
from callwright.domain.errors import (
    CallwrightError,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from callwright.domain.ids import parse_id
from callwright.domain.inbound import InboundRefusal
from callwright.domain.providers import Provider, parse_provider
from callwright.domain.text import params_problem
from callwright.log_context import call_context
from callwright.services import calls as call_service
from callwright.services import mcube_bridge
from callwright.services.call_admission import AdmissionConflict, Start
from callwright.services.call_state import apply_events, lock_call, record_event
from callwright.services.carrier_accounts import account_of
from callwright.services.carrier_callbacks import (
    CallbackAnswer,
    answer_for,
    check_answer_servable,
    check_proof,
)
from callwright.store.models import Agent, Call, Partner, PhoneNumber, TelephonyConnection, utcnow

if TYPE_CHECKING:
    from callwright.platform import Platform

log = logging.getLogger("callwright.inbound")

INBOUND = "inbound"
_ACTIVE_PARTNER = "active"
_ACTIVE = "ACTIVE"


class InboundRefused(CallwrightError):
    """An inbound call refused where the carrier's answer cannot speak (Exotel): the carrier moves
    on to its flow's next applet, or ends the call."""

    status_code = 409


# The HTTP status of a refusal the carrier cannot speak: 404 no agent here, 403 the partner may
# not take calls, 429 every slot taken (with Retry-After, as a start refused for its limit).
_REFUSAL_STATUS = {InboundRefusal.NOT_IN_SERVICE: 404, InboundRefusal.UNAVAILABLE: 403, InboundRefusal.BUSY: 429}


@dataclass(frozen=True, slots=True)
class _Admittable:
    call: Call
    limit: int  # the partner's whole concurrency limit: inbound calls may use every slot


def idempotency_key(provider: Provider, provider_call_id: str) -> str:
    return f"inbound:{provider.value}:{provider_call_id}"[:255]


async def answer(
    *,
    platform: Platform,
    session: AsyncSession,
    provider: str,
    connection_id: str,
    method: str,
    url: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
) -> CallbackAnswer:
    """A signed carrier's request for an inbound call's answer, at ``/inbound/{provider}/{id}``.

    ``url`` is the URL as the carrier requested it (our public URL), which is what it signs."""
    parsed = parse_provider(provider)
    carrier = get_carrier(parsed) if parsed is not None else None
    if carrier is None or not carrier.takes_inbound_calls:
        raise NotFound(f"no inbound calls on provider {provider[:32]!r}", code="unknown_callback")
    if not carrier.signs_callbacks:
        raise NotFound(
            f"{carrier.display_name} signs nothing: its inbound calls come through the connection's "
            "voicebot_url, which holds a secret",
            code="unknown_callback",
        )
    if (problem := params_problem(params)) is not None:
        raise ValidationFailed(*problem)
    canonical = parse_id(connection_id)
    connection = await session.get(TelephonyConnection, canonical) if canonical else None
    if connection is None or connection.provider != carrier.provider.value:
        raise Forbidden("inbound call refused: unknown connection", code="invalid_signature")
    account = account_of(connection, secretbox=platform.secretbox)
    proof = carrier.verify_callback(method=method, url=url, params=params, headers=headers, account=account)
    await check_proof(platform, session, carrier, f"inbound call on connection {connection.id}", proof, utcnow())
    await session.commit()  # the nonce is spent; and SQLite's write lock is free for the admission
    return await connect(platform=platform, session=session, carrier=carrier, connection=connection, params=params)


async def connect(
    *,
    platform: Platform,
    session: AsyncSession,
    carrier: Carrier,
    connection: TelephonyConnection,
    params: Mapping[str, str],
) -> CallbackAnswer:
    """An authenticated request for an inbound call on ``connection``: the call's answer document,
    or the refusal the caller hears."""
    inbound = carrier.parse_inbound(params)
    if inbound is None:
        raise ValidationFailed(
            "Direction", f"not a {carrier.display_name} inbound call: Direction, the call id and To are required"
        )
    bridge = await mcube_bridge.bridged_call(
        session, connection=connection, called=inbound.called, leg_call_id=inbound.provider_call_id
    )
    if bridge is not None:  # an MCube call's executive leg: its conversation runs here
        return await _answer_bridge(platform, session, carrier, bridge.call_id)
    key = idempotency_key(carrier.provider, inbound.provider_call_id)
    existing = await session.scalar(select(Call.id).where(Call.partner_id == connection.partner_id, Call.idempotency_key == key))
    if existing is not None:
        return await _answer_again(platform, session, carrier, existing, inbound)
    call_or_refusal = await _new_call(platform, session, carrier, connection, inbound)
    # Nothing held while the admission runs on its own connection (its own thread, on SQLite).
    await session.commit()
    if isinstance(call_or_refusal, InboundRefusal):
        return _refuse(platform, carrier, connection, inbound, call_or_refusal)
    try:
        call = await platform.admission.admit(
            connection.partner_id, Start(call_or_refusal.call, limit=call_or_refusal.limit, source="carrier")
        )
    except LimitExceeded:
        return _refuse(platform, carrier, connection, inbound, InboundRefusal.BUSY)
    except AdmissionConflict:  # the carrier's retry raced its first request: that one's call
        existing = await session.scalar(select(Call.id).where(Call.partner_id == connection.partner_id, Call.idempotency_key == key))
        if existing is None:
            raise
        return await _answer_again(platform, session, carrier, existing, inbound)
    with call_context(call.id):
        log.info("inbound %s call %s to %s admitted", carrier.provider.value, call.id, call.to_number)
        return await _answer_new(platform, session, carrier, call.id, inbound)


async def _new_call(
    platform: Platform, session: AsyncSession, carrier: Carrier, connection: TelephonyConnection, inbound: InboundCall
) -> _Admittable | InboundRefusal:
    """The call to admit, built and checked; or why the caller is refused."""
    partner = await session.get(Partner, connection.partner_id)
    if partner is None or partner.status != _ACTIVE_PARTNER or connection.status != _ACTIVE:
        return InboundRefusal.UNAVAILABLE
    if carrier.provider.value not in partner.allowed_providers:
        return InboundRefusal.UNAVAILABLE
    numbers = list(await session.scalars(select(PhoneNumber).where(PhoneNumber.connection_id == connection.id)))
    number = next((n for n in numbers if n.phone_number == inbound.called), None) or next(
        (n for n in numbers if same_number(n.phone_number, inbound.called)), None
    )
    if number is None or number.status != _ACTIVE or number.agent_id is None:
        return InboundRefusal.NOT_IN_SERVICE
    agent = await session.get(Agent, number.agent_id)
    if agent is None or agent.partner_id != partner.id:
        return InboundRefusal.NOT_IN_SERVICE
    rate, balance = await session.run_sync(
        call_service.call_rate_and_balance, partner, agent, platform.settings.default_rate_paise
    )
    try:
        check_can_start(balance_paise=balance, rate=rate)
    except Forbidden:
        return InboundRefusal.UNAVAILABLE
    call = call_service.new_call(
        partner_id=partner.id,
        agent=agent,
        provider=carrier.provider,
        connection=connection,
        to_number=number.phone_number,
        variables={},  # Vocobase: "Inbound calls get no variables"
        rate=rate,
        idempotency_key=idempotency_key(carrier.provider, inbound.provider_call_id),
        from_number=inbound.caller or "unknown",
        direction=INBOUND,
    )
    # The carrier already has the call: the dialer never takes it, the reconciler watches it.
    call.dial_state = DialState.DIALED.value
    call.provider_call_id = inbound.provider_call_id
    call.provider_call_id_final = True
    return _Admittable(call, partner.concurrency_limit)


async def _answer_new(
    platform: Platform, session: AsyncSession, carrier: Carrier, call_id: str, inbound: InboundCall
) -> CallbackAnswer:
    call = await lock_call(session, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    now = utcnow()
    # Answering is ours to do: the answer document picks the call up.
    answered = CallEvent(EventKind.ANSWERED, at=now, provider_call_id=inbound.provider_call_id)
    apply_events(session, call, [answered], source="carrier", payload={"inbound": True, "from": call.from_number})
    document = answer_for(platform, carrier, call, now)
    await session.commit()
    return document


async def _answer_bridge(platform: Platform, session: AsyncSession, carrier: Carrier, call_id: str) -> CallbackAnswer:
    """The answer document for an MCube call's executive leg: the leg's carrier opens the media
    stream of the MCube call (``/media/{leg carrier}/{mcube call}``, the MCube call's token)."""
    call = await lock_call(session, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    if call.media_started_at is not None or call.media_socket_id is not None:
        await session.commit()
        raise Conflict(
            "this MCube call's media stream has already started; its answer is not served again",
            code="answer_already_served",
        )
    now = utcnow()
    document = answer_for(platform, carrier, call, now)
    record_event(
        session,
        call,
        kind="executive_leg",
        source="carrier",
        before=call.status,
        payload={"provider": carrier.provider.value, "leg_call_id": call.bridge_call_id},
    )
    await session.commit()
    return document


async def _answer_again(
    platform: Platform, session: AsyncSession, carrier: Carrier, call_id: str, inbound: InboundCall
) -> CallbackAnswer:
    """The carrier asks again for a call it already brought (a retried answer URL)."""
    call = await lock_call(session, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id!r}", code="call_not_found")
    check_answer_servable(carrier, call, inbound.provider_call_id)
    document = answer_for(platform, carrier, call, utcnow())
    await session.commit()
    return document


def _refuse(
    platform: Platform, carrier: Carrier, connection: TelephonyConnection, inbound: InboundCall, why: InboundRefusal
) -> CallbackAnswer:
    log.info(
        "inbound %s call %s to %s on connection %s refused: %s",
        carrier.provider.value,
        inbound.provider_call_id,
        inbound.called,
        connection.id,
        why.value,
    )
    settings = platform.settings
    message = {
        InboundRefusal.NOT_IN_SERVICE: settings.inbound_not_in_service_message,
        InboundRefusal.UNAVAILABLE: settings.inbound_unavailable_message,
        InboundRefusal.BUSY: settings.inbound_busy_message,
    }[why]
    document = carrier.refusal_document(message)
    if document is None:
        headers = {"Retry-After": "5"} if why is InboundRefusal.BUSY else None
        raise InboundRefused(
            f"inbound call refused: {message}", code=why.code, status_code=_REFUSAL_STATUS[why], headers=headers
        )
    return CallbackAnswer(document.body, document.media_type)
