"""Business calendars built from settings and rep profiles (cached; they are immutable).

The one place that says which days are holidays for whom: the explicit
``LEADFOLLOW["HOLIDAYS"]`` dates, plus, with the optional ``holidays`` package, the public
holidays of a country and subdivision — the rep's own (``RepProfile.holiday_country`` /
``holiday_subdivision``), else the site's (``HOLIDAY_COUNTRY`` / ``HOLIDAY_SUBDIVISION``).
Every deadline goes through :func:`rep_calendar`, so they all agree.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from leadfollow.businesshours import BusinessCalendar
from leadfollow.conf import WATCHED_SETTINGS, lf_settings

#: Public holidays are loaded for this many years before and after the current one, so the
#: list never runs out: the cache key holds the year, and a new year builds anew.
YEARS_BEFORE, YEARS_AFTER = 1, 3


#: The RepProfile columns :func:`rep_calendar` reads (for ``.only()``: a deferred one would
#: cost a query per rep).
CALENDAR_FIELDS = ("timezone", "working_hours", "holiday_country", "holiday_subdivision")


class HolidaysUnavailable(ImportError):
    """A country is configured but the ``holidays`` package is not installed."""


_frozen: dict[str, tuple] = {}


def _freeze(hours) -> tuple:
    """``hours`` as a hashable key. Remembered by its ``repr`` (cheap, C code): routing
    asks for every rep's calendar for every lead it places."""
    text = repr(hours)
    frozen = _frozen.get(text)
    if frozen is None:
        frozen = tuple(
            sorted((day, tuple(tuple(w) for w in windows)) for day, windows in hours.items())
        )
        if len(_frozen) >= 1024:
            _frozen.clear()
        _frozen[text] = frozen
    return frozen


def public_holidays(country: str, subdivision: str | None, years: range) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166 code) and ``subdivision`` in ``years``.
    Raises :class:`HolidaysUnavailable` without the package, ``ValueError`` for an unknown
    country or subdivision."""
    try:
        import holidays
    except ImportError as exc:
        raise HolidaysUnavailable(
            "public holidays by country need the 'holidays' package: "
            "pip install django-leadfollow[holidays]"
        ) from exc
    try:
        found = holidays.country_holidays(country, subdiv=subdivision or None, years=years)
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from None
    return frozenset(found)


@lru_cache(maxsize=64)
def _public(country: str, subdivision: str, first_year: int, last_year: int) -> frozenset[date]:
    return public_holidays(country, subdivision, range(first_year, last_year + 1))


@lru_cache(maxsize=256)
def _build(
    hours: tuple, tz: str, explicit: tuple, country: str, subdivision: str, year: int
) -> BusinessCalendar:
    calendar = BusinessCalendar.from_config(
        {day: [list(w) for w in windows] for day, windows in hours}, tz, explicit
    )
    if not country:
        return calendar
    public = _public(country, subdivision, year - YEARS_BEFORE, year + YEARS_AFTER)
    return BusinessCalendar(
        tz=calendar.tz, weekly=calendar.weekly, holidays=calendar.holidays | public
    )


def _year() -> int:
    return timezone.now().year


def site_calendar() -> BusinessCalendar:
    return _build(
        _freeze(lf_settings.BUSINESS_HOURS),
        lf_settings.TIME_ZONE,
        tuple(lf_settings.HOLIDAYS),
        lf_settings.HOLIDAY_COUNTRY or "",
        lf_settings.HOLIDAY_SUBDIVISION or "",
        _year(),
    )


def rep_calendar(profile) -> BusinessCalendar:
    """A ``RepProfile``'s own hours, zone and public-holiday region, each falling back to
    the site's; the site's explicit holiday dates apply to everyone. ``None``: the site
    calendar."""
    if profile is None:
        return site_calendar()
    hours = profile.working_hours or lf_settings.BUSINESS_HOURS
    country = getattr(profile, "holiday_country", "") or ""
    if country:
        subdivision = getattr(profile, "holiday_subdivision", "") or ""
    else:
        country = lf_settings.HOLIDAY_COUNTRY or ""
        subdivision = lf_settings.HOLIDAY_SUBDIVISION or ""
    return _build(
        _freeze(hours),
        profile.timezone or lf_settings.TIME_ZONE,
        tuple(lf_settings.HOLIDAYS),
        country,
        subdivision,
        _year(),
    )


def clear_cache() -> None:
    _frozen.clear()
    _build.cache_clear()
    _public.cache_clear()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        clear_cache()
