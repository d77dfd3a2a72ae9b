"""Micro-benchmark for leadfollow.businesshours.

Run from anywhere: ``python bench/bench_businesshours.py``. Prints timings only;
it asserts nothing about speed because figures depend on the machine.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadfollow.businesshours import (  # noqa: E402 - needs the sys.path entry above
    WEEKDAYS,
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
    clear_cache,
)

BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = BusinessCalendar.from_config(
    {day: [["09:00", "17:00"]] for day in WEEKDAYS[:5]},
    BERLIN,
    ["2025-04-18", "2025-04-21", "2025-05-01", "2025-05-29", "2025-06-09"],
)
# Friday evening lead; 10,000 business minutes is about five working weeks and
# crosses Easter and the spring DST change.
START = datetime(2025, 3, 28, 18, 0, tzinfo=BERLIN)
MINUTES = 10_000
SPAN_START = datetime(2025, 3, 20, 11, 30, tzinfo=BERLIN)
SPAN_END = datetime(2025, 4, 19, 11, 30, tzinfo=BERLIN)


def per_call_us(stmt: Callable[[], object], number: int = 1000, repeat: int = 5) -> float:
    """Best-of-``repeat`` mean time per call in microseconds."""
    return min(timeit.repeat(stmt, repeat=repeat, number=number)) / number * 1e6


def cold_us(stmt: Callable[[], object], number: int = 300, repeat: int = 5) -> float:
    """Per-call time with the per-day cache cleared before every call."""

    # timeit's setup runs once per repeat, so clearing has to be part of the
    # timed statement; subtract the cost of clearing an already-empty cache.
    def run() -> None:
        clear_cache()
        stmt()

    return per_call_us(run, number=number, repeat=repeat) - per_call_us(
        clear_cache, number=number, repeat=repeat
    )


def main() -> None:
    def add() -> None:
        add_business_minutes(START, MINUTES, CALENDAR)

    def between() -> None:
        business_minutes_between(SPAN_START, SPAN_END, CALENDAR)

    due = add_business_minutes(START, MINUTES, CALENDAR)
    total = business_minutes_between(SPAN_START, SPAN_END, CALENDAR)
    print(f"calendar: Mon-Fri 09:00-17:00 Europe/Berlin, {len(CALENDAR.holidays)} holidays")
    print(f"{START.isoformat()} + {MINUTES:,} business minutes -> {due.astimezone(BERLIN)}")
    print(f"business minutes {SPAN_START:%Y-%m-%d} .. {SPAN_END:%Y-%m-%d}: {total:,.0f}")
    print()

    add()  # warm the cache for the warm figures
    print(
        f"add_business_minutes({MINUTES:,} min): cold {cold_us(add):.1f} µs, "
        f"warm {per_call_us(add, number=5000):.1f} µs per call"
    )
    between()
    print(
        f"business_minutes_between(30 days): cold {cold_us(between):.1f} µs, "
        f"warm {per_call_us(between, number=5000):.1f} µs per call"
    )


if __name__ == "__main__":
    main()
