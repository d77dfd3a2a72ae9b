"""Formatting for the managers' dashboard: shares as percentages, minutes as durations."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from leadfollow import charts

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.523 -> "52%", 0.001 -> "<1%"; None (nothing to measure) -> "–"."""
    return charts.percent(value)


@register.filter
def times(value) -> str:
    """A ratio: 4.217 -> "4.2×"; None -> "–"."""
    if value is None or value == "":
        return "–"
    value = float(value)
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


@register.filter
def duration(minutes) -> str:
    """Minutes as a short duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if minutes is None or minutes == "":
        return "–"
    minutes = float(minutes)
    if minutes < 1:
        return gettext("%(n)d s") % {"n": round(minutes * 60)}
    total = round(minutes)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return gettext("%(h)d h %(m)d min") % {"h": hours, "m": mins}
    return gettext("%(m)d min") % {"m": mins}
