"""Credit rules: 15-second buckets, the rate cascade, amounts in whole paise, the start check,
and the usage report's sums."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callwright.domain.credits import (
    Rate,
    RateSource,
    billed_buckets,
    call_charge,
    check_can_start,
    connected_seconds,
    effective_rate,
    minimum_charge,
    parse_rate,
    parse_rupees,
    rupees,
    rupees_text,
)
from callwright.domain.errors import Forbidden, ValidationFailed
from callwright.domain.usage import FinishedCall, aggregate, report_range, to_csv

VA1 = 360  # ₹3.60 a minute, in paise


@pytest.mark.parametrize(("seconds", "buckets"), [(0, 0), (1, 1), (14, 1), (15, 1), (16, 2), (19, 2), (61, 5)])
def test_connected_time_is_billed_in_15_second_buckets_rounded_up(seconds, buckets):
    assert billed_buckets(seconds) == buckets


@pytest.mark.parametrize(
    ("seconds", "paise"), [(0, 0), (1, 90), (30, 180), (60, 360), (61, 450), (300, 1800)]
)
def test_the_docs_cost_examples_at_3_60_a_minute(seconds, paise):
    assert call_charge(seconds, VA1) == paise


def test_a_cost_is_rounded_to_the_paisa_half_up():
    assert call_charge(1, 361) == 90  # 90.25
    assert call_charge(1, 362) == 91  # 90.5
    assert call_charge(1, 1) == 0  # 0.25
    assert call_charge(15 * 4 * 10, 1) == 10  # whole minutes are exact


def test_a_call_never_answered_has_no_connected_time():
    assert connected_seconds(answered_at=None, duration_seconds=42) == 0
    answered = datetime(2026, 11, 24, tzinfo=UTC)
    assert connected_seconds(answered_at=answered, duration_seconds=None) == 0
    assert connected_seconds(answered_at=answered, duration_seconds=61) == 61


def test_the_rate_cascades_agent_project_partner_default():
    assert effective_rate(agent=460, project=400, partner=300, default=360) == Rate(460, RateSource.AGENT)
    assert effective_rate(agent=None, project=400, partner=300, default=360) == Rate(400, RateSource.PROJECT)
    assert effective_rate(agent=None, project=None, partner=300, default=360) == Rate(300, RateSource.PARTNER)
    assert effective_rate(agent=None, project=None, partner=None, default=360) == Rate(360, RateSource.DEFAULT)
    # A rate of 0 set on a level is a rate (free), not "unset".
    assert effective_rate(agent=0, project=None, partner=300, default=360) == Rate(0, RateSource.AGENT)


@pytest.mark.parametrize(("text", "paise"), [("500", 50000), ("3.6", 360), ("3.60", 360), (12.5, 1250), ("0.01", 1)])
def test_amounts_are_whole_paise(text, paise):
    assert parse_rupees(text, field="amount") == paise


@pytest.mark.parametrize(
    ("value", "words"),
    [("3.605", "at most two decimal places"), ("abc", "amount in ₹"), ("-1", "must not be negative"),
     ("NaN", "amount in ₹"), ("100000001", "at most ₹10000000.00"), (True, "amount in ₹")],
)
def test_malformed_amounts_are_refused_naming_the_field(value, words):
    with pytest.raises(ValidationFailed) as caught:
        parse_rupees(value, field="amount")
    assert caught.value.field == "amount" and words in caught.value.message


def test_adjustments_may_be_negative_and_rates_have_their_own_bound():
    assert parse_rupees("-12.50", field="amount", allow_negative=True) == -1250
    with pytest.raises(ValidationFailed):
        parse_rupees("0", field="amount", allow_zero=False)
    assert parse_rate("4.60") == 460
    with pytest.raises(ValidationFailed):
        parse_rate("10000.01")


def test_money_is_shown_in_rupees():
    assert rupees(212) == 2.12 and rupees(-1250) == -12.5
    assert rupees_text(123450) == "1234.50" and rupees_text(-5) == "-0.05"


def test_a_start_needs_one_bucket_at_its_rate_unless_billing_is_off():
    rate = Rate(VA1, RateSource.PARTNER)
    assert minimum_charge(rate) == 90
    check_can_start(balance_paise=90, rate=rate)
    with pytest.raises(Forbidden) as caught:
        check_can_start(balance_paise=89, rate=rate)
    assert caught.value.code == "insufficient_credits"
    assert "₹0.89" in caught.value.message and "₹0.90" in caught.value.message
    check_can_start(balance_paise=-500, rate=Rate(0, RateSource.DEFAULT))  # free calls need no balance


def _finished(day: int, hour: int, agent: str, seconds: int, paise: int, project: str | None = None) -> FinishedCall:
    ended = datetime(2026, 11, day, hour, tzinfo=UTC)
    answered = ended - timedelta(seconds=seconds) if seconds else None
    return FinishedCall(ended, agent, project, answered, seconds, paise)


def test_usage_sums_calls_per_day_agent_and_project():
    rows = aggregate(
        [
            _finished(24, 23, "a", 61, 450),
            _finished(24, 9, "a", 0, 0),
            _finished(25, 0, "a", 14, 90),
            _finished(24, 10, "b", 30, 180, project="p"),
        ]
    )
    assert [(r.day, r.agent_id, r.calls, r.connected_calls, r.connected_seconds, r.billed_seconds, r.credits_used_paise) for r in rows] == [
        (date(2026, 11, 24), "a", 2, 1, 61, 75, 450),
        (date(2026, 11, 24), "b", 1, 1, 30, 30, 180),
        (date(2026, 11, 25), "a", 1, 1, 14, 15, 90),
    ]
    csv = to_csv(rows).splitlines()
    assert csv[0].startswith("day,agent_id,agent_name,project_id")
    assert csv[1] == "2026-11-24,a,,,,2,1,61,75,4.50"
    assert csv[2].split(",")[3] == "p"


def test_report_range_defaults_to_the_last_30_days_and_is_bounded():
    today = date(2026, 12, 1)
    assert report_range(None, None, today=today) == (date(2026, 11, 2), today)
    with pytest.raises(ValidationFailed):
        report_range(date(2026, 12, 2), today, today=today)
    with pytest.raises(ValidationFailed):
        report_range(date(2025, 1, 1), today, today=today)
