"""The circuit breaker's rule and caller-ID rotation, as pure functions."""

from __future__ import annotations

import pytest

from callwright.domain.campaign_guards import (
    CircuitBreaker,
    breaker_from_json,
    breaker_to_json,
    caller_id_for,
)
from callwright.domain.campaign_retries import AttemptOutcome as O


def test_trips_when_the_failures_of_a_full_window_reach_the_rate():
    breaker = CircuitBreaker(failure_rate=0.5, window=4)
    assert breaker.trip_reason([O.FAILED, O.CARRIER_REFUSED, O.ANSWERED, O.BUSY]) is not None
    assert breaker.trip_reason([O.FAILED, O.ANSWERED, O.ANSWERED, O.BUSY]) is None


def test_busy_no_answer_and_voicemail_are_not_failures():
    breaker = CircuitBreaker(failure_rate=0.5, window=4)
    assert breaker.trip_reason([O.BUSY, O.NO_ANSWER, O.VOICEMAIL, O.NO_ANSWER]) is None


def test_a_window_not_yet_full_never_trips():
    breaker = CircuitBreaker(failure_rate=0.5, window=4)
    assert breaker.trip_reason([O.FAILED, O.FAILED, O.FAILED]) is None


def test_attempts_never_dialled_are_not_counted():
    breaker = CircuitBreaker(failure_rate=0.5, window=4)
    latest = [O.FAILED, O.NOT_DIALED, O.SUPPRESSED, O.FAILED, O.ANSWERED]
    assert breaker.trip_reason(latest) is None  # three dials only
    reason = breaker.trip_reason([*latest, O.ANSWERED])
    assert reason is not None and "2 of the last 4 dials failed" in reason


@pytest.mark.parametrize(("rate", "window"), [(0, 20), (1.5, 20), (0.5, 1), (0.5, 1001)])
def test_bounds(rate, window):
    with pytest.raises(ValueError):
        CircuitBreaker(failure_rate=rate, window=window)


def test_stored_form():
    assert breaker_from_json(None) is None
    assert breaker_from_json({}) == CircuitBreaker(0.5, 20)
    assert breaker_to_json(breaker_from_json({"failure_rate": 0.3, "window": 10})) == {"failure_rate": 0.3, "window": 10}


def test_caller_ids_rotate_by_position_and_attempt():
    ids = ["+14155550100", "+14155550101", "+14155550102"]
    firsts = [caller_id_for(ids, "+1default", position=p, attempt_number=1) for p in range(6)]
    assert firsts == ids + ids
    # A contact's retry uses the next number.
    assert caller_id_for(ids, "+1default", position=0, attempt_number=2) == ids[1]
    assert caller_id_for([], "+1default", position=7, attempt_number=3) == "+1default"
