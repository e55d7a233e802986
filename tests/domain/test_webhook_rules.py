"""Webhook labels, secrets, signatures and the retry schedule."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callwright.domain.webhooks import (
    ALL_EVENTS,
    DEFAULT_EVENTS,
    RetrySchedule,
    label_error,
    new_secret,
    parse_events,
    signature,
    signature_valid,
)


@pytest.mark.parametrize("label", ["prod", "a", "staging-2", "0audit", "x" * 31])
def test_valid_labels(label):
    assert label_error(label) is None


@pytest.mark.parametrize("label", ["", "Prod", "-prod", "prod_1", "prod.1", "x" * 32, "pröd", "a b"])
def test_invalid_labels_name_the_rule(label):
    assert label_error(label).startswith("label must be 1-31 characters")


def test_secrets_are_prefixed_and_unguessable():
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and len(a) >= 6 + 40 and a != b


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"event":"session.completed"}'
    ts = "2026-11-25T10:00:00.000000Z"
    expected = hmac.new(b"whsec_abc", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature("whsec_abc", ts, body) == "sha256=" + expected
    assert signature_valid("whsec_abc", ts, body, "sha256=" + expected)
    assert not signature_valid("whsec_other", ts, body, "sha256=" + expected)
    assert not signature_valid("whsec_abc", ts, body + b" ", "sha256=" + expected)
    assert not signature_valid("whsec_abc", "2026-11-25T10:00:01.000000Z", body, "sha256=" + expected)


def test_backoff_doubles_from_the_base_up_to_the_cap():
    schedule = RetrySchedule(base_secs=5, max_delay_secs=3600, jitter=0.25)
    nominal = [schedule.delay_secs(n, rand=0.5) for n in range(1, 13)]
    assert nominal == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert schedule.delay_secs(10_000, rand=0.5) == 3600  # no overflow for absurd attempt numbers


def test_jitter_spreads_each_delay_by_a_quarter_either_way():
    schedule = RetrySchedule(base_secs=8, jitter=0.25)
    assert schedule.delay_secs(1, rand=0.0) == 6.0
    assert schedule.delay_secs(1, rand=0.999999) == pytest.approx(10.0, abs=1e-4)
    assert RetrySchedule(base_secs=8, jitter=0).delay_secs(2, rand=0.9) == 16


def test_a_delivery_is_retried_for_24_hours_then_dead():
    schedule = RetrySchedule()  # 5 s base, 1 h cap, 24 h window
    queued = datetime(2026, 11, 25, tzinfo=UTC)
    now, attempt, retries = queued, 1, []
    while (at := schedule.next_attempt_at(attempt, now=now, queued_at=queued, rand=0.5)) is not None:
        retries.append(at)
        now, attempt = at, attempt + 1
    assert retries[0] == queued + timedelta(seconds=5)
    assert retries[-1] <= queued + timedelta(hours=24) < retries[-1] + timedelta(hours=1)
    assert 30 <= attempt <= 35  # ten quick tries in the first ~1.4 h, then hourly
    assert all(b > a for a, b in itertools.pairwise(retries))


def test_nothing_is_scheduled_past_the_window():
    schedule = RetrySchedule(base_secs=1, window_secs=10, jitter=0)
    queued = datetime(2026, 11, 25, tzinfo=UTC)
    # After attempt 4 the wait is 8 s: 5 + 8 > 10. After attempt 3 it is 4 s: 5 + 4 ≤ 10.
    assert schedule.next_attempt_at(4, now=queued + timedelta(seconds=5), queued_at=queued, rand=0) is None
    assert schedule.next_attempt_at(3, now=queued + timedelta(seconds=5), queued_at=queued, rand=0) == (
        queued + timedelta(seconds=9)
    )


def test_an_endpoints_events_are_deduplicated_in_event_order_or_refused():
    assert parse_events(["session.completed", "call.ringing", "call.ringing"]) == ["call.ringing", "session.completed"]
    assert parse_events(["call.hangup"]) == (
        "events has an unknown event 'call.hangup'; the events are "
        "call.ringing, call.answered, call.ended, session.completed"
    )
    assert parse_events([]) == "events must name at least one event (to stop deliveries, set enabled to false)"
    assert [e.value for e in DEFAULT_EVENTS] == ["session.completed"]
    assert len(ALL_EVENTS) == 4
