"""The operator's usage report: finished calls summed per UTC day, agent and project."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from callwright.domain.credits import BUCKET_SECS, billed_buckets, connected_seconds, rupees_text
from callwright.domain.errors import ValidationFailed

MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 30
CSV_COLUMNS = (
    "day",
    "agent_id",
    "agent_name",
    "project_id",
    "project_name",
    "calls",
    "connected_calls",
    "connected_seconds",
    "billed_seconds",
    "credits_used",
)


@dataclass(frozen=True, slots=True)
class FinishedCall:
    """What the report needs of one terminal call."""

    ended_at: datetime
    agent_id: str
    project_id: str | None
    answered_at: datetime | None
    duration_seconds: int | None
    credits_used_paise: int


@dataclass(slots=True)
class UsageRow:
    day: date
    agent_id: str
    project_id: str | None
    calls: int = 0
    connected_calls: int = 0
    connected_seconds: int = 0
    billed_seconds: int = 0
    credits_used_paise: int = 0
    agent_name: str | None = field(default=None)
    project_name: str | None = field(default=None)


def report_range(since: date | None, until: date | None, *, today: date) -> tuple[date, date]:
    """The days a report covers, both ends included; the last 30 days up to today by default."""
    until = until or today
    since = since or until - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    if since > until:
        raise ValidationFailed("from", "from must be on or before to")
    if (until - since).days + 1 > MAX_REPORT_DAYS:
        raise ValidationFailed("from", f"a usage report covers at most {MAX_REPORT_DAYS} days")
    return since, until


def day_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[start of ``since``, start of the day after ``until``) in UTC."""
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    return start, end


def aggregate(calls: Iterable[FinishedCall]) -> list[UsageRow]:
    """One row per (UTC day the call ended, agent, project), ordered by day, then agent."""
    rows: dict[tuple[date, str, str | None], UsageRow] = {}
    for call in calls:
        day = call.ended_at.astimezone(UTC).date()
        key = (day, call.agent_id, call.project_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = UsageRow(day, call.agent_id, call.project_id)
        seconds = connected_seconds(answered_at=call.answered_at, duration_seconds=call.duration_seconds)
        row.calls += 1
        row.connected_calls += 1 if seconds > 0 else 0
        row.connected_seconds += seconds
        row.billed_seconds += billed_buckets(seconds) * BUCKET_SECS
        row.credits_used_paise += call.credits_used_paise
    return sorted(rows.values(), key=lambda r: (r.day, r.agent_id, r.project_id or ""))


def to_csv(rows: Iterable[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.day.isoformat(),
                row.agent_id,
                row.agent_name or "",
                row.project_id or "",
                row.project_name or "",
                row.calls,
                row.connected_calls,
                row.connected_seconds,
                row.billed_seconds,
                rupees_text(row.credits_used_paise),
            ]
        )
    return out.getvalue()
