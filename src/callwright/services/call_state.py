"""Loading, locking and changing a call's state in the store, one recorded event per change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.carriers import get_carrier
from callwright.domain.calls import AnsweredBy, CallEvent, CallState, CallStatus, Disposition, apply_event
from callwright.domain.dialing import DialState
from callwright.domain.providers import Provider
from callwright.domain.reconcile import is_outcome_unknown
from callwright.services.credits import charge_call
from callwright.services.webhook_outbox import call_changed
from callwright.store.models import Call, CallEventRow, utcnow

# Payload keys never stored with a call event, whatever the carrier sends.
_SECRET_KEYS = frozenset({"auth_token", "authtoken", "token", "http_authorization", "api_token", "jwt"})


def state_of(call: Call) -> CallState:
    return CallState(
        status=CallStatus(call.status),
        disposition=Disposition(call.disposition) if call.disposition else None,
        answered_by=AnsweredBy(call.answered_by) if call.answered_by else None,
        provider_call_id=call.provider_call_id,
        provider_call_id_final=provider_call_id_final(call),
        answered_by_carrier=bool(call.answered_by_carrier),
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=call.duration_seconds,
        end_reason=call.end_reason,
        hangup_cause=call.hangup_cause,
    )


def provider_call_id_final(call: Call) -> bool:
    """Whether the call's carrier id is the carrier's final word: confirmed by the carrier, or
    the id a dial request returns where that is the call's own (Twilio, Vobiz, Exotel)."""
    if call.provider_call_id is None:
        return False
    return bool(call.provider_call_id_final) or get_carrier(Provider(call.provider)).dial_id_is_call_id


def _write_state(call: Call, state: CallState) -> None:
    call.status = state.status.value
    call.disposition = state.disposition.value if state.disposition else None
    call.answered_by = state.answered_by.value if state.answered_by else None
    call.answered_by_carrier = state.answered_by_carrier
    call.provider_call_id = state.provider_call_id
    call.provider_call_id_final = state.provider_call_id_final
    call.started_at = state.started_at
    call.answered_at = state.answered_at
    call.ended_at = state.ended_at
    call.duration_seconds = state.duration_seconds
    call.end_reason = state.end_reason
    call.hangup_cause = state.hangup_cause


def scrub(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A carrier payload with anything secret-looking removed, safe to store and show."""
    return {k: v for k, v in payload.items() if k.lower().replace("-", "_") not in _SECRET_KEYS}


async def lock_call(session: AsyncSession, call_id: str) -> Call | None:
    """The call, locked for this transaction: a row lock on PostgreSQL; on SQLite the UPDATE takes
    the database's write lock, so concurrent callbacks for one call apply one after the other."""
    await session.execute(update(Call).where(Call.id == call_id).values(updated_at=utcnow()))
    return await session.scalar(
        select(Call).where(Call.id == call_id).with_for_update().execution_options(populate_existing=True)
    )


def record_event(
    session: AsyncSession | Session,
    call: Call,
    *,
    kind: str,
    source: str,
    before: str | None,
    payload: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        CallEventRow(
            call_id=call.id,
            partner_id=call.partner_id,
            kind=kind,
            source=source,
            status_before=before,
            status_after=call.status,
            payload=scrub(payload or {}),
            created_at=at or utcnow(),
        )
    )


def set_state(
    session: AsyncSession,
    call: Call,
    new: CallState,
    *,
    kind: str,
    source: str,
    payload: Mapping[str, Any] | None = None,
) -> None:
    before = call.status
    _write_state(call, new)
    if new.status.is_terminal and not CallStatus(before).is_terminal:
        charge_call(session, call)  # in this transaction, so a call is charged exactly once
    record_event(session, call, kind=kind, source=source, before=before, payload=payload)
    call_changed(session, call, status_before=before)  # its webhook events, in this transaction


def apply_events(
    session: AsyncSession,
    call: Call,
    events: Iterable[CallEvent],
    *,
    source: str,
    payload: Mapping[str, Any] | None = None,
    unchanged_kind: str = "ignored",
) -> list[CallEvent]:
    """Apply each event that changes the call; record one call event per change. Returns them.

    When nothing changes, a payload is still kept on the trail, as ``unchanged_kind``."""
    applied: list[CallEvent] = []
    state = state_of(call)
    for event in events:
        new = apply_event(state, event)
        if new is None:
            continue
        set_state(session, call, new, kind=event.kind.value, source=source, payload=payload)
        state = new
        applied.append(event)
    if not applied and payload is not None:
        # Duplicates and late callbacks change nothing, but the trail keeps what the carrier said.
        record_event(session, call, kind=unchanged_kind, source=source, before=call.status, payload=payload)
    return applied


def carrier_confirmed(call: Call) -> None:
    """The carrier has spoken about the call (a callback, its media stream): a dial whose outcome
    was unknown was placed after all, and the note saying its outcome is unknown goes."""
    if call.dial_state == DialState.UNCONFIRMED:
        call.dial_state = "dialed"
    if is_outcome_unknown(call.end_reason):
        call.end_reason = None


def explain_missing_media(call: Call, carrier_name: str) -> None:
    """An answered call that ended without its media stream ever reaching us: say so plainly
    (MCube bridges its executive leg on its side; a carrier may also fail to open the stream)."""
    if call.status == "completed" and call.media_started_at is None:
        words = f" ({carrier_name}: {call.hangup_cause})" if call.hangup_cause else ""
        call.end_reason = (
            f"{carrier_name} connected the call but no media stream reached Callwright, so the "
            f"agent never spoke{words}"
        )
