"""Formatting for the managers' dashboard: shares as percentages, minutes as durations."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.523 -> "52%"; None (nothing to measure) -> "–"."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.0f}%"


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
