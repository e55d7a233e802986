"""Campaign lifecycle transitions, the campaign share of a partner's concurrency, the CSV reader
and the manual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callwright.domain.campaign_csv import CsvMapping, CsvProblem, parse_contacts
from callwright.domain.campaigns import CampaignAction, CampaignStatus, campaign_call_limit, next_status
from callwright.domain.clock import ManualClock
from callwright.domain.errors import Conflict

S, A = CampaignStatus, CampaignAction

# (status, action) → next status (None: no change); missing: refused.
TABLE = {
    (S.DRAFT, A.START): S.RUNNING,
    (S.DRAFT, A.CANCEL): S.CANCELED,
    (S.SCHEDULED, A.START): None,
    (S.SCHEDULED, A.PAUSE): S.PAUSED,
    (S.SCHEDULED, A.RESUME): None,
    (S.SCHEDULED, A.CANCEL): S.CANCELED,
    (S.RUNNING, A.START): None,
    (S.RUNNING, A.PAUSE): S.PAUSED,
    (S.RUNNING, A.RESUME): None,
    (S.RUNNING, A.CANCEL): S.CANCELED,
    (S.PAUSED, A.PAUSE): None,
    (S.PAUSED, A.RESUME): S.RUNNING,
    (S.PAUSED, A.CANCEL): S.CANCELED,
    (S.CANCELED, A.CANCEL): None,
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_status_and_action(status, action):
    if (status, action) in TABLE:
        assert next_status(status, action, starts_later=False) is TABLE[(status, action)]
    else:
        with pytest.raises(Conflict) as refused:
            next_status(status, action, starts_later=False)
        assert refused.value.code == "campaign_status_conflict"
        assert refused.value.message.startswith(f"cannot {action.value} this campaign: ")


def test_a_start_time_ahead_schedules():
    assert next_status(S.DRAFT, A.START, starts_later=True) is S.SCHEDULED
    assert next_status(S.PAUSED, A.RESUME, starts_later=True) is S.SCHEDULED


def test_statuses():
    assert {s for s in S if s.is_finished} == {S.COMPLETED, S.CANCELED}
    assert {s for s in S if s.is_editable} == {S.DRAFT, S.PAUSED}


@pytest.mark.parametrize(
    ("limit", "share", "expected"), [(10, 0.2, 8), (5, 0.2, 4), (2, 0.2, 1), (1, 0.2, 1), (10, 0.0, 10), (10, 0.5, 5), (3, 0.34, 1)]
)
def test_campaigns_leave_a_share_of_the_partners_limit(limit, share, expected):
    assert campaign_call_limit(limit, share) == expected


def test_csv_quoting_short_rows_and_limits():
    data = 'phone,note\n+919800000001,"a, ""quoted"" note"\n+919800000002\n'.encode()
    rows = parse_contacts(data, CsvMapping(), max_rows=10)
    assert [(r.line, r.phone, r.metadata) for r in rows] == [
        (2, "+919800000001", {"note": 'a, "quoted" note'}),
        (3, "+919800000002", {}),
    ]
    with pytest.raises(CsvProblem, match="more than 1 contacts"):
        parse_contacts(data, CsvMapping(), max_rows=1)
    rows = parse_contacts(b"phone,name\r\n+919800000001,Asha\r\n", CsvMapping(), max_rows=10)
    assert (rows[0].name, rows[0].metadata) == ("Asha", {})
    with pytest.raises(CsvProblem, match="no column 'Tier' for variable 'tier'"):
        parse_contacts(data, CsvMapping(variables={"tier": "Tier"}), max_rows=10)


def test_manual_clock():
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5)
    clock.set(start)
    assert clock.now() == start
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 12, 1))
