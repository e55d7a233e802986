"""When a campaign may call a recipient: its start and end, weekly calling windows in the
recipient's local time, blackout dates, and India's commercial-call hours.

A recipient's time zone comes, in this order, from the contact (an override the partner gave),
from the number (libphonenumber's time-zone data, when it names one zone), from the campaign's
declared ``timezone`` (a number spanning several zones — a US toll-free, an Australian mobile —
or none known), and otherwise from every zone the number may be in: a window is open only when it
is open in all of them (the most restrictive reading). With no zone at all, UTC.

Every +91 number is also held to 09:00–21:00 in India (TRAI's rule for commercial calls), whatever
the campaign's windows say: with no windows declared, that is its window.

All times are timezone-aware; ``at``/``after`` are instants, windows are local wall-clock times.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezones

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
WINDOWS_MAX = 21
BLACKOUT_DATES_MAX = 366
TRAI_ZONE = "Asia/Kolkata"
TRAI_START_MIN = 9 * 60
TRAI_END_MIN = 21 * 60
_INDIA = "+91"
_UNKNOWN_ZONE = "Etc/Unknown"
# How far ahead the next opening is looked for; a schedule closed that long is treated as closed.
SEARCH_DAYS = 400
_MAX_UTC_OFFSET = timedelta(hours=14)
# Weekly windows repeat: once this many days free of blackout dates have passed without an
# opening, none will come (the windows never overlap in all the recipient's zones).
QUIET_DAYS = 15


class ZoneSource(StrEnum):
    CONTACT = "contact"  # the contact's own timezone
    NUMBER = "number"  # the one zone the number's prefix is in
    CAMPAIGN = "campaign"  # the number spans several zones (or none known): the campaign's zone
    NUMBER_ALL_ZONES = "number_all_zones"  # several zones, no campaign zone: open only when all are
    UTC_FALLBACK = "utc_fallback"  # no zone known and none declared


@dataclass(frozen=True, slots=True)
class WeeklyWindow:
    """Open on ``days`` (0 = Monday) from ``start_min`` to ``end_min`` (exclusive), minutes after
    local midnight; ``end_min`` 1440 is midnight at the end of the day."""

    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute + local.second / 60
        return local.weekday() in self.days and self.start_min <= minute < self.end_min


@dataclass(frozen=True, slots=True)
class CallingSchedule:
    windows: tuple[WeeklyWindow, ...] = ()  # none: any time of day
    blackout_dates: frozenset[date] = frozenset()  # recipient's local dates
    start_at: datetime | None = None
    end_at: datetime | None = None
    timezone: str | None = None  # the campaign's declared zone (see the module's text)


@dataclass(frozen=True, slots=True)
class RecipientZones:
    zones: tuple[str, ...]
    source: ZoneSource
    india: bool  # a +91 number: 09:00–21:00 IST applies

    @property
    def label(self) -> str:
        return ",".join(self.zones)


_TRAI = WeeklyWindow(frozenset(range(7)), TRAI_START_MIN, TRAI_END_MIN)


# --- parsing (boundary values → rules); errors are the rule, for the caller to prefix a field ---


def is_zone(name: str) -> bool:
    return _zone(name) is not None


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def clock_minutes(text: str) -> int:
    """``"HH:MM"`` (00:00–24:00) → minutes after midnight."""
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"must be a time of day as HH:MM, like 09:30, not {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY:
        raise ValueError(f"must be a time of day between 00:00 and 24:00, not {text!r}")
    return value


def weekly_window(days: list[str], start: str, end: str) -> WeeklyWindow:
    if not days:
        raise ValueError("must name at least one day (" + ", ".join(WEEKDAYS) + ")")
    unknown = [day for day in days if day.lower() not in WEEKDAYS]
    if unknown:
        raise ValueError(f"must name days as {', '.join(WEEKDAYS)}, not {unknown[0]!r}")
    start_min, end_min = clock_minutes(start), clock_minutes(end)
    if start_min >= end_min:
        raise ValueError(f"must end after it starts ({start}–{end}); split a window across midnight in two")
    return WeeklyWindow(frozenset(WEEKDAYS.index(day.lower()) for day in days), start_min, end_min)


# --- whose time zone --------------------------------------------------------------------------


def recipient_zones(phone: str, *, override: str | None = None, campaign_zone: str | None = None) -> RecipientZones:
    """The zones ``phone``'s calling windows are evaluated in, and where they came from."""
    india = phone.startswith(_INDIA)
    if override:
        return RecipientZones((override,), ZoneSource.CONTACT, india)
    zones = _number_zones(phone)
    if len(zones) == 1:
        return RecipientZones(zones, ZoneSource.NUMBER, india)
    if campaign_zone:
        return RecipientZones((campaign_zone,), ZoneSource.CAMPAIGN, india)
    if zones:
        return RecipientZones(zones, ZoneSource.NUMBER_ALL_ZONES, india)
    return RecipientZones(("UTC",), ZoneSource.UTC_FALLBACK, india)


@lru_cache(maxsize=4096)
def _number_zones(phone: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    names = phone_timezones.time_zones_for_number(parsed)
    return tuple(name for name in names if name != _UNKNOWN_ZONE and is_zone(name))


# --- open or not, and when next ---------------------------------------------------------------


def is_open(schedule: CallingSchedule, recipient: RecipientZones, at: datetime) -> bool:
    """May ``recipient`` be called at the instant ``at``?"""
    if schedule.start_at is not None and at < schedule.start_at:
        return False
    if schedule.end_at is not None and at >= schedule.end_at:
        return False
    for name in recipient.zones:
        local = at.astimezone(_zone(name))
        if local.date() in schedule.blackout_dates:
            return False
        if schedule.windows and not any(window.contains(local) for window in schedule.windows):
            return False
    return not recipient.india or _TRAI.contains(at.astimezone(_zone(TRAI_ZONE)))


def next_open(schedule: CallingSchedule, recipient: RecipientZones, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` when ``recipient`` may be called; None if there is
    none (the campaign's end has passed, or nothing opens within ``SEARCH_DAYS``).

    Openings can only happen where some rule's boundary is: a window's start, a local midnight (a
    blackout date ending), 09:00 IST, the campaign's start. So those instants are tried in order,
    day by day, in every zone involved; the first one that is open is the answer. (A window that
    opens inside the hour a clock change skips is found up to an hour late.)"""
    start = max(after, schedule.start_at) if schedule.start_at is not None else after
    if schedule.end_at is not None and start >= schedule.end_at:
        return None
    if is_open(schedule, recipient, start):
        return start
    names = recipient.zones + ((TRAI_ZONE,) if recipient.india else ())
    starts = sorted({0, TRAI_START_MIN} | {window.start_min for window in schedule.windows})
    first_day = min(start.astimezone(_zone(name)).date() for name in names) - timedelta(days=1)
    quiet = 0
    candidates: list[datetime] = []  # a heap: local days in different zones overlap in time
    for offset in range(SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        near_blackout = any(day + timedelta(days=d) in schedule.blackout_dates for d in (-1, 0, 1))
        quiet = 0 if near_blackout else quiet + 1
        if quiet > QUIET_DAYS:
            return None
        for name in names:
            for minute in starts:
                heapq.heappush(candidates, _instant(day, minute, name).astimezone(UTC))
        # No zone is more than 14 h ahead of UTC: later local days cannot begin before this.
        settled = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) - _MAX_UTC_OFFSET
        while candidates and candidates[0] < settled:
            candidate = heapq.heappop(candidates)
            if candidate <= start:
                continue
            if schedule.end_at is not None and candidate >= schedule.end_at:
                return None
            if is_open(schedule, recipient, candidate):
                return candidate
    return None


def _instant(day: date, minute: int, zone_name: str) -> datetime:
    """Local wall-clock ``minute`` of ``day`` in the zone, as an instant (a time skipped by a
    clock change maps to the instant just after the change, an hour late at most)."""
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=_zone(zone_name))


def schedule_from_json(stored: dict[str, Any]) -> CallingSchedule:
    """A campaign's stored ``schedule`` (already validated at the boundary) → its rules."""
    return CallingSchedule(
        windows=tuple(
            weekly_window(list(window["days"]), window["start"], window["end"])
            for window in stored.get("calling_windows") or ()
        ),
        blackout_dates=frozenset(date.fromisoformat(day) for day in stored.get("blackout_dates") or ()),
        start_at=_instant_or_none(stored.get("start_at")),
        end_at=_instant_or_none(stored.get("end_at")),
        timezone=stored.get("timezone") or None,
    )


def _instant_or_none(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
