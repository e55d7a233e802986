"""MCube's media route: its click-to-call bridged into an inbound call on another carrier.

MCube's click-to-call rings an *executive* number first, then the customer, and bridges the two
(carriers.md §5); it has no answer URL and no media stream, and its public material shows no
other route to the audio (no stream, no websocket). So the executive is one of *our* numbers: a
number of the partner's on another connection (Twilio, Plivo, Vobiz, Exotel), routed to us
there. The MCube connection lists them as ``executive_numbers`` (a pool).

- **Reserving.** Each live MCube call holds one pool number (``phone_numbers.reserved_call_id``),
  claimed just before the click-to-call leaves (``claim``, in the dialer, under the call's row
  lock) by a conditional UPDATE that succeeds only while the number is free: unreserved, or held
  by a call that is over (or was never stored). Two dialers racing for one number: one row
  update wins, the other tries the next number. The click-to-call's ``exenumber`` is the claimed
  number, so MCube rings it. No free number: ``POST /calls/start`` refuses (409
  ``executive_pool_exhausted``) while every number is held by a live call, and a call that still
  finds none when it is dialled fails with that reason.
- **Recognising the leg.** The bridged leg arrives at ``/inbound/{provider}/{connection}``
  (signed by that carrier, as any inbound call) or Exotel's Voicebot URL, naming the called
  number. Before the number's bound agent is looked at, ``bridged_call`` asks whether that
  number (on that connection, so that partner) is held by a live MCube call of the same partner
  that has no leg yet (or this same leg, a retried answer URL). If so, the answer document opens
  the media stream *for the MCube call*: ``/media/{leg's carrier}/{mcube call id}`` with the MCube
  call's media token. The call record stays the MCube call (no second call); the leg's carrier,
  connection and call id are kept on it (``bridge_*``) so the media socket speaks that carrier's
  protocol with that connection's credentials.
- **Ending.** MCube's refurl webhook still settles the call (status, duration). When the agent
  ends the call, the leg's stream closes, the leg's carrier hangs up, and MCube ends the bridge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.carriers.base import Account, CarrierCredentials
from callwright.carriers.exotel import same_number
from callwright.domain.calls import TERMINAL_STATUSES
from callwright.domain.errors import Conflict, NotFound, ValidationFailed
from callwright.domain.phone import normalize_national
from callwright.domain.providers import Provider
from callwright.services.carrier_accounts import account_of
from callwright.store.models import Call, PhoneNumber, TelephonyConnection

log = logging.getLogger("callwright.mcube")

FIELD = "executive_numbers"
POOL_EXHAUSTED = "executive_pool_exhausted"
# Carriers whose numbers can take the bridged leg: those that take inbound calls.
_LEG_CARRIERS = frozenset(p.value for p in Provider if p is not Provider.MCUBE and get_carrier(p).takes_inbound_calls)
_ENDED = [status.value for status in TERMINAL_STATUSES]


class PoolExhausted(Conflict):
    code = POOL_EXHAUSTED


def pool_of(connection: TelephonyConnection) -> list[str]:
    """The MCube connection's executive numbers, in E.164 (empty: no media route)."""
    if connection.provider != Provider.MCUBE.value:
        return []
    numbers = connection.identifiers.get(FIELD) or []
    return [normalize_national(str(n)) or str(n) for n in numbers]


def _partner_numbers(session: Session, partner_id: str) -> list[tuple[PhoneNumber, TelephonyConnection]]:
    rows = session.execute(
        select(PhoneNumber, TelephonyConnection)
        .join(TelephonyConnection, TelephonyConnection.id == PhoneNumber.connection_id)
        .where(PhoneNumber.partner_id == partner_id, TelephonyConnection.partner_id == partner_id)
    )
    return [(number, connection) for number, connection in rows.tuples()]


async def check_executive_numbers(
    session: AsyncSession, *, partner_id: str, provider: Provider, credentials: CarrierCredentials
) -> None:
    """Each executive number must be one of the partner's own numbers, on a connection of a carrier
    that takes inbound calls (not MCube), and Indian (MCube dials +91 only); no repeats."""
    if provider is not Provider.MCUBE:
        return
    wanted: list[str] = list(getattr(credentials, FIELD, None) or [])
    if not wanted:
        return
    owned = await session.run_sync(_partner_numbers, partner_id)
    seen: set[str] = set()
    for raw in wanted:
        e164 = normalize_national(raw)
        if e164 is None or not e164.startswith("+91"):
            raise ValidationFailed(FIELD, f"{raw} is not an Indian (+91) number; MCube rings Indian numbers only")
        if e164 in seen:
            raise ValidationFailed(FIELD, f"{raw} is listed twice")
        seen.add(e164)
        match = next(
            (
                (n, c)
                for n, c in owned
                if c.provider in _LEG_CARRIERS and (n.phone_number == e164 or same_number(n.phone_number, e164))
            ),
            None,
        )
        if match is None:
            raise ValidationFailed(
                FIELD,
                f"{raw} is not one of your phone numbers on a Twilio, Plivo, Vobiz or Exotel connection "
                "(GET /phone-numbers); sync or add it there first",
            )


def _free() -> Any:
    """A number no live call holds: unreserved, or its call is over or was never stored."""
    live_holder = exists().where(Call.id == PhoneNumber.reserved_call_id, Call.status.not_in(_ENDED))
    return or_(PhoneNumber.reserved_call_id.is_(None), not_(live_holder))


def _pool_rows(session: Session, partner_id: str, pool: list[str]) -> list[PhoneNumber]:
    owned = _partner_numbers(session, partner_id)
    rows = []
    for e164 in pool:
        for number, connection in owned:
            if connection.provider in _LEG_CARRIERS and (
                number.phone_number == e164 or same_number(number.phone_number, e164)
            ):
                rows.append(number)
                break
    return rows


def check_room(session: Session, *, partner_id: str, connection: TelephonyConnection) -> None:
    """At ``POST /calls/start``: refuse while every executive number is held by a live MCube call
    of this connection, or waits for one (a call started but not yet dialled)."""
    pool = pool_of(connection)
    if not pool:
        return
    live = session.scalar(
        select(func.count())
        .select_from(Call)
        .where(Call.connection_id == connection.id, Call.partner_id == partner_id, Call.status.not_in(_ENDED))
    )
    rows = _pool_rows(session, partner_id, pool)
    if (live or 0) >= len(rows):
        raise PoolExhausted(_exhausted_message(len(rows)))


def _exhausted_message(size: int) -> str:
    return (
        f"every executive number of this MCube connection is in use by a live call ({size} in "
        f"{FIELD}); add numbers to {FIELD} or retry when a call ends"
    )


async def claim(session: AsyncSession, call: Call, connection: TelephonyConnection) -> str | None:
    """Reserve a free executive number for ``call`` (committed by the caller); its E.164 form, or
    None when the connection has no pool. Raises PoolExhausted when every number is held."""
    pool = pool_of(connection)
    if not pool:
        return None
    rows = await session.run_sync(_pool_rows, call.partner_id, pool)
    for row in rows:
        if row.reserved_call_id == call.id:
            return row.phone_number
    for row in rows:
        won = await session.execute(
            update(PhoneNumber)
            .where(PhoneNumber.id == row.id, PhoneNumber.partner_id == call.partner_id, _free())
            .values(reserved_call_id=call.id)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:  # type: ignore[attr-defined]
            log.info("call %s holds executive number %s", call.id, row.phone_number)
            return row.phone_number
    raise PoolExhausted(_exhausted_message(len(rows)))


@dataclass(frozen=True, slots=True)
class Bridge:
    """An inbound leg recognised as an MCube call's executive leg."""

    call_id: str


async def bridged_call(
    session: AsyncSession, *, connection: TelephonyConnection, called: str, leg_call_id: str
) -> Bridge | None:
    """The live MCube call whose executive number ``called`` (on ``connection``) is, and which
    takes this leg (none yet, or this same one asked again); None: an ordinary inbound call."""
    numbers = await session.scalars(
        select(PhoneNumber).where(
            PhoneNumber.connection_id == connection.id,
            PhoneNumber.partner_id == connection.partner_id,
            PhoneNumber.reserved_call_id.is_not(None),
        )
    )
    number = next((n for n in numbers if n.phone_number == called or same_number(n.phone_number, called)), None)
    if number is None or number.reserved_call_id is None:
        return None
    # The leg is bound to the call under a conditional update: two legs racing for one call (never
    # expected: MCube rings the executive once) cannot both take it.
    taken = await session.execute(
        update(Call)
        .where(
            Call.id == number.reserved_call_id,
            Call.partner_id == connection.partner_id,
            Call.provider == Provider.MCUBE.value,
            Call.status.not_in(_ENDED),
            or_(
                Call.bridge_call_id.is_(None),
                and_(Call.bridge_call_id == leg_call_id, Call.bridge_connection_id == connection.id),
            ),
        )
        .values(bridge_provider=connection.provider, bridge_connection_id=connection.id, bridge_call_id=leg_call_id)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    log.info("inbound %s leg %s is MCube call %s's executive leg", connection.provider, leg_call_id, number.reserved_call_id)
    return Bridge(call_id=number.reserved_call_id)


def is_bridged(call: Call) -> bool:
    """Whether the call is an MCube call whose executive leg arrived on another carrier."""
    return call.provider == Provider.MCUBE.value and call.bridge_provider is not None


async def leg_account(session: AsyncSession, call: Call, *, secretbox: Any) -> Account:
    """The credentials of the connection the call's bridged leg came in on."""
    connection = await session.get(TelephonyConnection, call.bridge_connection_id) if call.bridge_connection_id else None
    if connection is None or connection.partner_id != call.partner_id:
        raise NotFound("the bridged leg's connection no longer exists", code="connection_not_found")
    return account_of(connection, secretbox=secretbox)
