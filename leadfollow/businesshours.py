"""Business-hours arithmetic for SLA deadlines.

Pure Python (stdlib only, no Django), so it can be used from models, tasks and
system checks alike, and tested without a database.

Semantics
---------
A :class:`BusinessCalendar` holds, for each weekday, a list of windows in *local
wall time* of ``cal.tz``, plus a set of local holiday dates.

* An instant ``t`` is **open** iff for some local day ``D`` that is not a holiday
  and some window ``(start, end)`` of ``D``'s weekday, ``t`` lies in the half-open
  interval ``[U(D, start), U(D', end))``, where ``D' = D + 1`` if ``end <= start``
  (the window crosses midnight) else ``D``, and ``U`` converts a local wall time
  to UTC. All arithmetic happens on those UTC intervals.
* A window belongs to the day it *starts* on: a holiday on ``D`` cancels the whole
  of ``D``'s night shift (including the part after midnight), while the night
  shift that started on ``D - 1`` still runs into the holiday morning.
* ``"24:00"`` (config) is stored as ``time(0)`` and, by the ``end <= start`` rule,
  means midnight at the end of the day; ``(time(0), time(0))`` is a full day.
* DST: ``U`` always resolves with ``fold=0``. In wall-clock terms:

  - an edge inside the spring-forward gap takes effect at the instant the
    *pre-transition* clock would have shown it, i.e. shifted later by the DST
    offset (Berlin 2025-03-30: an edge at 02:30 means 03:30 CEST);
  - an edge inside the fall-back repeated hour refers to the *first* pass; during
    the second pass the calendar stays in the state it had just before the
    clocks went back (a 00:00-06:00 window on the fall-back day lasts 7 real
    hours, 02:00-02:30 lasts 30 minutes, not 60);
  - a window that becomes empty or reversed after conversion is skipped, and
    intervals that DST makes overlap are merged, so no instant counts twice.

* :func:`add_business_minutes` with 0 minutes returns :func:`next_opening`; with
  ``N > 0`` it returns the instant at which ``N`` open minutes have elapsed, which
  may be exactly a window's end (an 8-hour SLA from 09:00 is due at 17:00 the
  same day). Starting exactly at a window's end, the budget is spent in the next
  window, because that end instant itself is closed.

All inputs must be timezone-aware; all returned datetimes are in UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "add_business_minutes",
    "add_business_time",
    "business_minutes_between",
    "clear_cache",
    "is_open",
    "next_opening",
    "validate_hours",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_MINUTE = timedelta(minutes=1)
_MIDNIGHT = time(0)
_DAY_MINUTES = 24 * 60
# A window of day D lies within local [D 00:00, D+2 00:00] shifted by at most one
# DST gap, so only days D-2..D+1 can reach the UTC slice of day D.
_NEIGHBOUR_DAYS = tuple(timedelta(days=k) for k in (-2, -1, 0, 1))
# Holiday seasons can close a calendar for weeks; ~3 years with no window at all
# means it will never open, and callers need an error rather than a hang.
_MAX_IDLE_DAYS = 3 * 366
# [0-9] rather than \d: \d also accepts non-ASCII digits such as "٠٩:٠٠".
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Window = tuple[time, time]
Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly opening windows in local wall time of ``tz``, minus holidays.

    ``weekly`` has 7 entries, Monday first; each is a tuple of ``(start, end)``
    windows. ``end <= start`` means the window ends on the next day. Prefer
    :meth:`from_config`, which validates; direct construction only normalises.
    """

    tz: ZoneInfo
    weekly: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.tz, tzinfo):
            raise TypeError(f"tz must be a tzinfo (e.g. ZoneInfo), got {self.tz!r}")
        if len(self.weekly) != 7:
            raise ValueError(f"weekly must have 7 entries (Monday first), got {len(self.weekly)}")
        for day_name, windows in zip(WEEKDAYS, self.weekly, strict=True):
            for s, e in windows:
                if not (isinstance(s, time) and isinstance(e, time)):
                    raise TypeError(f"{day_name}: window ({s!r}, {e!r}) must be two times")
                if s.tzinfo is not None or e.tzinfo is not None:
                    raise ValueError(f"{day_name}: window times must be naive wall times")
        # Tuples (not lists) keep the calendar hashable; fold=0 is the documented rule.
        weekly = tuple(
            tuple(sorted((s.replace(fold=0), e.replace(fold=0)) for s, e in day))
            for day in self.weekly
        )
        holidays = frozenset(self.holidays)
        for h in holidays:
            if isinstance(h, datetime) or not isinstance(h, date):
                raise TypeError(f"holidays must be dates, got {h!r}")
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "holidays", holidays)
        # The calendar is part of every cache key; hashing ~20 nested times on each
        # lookup would cost more than the lookup itself.
        object.__setattr__(self, "_hash", hash((self.tz, weekly, holidays)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    def __getstate__(self) -> dict[str, Any]:
        # date/time hashes are salted per process, so a pickled hash would be stale.
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_hash", hash((self.tz, self.weekly, self.holidays)))

    @property
    def has_hours(self) -> bool:
        """True if at least one weekday has a window (holidays aside)."""
        return any(self.weekly)

    @classmethod
    def from_config(
        cls,
        hours: Mapping[str, Sequence[Sequence[str]]],
        tz: str | ZoneInfo,
        holidays: Iterable[str | date] = (),
    ) -> BusinessCalendar:
        """Build a calendar from ``{"mon": [["09:00", "17:00"]], ...}``.

        Missing days are closed. Raises ValueError naming the offending day or
        value for malformed hours, an unknown timezone or a bad holiday.
        """
        errors = validate_hours(hours)
        if errors:
            raise ValueError("invalid business hours: " + "; ".join(errors))
        weekly = tuple(
            tuple(sorted(_parse_window(w) for w in hours.get(day, ()))) for day in WEEKDAYS
        )
        return cls(
            tz=_resolve_tz(tz),
            weekly=weekly,
            holidays=frozenset(_parse_holiday(h) for h in holidays),
        )


def validate_hours(hours: object) -> list[str]:
    """Return human-readable problems with an hours mapping (empty if valid)."""
    if not isinstance(hours, Mapping):
        return [f"hours must be a mapping of day -> [[start, end], ...], got {hours!r}"]
    errors: list[str] = []
    # Per weekday index: (start minute, end minute measured from that day's
    # midnight, so > 1440 for windows crossing midnight, "HH:MM-HH:MM" label).
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for day, windows in hours.items():
        if day not in WEEKDAYS:
            errors.append(f"unknown day {day!r} (expected one of {', '.join(WEEKDAYS)})")
            continue
        if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
            errors.append(f"{day}: expected a list of [start, end] windows, got {windows!r}")
            continue
        day_spans = spans.setdefault(WEEKDAYS.index(day), [])
        for window in windows:
            span = _check_window(day, window, errors)
            if span is not None:
                day_spans.append(span)

    for idx, day_spans in spans.items():
        day_spans.sort()
        furthest: tuple[int, int, str] | None = None
        for span in day_spans:
            if furthest is not None and span[0] < furthest[1]:
                errors.append(f"{WEEKDAYS[idx]}: windows {furthest[2]} and {span[2]} overlap")
            if furthest is None or span[1] > furthest[1]:
                furthest = span
        # A night shift's tail lands on the next day (Sunday's on Monday).
        nxt = (idx + 1) % 7
        for _, end, label in day_spans:
            if end <= _DAY_MINUTES:
                continue
            for other_start, _, other_label in spans.get(nxt, ()):
                if other_start < end - _DAY_MINUTES:
                    errors.append(
                        f"{WEEKDAYS[idx]}: window {label} runs past midnight and overlaps "
                        f"{WEEKDAYS[nxt]} window {other_label}"
                    )
    return errors


def _check_window(day: str, window: object, errors: list[str]) -> tuple[int, int, str] | None:
    if isinstance(window, (str, bytes)) or not isinstance(window, Sequence) or len(window) != 2:
        errors.append(f"{day}: window {window!r} must be a [start, end] pair")
        return None
    start_raw, end_raw = window
    start = _parse_minutes(start_raw)
    end = _parse_minutes(end_raw)
    ok = True
    if start == _DAY_MINUTES:
        errors.append(f"{day}: start time {start_raw!r} invalid, 24:00 is only allowed as an end")
        ok = False
    elif start is None:
        errors.append(f"{day}: invalid start time {start_raw!r} (expected 'HH:MM', 00:00-23:59)")
        ok = False
    if end is None:
        errors.append(f"{day}: invalid end time {end_raw!r} (expected 'HH:MM', 00:00-24:00)")
        ok = False
    if not ok or start is None or end is None:
        return None
    label = f"{start_raw}-{end_raw}"
    if start == end:
        errors.append(
            f"{day}: window {label} is empty (start equals end); use 00:00-24:00 for a full day"
        )
        return None
    return start, (end if end > start else end + _DAY_MINUTES), label


def _parse_minutes(value: object) -> int | None:
    """Minutes since midnight for 'HH:MM' (1440 for '24:00'), None if malformed."""
    if not isinstance(value, str):
        return None
    match = _HHMM.fullmatch(value)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    if (hour, minute) == (24, 0):
        return _DAY_MINUTES
    if hour > 23 or minute > 59:
        return None
    return hour * 60 + minute


def _parse_window(window: Sequence[str]) -> Window:
    start, end = (_parse_minutes(v) for v in window)
    assert start is not None and end is not None  # validate_hours ran first
    return time(start // 60, start % 60), time(end // 60 % 24, end % 60)


def _parse_holiday(value: str | date) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"invalid holiday {value!r}: expected a date, not a datetime")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"invalid holiday {value!r} (expected a date or 'YYYY-MM-DD')")


def _resolve_tz(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"unknown timezone {tz!r}")


def clear_cache() -> None:
    """Drop cached per-day UTC windows (tests and benchmarks)."""
    _day_windows.cache_clear()
    _bucket.cache_clear()


def _to_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _wall_to_utc(day: date, at: time, tz: tzinfo) -> datetime:
    # Converting through UTC (rather than doing arithmetic on aware local datetimes,
    # which zoneinfo treats as wall-clock arithmetic) is what makes DST exact.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=8192)
def _day_windows(cal: BusinessCalendar, day: date) -> tuple[Interval, ...]:
    """UTC intervals of the windows starting on local ``day`` (unmerged)."""
    if day in cal.holidays:
        return ()
    out = []
    for start, end in cal.weekly[day.weekday()]:
        lo = _wall_to_utc(day, start, cal.tz)
        hi = _wall_to_utc(day + _ONE_DAY if end <= start else day, end, cal.tz)
        if lo < hi:
            out.append((lo, hi))
    return tuple(out)


@lru_cache(maxsize=8192)
def _bucket(cal: BusinessCalendar, day: date) -> tuple[datetime, datetime, tuple[Interval, ...]]:
    """Merged open intervals within ``[U(day 00:00), U(day+1 00:00))``.

    Slicing the UTC timeline at local midnights gives every instant exactly one
    bucket, so per-day loops neither skip nor double-count anything, however
    night shifts and DST make neighbouring days' windows spill over.
    """
    lo = _wall_to_utc(day, _MIDNIGHT, cal.tz)
    hi = _wall_to_utc(day + _ONE_DAY, _MIDNIGHT, cal.tz)
    pieces: list[Interval] = []
    for offset in _NEIGHBOUR_DAYS:
        for s, e in _day_windows(cal, day + offset):
            if s < hi and e > lo:
                pieces.append((s if s > lo else lo, e if e < hi else hi))
    if len(pieces) < 2:
        return lo, hi, tuple(pieces)
    pieces.sort()
    merged = [pieces[0]]
    for s, e in pieces[1:]:
        if s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return lo, hi, tuple(merged)


def _locate(t: datetime, cal: BusinessCalendar) -> date:
    """The local day whose bucket contains UTC instant ``t``."""
    day = t.astimezone(cal.tz).date()
    # Usually right first time; zones that shift at midnight can be one day off.
    while t < _bucket(cal, day)[0]:
        day -= _ONE_DAY
    while t >= _bucket(cal, day)[1]:
        day += _ONE_DAY
    return day


def _open_intervals_from(t: datetime, cal: BusinessCalendar) -> Iterator[Interval]:
    """Open intervals at or after UTC ``t`` in order, the first clipped to ``t``.

    Stops after ``_MAX_IDLE_DAYS`` consecutive days without any opening.
    """
    day = _locate(t, cal)
    idle = 0
    while idle <= _MAX_IDLE_DAYS:
        found = False
        for s, e in _bucket(cal, day)[2]:
            if e > t:
                found = True
                yield (s if s > t else t), e
        idle = 0 if found else idle + 1
        day += _ONE_DAY


def is_open(at: datetime, cal: BusinessCalendar) -> bool:
    """Whether ``at`` falls inside a business window."""
    t = _to_utc(at, "at")
    return any(s <= t < e for s, e in _bucket(cal, _locate(t, cal))[2])


def next_opening(at: datetime, cal: BusinessCalendar) -> datetime | None:
    """``at`` (in UTC) if open, else the start of the next window.

    None if the calendar has no windows, or holidays cancel all of them for ~3 years.
    """
    t = _to_utc(at, "at")
    if not cal.has_hours:
        return None
    for s, _ in _open_intervals_from(t, cal):
        return s
    return None


def add_business_time(start: datetime, delta: timedelta, cal: BusinessCalendar) -> datetime:
    """The UTC instant when ``delta`` of business time has elapsed after ``start``.

    A zero delta gives the next opening. Raises ValueError for a negative delta,
    a calendar without hours, or one that never opens within ~3 years.
    """
    t = _to_utc(start, "start")
    if not isinstance(delta, timedelta):
        raise TypeError(f"delta must be a timedelta, got {delta!r}")
    if delta < _ZERO:
        raise ValueError(f"business time must not be negative, got {delta!r}")
    if not cal.has_hours:
        raise ValueError("calendar has no working hours")
    remaining = delta
    for s, e in _open_intervals_from(t, cal):
        span = e - s
        if remaining <= span:
            return s + remaining
        remaining -= span
    raise ValueError(
        f"calendar has no working hours for ~3 years after {t.isoformat()} "
        "(are all working days holidays?)"
    )


def add_business_minutes(start: datetime, minutes: float, cal: BusinessCalendar) -> datetime:
    """``start`` plus ``minutes`` of business time, as an aware UTC datetime.

    Fractional minutes are kept to the microsecond; see :func:`add_business_time`.
    """
    if not math.isfinite(minutes):
        raise ValueError(f"minutes must be finite, got {minutes!r}")
    if minutes < 0:
        raise ValueError(f"minutes must not be negative, got {minutes!r}")
    return add_business_time(start, timedelta(minutes=minutes), cal)


def business_minutes_between(start: datetime, end: datetime, cal: BusinessCalendar) -> float:
    """Open minutes in ``[start, end)``; negative if ``end`` is before ``start``."""
    a = _to_utc(start, "start")
    b = _to_utc(end, "end")
    if b < a:
        return -_open_between(b, a, cal) / _MINUTE
    return _open_between(a, b, cal) / _MINUTE


def _open_between(a: datetime, b: datetime, cal: BusinessCalendar) -> timedelta:
    total = _ZERO
    if a == b or not cal.has_hours:
        return total
    day = _locate(a, cal)
    while True:
        _, hi, intervals = _bucket(cal, day)
        for s, e in intervals:
            if s >= b:
                return total
            if e > a:
                total += min(e, b) - max(s, a)
        if hi >= b:
            return total
        day += _ONE_DAY
