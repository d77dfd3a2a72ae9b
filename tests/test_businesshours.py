"""Tests for leadfollow.businesshours (pure Python, no Django)."""

from __future__ import annotations

import ast
import pickle
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadfollow import businesshours as bh
from leadfollow.businesshours import (
    WEEKDAYS,
    BusinessCalendar,
    add_business_minutes,
    add_business_time,
    business_minutes_between,
    is_open,
    next_opening,
    validate_hours,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LORD_HOWE = "Australia/Lord_Howe"
MINUTE = timedelta(minutes=1)

OFFICE = {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]}
SPLIT = {day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS[:5]}
NIGHTS = {day: [["22:00", "06:00"]] for day in WEEKDAYS[:5]}
ALWAYS = {day: [["00:00", "24:00"]] for day in WEEKDAYS}


def cal(hours: dict, tz: str = BERLIN, holidays: tuple = ()) -> BusinessCalendar:
    return BusinessCalendar.from_config(hours, tz, holidays)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- everyday office arithmetic ----------------------------------------------------


def test_friday_evening_lead_is_due_monday_one_hour_after_opening():
    due = add_business_minutes(local(BERLIN, 2025, 1, 10, 18), 60, cal(OFFICE))
    assert due == local(BERLIN, 2025, 1, 13, 10)
    assert due.tzinfo is UTC
    assert due == utc(2025, 1, 13, 9)


@pytest.mark.parametrize(
    ("hours", "start", "minutes", "expected"),
    [
        pytest.param(OFFICE, (2025, 1, 14, 10), 90, (2025, 1, 14, 11, 30), id="inside"),
        pytest.param(SPLIT, (2025, 1, 14, 11, 30), 60, (2025, 1, 14, 13, 30), id="lunch"),
        pytest.param(SPLIT, (2025, 1, 14, 12, 15), 15, (2025, 1, 14, 13, 15), id="in-lunch"),
        pytest.param(SPLIT, (2025, 1, 14, 12), 0, (2025, 1, 14, 13), id="zero-at-lunch"),
        pytest.param(OFFICE, (2025, 1, 14, 16, 30), 60, (2025, 1, 15, 9, 30), id="overnight"),
        pytest.param(OFFICE, (2025, 1, 10, 16, 30), 60, (2025, 1, 13, 9, 30), id="weekend"),
        pytest.param(OFFICE, (2025, 1, 11, 12), 0, (2025, 1, 13, 9), id="saturday-zero"),
        pytest.param(OFFICE, (2025, 1, 13, 9), 0, (2025, 1, 13, 9), id="at-opening-zero"),
        pytest.param(OFFICE, (2025, 1, 13, 9), 480, (2025, 1, 13, 17), id="whole-day"),
        pytest.param(OFFICE, (2025, 1, 13, 9), 481, (2025, 1, 14, 9, 1), id="day-plus-one"),
        pytest.param(OFFICE, (2025, 1, 13, 17), 0, (2025, 1, 14, 9), id="at-closing-zero"),
        pytest.param(OFFICE, (2025, 1, 13, 17), 1, (2025, 1, 14, 9, 1), id="at-closing-one"),
        pytest.param(OFFICE, (2025, 1, 13, 8, 59), 1, (2025, 1, 13, 9, 1), id="before-open"),
        # 20 full days (4 weeks, across the March DST change) + 400 minutes.
        pytest.param(OFFICE, (2025, 3, 3, 9), 10_000, (2025, 3, 31, 15, 40), id="10k"),
    ],
)
def test_add_business_minutes_office(hours, start, minutes, expected):
    calendar = cal(hours)
    due = add_business_minutes(local(BERLIN, *start), minutes, calendar)
    assert due == local(BERLIN, *expected)
    assert business_minutes_between(local(BERLIN, *start), due, calendar) == minutes


def test_holiday_monday_pushes_to_tuesday():
    easter = cal(OFFICE, holidays=("2025-04-18", "2025-04-21"))
    due = add_business_minutes(local(BERLIN, 2025, 4, 17, 16, 30), 60, easter)
    assert due == local(BERLIN, 2025, 4, 22, 9, 30)
    assert not is_open(local(BERLIN, 2025, 4, 21, 10), easter)
    assert is_open(local(BERLIN, 2025, 4, 22, 10), easter)
    # The same calendar without holidays would answer Friday.
    plain = add_business_minutes(local(BERLIN, 2025, 4, 17, 16, 30), 60, cal(OFFICE))
    assert plain == local(BERLIN, 2025, 4, 18, 9, 30)


def test_holiday_accepts_date_objects():
    calendar = cal(OFFICE, holidays=(date(2025, 1, 13),))
    assert next_opening(local(BERLIN, 2025, 1, 11, 12), calendar) == local(BERLIN, 2025, 1, 14, 9)


def test_is_open_edges_are_half_open():
    calendar = cal(OFFICE)
    assert is_open(local(BERLIN, 2025, 1, 13, 9), calendar)
    assert is_open(local(BERLIN, 2025, 1, 13, 16, 59, 59, 999_999), calendar)
    assert not is_open(local(BERLIN, 2025, 1, 13, 17), calendar)
    assert not is_open(local(BERLIN, 2025, 1, 13, 8, 59, 59, 999_999), calendar)
    assert not is_open(local(BERLIN, 2025, 1, 11, 12), calendar)


def test_next_opening():
    calendar = cal(OFFICE)
    inside = local(BERLIN, 2025, 1, 13, 10, 15, 7)
    assert next_opening(inside, calendar) == inside
    assert next_opening(inside, calendar).tzinfo is UTC
    assert next_opening(local(BERLIN, 2025, 1, 13, 17), calendar) == local(BERLIN, 2025, 1, 14, 9)
    assert next_opening(local(NEW_YORK, 2025, 1, 10, 12), calendar) == local(BERLIN, 2025, 1, 13, 9)


def test_inputs_in_any_timezone_give_the_same_instant():
    calendar = cal(OFFICE)
    a = add_business_minutes(local(BERLIN, 2025, 1, 10, 18), 60, calendar)
    b = add_business_minutes(local(NEW_YORK, 2025, 1, 10, 12), 60, calendar)
    c = add_business_minutes(utc(2025, 1, 10, 17), 60, calendar)
    assert a == b == c


def test_fractional_minutes_keep_microseconds():
    calendar = cal(OFFICE)
    assert add_business_minutes(local(BERLIN, 2025, 1, 13, 9), 0.5, calendar) == local(
        BERLIN, 2025, 1, 13, 9, 0, 30
    )
    # 30 s before closing, 60 s the next morning.
    assert add_business_minutes(local(BERLIN, 2025, 1, 13, 16, 59, 30), 1.5, calendar) == local(
        BERLIN, 2025, 1, 14, 9, 1
    )
    almost = local(BERLIN, 2025, 1, 13, 16, 59, 59, 999_999)
    tick = timedelta(microseconds=1)
    assert add_business_time(almost, tick, calendar) == local(BERLIN, 2025, 1, 13, 17)
    assert add_business_time(almost, 2 * tick, calendar) == local(BERLIN, 2025, 1, 14, 9, 0, 0, 1)
    assert (
        business_minutes_between(
            local(BERLIN, 2025, 1, 13, 9), local(BERLIN, 2025, 1, 13, 9, 0, 45), calendar
        )
        == 0.75
    )


def test_add_business_time_matches_minutes():
    calendar = cal(SPLIT)
    start = local(BERLIN, 2025, 1, 14, 11, 45)
    assert add_business_time(start, timedelta(hours=2), calendar) == add_business_minutes(
        start, 120, calendar
    )


def test_between_is_antisymmetric_and_zero_on_empty_span():
    calendar = cal(OFFICE)
    a, b = local(BERLIN, 2025, 1, 10, 16), local(BERLIN, 2025, 1, 14, 10)
    assert business_minutes_between(a, b, calendar) == 60 + 480 + 60
    assert business_minutes_between(b, a, calendar) == -(60 + 480 + 60)
    assert business_minutes_between(a, a, calendar) == 0


def test_between_over_a_30_day_span():
    calendar = cal(OFFICE, holidays=("2025-01-01",))
    # January 2025: 23 weekdays, one holiday -> 22 days of 8 h.
    total = business_minutes_between(local(BERLIN, 2025, 1, 1), local(BERLIN, 2025, 2, 1), calendar)
    assert total == 22 * 480


# --- DST ---------------------------------------------------------------------------

SUN_EARLY = {"sun": [["00:00", "06:00"]]}


@pytest.mark.parametrize(
    ("tz", "day", "real_minutes"),
    [
        (BERLIN, (2025, 3, 30), 5 * 60),
        (BERLIN, (2025, 10, 26), 7 * 60),
        (NEW_YORK, (2025, 3, 9), 5 * 60),
        (NEW_YORK, (2025, 11, 2), 7 * 60),
        # Lord Howe shifts by 30 minutes.
        (LORD_HOWE, (2025, 10, 5), 5 * 60 + 30),
        (LORD_HOWE, (2025, 4, 6), 6 * 60 + 30),
    ],
)
def test_window_spanning_dst_switch_lasts_real_time(tz, day, real_minutes):
    calendar = cal(SUN_EARLY, tz)
    midnight = local(tz, *day)
    six = local(tz, *day, 6)
    # Sanity check that the day really switches (aware subtraction within one
    # tzinfo is wall-clock, hence the UTC conversion).
    assert six.astimezone(UTC) - midnight.astimezone(UTC) == real_minutes * MINUTE
    day_before = midnight - timedelta(hours=12)
    assert business_minutes_between(day_before, six + timedelta(hours=12), calendar) == (
        real_minutes
    )
    assert add_business_minutes(midnight, real_minutes, calendar) == six
    next_week = local(tz, *(midnight + timedelta(days=7)).timetuple()[:3])
    assert add_business_minutes(midnight, real_minutes + 1, calendar) == next_week + MINUTE


def test_berlin_spring_forward_wall_clock_after_two_real_hours():
    calendar = cal(SUN_EARLY)
    # 00:00 CET + 2 real hours = 03:00 CEST.
    due = add_business_minutes(local(BERLIN, 2025, 3, 30), 120, calendar)
    assert due == utc(2025, 3, 30, 1) == local(BERLIN, 2025, 3, 30, 3)


def test_berlin_fall_back_wall_clock_after_four_real_hours():
    calendar = cal(SUN_EARLY)
    due = add_business_minutes(local(BERLIN, 2025, 10, 26), 240, calendar)
    assert due == utc(2025, 10, 26, 2) == local(BERLIN, 2025, 10, 26, 3)


@pytest.mark.parametrize(
    ("tz", "start", "expected_utc"),
    [
        # Friday CET/EST 16:00 + 2 h -> Monday 10:00 in summer time.
        (BERLIN, (2025, 3, 28, 16), (2025, 3, 31, 8)),
        (BERLIN, (2025, 10, 24, 16), (2025, 10, 27, 9)),
        (NEW_YORK, (2025, 3, 7, 16), (2025, 3, 10, 14)),
        (NEW_YORK, (2025, 10, 31, 16), (2025, 11, 3, 15)),
    ],
)
def test_office_days_either_side_of_dst_lose_no_minute(tz, start, expected_utc):
    calendar = cal(OFFICE, tz)
    begin = local(tz, *start)
    due = add_business_minutes(begin, 120, calendar)
    assert due == utc(*expected_utc)
    assert due.astimezone(ZoneInfo(tz)).hour == 10
    friday_open = begin.replace(hour=9)
    monday_close = due.astimezone(ZoneInfo(tz)).replace(hour=17)
    assert business_minutes_between(friday_open, monday_close, calendar) == 2 * 480


def test_edges_in_spring_forward_gap_resolve_with_fold_0():
    # 02:30 does not exist on 2025-03-30 in Berlin; fold=0 reads it with the
    # pre-transition offset, i.e. 03:30 CEST (01:30 UTC).
    late_start = cal({"sun": [["02:30", "04:00"]]})
    assert next_opening(local(BERLIN, 2025, 3, 29, 12), late_start) == utc(2025, 3, 30, 1, 30)
    assert business_minutes_between(utc(2025, 3, 29), utc(2025, 3, 31), late_start) == 30
    early_end = cal({"sun": [["01:00", "02:30"]]})
    assert business_minutes_between(utc(2025, 3, 29), utc(2025, 3, 31), early_end) == 90
    # Reversed after conversion (03:30 CEST -> 03:00 CEST): skipped entirely.
    reversed_window = cal({"sun": [["02:30", "03:00"]]})
    assert business_minutes_between(utc(2025, 3, 29), utc(2025, 3, 31), reversed_window) == 0
    assert next_opening(utc(2025, 3, 29), reversed_window) == local(BERLIN, 2025, 4, 6, 2, 30)


def test_windows_overlapping_after_spring_forward_are_merged():
    # [00:00 CET, 02:30->03:30 CEST) and [03:00 CEST, 04:00 CEST) overlap in real time.
    calendar = cal({"sun": [["00:00", "02:30"], ["03:00", "04:00"]]})
    assert business_minutes_between(utc(2025, 3, 29), utc(2025, 3, 31), calendar) == 180
    assert add_business_minutes(local(BERLIN, 2025, 3, 30), 180, calendar) == utc(2025, 3, 30, 2)
    assert add_business_minutes(local(BERLIN, 2025, 3, 30), 181, calendar) == local(
        BERLIN, 2025, 4, 6, 0, 1
    )


def test_edges_in_fall_back_hour_refer_to_the_first_pass():
    short = cal({"sun": [["02:00", "02:30"]]})
    assert business_minutes_between(utc(2025, 10, 25), utc(2025, 10, 27), short) == 30
    assert is_open(utc(2025, 10, 26, 0, 15), short)  # 02:15 CEST
    assert not is_open(utc(2025, 10, 26, 1, 15), short)  # 02:15 CET, second pass
    late = cal({"sun": [["02:30", "04:00"]]})
    assert business_minutes_between(utc(2025, 10, 25), utc(2025, 10, 27), late) == 150
    assert is_open(utc(2025, 10, 26, 1, 15), late)  # stays open through the second pass


# --- night shifts ------------------------------------------------------------------


def test_night_shift_crosses_midnight():
    calendar = cal(NIGHTS)
    assert add_business_minutes(local(BERLIN, 2025, 1, 13, 23), 60, calendar) == local(
        BERLIN, 2025, 1, 14
    )
    # 30 min left of Monday's shift, the rest from Tuesday 22:00.
    assert add_business_minutes(local(BERLIN, 2025, 1, 14, 5, 30), 60, calendar) == local(
        BERLIN, 2025, 1, 14, 22, 30
    )
    # Friday's shift runs into Saturday morning; nothing starts on the weekend.
    assert add_business_minutes(local(BERLIN, 2025, 1, 18, 5), 120, calendar) == local(
        BERLIN, 2025, 1, 20, 23
    )
    assert is_open(local(BERLIN, 2025, 1, 18, 5, 59), calendar)
    assert not is_open(local(BERLIN, 2025, 1, 13, 3), calendar)  # Sunday started nothing


def test_holiday_cancels_the_night_shift_starting_that_day_only():
    calendar = cal(NIGHTS, holidays=("2025-01-14",))
    assert is_open(local(BERLIN, 2025, 1, 14, 3), calendar)  # Monday's shift
    assert not is_open(local(BERLIN, 2025, 1, 14, 23), calendar)
    assert not is_open(local(BERLIN, 2025, 1, 15, 3), calendar)
    assert is_open(local(BERLIN, 2025, 1, 15, 23), calendar)
    assert add_business_minutes(local(BERLIN, 2025, 1, 14, 5), 120, calendar) == local(
        BERLIN, 2025, 1, 15, 23
    )


@pytest.mark.parametrize(
    ("start_day", "real_minutes"), [((2025, 3, 29), 7 * 60), ((2025, 10, 25), 9 * 60)]
)
def test_night_shift_across_dst(start_day, real_minutes):
    calendar = cal({"sat": [["22:00", "06:00"]]})
    start = local(BERLIN, *start_day, 22)
    end = local(BERLIN, *(start + timedelta(days=1)).timetuple()[:3], 6)
    assert business_minutes_between(start - timedelta(hours=1), end, calendar) == real_minutes
    assert add_business_minutes(start, real_minutes, calendar) == end
    assert is_open(end - timedelta(microseconds=1), calendar)
    assert not is_open(end, calendar)


# --- midnight ends and 24/7 ----------------------------------------------------------


def test_24_00_end_means_midnight():
    calendar = cal({"mon": [["18:00", "24:00"]], "tue": [["00:00", "06:00"]]})
    assert calendar.weekly[0] == ((time(18), time(0)),)
    assert add_business_minutes(local(BERLIN, 2025, 1, 13, 23, 30), 60, calendar) == local(
        BERLIN, 2025, 1, 14, 0, 30
    )
    assert (
        business_minutes_between(
            local(BERLIN, 2025, 1, 13, 12), local(BERLIN, 2025, 1, 14, 12), calendar
        )
        == 12 * 60
    )
    full_saturday = cal({"sat": [["00:00", "24:00"]]})
    assert (
        business_minutes_between(
            local(BERLIN, 2025, 1, 10), local(BERLIN, 2025, 1, 14), full_saturday
        )
        == 24 * 60
    )


TZ_NAMES = [BERLIN, NEW_YORK, LORD_HOWE, "Asia/Kolkata", "UTC"]
MIN_T = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_MINUTES = int((datetime(2026, 12, 1, tzinfo=UTC) - MIN_T) / MINUTE)


@settings(max_examples=150, deadline=None)
@given(
    tz=st.sampled_from(TZ_NAMES),
    offset_seconds=st.integers(0, SPAN_MINUTES * 60),
    seconds=st.integers(0, 40 * 24 * 3600),
    view_tz=st.sampled_from(TZ_NAMES),
)
def test_always_open_calendar_is_plain_timedelta(tz, offset_seconds, seconds, view_tz):
    calendar = cal(ALWAYS, tz)
    instant = MIN_T + timedelta(seconds=offset_seconds)
    start = instant.astimezone(ZoneInfo(view_tz))
    delta = timedelta(seconds=seconds)
    assert is_open(start, calendar)
    assert next_opening(start, calendar) == instant
    # instant + delta, not start + delta: aware local arithmetic is wall-clock.
    assert add_business_time(start, delta, calendar) == instant + delta
    assert add_business_minutes(start, seconds / 60, calendar) == instant + delta
    end = (instant + delta).astimezone(ZoneInfo(view_tz))
    assert business_minutes_between(start, end, calendar) == seconds / 60


# --- configuration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "fragments"),
    [
        ({"monday": [["09:00", "17:00"]]}, ["monday"]),
        ({"mon": [["9:00", "17:00"]]}, ["mon", "'9:00'"]),
        ({"tue": [["09:00", "25:00"]]}, ["tue", "'25:00'"]),
        ({"wed": [["09:60", "17:00"]]}, ["wed", "'09:60'"]),
        ({"thu": [["24:00", "06:00"]]}, ["thu", "'24:00'"]),
        ({"thu": [["09:00", "24:01"]]}, ["thu", "'24:01'"]),
        ({"sat": [["0a:00", "17:00"]]}, ["sat", "'0a:00'"]),
        ({"mon": [[900, "17:00"]]}, ["mon", "900"]),
        ({"fri": [["09:00", "09:00"]]}, ["fri", "09:00-09:00", "empty"]),
        ({"sun": [["00:00", "00:00"]]}, ["sun", "00:00-00:00", "empty"]),
        ({"mon": [["09:00"]]}, ["mon", "['09:00']"]),
        ({"mon": "09:00-17:00"}, ["mon", "'09:00-17:00'"]),
        ({"mon": [["09:00", "12:00"], ["11:30", "17:00"]]}, ["mon", "09:00-12:00", "11:30-17:00"]),
        ({"mon": [["22:00", "06:00"], ["23:00", "23:30"]]}, ["mon", "22:00-06:00", "23:00-23:30"]),
        (
            {"fri": [["22:00", "06:00"]], "sat": [["05:00", "10:00"]]},
            ["fri", "sat", "22:00-06:00", "05:00-10:00"],
        ),
        (
            {"sun": [["20:00", "02:00"]], "mon": [["01:00", "09:00"]]},
            ["sun", "mon", "20:00-02:00", "01:00-09:00"],
        ),
    ],
)
def test_from_config_rejects_bad_hours(hours, fragments):
    with pytest.raises(ValueError) as excinfo:
        BusinessCalendar.from_config(hours, BERLIN)
    for fragment in fragments:
        assert fragment in str(excinfo.value)
    assert validate_hours(hours)


def test_from_config_rejects_non_mapping():
    with pytest.raises(ValueError, match="mapping"):
        BusinessCalendar.from_config([["09:00", "17:00"]], BERLIN)


def test_validate_hours_collects_every_problem():
    problems = validate_hours({"mon": [["9:00", "17:00"]], "xyz": [], "fri": [["10:00", "10:00"]]})
    assert len(problems) == 3
    assert any("xyz" in p for p in problems)


@pytest.mark.parametrize(
    "hours",
    [
        {},
        OFFICE,
        SPLIT,
        NIGHTS,
        ALWAYS,
        {"mon": [["09:00", "12:00"], ["12:00", "17:00"]]},  # touching is fine
        {"mon": [["22:00", "06:00"]], "tue": [["06:00", "14:00"]]},
        {"sun": [["18:00", "24:00"]], "mon": [["00:00", "08:00"]]},
        {"mon": []},
    ],
)
def test_validate_hours_accepts_good_hours(hours):
    assert validate_hours(hours) == []
    BusinessCalendar.from_config(hours, BERLIN)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc/passwd", "America"])
def test_from_config_rejects_unknown_timezone(tz):
    with pytest.raises(ValueError, match="unknown timezone") as excinfo:
        BusinessCalendar.from_config(OFFICE, tz)
    assert repr(tz) in str(excinfo.value)


@pytest.mark.parametrize(
    "holiday", ["2025-02-30", "25/12/2025", "2025-W01-1", "tomorrow", datetime(2025, 1, 1)]
)
def test_from_config_rejects_bad_holiday(holiday):
    with pytest.raises(ValueError, match="holiday") as excinfo:
        BusinessCalendar.from_config(OFFICE, BERLIN, [holiday])
    assert str(holiday) in str(excinfo.value) or repr(holiday) in str(excinfo.value)


def test_from_config_accepts_zoneinfo_and_sorts_windows():
    calendar = BusinessCalendar.from_config(
        {"tue": [["13:00", "17:00"], ["09:00", "12:00"]]}, ZoneInfo(BERLIN)
    )
    assert calendar.tz == ZoneInfo(BERLIN)
    assert calendar.weekly[0] == ()
    assert calendar.weekly[1] == ((time(9), time(12)), (time(13), time(17)))


def test_calendar_is_hashable_comparable_and_picklable():
    a = cal(OFFICE, holidays=("2025-01-01",))
    b = cal(dict(OFFICE), holidays=(date(2025, 1, 1),))
    assert a == b and hash(a) == hash(b)
    assert a != cal(OFFICE)
    c = pickle.loads(pickle.dumps(a))
    assert c == a and hash(c) == hash(a)
    assert add_business_minutes(local(BERLIN, 2025, 1, 10, 18), 60, c) == utc(2025, 1, 13, 9)


def test_direct_construction():
    calendar = BusinessCalendar(
        tz=ZoneInfo("UTC"), weekly=[[(time(9), time(17))]] + [[]] * 6, holidays={date(2025, 1, 6)}
    )
    assert isinstance(calendar.holidays, frozenset)
    assert next_opening(utc(2025, 1, 5), calendar) == utc(2025, 1, 13, 9)
    with pytest.raises(ValueError, match="7 entries"):
        BusinessCalendar(tz=ZoneInfo("UTC"), weekly=((),) * 6)


# --- error handling ----------------------------------------------------------------

NAIVE = datetime(2025, 1, 13, 10)
AWARE = local(BERLIN, 2025, 1, 13, 10)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: is_open(NAIVE, c),
        lambda c: next_opening(NAIVE, c),
        lambda c: add_business_minutes(NAIVE, 5, c),
        lambda c: add_business_time(NAIVE, timedelta(minutes=5), c),
        lambda c: business_minutes_between(NAIVE, AWARE, c),
        lambda c: business_minutes_between(AWARE, NAIVE, c),
    ],
)
def test_naive_datetimes_are_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal(OFFICE))


@pytest.mark.parametrize("minutes", [-1, -0.5, float("nan"), float("inf")])
def test_bad_minutes_are_rejected(minutes):
    with pytest.raises(ValueError):
        add_business_minutes(AWARE, minutes, cal(OFFICE))


def test_negative_timedelta_is_rejected():
    with pytest.raises(ValueError):
        add_business_time(AWARE, timedelta(seconds=-1), cal(OFFICE))


def test_calendar_without_hours():
    empty = cal({})
    assert not empty.has_hours
    with pytest.raises(ValueError, match="calendar has no working hours"):
        add_business_minutes(AWARE, 10, empty)
    with pytest.raises(ValueError, match="calendar has no working hours"):
        add_business_minutes(AWARE, 0, empty)
    assert next_opening(AWARE, empty) is None
    assert not is_open(AWARE, empty)
    assert business_minutes_between(AWARE, AWARE + timedelta(days=30), empty) == 0


def _mondays(first: date, last: date) -> list[date]:
    return [first + timedelta(days=d) for d in range(0, (last - first).days + 1, 7)]


def test_holidays_on_every_working_day_for_years_raise_instead_of_looping():
    mondays = {"mon": [["09:00", "17:00"]]}
    calendar = BusinessCalendar.from_config(
        mondays, BERLIN, _mondays(date(2024, 12, 30), date(2031, 12, 29))
    )
    with pytest.raises(ValueError, match="no working hours"):
        add_business_minutes(local(BERLIN, 2025, 1, 1), 60, calendar)
    assert next_opening(local(BERLIN, 2025, 1, 1), calendar) is None


def test_two_years_of_holidays_are_skipped_not_mistaken_for_a_dead_calendar():
    mondays = {"mon": [["09:00", "17:00"]]}
    calendar = BusinessCalendar.from_config(
        mondays, BERLIN, _mondays(date(2024, 12, 30), date(2026, 12, 28))
    )
    assert add_business_minutes(local(BERLIN, 2025, 1, 1), 60, calendar) == local(
        BERLIN, 2027, 1, 4, 10
    )


def test_module_does_not_import_django():
    tree = ast.parse(Path(bh.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported
    assert "django" not in imported


# --- properties --------------------------------------------------------------------

ROUND_TRIP_HOURS = [
    OFFICE,
    SPLIT,
    NIGHTS,
    {"sun": [["00:00", "06:00"]], "wed": [["01:30", "02:45"]]},
]


@settings(max_examples=200, deadline=None)
@given(
    hours=st.sampled_from(ROUND_TRIP_HOURS),
    tz=st.sampled_from(TZ_NAMES),
    offset_seconds=st.integers(0, SPAN_MINUTES * 60),
    seconds=st.integers(0, 3000 * 60),
    align=st.booleans(),
)
def test_round_trip_between_inverts_add(hours, tz, offset_seconds, seconds, align):
    calendar = cal(hours, tz)
    start = MIN_T + timedelta(seconds=offset_seconds)
    if align:
        start = next_opening(start, calendar)
    minutes = seconds / 60
    due = add_business_minutes(start, minutes, calendar)
    assert due >= start
    assert business_minutes_between(start, due, calendar) == minutes
    assert add_business_minutes(start, minutes + 1, calendar) > due
    if seconds:
        assert is_open(due - timedelta(microseconds=1), calendar)


# --- brute-force oracle ------------------------------------------------------------


class WallClockOracle:
    """Minute-by-minute reference that decides openness from the local wall clock.

    Windows are ``(start_minute, end_minute)`` offsets from a local day's midnight
    (``end_minute`` > 1440 when crossing midnight). A UTC minute is open iff its
    effective wall time ``w`` satisfies ``edge(S) <= w < edge(E)`` for a window of
    a non-holiday local day, where, for DST:

    * ``edge(X)``: a wall time skipped by spring-forward takes effect shifted by
      the jump (02:30 -> 03:30), which is what fold=0 means;
    * ``w`` of an instant in the second pass of a fall-back hour is the wall time
      just before the clocks went back: edges inside the repeated hour refer to
      the first pass, so the second pass keeps whatever state was reached by then.

    All wall times are aware datetimes sharing ``self.tz``: Python compares and
    offsets such datetimes by their wall-clock fields (fold ignored), which is
    exactly the wall-clock reading wanted here, and is cheaper than naive copies.
    """

    def __init__(self, tz: str, windows: dict[int, list[tuple[int, int]]], holidays: set[date]):
        self.tz = ZoneInfo(tz)
        self.windows = windows
        self.holidays = holidays
        self._edges: dict[date, list[tuple[datetime, datetime]]] = {}

    def _edge(self, wall: datetime) -> datetime:
        jump = wall.replace(fold=1).utcoffset() - wall.utcoffset()
        return wall + jump if jump > timedelta(0) else wall

    def _day_edges(self, day: date) -> list[tuple[datetime, datetime]]:
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        spans = [] if day in self.holidays else self.windows.get(day.weekday(), [])
        return [
            (self._edge(midnight + s * MINUTE), self._edge(midnight + e * MINUTE)) for s, e in spans
        ]

    def _candidates(self, day: date) -> list[tuple[datetime, datetime]]:
        # Windows reach at most into the day after next, so a wall time on `day`
        # can only be inside windows of day-2..day.
        if day not in self._edges:
            self._edges[day] = [
                edges for back in range(3) for edges in self._day_edges(day - timedelta(days=back))
            ]
        return self._edges[day]

    def _wall(self, t: datetime) -> datetime:
        here = t.astimezone(self.tz)
        if here.fold:
            while (t - MINUTE).astimezone(self.tz).fold:
                t -= MINUTE
            here = (t - timedelta(microseconds=1)).astimezone(self.tz)
        return here

    def is_open(self, t: datetime) -> bool:
        wall = self._wall(t)
        return any(lo <= wall < hi for lo, hi in self._candidates(wall.date()))

    def walk(self, start: datetime, minutes: int, span: int, limit: int) -> tuple[datetime, int]:
        """(instant when ``minutes`` open minutes are used up, open minutes in ``span``)."""
        t, used, due, counted = start, 0, None, 0
        for step in range(limit):
            if due is not None and step >= span:
                return due, counted
            is_open_now = self.is_open(t)
            if step < span:
                counted += is_open_now
            if due is None and is_open_now:
                if minutes == 0:
                    due = t
                elif used + 1 == minutes:
                    due = t + MINUTE
                used += 1
            t += MINUTE
        raise AssertionError("oracle step limit reached; scenario too sparse")


def _transitions(tz: str) -> list[datetime]:
    zone = ZoneInfo(tz)
    found, t = [], MIN_T
    previous = t.astimezone(zone).utcoffset()
    while t < datetime(2027, 1, 1, tzinfo=UTC):
        offset = (t + timedelta(hours=1)).astimezone(zone).utcoffset()
        if offset != previous:
            found.append(t)
        previous, t = offset, t + timedelta(hours=1)
    return found


TRANSITIONS = {tz: _transitions(tz) for tz in TZ_NAMES}
assert len(TRANSITIONS[LORD_HOWE]) == 6 and len(TRANSITIONS[BERLIN]) == 6


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def scenarios(draw):
    """A random weekly schedule, holidays, start instant, budget and span.

    Mostly, in DST zones, the scenario is focused on one transition: window
    edges cluster within 1.5 or 4 h of its local wall time and the start is shortly
    before it, so gaps, repeated hours and night shifts across them get exercised.
    """
    tz = draw(st.sampled_from(TZ_NAMES))
    transition = draw(st.sampled_from(TRANSITIONS[tz])) if TRANSITIONS[tz] else None
    focus = transition is not None and draw(st.integers(0, 3)) > 0
    step = draw(st.sampled_from([1, 15, 30] if focus else [1, 15, 15, 30, 60]))
    week = 7 * 1440 // step
    points = draw(st.sets(st.integers(0, week - 1), min_size=2, max_size=14))
    rotate = 0
    if focus:
        # The hour after the scan hit always holds the transition.
        wall = (transition + timedelta(hours=1)).astimezone(ZoneInfo(tz))
        center = (wall.weekday() * 1440 + wall.hour * 60) // step
        radius = draw(st.sampled_from([90, 240])) // step
        near = st.integers(max(0, center - radius), min(week - 1, center + radius))
        points |= draw(st.sets(near, min_size=2, max_size=8))
    else:
        rotate = draw(st.integers(0, week - 1))
    points = sorted(points)[: len(points) // 2 * 2]

    windows: dict[int, list[tuple[int, int]]] = {}
    hours: dict[str, list[list[str]]] = {}
    for lo, hi in zip(points[::2], points[1::2], strict=True):
        start = (lo + rotate) % week * step
        length = min((hi - lo) * step, 1440)
        if length == 1440 and start % 1440:
            length -= step
        day, start = divmod(start, 1440)
        end = start + length
        windows.setdefault(day, []).append((start, end))
        end_text = "24:00" if end == 1440 else _hhmm(end % 1440)
        hours.setdefault(WEEKDAYS[day], []).append([_hhmm(start), end_text])
    weekly_minutes = sum(e - s for spans in windows.values() for s, e in spans)

    if transition is not None and (focus or draw(st.booleans())):
        start = transition + draw(st.integers(-3 * 1440, 720)) * MINUTE
    else:
        start = MIN_T + draw(st.integers(0, SPAN_MINUTES)) * MINUTE
    first_day = start.astimezone(ZoneInfo(tz)).date()
    holidays = {
        first_day + timedelta(days=d) for d in draw(st.sets(st.integers(-2, 35), max_size=6))
    }
    # Keeps the oracle walk to a few weeks however sparse the schedule.
    minutes = min(draw(st.integers(0, 3000)), 2 * weekly_minutes)
    span = draw(st.integers(0, 8000))
    return tz, hours, windows, holidays, start, minutes, span


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_matches_wall_clock_oracle(scenario):
    tz, hours, windows, holidays, start, minutes, span = scenario
    calendar = BusinessCalendar.from_config(hours, tz, sorted(holidays))
    oracle = WallClockOracle(tz, windows, holidays)
    due, counted = oracle.walk(start, minutes, span, limit=120_000)

    assert is_open(start, calendar) == oracle.is_open(start)
    assert add_business_minutes(start, minutes, calendar) == due
    if minutes == 0:
        assert next_opening(start, calendar) == due
    end = start + span * MINUTE
    assert business_minutes_between(start, end, calendar) == counted
    assert business_minutes_between(end, start, calendar) == -counted
