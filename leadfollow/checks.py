"""System checks for the LEADFOLLOW settings. Ids are stable: leadfollow.E001…"""

from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from leadfollow.businesshours import BusinessCalendar, validate_hours
from leadfollow.conf import DEFAULTS, lf_settings


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@register(Tags.compatibility)
def check_settings(app_configs=None, **kwargs) -> list:
    errors: list = []
    user = getattr(settings, "LEADFOLLOW", None)
    if user is None:
        user = {}
    if not isinstance(user, dict):
        return [Error("settings.LEADFOLLOW must be a dict.", id="leadfollow.E000")]
    unknown = sorted(set(user) - set(DEFAULTS))
    if unknown:
        errors.append(
            Error(
                f"Unknown LEADFOLLOW setting(s): {', '.join(unknown)}.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="leadfollow.E001",
            )
        )
    hours = lf_settings.BUSINESS_HOURS
    problems = validate_hours(hours) if isinstance(hours, dict) else ["it must be a dict"]
    if problems:
        errors.append(
            Error(
                "LEADFOLLOW['BUSINESS_HOURS'] is invalid: " + "; ".join(problems),
                hint='Example: {"mon": [["09:00", "17:00"]], "fri": [["09:00", "15:00"]]}',
                id="leadfollow.E002",
            )
        )
    elif not any(hours.values()):
        errors.append(
            Error("LEADFOLLOW['BUSINESS_HOURS'] has no working hours.", id="leadfollow.E002")
        )
    tz = lf_settings.TIME_ZONE
    if not isinstance(tz, str) or tz not in available_timezones():
        errors.append(
            Error(
                f"LEADFOLLOW['TIME_ZONE'] {lf_settings.TIME_ZONE!r} is not an IANA time zone.",
                id="leadfollow.E003",
            )
        )
    try:
        BusinessCalendar.from_config({}, "UTC", lf_settings.HOLIDAYS)
    except (TypeError, ValueError) as exc:
        errors.append(
            Error(
                f"LEADFOLLOW['HOLIDAYS'] must be a list of ISO dates: {exc}", id="leadfollow.E004"
            )
        )
    for name in ("FIRST_RESPONSE_SLA_MINUTES", "DEFAULT_REP_CAPACITY", "MAX_ATTRIBUTES_BYTES"):
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E005")
            )
    by_source = lf_settings.SLA_MINUTES_BY_SOURCE
    if not isinstance(by_source, dict) or not all(map(_positive_int, by_source.values())):
        errors.append(
            Error(
                "LEADFOLLOW['SLA_MINUTES_BY_SOURCE'] must map source names to positive integers.",
                id="leadfollow.E006",
            )
        )
    if not settings.USE_TZ:
        errors.append(
            Error(
                "leadfollow needs USE_TZ = True: deadlines are instants, not wall-clock times.",
                id="leadfollow.E007",
            )
        )
    if "django_q" not in settings.INSTALLED_APPS:
        errors.append(
            Error(
                "leadfollow needs django-q2: add 'django_q' to INSTALLED_APPS.",
                id="leadfollow.E008",
            )
        )
    elif not getattr(settings, "Q_CLUSTER", None):
        errors.append(
            Warning(
                "Q_CLUSTER is not configured; notifications and sweeps need a django-q2 cluster.",
                hint='For one machine: Q_CLUSTER = {"name": "leadfollow", "orm": "default"}.',
                id="leadfollow.W001",
            )
        )
    return errors
