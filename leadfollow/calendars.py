"""Business calendars built from settings and rep profiles (cached; they are immutable)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from leadfollow.businesshours import BusinessCalendar
from leadfollow.conf import WATCHED_SETTINGS, lf_settings


def _freeze(hours) -> tuple:
    return tuple(sorted((day, tuple(tuple(w) for w in windows)) for day, windows in hours.items()))


@lru_cache(maxsize=256)
def _build(hours: tuple, tz: str, holidays: tuple) -> BusinessCalendar:
    return BusinessCalendar.from_config(
        {day: [list(w) for w in windows] for day, windows in hours}, tz, holidays
    )


def site_calendar() -> BusinessCalendar:
    return _build(
        _freeze(lf_settings.BUSINESS_HOURS), lf_settings.TIME_ZONE, tuple(lf_settings.HOLIDAYS)
    )


def rep_calendar(profile) -> BusinessCalendar:
    """A ``RepProfile``'s own hours and zone, each falling back to the site calendar;
    site holidays apply. ``None``: the site calendar."""
    if profile is None:
        return site_calendar()
    hours = profile.working_hours or lf_settings.BUSINESS_HOURS
    return _build(
        _freeze(hours), profile.timezone or lf_settings.TIME_ZONE, tuple(lf_settings.HOLIDAYS)
    )


def clear_cache() -> None:
    _build.cache_clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        clear_cache()
