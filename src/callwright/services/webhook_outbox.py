"""The webhook outbox: events are written in the same transaction as the call change causing them.

``call_changed`` is the one hook, called where a call's state is written (``call_state.set_state``)
and where its media outcome is stored (``media_events.media_ended``). It adds the typed events
(``call.ringing``, ``call.answered``, ``call.ended``) on a status change, and ``session.completed``
once the call is terminal *and* its media has ended (or never started), so the transcript is in it —
whichever of the two is written second emits it. When the call's agent has an extraction schema,
that event's deliveries are held until extraction fills it in, at most ``extraction_hold_secs``
(``services.extraction``). Both writers hold the call's row lock
(``lock_call``) and ``calls.session_completed_at`` records the emission, so it happens once.

Fan-out: when a flush writes new events, the ``before_flush`` listener below adds one delivery row
per enabled endpoint of the partner whose ``events`` list the event's type, in that same flush and
so that same transaction (the endpoints as of the event). Every event is written whether or not an
endpoint takes it. After the commit the in-process sender is woken
(``Platform.webhook_wakeup``, handed to every session through ``session.info``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from callwright.domain.agent_spec import AgentSpec
from callwright.domain.calls import CallStatus
from callwright.domain.credits import rupees
from callwright.domain.webhooks import EventType
from callwright.services import campaign_outcomes, extraction
from callwright.store.models import (
    BrowserSession,
    Call,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    new_id,
    utcnow,
)

_WRITTEN = "webhook_outbox_written"  # session.info flag: wake the sender after this commit
_HELD = "webhook_outbox_held"  # session.info: event id → when its deliveries may first be sent
WAKEUP = "webhook_wakeup"  # session.info key of the Platform's asyncio.Event

_TYPED = {CallStatus.RINGING: EventType.CALL_RINGING, CallStatus.IN_PROGRESS: EventType.CALL_ANSWERED}


def call_changed(session: AsyncSession, call: Call, *, status_before: str | None) -> None:
    """Write the webhook events this change of ``call`` (locked, in this transaction) causes."""
    status = CallStatus(call.status)
    if status_before != call.status:
        typed = EventType.CALL_ENDED if status.is_terminal else _TYPED.get(status)
        if typed is not None:
            _add(session, call, typed, call_event_data(call, status_before))
    if status.is_terminal and status_before != call.status and call.campaign_id is not None:
        # Its campaign slot is free from this commit on (active calls are counted by status),
        # while its outcome waits for the media to end: the scheduler need not wait for that too.
        campaign_outcomes.wake_after_commit(session)
    media_done = call.media_started_at is None or call.media_ended_at is not None
    if status.is_terminal and media_done and call.session_completed_at is None:
        call.session_completed_at = utcnow()
        spec = AgentSpec.parse(call.agent)
        # With an extraction schema: the call's extraction job, and how long the event waits for it.
        hold_until = extraction.queue_on_completion(session, call, spec.extraction_config)
        event = _add(session, call, EventType.SESSION_COMPLETED, session_completed_data(call, spec))
        if hold_until is not None:
            session.info.setdefault(_HELD, {})[event.id] = hold_until
        if call.campaign_id is not None:  # its attempt's outcome, in this transaction
            campaign_outcomes.attempt_ended(session, call)


def _add(session: AsyncSession, call: Call, type_: EventType, data: dict[str, Any]) -> WebhookEvent:
    row = WebhookEvent(
        id=new_id(), partner_id=call.partner_id, type=type_.value, call_id=call.id,
        data=data, created_at=utcnow(),
    )
    session.add(row)
    return row


def browser_session_completed(session: AsyncSession, row: BrowserSession) -> None:
    """Write a browser session's ``session.completed`` (once: ``session_completed_at``). As the
    Vocobase docs say of WebRTC sessions, it carries no ``call``."""
    if row.session_completed_at is not None:
        return
    row.session_completed_at = utcnow()
    data = {
        "session_id": row.id,
        "agent_id": row.agent_id,
        "agent_name": AgentSpec.parse(row.agent).agent_name,
        "duration_seconds": row.duration_seconds,
        "credits_used": 0.0,  # browser sessions are not billed
        "processing_complete": True,
        "pipeline_completed_at": iso_utc(row.session_completed_at),
        "transcript": list(row.transcript or []),
        "recording_url": None,
        "latency": row.latency,
        "variables": {},
    }
    session.add(
        WebhookEvent(
            id=new_id(), partner_id=row.partner_id, type=EventType.SESSION_COMPLETED.value, call_id=None,
            data=data, created_at=row.session_completed_at,
        )
    )


def wake_after_commit(session: AsyncSession) -> None:
    """Wake the in-process sender once this session commits (e.g. a redelivery was queued)."""
    session.info[_WRITTEN] = True


def iso_utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def call_summary(call: Call) -> dict[str, Any]:
    """The ``call`` object of ``session.completed``, exactly the contract's fields."""
    return {
        "call_id": call.id,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "direction": call.direction,
        "status": call.status,
        "disposition": call.disposition,
        "answered_by": call.answered_by,
    }


def session_completed_data(call: Call, spec: AgentSpec | None = None) -> dict[str, Any]:
    """Vocobase's ``session.completed`` data (written once ``session_completed_at`` is set: that is
    ``pipeline_completed_at``, as ``GET /calls/{id}`` shows it); ``credits_used`` is what the call
    cost, in ₹. ``extraction`` is there only when the agent has an extraction schema."""
    data = {
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "agent_name": (spec or AgentSpec.parse(call.agent)).agent_name,
        "duration_seconds": call.duration_seconds,
        "credits_used": rupees(call.credits_used_paise or 0),
        "processing_complete": True,
        "pipeline_completed_at": iso_utc(call.session_completed_at or utcnow()),
        "transcript": list(call.transcript or []),
        "recording_url": call.recording_url,
        "latency": call.latency,
        "variables": dict(call.variables or {}),
        "call": call_summary(call),
        # Vocobase says only that it "includes transfer metadata"; ours: domain.transfers.
        "transfer": call.transfer,
    }
    if call.extraction is not None:
        data["extraction"] = dict(call.extraction)
    return data


def call_event_data(call: Call, previous_status: str | None) -> dict[str, Any]:
    """The data of ``call.ringing`` / ``call.answered`` / ``call.ended``: the call as it now is,
    shaped like ``session.completed`` (``session_id``, ``agent_id`` and a ``call`` object)."""
    return {
        "session_id": call.session_id,
        "agent_id": call.agent_id,
        "previous_status": previous_status,
        "call": call_summary(call)
        | {
            "provider": call.provider,
            "provider_call_id": call.provider_call_id,
            "started_at": iso_utc(call.started_at),
            "answered_at": iso_utc(call.answered_at),
            "ended_at": iso_utc(call.ended_at),
            "duration_seconds": call.duration_seconds,
            "end_reason": call.end_reason,
            "hangup_cause": call.hangup_cause,
        },
    }


def envelope(row: WebhookEvent) -> dict[str, Any]:
    """The request body: Vocobase's ``{event, timestamp, data}`` plus the stable ``event_id``.
    ``timestamp`` is when the event happened, so every attempt sends the same body."""
    return {"event": row.type, "event_id": row.id, "timestamp": iso_utc(row.created_at), "data": row.data}


@event.listens_for(Session, "before_flush")
def _fan_out(session: Session, _context: Any, _instances: Any) -> None:
    events = [obj for obj in session.new if isinstance(obj, WebhookEvent)]
    if not events:
        return
    endpoints: dict[str, list[tuple[str, list[Any]]]] = {}  # partner id → (endpoint id, its events)
    held = session.info.get(_HELD) or {}
    queued = False
    # Runs inside the flush, on the flushing transaction's connection (under AsyncSession the
    # flush runs in a greenlet, so a synchronous query is allowed here).
    with session.no_autoflush:
        for row in events:
            if row.partner_id not in endpoints:
                endpoints[row.partner_id] = [
                    (endpoint_id, list(types or []))
                    for endpoint_id, types in session.execute(
                        select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                            WebhookEndpoint.partner_id == row.partner_id, WebhookEndpoint.enabled.is_(True)
                        )
                    )
                ]
            for endpoint_id, types in endpoints[row.partner_id]:
                if row.type not in types:
                    continue
                session.add(
                    WebhookDelivery(
                        partner_id=row.partner_id, event=row, endpoint_id=endpoint_id,
                        next_attempt_at=held.get(row.id, row.created_at),
                    )
                )
                queued = True
    for row in events:
        held.pop(row.id, None)
    if queued:
        session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _wake_sender(session: Session) -> None:
    if session.info.pop(_WRITTEN, False) and (wakeup := session.info.get(WAKEUP)) is not None:
        wakeup.set()
    extraction.wake_worker_after_commit(session.info)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    session.info.pop(_HELD, None)
    extraction.forget(session.info)
