"""The call state machine: legal transitions, terminal stickiness, duplicates and reordering."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callwright.domain.calls import (
    TERMINAL_STATUSES,
    AnsweredBy,
    CallEvent,
    CallState,
    CallStatus,
    Disposition,
    EventKind,
    apply_event,
    cancel,
    fail,
)

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*events: CallEvent, state: CallState | None = None) -> CallState:
    state = state or CallState()
    for event in events:
        state = apply_event(state, event) or state
    return state


RINGING = CallEvent(EventKind.RINGING, at=at(1), provider_call_id="CA1")
ANSWERED = CallEvent(EventKind.ANSWERED, at=at(5))
HANGUP = CallEvent(EventKind.ENDED, at=at(35), outcome=CallStatus.COMPLETED, hangup_cause="NORMAL_CLEARING")


def test_happy_path_completed():
    state = run(CallEvent(EventKind.DIALED, at=at(0), provider_call_id="CA1"), RINGING, ANSWERED, HANGUP)
    assert state.status == CallStatus.COMPLETED
    assert state.disposition == Disposition.COMPLETED
    assert state.answered_by == AnsweredBy.UNKNOWN
    assert (state.started_at, state.answered_at, state.ended_at) == (at(0), at(5), at(35))
    assert state.duration_seconds == 30
    assert state.hangup_cause == "NORMAL_CLEARING"
    assert state.provider_call_id == "CA1"


def test_carrier_duration_wins_over_our_clock():
    ended = CallEvent(EventKind.ENDED, at=at(40), outcome=CallStatus.COMPLETED, duration_seconds=31)
    assert run(RINGING, ANSWERED, ended).duration_seconds == 31


@pytest.mark.parametrize(
    ("outcome", "disposition"),
    [
        (CallStatus.BUSY, Disposition.BUSY),
        (CallStatus.NO_ANSWER, Disposition.NO_ANSWER),
        (CallStatus.FAILED, Disposition.FAILED),
        (CallStatus.CANCELED, Disposition.CANCELED),
    ],
)
def test_unanswered_outcomes(outcome, disposition):
    state = run(RINGING, CallEvent(EventKind.ENDED, at=at(20), outcome=outcome, hangup_cause="No route to destination"))
    assert state.status == outcome
    assert state.disposition == disposition
    assert state.answered_by == AnsweredBy.NOT_ANSWERED
    assert state.answered_at is None
    assert state.duration_seconds == 0
    assert state.end_reason == "No route to destination"


def test_completed_hangup_without_answer_callback_counts_as_answered():
    # Plivo/Vobiz send only the hangup callback.
    state = run(CallEvent(EventKind.ENDED, at=at(30), outcome=CallStatus.COMPLETED, duration_seconds=12))
    assert state.status == CallStatus.COMPLETED
    assert state.answered_at is not None
    assert state.duration_seconds == 12


def test_terminal_never_moves_again():
    done = run(RINGING, ANSWERED, HANGUP)
    for kind in EventKind:
        event = CallEvent(kind, at=at(99), outcome=CallStatus.BUSY)
        assert apply_event(done, event) is None
    assert cancel(done, at=at(99), reason="x") is None
    assert fail(done, at=at(99), reason="x") is None


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_every_terminal_status_is_sticky(terminal):
    state = CallState(status=terminal)
    assert all(apply_event(state, CallEvent(k, at=at(1))) is None for k in EventKind)


def test_duplicates_change_nothing():
    state = run(RINGING, ANSWERED)
    assert apply_event(state, ANSWERED) is None
    assert apply_event(state, RINGING) is None


def test_status_never_moves_backwards_in_any_order():
    events = [RINGING, ANSWERED, HANGUP]
    for order in itertools.permutations(events):
        state = run(*order)
        if order[-1] is HANGUP:
            assert state.status == CallStatus.COMPLETED
        assert state.status in (CallStatus.IN_PROGRESS, CallStatus.COMPLETED)
    late_ringing = run(ANSWERED, RINGING)
    assert late_ringing.status == CallStatus.IN_PROGRESS


def test_machine_detection_marks_voicemail_and_survives_hangup():
    machine = CallEvent(EventKind.MACHINE_DETECTED, at=at(8))
    state = run(RINGING, ANSWERED, machine, HANGUP)
    assert state.status == CallStatus.COMPLETED
    assert state.disposition == Disposition.VOICEMAIL
    assert state.answered_by == AnsweredBy.MACHINE


def test_human_does_not_override_machine():
    state = run(ANSWERED, CallEvent(EventKind.MACHINE_DETECTED, at=at(6)), CallEvent(EventKind.HUMAN_DETECTED, at=at(7)))
    assert state.answered_by == AnsweredBy.MACHINE
    assert run(ANSWERED, CallEvent(EventKind.HUMAN_DETECTED, at=at(7)), HANGUP).answered_by == AnsweredBy.HUMAN


def test_cancel_while_ringing_and_hangup_while_talking():
    canceled = cancel(run(RINGING), at=at(3), reason="ended by partner")
    assert canceled.status == CallStatus.CANCELED
    assert canceled.disposition == Disposition.CANCELED
    assert canceled.end_reason == "ended by partner"
    ended = cancel(run(RINGING, ANSWERED), at=at(9), reason="ended by partner")
    assert ended.status == CallStatus.COMPLETED
    assert ended.duration_seconds == 4
    assert ended.end_reason == "ended by partner"


def test_fail_keeps_the_carriers_words():
    state = fail(CallState(), at=at(1), reason="Vobiz refused the call: Invalid from number", hangup_cause="Invalid from number")
    assert state.status == CallStatus.FAILED
    assert state.end_reason == "Vobiz refused the call: Invalid from number"
    assert state.hangup_cause == "Invalid from number"
    assert state.answered_by == AnsweredBy.NOT_ANSWERED


def test_the_calls_own_id_replaces_the_dial_time_id():
    # Plivo: the dial answers request_uuid; callbacks and the media stream carry CallUUID.
    dialed = run(CallEvent(EventKind.DIALED, at=at(0), provider_call_id="request-uuid", confirms_call_id=False))
    assert dialed.provider_call_id == "request-uuid"
    answered = run(CallEvent(EventKind.ANSWERED, at=at(5), provider_call_id="call-uuid"), state=dialed)
    assert answered.provider_call_id == "call-uuid"
    # a late dial confirmation does not put the provisional id back
    late = CallEvent(EventKind.DIALED, at=at(6), provider_call_id="request-uuid")
    assert apply_event(answered, late) is None
