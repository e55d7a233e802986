"""What a carrier's word may not change once given: the call's carrier id and the carrier's
verdict on who answered (issue 21 §2). Pure rules of the call state machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from callwright.domain.calls import (
    AnsweredBy,
    CallEvent,
    CallState,
    CallStatus,
    Disposition,
    EventKind,
    apply_event,
    names_another_call,
)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*events: CallEvent, state: CallState | None = None) -> CallState:
    state = state or CallState()
    for event in events:
        state = apply_event(state, event) or state
    return state


def test_a_final_carrier_id_is_never_replaced_and_another_calls_events_change_nothing():
    dialed = run(CallEvent(EventKind.DIALED, at=at(0), provider_call_id="CA1"))  # Twilio: final
    assert (dialed.provider_call_id, dialed.provider_call_id_final) == ("CA1", True)
    for kind, extra in [
        (EventKind.RINGING, {}),
        (EventKind.ANSWERED, {}),
        (EventKind.MACHINE_DETECTED, {}),
        (EventKind.ENDED, {"outcome": CallStatus.BUSY}),
    ]:
        other = CallEvent(kind, at=at(3), provider_call_id="CA-other", **extra)
        assert names_another_call(dialed, other)
        assert apply_event(dialed, other) is None
    # An event that names no call is about this one.
    assert not names_another_call(dialed, CallEvent(EventKind.ANSWERED, at=at(4)))


def test_a_provisional_id_gives_way_once_to_the_calls_own():
    dialed = run(CallEvent(EventKind.DIALED, at=at(0), provider_call_id="req-1", confirms_call_id=False))
    assert (dialed.provider_call_id, dialed.provider_call_id_final) == ("req-1", False)
    ringing = run(CallEvent(EventKind.RINGING, at=at(1), provider_call_id="uuid-1"), state=dialed)
    assert (ringing.provider_call_id, ringing.provider_call_id_final) == ("uuid-1", True)
    assert apply_event(ringing, CallEvent(EventKind.ANSWERED, at=at(2), provider_call_id="uuid-2")) is None
    # The carrier confirming the provisional id itself makes it final.
    confirmed = run(CallEvent(EventKind.RINGING, at=at(1), provider_call_id="req-1"), state=dialed)
    assert (confirmed.provider_call_id, confirmed.provider_call_id_final) == ("req-1", True)


def test_the_carrier_gives_its_verdict_once():
    answered = run(CallEvent(EventKind.ANSWERED, at=at(1), provider_call_id="CA1"))
    human = run(CallEvent(EventKind.HUMAN_DETECTED, at=at(3)), state=answered)
    assert (human.answered_by, human.answered_by_carrier) == (AnsweredBy.HUMAN, True)
    assert apply_event(human, CallEvent(EventKind.MACHINE_DETECTED, at=at(5))) is None
    machine = run(CallEvent(EventKind.MACHINE_DETECTED, at=at(3)), state=answered)
    assert apply_event(machine, CallEvent(EventKind.HUMAN_DETECTED, at=at(5))) is None


def test_our_own_second_opinion_is_not_the_carriers_verdict():
    answered = run(CallEvent(EventKind.ANSWERED, at=at(1), provider_call_id="CA1"))
    ours = run(CallEvent(EventKind.HUMAN_DETECTED, at=at(2), by_carrier=False), state=answered)
    assert (ours.answered_by, ours.answered_by_carrier) == (AnsweredBy.HUMAN, False)
    carriers = run(CallEvent(EventKind.MACHINE_DETECTED, at=at(4)), state=ours)
    assert (carriers.answered_by, carriers.disposition, carriers.answered_by_carrier) == (
        AnsweredBy.MACHINE, Disposition.VOICEMAIL, True,
    )
    # After the carrier's human verdict, our detector's confident machine verdict still counts.
    carrier_human = replace(answered, answered_by=AnsweredBy.HUMAN, answered_by_carrier=True)
    second = run(CallEvent(EventKind.MACHINE_DETECTED, at=at(6), by_carrier=False), state=carrier_human)
    assert second.answered_by is AnsweredBy.MACHINE
