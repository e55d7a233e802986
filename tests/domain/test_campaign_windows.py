"""Calling windows: parsing, whose zone, open or not, and the next opening (checked against a
minute-by-minute scan)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callwright.domain.campaign_windows import (
    CallingSchedule,
    RecipientZones,
    ZoneSource,
    clock_minutes,
    is_open,
    next_open,
    recipient_zones,
    schedule_from_json,
    weekly_window,
)

NY, LA, IST = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Kolkata")
NEW_YORK_NUMBER = "+12125550100"
LOS_ANGELES_NUMBER = "+14155550123"
INDIAN_NUMBER = "+919876543210"
AUSTRALIAN_MOBILE = "+61412345678"  # eight zones, Perth to Lord Howe
INTERNATIONAL_FREEPHONE = "+80012345678"  # no zone at all
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def zones(phone: str, **kwargs) -> RecipientZones:
    return recipient_zones(phone, **kwargs)


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("09:30", 570), ("23:59", 1439), ("24:00", 1440)])
def test_clock_minutes(text, minutes):
    assert clock_minutes(text) == minutes


@pytest.mark.parametrize("text", ["9:30", "09:3", "0930", "24:01", "25:00", "09:60", "ab:cd", "", "09:30:00"])
def test_clock_minutes_refuses(text):
    with pytest.raises(ValueError, match="must be a time of day"):
        clock_minutes(text)


def test_weekly_window_rules():
    window = weekly_window(["Mon", "fri"], "09:00", "17:30")
    assert (window.days, window.start_min, window.end_min) == (frozenset({0, 4}), 540, 1050)
    with pytest.raises(ValueError, match="at least one day"):
        weekly_window([], "09:00", "10:00")
    with pytest.raises(ValueError, match="must name days as mon"):
        weekly_window(["monday"], "09:00", "10:00")
    with pytest.raises(ValueError, match="must end after it starts"):
        weekly_window(["mon"], "22:00", "02:00")
    with pytest.raises(ValueError, match="must end after it starts"):
        weekly_window(["mon"], "10:00", "10:00")


def test_schedule_from_json():
    schedule = schedule_from_json(
        {
            "start_at": "2026-12-01T03:30:00.000000Z",
            "end_at": None,
            "timezone": "Asia/Kolkata",
            "calling_windows": [{"days": ["sat"], "start": "10:00", "end": "12:00"}],
            "blackout_dates": ["2026-12-25"],
        }
    )
    assert schedule.start_at == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    assert schedule.end_at is None and schedule.timezone == "Asia/Kolkata"
    assert schedule.windows[0].days == frozenset({5})
    assert schedule.blackout_dates == frozenset({date(2026, 12, 25)})
    assert schedule_from_json({}) == CallingSchedule()


# --- whose zone ---------------------------------------------------------------------------------


def test_zone_from_the_number_the_contact_or_the_campaign():
    assert zones(LOS_ANGELES_NUMBER) == RecipientZones(("America/Los_Angeles",), ZoneSource.NUMBER, False)
    assert zones(INDIAN_NUMBER) == RecipientZones(("Asia/Calcutta",), ZoneSource.NUMBER, True)
    # The contact's own zone wins over everything.
    assert zones(LOS_ANGELES_NUMBER, override="Europe/Paris", campaign_zone="Asia/Tokyo").zones == ("Europe/Paris",)
    assert zones(INDIAN_NUMBER, override="Asia/Dubai").source is ZoneSource.CONTACT
    # A one-zone number keeps its zone even when the campaign declares another.
    assert zones(NEW_YORK_NUMBER, campaign_zone="Asia/Tokyo").zones == ("America/New_York",)
    # Several zones: the campaign's declared one, else all of them (most restrictive).
    assert zones(AUSTRALIAN_MOBILE, campaign_zone="Australia/Sydney") == RecipientZones(
        ("Australia/Sydney",), ZoneSource.CAMPAIGN, False
    )
    everywhere = zones(AUSTRALIAN_MOBILE)
    assert everywhere.source is ZoneSource.NUMBER_ALL_ZONES
    assert {"Australia/Perth", "Australia/Sydney"} <= set(everywhere.zones)
    # No zone known: the campaign's, else UTC.
    assert zones(INTERNATIONAL_FREEPHONE, campaign_zone="Europe/Berlin").source is ZoneSource.CAMPAIGN
    assert zones(INTERNATIONAL_FREEPHONE) == RecipientZones(("UTC",), ZoneSource.UTC_FALLBACK, False)


# --- open or not --------------------------------------------------------------------------------

NINE_TO_FIVE = CallingSchedule(windows=(weekly_window(WEEKDAYS, "09:00", "17:00"),))


def test_windows_are_the_recipients_local_time():
    # Tuesday 2026-12-01 09:30 in New York is 06:30 in Los Angeles.
    moment = at(NY, 2026, 12, 1, 9, 30)
    assert is_open(NINE_TO_FIVE, zones(NEW_YORK_NUMBER), moment)
    assert not is_open(NINE_TO_FIVE, zones(LOS_ANGELES_NUMBER), moment)
    later = at(LA, 2026, 12, 1, 9, 0)
    assert is_open(NINE_TO_FIVE, zones(LOS_ANGELES_NUMBER), later)
    assert not is_open(NINE_TO_FIVE, zones(NEW_YORK_NUMBER), at(NY, 2026, 12, 1, 17, 0))  # end is exclusive
    assert is_open(NINE_TO_FIVE, zones(NEW_YORK_NUMBER), at(NY, 2026, 12, 1, 16, 59, 59))
    assert not is_open(NINE_TO_FIVE, zones(NEW_YORK_NUMBER), at(NY, 2026, 12, 5, 10, 0))  # a Saturday


def test_no_windows_means_any_time_but_blackouts_start_and_end_still_hold():
    schedule = CallingSchedule(
        blackout_dates=frozenset({date(2026, 12, 25)}),
        start_at=at(NY, 2026, 12, 1, 0, 0),
        end_at=at(NY, 2026, 12, 31, 0, 0),
    )
    ny = zones(NEW_YORK_NUMBER)
    assert is_open(schedule, ny, at(NY, 2026, 12, 24, 23, 59))
    assert not is_open(schedule, ny, at(NY, 2026, 12, 25, 0, 0))
    assert not is_open(schedule, ny, at(NY, 2026, 12, 25, 23, 59))
    # The blackout is the recipient's local date: 25 December is still the 24th in Los Angeles.
    assert is_open(schedule, zones(LOS_ANGELES_NUMBER), at(NY, 2026, 12, 25, 1, 0))
    assert not is_open(schedule, ny, at(NY, 2026, 11, 30, 23, 59))  # before start_at
    assert not is_open(schedule, ny, at(NY, 2026, 12, 31, 0, 0))  # end_at is exclusive


@pytest.mark.parametrize(
    ("hour", "minute", "expected"), [(8, 59, False), (9, 0, True), (14, 0, True), (20, 59, True), (21, 0, False), (23, 0, False)]
)
def test_indian_numbers_only_between_nine_and_nine(hour, minute, expected):
    moment = at(IST, 2026, 12, 6, hour, minute)  # a Sunday: TRAI's rule holds every day
    assert is_open(CallingSchedule(), zones(INDIAN_NUMBER), moment) is expected
    # Whatever the campaign's windows say,
    all_day = CallingSchedule(windows=(weekly_window(["sun"], "00:00", "24:00"),))
    assert is_open(all_day, zones(INDIAN_NUMBER), moment) is expected
    # and whatever zone the contact claims (the rule is India's, not the zone's).
    assert is_open(CallingSchedule(), zones(INDIAN_NUMBER, override="America/New_York"), moment) is expected


def test_indian_window_narrows_a_wider_campaign_window():
    schedule = CallingSchedule(windows=(weekly_window(["mon"], "07:00", "23:00"),))
    india = zones(INDIAN_NUMBER)
    assert not is_open(schedule, india, at(IST, 2026, 12, 7, 8, 0))
    assert is_open(schedule, india, at(IST, 2026, 12, 7, 9, 0))
    assert not is_open(schedule, india, at(IST, 2026, 12, 7, 22, 0))


def test_several_zones_open_only_where_all_are():
    schedule = CallingSchedule(windows=(weekly_window(WEEKDAYS, "09:00", "18:00"),))
    both = RecipientZones(("America/New_York", "America/Los_Angeles"), ZoneSource.NUMBER_ALL_ZONES, False)
    assert not is_open(schedule, both, at(NY, 2026, 12, 1, 10, 0))  # 07:00 in LA
    assert is_open(schedule, both, at(NY, 2026, 12, 1, 12, 0))  # 09:00 in LA
    assert not is_open(schedule, both, at(NY, 2026, 12, 1, 18, 0))  # closed in NY
    assert next_open(schedule, both, at(NY, 2026, 12, 1, 7, 0)) == at(NY, 2026, 12, 1, 12, 0)


# --- the next opening ---------------------------------------------------------------------------


def test_next_open_is_now_when_open():
    moment = at(NY, 2026, 12, 1, 10, 0)
    assert next_open(NINE_TO_FIVE, zones(NEW_YORK_NUMBER), moment) == moment


def test_next_open_across_a_weekend_and_a_blackout():
    schedule = CallingSchedule(
        windows=(weekly_window(WEEKDAYS, "09:00", "17:00"),), blackout_dates=frozenset({date(2026, 12, 7)})
    )
    friday_evening = at(NY, 2026, 12, 4, 17, 0)
    assert next_open(schedule, zones(NEW_YORK_NUMBER), friday_evening) == at(NY, 2026, 12, 8, 9, 0)


def test_next_open_waits_for_start_at_and_stops_at_end_at():
    start = at(NY, 2026, 12, 2, 11, 15)
    schedule = CallingSchedule(windows=NINE_TO_FIVE.windows, start_at=start, end_at=at(NY, 2026, 12, 3, 12, 0))
    ny = zones(NEW_YORK_NUMBER)
    assert next_open(schedule, ny, at(NY, 2026, 11, 1, 0, 0)) == start
    assert next_open(schedule, ny, at(NY, 2026, 12, 2, 18, 0)) == at(NY, 2026, 12, 3, 9, 0)
    assert next_open(schedule, ny, at(NY, 2026, 12, 3, 12, 0)) is None
    assert next_open(schedule, ny, at(NY, 2026, 12, 3, 13, 0)) is None
    ends_before_window = CallingSchedule(windows=NINE_TO_FIVE.windows, end_at=at(NY, 2026, 12, 3, 8, 0))
    assert next_open(ends_before_window, ny, at(NY, 2026, 12, 2, 18, 0)) is None


def test_next_open_for_india_is_nine_ist():
    assert next_open(CallingSchedule(), zones(INDIAN_NUMBER), at(IST, 2026, 12, 6, 21, 30)) == at(IST, 2026, 12, 7, 9, 0)


def test_windows_that_never_meet_give_no_opening():
    schedule = CallingSchedule(windows=(weekly_window(WEEKDAYS, "09:00", "10:00"),))
    apart = RecipientZones(("Asia/Tokyo", "America/New_York"), ZoneSource.NUMBER_ALL_ZONES, False)
    assert next_open(schedule, apart, at(NY, 2026, 12, 1, 0, 0)) is None
    # A US toll-free number spans zones from Guam to Hawaii: without a campaign zone it is never
    # inside a business-hours window; with one, it is.
    toll_free = "+18005550100"
    assert next_open(schedule, zones(toll_free), at(NY, 2026, 12, 1, 0, 0)) is None
    assert next_open(schedule, zones(toll_free, campaign_zone="America/Chicago"), at(NY, 2026, 12, 1, 0, 0)) == (
        datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    )


def test_a_window_across_the_spring_clock_change():
    # New York springs forward on Sunday 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 after.
    schedule = CallingSchedule(windows=(weekly_window(["sat", "sun", "mon"], "09:00", "10:00"),))
    ny = zones(NEW_YORK_NUMBER)
    assert next_open(schedule, ny, at(NY, 2026, 3, 7, 12, 0)) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert next_open(schedule, ny, datetime(2026, 3, 7, 0, 0, tzinfo=UTC)) == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)


def test_blackouts_a_year_long_are_waited_out():
    first = date(2026, 12, 1)
    blackouts = frozenset(first + timedelta(days=i) for i in range(200))
    schedule = CallingSchedule(blackout_dates=blackouts)
    assert next_open(schedule, zones(NEW_YORK_NUMBER), at(NY, 2026, 12, 1, 12, 0)) == at(NY, 2027, 6, 19, 0, 0)


def _brute_next(schedule, recipient, after, horizon):
    moment = after.replace(second=0, microsecond=0)
    if moment < after:
        moment += timedelta(minutes=1)
    while moment <= after + horizon:
        if is_open(schedule, recipient, moment):
            return moment
        moment += timedelta(minutes=1)
    return None


def test_next_open_matches_a_minute_by_minute_scan():
    """Random schedules, zones and instants: the next opening is open, and no minute before it is."""
    rng = random.Random(15)
    names = ["America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Europe/London", "Australia/Sydney"]
    for _ in range(60):
        windows = []
        for _ in range(rng.randint(0, 3)):
            start = rng.randrange(0, 23 * 60, 15)
            days = rng.sample([*WEEKDAYS, "sat", "sun"], rng.randint(1, 7))
            end = rng.randrange(start + 15, 24 * 60 + 1, 15)
            windows.append(weekly_window(days, f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"))
        after = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
        blackouts = frozenset((after + timedelta(days=rng.randint(-1, 4))).date() for _ in range(rng.randint(0, 3)))
        schedule = CallingSchedule(windows=tuple(windows), blackout_dates=blackouts)
        india = rng.random() < 0.3
        recipient = RecipientZones(tuple(rng.sample(names, rng.randint(1, 2))), ZoneSource.NUMBER, india)
        found = next_open(schedule, recipient, after)
        expected = _brute_next(schedule, recipient, after, timedelta(days=9))
        if expected is None:
            assert found is None or found > after + timedelta(days=9), (schedule, recipient, after, found)
        else:
            assert found == expected, (schedule, recipient, after, found, expected)
