"""The call state machine: which transitions are legal and what a carrier event makes of a call.

    pending → ringing → in_progress → completed
       └──────┴───────────┴──────→ failed | no_answer | busy | canceled   (terminal)

Carrier callbacks arrive late, twice, or out of order. The rules below make every such delivery
harmless: a status never moves backwards, and a terminal call never moves again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from callwright.domain.end_reasons import EndReason


class CallStatus(StrEnum):
    PENDING = "pending"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        CallStatus.COMPLETED,
        CallStatus.FAILED,
        CallStatus.NO_ANSWER,
        CallStatus.BUSY,
        CallStatus.CANCELED,
    }
)
# Statuses that hold a concurrency slot.
ACTIVE_STATUSES = frozenset({CallStatus.PENDING, CallStatus.RINGING, CallStatus.IN_PROGRESS})
_RANK = {CallStatus.PENDING: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2}


class Disposition(StrEnum):
    COMPLETED = "completed"
    VOICEMAIL = "voicemail"
    USER_HANGUP_NO_SPEECH = "user_hangup_no_speech"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELED = "canceled"
    FAILED = "failed"


class AnsweredBy(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"
    NOT_ANSWERED = "not_answered"


class EventKind(StrEnum):
    DIALED = "dialed"  # the carrier accepted the dial request
    RINGING = "ringing"
    ANSWERED = "answered"
    MACHINE_DETECTED = "machine_detected"
    HUMAN_DETECTED = "human_detected"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A carrier's report about a call, already translated into our words by its carrier module.

    For ``ENDED``: ``outcome`` is the terminal status the carrier reported (``COMPLETED`` for a
    normal hang-up after answer), ``hangup_cause`` the carrier's own words.
    """

    kind: EventKind
    at: datetime
    provider_call_id: str | None = None
    outcome: CallStatus | None = None
    hangup_cause: str | None = None
    duration_seconds: int | None = None
    # Whether ``provider_call_id`` is the carrier's id for the call itself. False for a dial
    # request's provisional id (Plivo's request_uuid; MCube's answer, which may name no call).
    confirms_call_id: bool = True
    # Whether a machine/human verdict is the carrier's (AMD), not our own second opinion.
    by_carrier: bool = True


@dataclass(frozen=True, slots=True)
class CallState:
    status: CallStatus = CallStatus.PENDING
    disposition: Disposition | None = None
    answered_by: AnsweredBy | None = None
    provider_call_id: str | None = None
    # Once the carrier has named the call itself, its id never changes (a callback naming
    # another is another call's, or forged).
    provider_call_id_final: bool = False
    # The carrier decided answered_by (AMD); a later carrier verdict changes nothing.
    answered_by_carrier: bool = False
    started_at: datetime | None = None  # when the carrier took the dial request
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    end_reason: str | None = None
    hangup_cause: str | None = None


_OUTCOME_DISPOSITION = {
    CallStatus.FAILED: Disposition.FAILED,
    CallStatus.NO_ANSWER: Disposition.NO_ANSWER,
    CallStatus.BUSY: Disposition.BUSY,
    CallStatus.CANCELED: Disposition.CANCELED,
}


def names_another_call(state: CallState, event: CallEvent) -> bool:
    """The event names a carrier call other than the one the carrier already told us is ours."""
    return bool(
        state.provider_call_id_final
        and event.provider_call_id
        and event.provider_call_id != state.provider_call_id
    )


def apply_event(state: CallState, event: CallEvent) -> CallState | None:
    """The call's next state, or None when the event changes nothing (duplicate, late, stale,
    or about another carrier call)."""
    if state.status.is_terminal or names_another_call(state, event):
        return None
    handler = _HANDLERS[event.kind]
    new = handler(state, event)
    return None if new == state else new


def _with_provider_id(state: CallState, event: CallEvent) -> CallState:
    """The carrier's id for the call. The id a dial request returns can be provisional (Plivo's
    ``request_uuid``; MCube may return none), and the call's own id arrives with its callbacks and
    media stream: an id reported after the dial replaces a provisional one, once; a final id is
    never replaced."""
    if not event.provider_call_id:
        return state
    final = state.provider_call_id_final or event.confirms_call_id
    if event.provider_call_id == state.provider_call_id:
        return replace(state, provider_call_id_final=final)
    if state.provider_call_id_final or (event.kind is EventKind.DIALED and state.provider_call_id):
        return state
    return replace(state, provider_call_id=event.provider_call_id, provider_call_id_final=event.confirms_call_id)


def _dialed(state: CallState, event: CallEvent) -> CallState:
    state = _with_provider_id(state, event)
    return replace(state, started_at=state.started_at or event.at)


def _advance(state: CallState, status: CallStatus) -> CallState:
    return replace(state, status=status) if _RANK[status] > _RANK[state.status] else state


def _ringing(state: CallState, event: CallEvent) -> CallState:
    state = _dialed(state, event)
    return _advance(state, CallStatus.RINGING)


def _answered(state: CallState, event: CallEvent) -> CallState:
    state = _dialed(state, event)
    state = _advance(state, CallStatus.IN_PROGRESS)
    if state.answered_at is None:
        state = replace(state, answered_at=event.at)
    return state


def _machine(state: CallState, event: CallEvent) -> CallState:
    state = _answered(state, event)
    if event.by_carrier and state.answered_by_carrier:
        return state  # the carrier gives one verdict per call; a second one is not its word
    return replace(
        state,
        answered_by=AnsweredBy.MACHINE,
        disposition=Disposition.VOICEMAIL,
        answered_by_carrier=state.answered_by_carrier or event.by_carrier,
    )


def _human(state: CallState, event: CallEvent) -> CallState:
    state = _answered(state, event)
    if state.answered_by == AnsweredBy.MACHINE:
        return state  # a machine verdict is not undone by a later, weaker signal
    if event.by_carrier and state.answered_by_carrier:
        return state
    return replace(
        state, answered_by=AnsweredBy.HUMAN, answered_by_carrier=state.answered_by_carrier or event.by_carrier
    )


def _ended(state: CallState, event: CallEvent) -> CallState:
    state = _with_provider_id(state, event)
    outcome = event.outcome or CallStatus.COMPLETED
    # Every carrier reports "completed" only for a call that was answered, even when its answer
    # callback never reached us (Plivo/Vobiz send only the hangup callback).
    answered_at: datetime | None
    if outcome == CallStatus.COMPLETED:
        disposition = state.disposition or Disposition.COMPLETED
        answered_by = state.answered_by or AnsweredBy.UNKNOWN
        answered_at = state.answered_at or event.at
    else:
        disposition = _OUTCOME_DISPOSITION.get(outcome, Disposition.FAILED)
        answered_by = AnsweredBy.NOT_ANSWERED if state.answered_at is None else (
            state.answered_by or AnsweredBy.UNKNOWN
        )
        answered_at = state.answered_at
    duration = event.duration_seconds
    if duration is None and answered_at is not None:
        duration = max(0, int((event.at - answered_at).total_seconds()))
    return replace(
        state,
        status=outcome,
        disposition=disposition,
        answered_by=answered_by,
        answered_at=answered_at,
        ended_at=event.at,
        duration_seconds=duration if duration is not None else 0,
        hangup_cause=event.hangup_cause or state.hangup_cause,
        end_reason=state.end_reason or event.hangup_cause or _default_reason(outcome),
        started_at=state.started_at or event.at,
    )


def _default_reason(outcome: CallStatus) -> str:
    return _DEFAULT_REASONS[outcome].words


_DEFAULT_REASONS = {
    CallStatus.COMPLETED: EndReason.CALL_COMPLETED,
    CallStatus.FAILED: EndReason.CALL_FAILED,
    CallStatus.NO_ANSWER: EndReason.NO_ANSWER,
    CallStatus.BUSY: EndReason.LINE_BUSY,
    CallStatus.CANCELED: EndReason.CALL_CANCELED,
}


def cancel(state: CallState, *, at: datetime, reason: str) -> CallState | None:
    """Our side ends the call (partner asked, dial failed before the carrier took it, …)."""
    if state.status.is_terminal:
        return None
    # An answered call that we hang up has completed; one still ringing is canceled.
    outcome = CallStatus.COMPLETED if state.status == CallStatus.IN_PROGRESS else CallStatus.CANCELED
    return _ended(replace(state, end_reason=reason), CallEvent(EventKind.ENDED, at=at, outcome=outcome))


def fail(
    state: CallState, *, at: datetime, reason: str, hangup_cause: str | None = None
) -> CallState | None:
    """The call could not be placed or carried (carrier refused the dial, media never came…)."""
    if state.status.is_terminal:
        return None
    event = CallEvent(EventKind.ENDED, at=at, outcome=CallStatus.FAILED, hangup_cause=hangup_cause)
    return _ended(replace(state, end_reason=reason), event)


_HANDLERS = {
    EventKind.DIALED: _dialed,
    EventKind.RINGING: _ringing,
    EventKind.ANSWERED: _answered,
    EventKind.MACHINE_DETECTED: _machine,
    EventKind.HUMAN_DETECTED: _human,
    EventKind.ENDED: _ended,
}
