"""System checks for the LEADFOLLOW settings. Ids are stable: leadfollow.E001…"""

from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from leadfollow.businesshours import BusinessCalendar, validate_hours
from leadfollow.conf import DEFAULTS, lf_settings


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_rate(value) -> bool:
    if not isinstance(value, str) or "/" not in value:
        return False
    count, period = value.split("/", 1)
    return count.isdigit() and int(count) > 0 and period[:1] in {"s", "m", "h", "d"}


#: Limits counted in the default cache (leadfollow.ratelimit and the intake throttle).
RATE_SETTINGS = ("API_INTAKE_THROTTLE_RATE", "API_AUTH_FAILURE_RATE", "CONTACT_FORM_RATE")

#: Cache backends whose counters live in one process: each web worker would count alone.
PER_PROCESS_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)


@register(Tags.caches)
def check_shared_cache(app_configs=None, **kwargs) -> list:
    """E022: rate limits on a per-process cache multiply by the number of workers (and a
    DummyCache never counts at all); fine while developing, an error in production."""
    if settings.DEBUG:
        return []
    on = [name for name in RATE_SETTINGS if getattr(lf_settings, name) is not None]
    backend = getattr(settings, "CACHES", {}).get("default", {}).get("BACKEND", "")
    if not on or backend not in PER_PROCESS_CACHES:
        return []
    return [
        Error(
            f"{', '.join(on)} count in the default cache, but {backend} is not shared between "
            "processes: every web worker would keep its own count.",
            hint="Use a shared cache (Redis, Memcached, the database or files on one host), "
            "or set these limits to None and rate-limit at the proxy.",
            id="leadfollow.E022",
        )
    ]


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
    errors.extend(_holiday_errors())
    errors.extend(_phone_errors())
    for name in (
        "FIRST_RESPONSE_SLA_MINUTES",
        "DEFAULT_REP_CAPACITY",
        "MAX_ATTRIBUTES_BYTES",
        "MAX_JSON_DEPTH",
    ):
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
    for name in ("API_SIGNATURE_MAX_AGE_SECONDS", "API_IDEMPOTENCY_TTL_SECONDS"):
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E020")
            )
    for name in RATE_SETTINGS:
        rate = getattr(lf_settings, name)
        if rate is not None and not _is_rate(rate):
            errors.append(
                Error(
                    f"LEADFOLLOW['{name}'] {rate!r} is not a rate.",
                    hint='Use None or "<count>/<second|minute|hour|day>", e.g. "120/min".',
                    id="leadfollow.E021",
                )
            )
    errors.extend(_privacy_errors())
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


def _privacy_errors() -> list:
    from leadfollow.models.lead import OPEN_STATUSES, LeadStatus

    errors = []
    for name in ("REQUIRE_CONSENT", "EXPORT_PSEUDONYMISE_REPS", "API_DEDUPLICATE_ACROSS_SOURCES"):
        if not isinstance(getattr(lf_settings, name), bool):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be True or False.", id="leadfollow.E060")
            )
    retention = lf_settings.RETENTION_DAYS
    closed = [s for s in LeadStatus.values if s not in OPEN_STATUSES]
    if not isinstance(retention, dict) or not all(
        status in closed and (days is None or _positive_int(days))
        for status, days in retention.items()
    ):
        errors.append(
            Error(
                "LEADFOLLOW['RETENTION_DAYS'] must map closed statuses to a positive number of "
                "days or None.",
                hint=f"Closed statuses: {', '.join(closed)}. Example: "
                '{"disqualified": 180, "qualified": None}.',
                id="leadfollow.E061",
            )
        )
    return errors


def _holiday_errors() -> list:
    """E092: a holiday country without the ``holidays`` package; E093: one it does not know."""
    from leadfollow.calendars import HolidaysUnavailable, public_holidays

    country, subdivision = lf_settings.HOLIDAY_COUNTRY, lf_settings.HOLIDAY_SUBDIVISION
    if country is None:
        if subdivision is not None:
            return [
                Error(
                    "LEADFOLLOW['HOLIDAY_SUBDIVISION'] is set without a HOLIDAY_COUNTRY.",
                    id="leadfollow.E093",
                )
            ]
        return []
    if not isinstance(country, str) or not (subdivision is None or isinstance(subdivision, str)):
        return [Error("LEADFOLLOW['HOLIDAY_COUNTRY'] and ['HOLIDAY_SUBDIVISION'] must be "
                      "ISO codes such as 'DE' and 'BE'.", id="leadfollow.E093")]  # fmt: skip
    try:
        public_holidays(country, subdivision, range(2026, 2027))
    except HolidaysUnavailable:
        return [
            Error(
                f"LEADFOLLOW['HOLIDAY_COUNTRY'] is {country!r}, but the 'holidays' package is "
                "not installed: deadlines would ignore public holidays.",
                hint="pip install django-leadfollow[holidays]",
                id="leadfollow.E092",
            )
        ]
    except ValueError as exc:
        return [
            Error(
                f"LEADFOLLOW['HOLIDAY_COUNTRY'] / ['HOLIDAY_SUBDIVISION']: {exc}.",
                hint="ISO 3166 codes, e.g. 'DE' and 'BE' (Berlin), 'US' and 'NY'.",
                id="leadfollow.E093",
            )
        ]
    return []


@register(Tags.database)
def check_rep_holidays(app_configs=None, databases=None, **kwargs) -> list:
    """E092 for reps: *Rep availability* rows that name a holiday country while the
    ``holidays`` package is missing (installed when they were saved, gone since) — their
    deadlines could not be computed. A database check: ``migrate`` and
    ``check --database default`` run it."""
    from django.db import DatabaseError

    from leadfollow.calendars import HolidaysUnavailable, public_holidays
    from leadfollow.models import RepProfile

    try:
        public_holidays("DE", None, range(2026, 2027))
        return []
    except HolidaysUnavailable:
        pass
    errors = []
    for alias in databases or ():
        try:
            reps = RepProfile.objects.using(alias).exclude(holiday_country="").count()
        except DatabaseError:  # not migrated yet
            continue
        if reps:
            errors.append(
                Error(
                    f"{reps} rep(s) have public holidays by country (Rep availability → "
                    "'public holidays of'), but the 'holidays' package is not installed: "
                    "their deadlines cannot be computed.",
                    hint="pip install django-leadfollow[holidays], or clear those reps' "
                    "country in the admin.",
                    id="leadfollow.E092",
                )
            )
    return errors


def _phone_errors() -> list:
    """E094: PHONE_REGION without the ``phonenumbers`` package; E095: an unknown region."""
    from leadfollow.phones import PhonenumbersUnavailable, is_region

    region = lf_settings.PHONE_REGION
    if region is None:
        return []
    try:
        known = isinstance(region, str) and is_region(region)
    except PhonenumbersUnavailable:
        return [
            Error(
                f"LEADFOLLOW['PHONE_REGION'] is {region!r}, but the 'phonenumbers' package is "
                "not installed.",
                hint="pip install django-leadfollow[phonenumbers], or set PHONE_REGION to None.",
                id="leadfollow.E094",
            )
        ]
    if not known:
        return [
            Error(
                f"LEADFOLLOW['PHONE_REGION'] {region!r} is not a region phonenumbers knows.",
                hint="An ISO 3166 code in capitals, e.g. 'DE' or 'US'.",
                id="leadfollow.E095",
            )
        ]
    return []


def _routing_strategy_error() -> str | None:
    from django.utils.module_loading import import_string

    path = lf_settings.ROUTING_STRATEGY
    try:
        strategy = import_string(path)
    except (ImportError, TypeError, ValueError) as exc:
        return f"cannot import {path!r}: {exc}"
    if not hasattr(strategy, "choose"):
        return f"{path!r} has no choose(candidates, *, lead, now) method"
    return None


@register(Tags.compatibility)
def check_routing_and_sweep(app_configs=None, **kwargs) -> list:
    """Routing strategy, sweep settings and the django-q2 options the sweep relies on."""
    errors: list = []
    problem = _routing_strategy_error()
    if problem:
        errors.append(
            Error(
                f"LEADFOLLOW['ROUTING_STRATEGY'] is invalid: {problem}.",
                hint="Use leadfollow.routing.LeastLoaded, leadfollow.routing.Weighted or your "
                "own class with a choose() method.",
                id="leadfollow.E009",
            )
        )
    for name in ("REASSIGNMENT_SLA_MINUTES", "MAX_MISSES", "SWEEP_BATCH_SIZE"):
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E010")
            )
    for name in ("PAUSE_WINDOW_HOURS", "SELF_PAUSE_MINUTES"):
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E040")
            )
    pause = lf_settings.PAUSE_AFTER_MISSES
    if pause is not None and not _positive_int(pause):
        errors.append(
            Error(
                "LEADFOLLOW['PAUSE_AFTER_MISSES'] must be None or a positive integer.",
                hint="None never pauses a rep; 3 pauses a rep after three missed deadlines "
                "within PAUSE_WINDOW_HOURS.",
                id="leadfollow.E041",
            )
        )
    share = lf_settings.EARLY_WARNING_SHARE
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1
    ):
        errors.append(
            Error(
                "LEADFOLLOW['EARLY_WARNING_SHARE'] must be None or a number between 0 and 1.",
                hint="For example 0.75 warns the owner when three quarters of the SLA elapsed.",
                id="leadfollow.E011",
            )
        )
    errors.extend(_q_cluster_warnings())
    return errors


def _q_cluster_warnings() -> list:
    """django-q2 defaults that hurt a once-a-minute, must-not-repeat sweep (not in sync mode)."""
    q_cluster = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(q_cluster, dict) or not q_cluster or q_cluster.get("sync"):
        return []
    problems = []
    timeout, retry = q_cluster.get("timeout"), q_cluster.get("retry", 60)
    if timeout is None or timeout >= retry:
        problems.append(f"'timeout' ({timeout}) should be set below 'retry' ({retry})")
    if q_cluster.get("catch_up", True):
        problems.append("'catch_up' should be False (a missed sweep need not run in a burst)")
    if not q_cluster.get("max_attempts"):
        problems.append("'max_attempts' should be set (the ORM broker retries forever)")
    if not problems:
        return []
    return [
        Warning(
            "Q_CLUSTER: " + "; ".join(problems) + ".",
            hint='e.g. Q_CLUSTER = {"name": "leadfollow", "orm": "default", "timeout": 50, '
            '"retry": 120, "max_attempts": 3, "catch_up": False}',
            id="leadfollow.W002",
        )
    ]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_scoring(app_configs=None, **kwargs) -> list:
    """Settings of the scoring engine and the urgency order: leadfollow.E030…E039."""
    errors: list = []
    half_life = lf_settings.URGENCY_HALF_LIFE_HOURS
    if not _number(half_life) or not half_life > 0:
        errors.append(
            Error(
                "LEADFOLLOW['URGENCY_HALF_LIFE_HOURS'] must be a positive number of hours.",
                hint="For example 1.0: a lead's score weighs half as much per hour of age.",
                id="leadfollow.E030",
            )
        )
    per_point = lf_settings.URGENCY_MINUTES_PER_POINT
    if not _number(per_point) or per_point < 0:
        errors.append(
            Error(
                "LEADFOLLOW['URGENCY_MINUTES_PER_POINT'] must be a number ≥ 0.",
                hint="0 orders by deadline alone; 0.25 moves a fresh 40-point lead 10 min up.",
                id="leadfollow.E031",
            )
        )
    hot = lf_settings.HOT_SCORE_THRESHOLD
    if hot is not None and (not isinstance(hot, int) or isinstance(hot, bool)):
        errors.append(
            Error(
                "LEADFOLLOW['HOT_SCORE_THRESHOLD'] must be None or an integer score.",
                id="leadfollow.E032",
            )
        )
    for name, error_id in (("HOT_SLA_MINUTES", "leadfollow.E033"),
                           ("RESCORE_BATCH_SIZE", "leadfollow.E034")):  # fmt: skip
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id=error_id))
    return errors


WEBHOOK_INTS = (
    "WEBHOOK_TIMEOUT_SECONDS",
    "WEBHOOK_MAX_RESPONSE_BYTES",
    "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_RETRY_BASE_SECONDS",
    "WEBHOOK_RETRY_MAX_SECONDS",
    "WEBHOOK_DISABLE_AFTER_FAILURES",
    "WEBHOOK_LOG_DAYS",
)


def _alert_channel_errors() -> list:
    from django.utils.module_loading import import_string

    channels = lf_settings.ALERT_CHANNELS
    if not isinstance(channels, dict) or "email" not in channels:
        return [
            Error(
                "LEADFOLLOW['ALERT_CHANNELS'] must be a dict with an 'email' key.",
                hint="E-mail is every channel's fallback: keep leadfollow.alerts.EmailChannel.",
                id="leadfollow.E051",
            )
        ]
    errors = []
    for key, path in channels.items():
        try:
            import_string(path)
        except (ImportError, TypeError, ValueError) as exc:
            errors.append(
                Error(
                    f"LEADFOLLOW['ALERT_CHANNELS'][{key!r}] cannot be imported: {exc}",
                    id="leadfollow.E052",
                )
            )
    return errors


@register(Tags.compatibility)
def check_webhooks_and_alerts(app_configs=None, **kwargs) -> list:
    """Outbound webhooks, alert channels and the live queue: leadfollow.E050…E059."""
    errors: list = []
    for name in WEBHOOK_INTS:
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E050")
            )
    if not isinstance(lf_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES, bool):
        errors.append(
            Error(
                "LEADFOLLOW['WEBHOOK_ALLOW_PRIVATE_ADDRESSES'] must be True or False.",
                id="leadfollow.E050",
            )
        )
    errors += _alert_channel_errors()
    poll = lf_settings.LIVE_QUEUE_POLL_SECONDS
    if not _number(poll) or not poll > 0:
        errors.append(
            Error(
                "LEADFOLLOW['LIVE_QUEUE_POLL_SECONDS'] must be a positive number of seconds.",
                id="leadfollow.E053",
            )
        )
    return errors


def _tracking_name_errors() -> list:
    """E085: the tracking cookies, excluded prefixes and the first-touch link."""
    consent = lf_settings.TRACKING_CONSENT_COOKIE
    prefixes = lf_settings.TRACKING_EXCLUDE_PREFIXES
    link = lf_settings.FIRST_TOUCH_LINK
    problems = []
    if not (isinstance(lf_settings.TRACKING_COOKIE_NAME, str) and lf_settings.TRACKING_COOKIE_NAME):
        problems.append("TRACKING_COOKIE_NAME must be a cookie name")
    if consent is not None and not (isinstance(consent, str) and consent):
        problems.append("TRACKING_CONSENT_COOKIE must be a cookie name or None")
    if not isinstance(prefixes, (list, tuple)) or not all(
        isinstance(p, str) and p.startswith("/") for p in prefixes
    ):
        problems.append('TRACKING_EXCLUDE_PREFIXES must be a list of paths starting with "/"')
    if link is not None and not (
        isinstance(link, str) and link.startswith(("https://", "http://"))
    ):
        problems.append("FIRST_TOUCH_LINK must be None or an http(s) URL")
    return [Error(f"LEADFOLLOW: {problem}.", id="leadfollow.E085") for problem in problems]


@register(Tags.compatibility)
def check_engagement(app_configs=None, **kwargs) -> list:
    """Settings of engagement scoring, heating up and tracking: leadfollow.E080…E089."""
    from leadfollow.models import EventType

    errors: list = []
    points = lf_settings.ENGAGEMENT_POINTS
    if not isinstance(points, dict) or not all(
        key in EventType.values and _number(value) and 0 <= value <= 10_000
        for key, value in points.items()
    ):
        errors.append(
            Error(
                "LEADFOLLOW['ENGAGEMENT_POINTS'] must map event types to points from 0 to 10000.",
                hint=f"Event types: {', '.join(EventType.values)}.",
                id="leadfollow.E080",
            )
        )
    half_life = lf_settings.ENGAGEMENT_HALF_LIFE_DAYS
    if not _number(half_life) or not half_life > 0:
        errors.append(
            Error(
                "LEADFOLLOW['ENGAGEMENT_HALF_LIFE_DAYS'] must be a positive number of days.",
                id="leadfollow.E081",
            )
        )
    for name in (
        "ENGAGEMENT_WINDOW_DAYS", "ENGAGEMENT_BATCH_SIZE", "MAX_EVENT_BATCH",
        "MAX_EVENT_PROPERTIES_BYTES", "HEATING_UP_COOLDOWN_HOURS", "HEATING_UP_QUIET_HOURS",
        "HEATED_UP_MARK_MINUTES", "TRACKING_COOKIE_MAX_AGE_DAYS", "TRACKING_TOKEN_MAX_AGE_DAYS",
        "TRACKING_DEDUPE_MINUTES",
    ):  # fmt: skip
        if not _positive_int(getattr(lf_settings, name)):
            errors.append(
                Error(f"LEADFOLLOW['{name}'] must be a positive integer.", id="leadfollow.E082")
            )
    jump = lf_settings.HEATING_UP_JUMP
    if jump is not None and not _positive_int(jump):
        errors.append(
            Error(
                "LEADFOLLOW['HEATING_UP_JUMP'] must be None or a positive number of points.",
                id="leadfollow.E083",
            )
        )
    pages = lf_settings.TRACKING_PAGES
    if not isinstance(pages, dict) or not all(
        isinstance(prefix, str) and prefix.startswith("/") and kind in EventType.values
        for prefix, kind in pages.items()
    ):
        errors.append(
            Error(
                "LEADFOLLOW['TRACKING_PAGES'] must map path prefixes to event types.",
                hint='For example {"/pricing/": "pricing_view"}.',
                id="leadfollow.E084",
            )
        )
    errors += _tracking_name_errors()
    if lf_settings.TRACKING_ENABLED and "leadfollow.tracking.TrackingMiddleware" not in getattr(
        settings, "MIDDLEWARE", []
    ):
        errors.append(
            Warning(
                "LEADFOLLOW['TRACKING_ENABLED'] is on but TrackingMiddleware is not installed.",
                hint='Add "leadfollow.tracking.TrackingMiddleware" to MIDDLEWARE.',
                id="leadfollow.W080",
            )
        )
    return errors


SPECTACULAR_SCHEMA = "drf_spectacular.openapi.AutoSchema"


@register(Tags.compatibility)
def check_api(app_configs=None, **kwargs) -> list:
    """leadfollow.api's schema and docs pages: E090 without drf-spectacular's AutoSchema
    (``/api/schema/`` would answer 500), W091 without the sidecar's static files."""
    if "rest_framework" not in settings.INSTALLED_APPS:
        return []
    errors: list = []
    schema_class = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_SCHEMA_CLASS")
    if not _is_spectacular_schema(schema_class):
        errors.append(
            Error(
                f"REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is {schema_class!r}: leadfollow's "
                "API schema (api/schema/) and docs page (api/docs/) need drf-spectacular's.",
                hint=f'REST_FRAMEWORK = {{"DEFAULT_SCHEMA_CLASS": "{SPECTACULAR_SCHEMA}"}}',
                id="leadfollow.E090",
            )
        )
    if "drf_spectacular_sidecar" not in settings.INSTALLED_APPS:
        errors.append(
            Warning(
                "The API docs page (api/docs/) serves Swagger UI from drf-spectacular-sidecar's "
                "static files, but 'drf_spectacular_sidecar' is not in INSTALLED_APPS.",
                hint="Add 'drf_spectacular_sidecar' to INSTALLED_APPS (it is installed with "
                "django-leadfollow); nothing is loaded from a CDN.",
                id="leadfollow.W091",
            )
        )
    return errors


@register(Tags.compatibility)
def check_outcomes(app_configs=None, **kwargs) -> list:
    """Settings of the outcome report (leadfollow.outcomes): leadfollow.E070…E079."""
    from leadfollow.outcomes import OUTCOME_KEYS

    errors = []
    if not _positive_int(lf_settings.OUTCOME_MIN_DECIDED):
        errors.append(
            Error(
                "LEADFOLLOW['OUTCOME_MIN_DECIDED'] must be a positive integer.",
                hint="The decided leads a bucket needs before the report compares its "
                "qualification rate with the reference bucket's; 20 by default.",
                id="leadfollow.E070",
            )
        )
    if not _positive_int(lf_settings.EXACT_PERCENTILES_UP_TO):
        errors.append(
            Error(
                "LEADFOLLOW['EXACT_PERCENTILES_UP_TO'] must be a positive integer.",
                hint="Contacted leads in a period above which the response report estimates "
                "its percentiles from a sample; 100000 by default.",
                id="leadfollow.E072",
            )
        )
    if lf_settings.OUTCOME_REFERENCE_BUCKET not in OUTCOME_KEYS:
        errors.append(
            Error(
                f"LEADFOLLOW['OUTCOME_REFERENCE_BUCKET'] must be one of {', '.join(OUTCOME_KEYS)}.",
                id="leadfollow.E071",
            )
        )
    return errors


@register(Tags.database)
def check_rollup_zone(app_configs=None, databases=None, **kwargs) -> list:
    """W073: the response rollup files days in another zone than the site's (database
    checks run with ``migrate`` and ``check --database``)."""
    from django.db import DatabaseError

    from leadfollow import rollups

    warnings = []
    for alias in databases or ():
        try:
            built = rollups.built_zone(alias)
        except DatabaseError:
            continue  # not migrated yet
        if built is not None and built != rollups.site_zone_name():
            warnings.append(
                Warning(
                    f"The response rollup of database {alias!r} files leads by day in "
                    f"{built}, the site's time zone is {rollups.site_zone_name()}: the "
                    "report counts every lead (correct, slower) until it is rebuilt.",
                    hint=f"Run: manage.py leadfollow_rollups --rebuild --database {alias}",
                    id="leadfollow.W073",
                )
            )
    return warnings


def _is_spectacular_schema(path) -> bool:
    if path == SPECTACULAR_SCHEMA:
        return True
    if not isinstance(path, str):
        return False
    from django.utils.module_loading import import_string
    from drf_spectacular.openapi import AutoSchema

    try:
        schema_class = import_string(path)
    except ImportError:
        return False
    return isinstance(schema_class, type) and issubclass(schema_class, AutoSchema)
