"""Retry rules: a call's outcome as a campaign sees it, and the contact's next step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callwright.domain.campaign_retries import (
    REACHED,
    RETRYABLE,
    AttemptOutcome,
    Redial,
    RetryPolicy,
    RetryRule,
    Settle,
    after_attempt,
    classify,
    counts_against_budget,
    policy_from_json,
    policy_to_json,
)
from callwright.domain.campaigns import ContactState

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
Out = AttemptOutcome


@pytest.mark.parametrize(
    ("call", "outcome"),
    [
        ({"status": "completed", "disposition": "completed", "answered_by": "human"}, Out.ANSWERED),
        ({"status": "completed", "disposition": "completed", "answered_by": "unknown"}, Out.ANSWERED),
        ({"status": "completed", "disposition": "user_hangup_no_speech", "answered_by": "unknown"}, Out.ANSWERED),
        ({"status": "completed", "disposition": "voicemail", "answered_by": "machine"}, Out.VOICEMAIL),
        ({"status": "completed", "disposition": "completed", "answered_by": "machine"}, Out.VOICEMAIL),
        ({"status": "busy", "disposition": "busy", "answered_by": "not_answered"}, Out.BUSY),
        ({"status": "no_answer", "disposition": "no_answer", "answered_by": "not_answered"}, Out.NO_ANSWER),
        ({"status": "failed", "disposition": "failed", "answered_by": "not_answered"}, Out.FAILED),
        ({"status": "failed", "disposition": "failed", "answered_by": None, "carrier_refused": True}, Out.CARRIER_REFUSED),
        ({"status": "canceled", "disposition": "canceled", "answered_by": None}, Out.CANCELED),
        ({"status": "completed", "disposition": "completed", "answered_by": "human", "opted_out": True}, Out.OPTED_OUT),
        ({"status": "completed", "disposition": "completed", "answered_by": "human", "transferred": True}, Out.TRANSFERRED),
        ({"status": "canceled", "disposition": "canceled", "answered_by": None, "suppressed": True}, Out.SUPPRESSED),
    ],
)
def test_classify(call, outcome):
    assert classify(**({"carrier_refused": False} | call)) is outcome


@pytest.mark.parametrize("outcome", REACHED)
def test_a_reached_contact_is_never_called_again(outcome):
    for used in (1, 2, 5):
        assert after_attempt(RetryPolicy(), outcome, attempts_used=used, ended_at=T0) == Settle(
            ContactState.COMPLETED, outcome.value
        )


def test_retries_follow_the_rule_of_each_outcome_within_one_budget():
    policy = RetryPolicy(
        max_attempts=4,
        rules={
            Out.BUSY: RetryRule(True, (60, 300)),
            Out.NO_ANSWER: RetryRule(True, (120,)),
            Out.VOICEMAIL: RetryRule(False),
            Out.FAILED: RetryRule(True, (30, 60, 90)),
            Out.CARRIER_REFUSED: RetryRule(False),
        },
    )
    assert after_attempt(policy, Out.BUSY, attempts_used=1, ended_at=T0) == Redial(T0 + timedelta(seconds=60))
    assert after_attempt(policy, Out.BUSY, attempts_used=2, ended_at=T0) == Redial(T0 + timedelta(seconds=300))
    assert after_attempt(policy, Out.BUSY, attempts_used=3, ended_at=T0) == Redial(T0 + timedelta(seconds=300))  # last repeats
    assert after_attempt(policy, Out.NO_ANSWER, attempts_used=2, ended_at=T0) == Redial(T0 + timedelta(seconds=120))
    assert after_attempt(policy, Out.FAILED, attempts_used=3, ended_at=T0) == Redial(T0 + timedelta(seconds=90))
    # The budget is shared: the fourth attempt, whatever its outcome, is the last.
    for outcome in (Out.BUSY, Out.NO_ANSWER, Out.FAILED):
        assert after_attempt(policy, outcome, attempts_used=4, ended_at=T0) == Settle(
            ContactState.FAILED, f"attempts_exhausted ({outcome.value})"
        )
    assert after_attempt(policy, Out.VOICEMAIL, attempts_used=1, ended_at=T0) == Settle(ContactState.FAILED, "voicemail")
    assert after_attempt(policy, Out.CARRIER_REFUSED, attempts_used=1, ended_at=T0) == Settle(
        ContactState.FAILED, "carrier_refused"
    )


def test_redial_on_voicemail():
    policy = RetryPolicy(max_attempts=2, rules={Out.VOICEMAIL: RetryRule(True, (3600,))})
    assert after_attempt(policy, Out.VOICEMAIL, attempts_used=1, ended_at=T0) == Redial(T0 + timedelta(hours=1))
    assert isinstance(after_attempt(policy, Out.VOICEMAIL, attempts_used=2, ended_at=T0), Settle)


def test_one_attempt_budget_means_no_retry():
    policy = RetryPolicy(max_attempts=1)
    for outcome in RETRYABLE:
        assert isinstance(after_attempt(policy, outcome, attempts_used=1, ended_at=T0), Settle)


def test_withdrawn_attempts_use_no_budget_and_wait_again_at_once():
    assert not counts_against_budget(Out.NOT_DIALED)
    assert not counts_against_budget(Out.SUPPRESSED)
    assert all(counts_against_budget(o) for o in AttemptOutcome if o not in (Out.NOT_DIALED, Out.SUPPRESSED))
    assert after_attempt(RetryPolicy(max_attempts=1), Out.NOT_DIALED, attempts_used=1, ended_at=T0) == Redial(T0)


def test_suppressed_and_canceled_are_skipped():
    assert after_attempt(RetryPolicy(), Out.SUPPRESSED, attempts_used=0, ended_at=T0) == Settle(
        ContactState.SKIPPED, "number_suppressed"
    )
    assert after_attempt(RetryPolicy(), Out.CANCELED, attempts_used=1, ended_at=T0) == Settle(
        ContactState.SKIPPED, "call_canceled"
    )


def test_defaults():
    policy = RetryPolicy()
    assert policy.max_attempts == 3
    assert (policy.rule(Out.BUSY).redial, policy.rule(Out.BUSY).spacing(1)) == (True, 600)
    assert (policy.rule(Out.NO_ANSWER).redial, policy.rule(Out.NO_ANSWER).spacing(1)) == (True, 1800)
    assert policy.rule(Out.VOICEMAIL).redial is False
    assert policy.rule(Out.CARRIER_REFUSED).redial is False
    with pytest.raises(ValueError):
        RetryRule(True, ())


def test_stored_form_round_trips():
    stored = {"max_attempts": 5, "busy": {"redial": False, "spacing_secs": [5]}, "voicemail": {"redial": True, "spacing_secs": [1, 2]}}
    policy = policy_from_json(stored)
    assert policy.max_attempts == 5
    assert policy.rule(Out.BUSY) == RetryRule(False, (5,))
    assert policy.rule(Out.VOICEMAIL) == RetryRule(True, (1, 2))
    assert policy.rule(Out.NO_ANSWER) == RetryRule(True, (1800,))
    assert policy_from_json(policy_to_json(policy)) == policy
    assert policy_from_json({}) == RetryPolicy()
    assert policy_from_json({"failed": {"redial": False}}).rule(Out.FAILED) == RetryRule(False, (900,))
    assert policy_from_json({"busy": {"spacing_secs": 30}}).rule(Out.BUSY) == RetryRule(True, (30,))


def test_a_contacts_whole_life():
    """busy → (60 s) → no answer → (120 s) → busy: budget of three used, failed."""
    policy = RetryPolicy(max_attempts=3, rules={Out.BUSY: RetryRule(True, (60,)), Out.NO_ANSWER: RetryRule(True, (30, 120))})
    now, used, steps = T0, 0, []
    for outcome in (Out.BUSY, Out.NO_ANSWER, Out.BUSY):
        used += 1
        step = after_attempt(policy, outcome, attempts_used=used, ended_at=now)
        steps.append(step)
        if isinstance(step, Redial):
            now = step.at
    assert steps == [
        Redial(T0 + timedelta(seconds=60)),
        Redial(T0 + timedelta(seconds=60 + 120)),
        Settle(ContactState.FAILED, "attempts_exhausted (busy)"),
    ]
