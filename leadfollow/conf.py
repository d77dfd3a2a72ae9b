"""The ``LEADFOLLOW`` settings dict, read lazily so ``override_settings`` just works.

from leadfollow.conf import lf_settings
lf_settings.FIRST_RESPONSE_SLA_MINUTES
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

WEEKDAY_HOURS = [["09:00", "17:00"]]

DEFAULTS: dict[str, Any] = {
    # Site-wide business calendar, used for reps without their own hours.
    "TIME_ZONE": None,  # None: settings.TIME_ZONE
    "BUSINESS_HOURS": dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), WEEKDAY_HOURS),
    "HOLIDAYS": [],  # ISO dates, e.g. ["2026-12-25"]; apply to every rep
    # Public holidays by country (ISO 3166, e.g. "DE") and subdivision (e.g. "BE"), from the
    # optional `holidays` package, for reps whose profile names no country of its own.
    "HOLIDAY_COUNTRY": None,
    "HOLIDAY_SUBDIVISION": None,
    # First-response deadline, in business minutes of the owner's calendar.
    "FIRST_RESPONSE_SLA_MINUTES": 60,
    "SLA_MINUTES_BY_SOURCE": {},  # {"ads": 15}
    # Reps
    "DEFAULT_REP_CAPACITY": 25,  # open uncontacted leads a rep may hold
    "MANAGER_GROUP": None,  # group name whose members are notified on escalation
    # Contact attempts
    "AUTOMATED_ATTEMPTS_STOP_CLOCK": False,
    # Intake
    "DEDUPLICATE_BY_EMAIL": True,
    "MAX_ATTRIBUTES_BYTES": 16 * 1024,
    # Deepest nesting of any JSON leadfollow parses or stores (bodies, attributes, working
    # hours, rule values): deeper input is refused with 400 before recursive code sees it.
    "MAX_JSON_DEPTH": 32,
    # Public contact form (leadfollow.intake_views): posts per client address (REMOTE_ADDR)
    # in the shared cache; None: not limited.
    "CONTACT_FORM_RATE": "10/hour",
    "NOTIFY_ON_ASSIGNMENT": True,
    # E-mail a new lead (templates leadfollow/email/first_touch*.txt) from a django-q2 task
    # after intake, recorded as an automated contact attempt.
    "FIRST_TOUCH_EMAIL": False,
    "FROM_EMAIL": None,  # None: settings.DEFAULT_FROM_EMAIL
    # A link the first-touch e-mail offers (e.g. "https://example.com/pricing/"); with
    # TRACKING_ENABLED it carries the lead's signed token (leadfollow.tracking).
    "FIRST_TOUCH_LINK": None,
    # Phone numbers: with the optional `phonenumbers` package and a default region (ISO
    # 3166, e.g. "DE"), leads' numbers are stored in E.164; unparsable ones as given, flagged.
    "PHONE_REGION": None,
    # API intake (leadfollow.api): signed requests older or newer than this are refused,
    # and a signature is remembered (in the database) twice this long to refuse replays.
    "API_SIGNATURE_MAX_AGE_SECONDS": 300,
    # How long an Idempotency-Key's first response is replayed (Stripe's 24 h).
    "API_IDEMPOTENCY_TTL_SECONDS": 24 * 60 * 60,
    # Intake requests per source (DRF rate syntax, e.g. "120/min"); None: not throttled.
    # Best effort (DRF throttles are not atomic): real rate limiting belongs at the proxy.
    "API_INTAKE_THROTTLE_RATE": "120/min",
    # Failed API-key or signature attempts per client address (REMOTE_ADDR) before 429;
    # None: not limited.
    "API_AUTH_FAILURE_RATE": "20/min",
    # Routing: dotted path to a strategy class with choose(candidates, *, lead, now).
    "ROUTING_STRATEGY": "leadfollow.routing.LeastLoaded",  # or leadfollow.routing.Weighted
    # Sweep (leadfollow.sweep.reassign_overdue, every minute)
    "REASSIGNMENT_SLA_MINUTES": 30,  # business minutes the next rep gets after a handover
    "MAX_MISSES": 3,  # the Nth missed first-response deadline escalates instead of moving
    # Pause non-responders: after this many missed first-response deadlines within
    # PAUSE_WINDOW_HOURS a rep gets no new leads until they resume (None: never pause).
    "PAUSE_AFTER_MISSES": 5,
    "PAUSE_WINDOW_HOURS": 24,
    "SELF_PAUSE_MINUTES": 60,  # "I'm away for an hour" on the rep's queue
    "EARLY_WARNING_SHARE": None,  # e.g. 0.75: warn the owner once 75% of the SLA elapsed
    "SWEEP_BATCH_SIZE": 100,  # leads locked and moved per transaction
    # Scoring (leadfollow.scoring) and urgency (Lead.objects.by_urgency)
    "HOT_SCORE_THRESHOLD": None,  # e.g. 50: leads scoring at least this get HOT_SLA_MINUTES
    "HOT_SLA_MINUTES": 5,  # first-response SLA of hot leads (never longer than the usual one)
    # Urgency: a fresh lead sorts as if due URGENCY_MINUTES_PER_POINT earlier per point of
    # score; that head start halves with every URGENCY_HALF_LIFE_HOURS of the lead's age.
    "URGENCY_HALF_LIFE_HOURS": 1.0,
    "URGENCY_MINUTES_PER_POINT": 0.25,
    "RESCORE_BATCH_SIZE": 5000,  # leads per UPDATE when rules change
    # Outbound webhooks (leadfollow.webhooks, docs/webhooks.md)
    "WEBHOOK_TIMEOUT_SECONDS": 5,  # connect and read; the whole exchange at most twice this
    "WEBHOOK_MAX_RESPONSE_BYTES": 64 * 1024,  # read at most this much of an answer
    # Refuse URLs resolving to private, loopback, link-local, multicast or reserved
    # addresses (SSRF). Turn on only for receivers on your own network (and in tests).
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": False,
    "WEBHOOK_MAX_ATTEMPTS": 8,  # per delivery; then it is marked failed ("send again" in the admin)
    # Retry n waits base * 2**(n-1) seconds, at most WEBHOOK_RETRY_MAX_SECONDS; the retry
    # pass runs every minute, so a retry also waits for the next pass.
    "WEBHOOK_RETRY_BASE_SECONDS": 30,
    "WEBHOOK_RETRY_MAX_SECONDS": 6 * 60 * 60,
    # Failed attempts in a row after which an endpoint is disabled and the managers told.
    "WEBHOOK_DISABLE_AFTER_FAILURES": 20,
    # Delivered and failed deliveries (with their payloads) are deleted after this many
    # days by the daily purge; pending ones are kept until they finish.
    "WEBHOOK_LOG_DAYS": 30,
    # Alert channels (leadfollow.alerts): a rep's RepProfile.alert_channel picks one key.
    "ALERT_CHANNELS": {
        "email": "leadfollow.alerts.EmailChannel",
        "chat": "leadfollow.alerts.ChatWebhookChannel",
        "webhook": "leadfollow.alerts.SignedWebhookChannel",
    },
    # Live queue (static/leadfollow/livequeue.js): seconds between polls of the JSON endpoint.
    "LIVE_QUEUE_POLL_SECONDS": 5,
    # Personal data (leadfollow.privacy, docs/privacy.md)
    # Refuse intake without consent_purpose and consent_text (API, contact form, create_lead).
    "REQUIRE_CONSENT": False,
    # Days a closed lead is kept after its last change before the daily leadfollow.retention
    # schedule erases its personal data, per status; None or absent: kept.
    # E.g. {"disqualified": 180, "qualified": None}. Open statuses cannot be listed.
    "RETENTION_DAYS": {},
    # Subject-access exports name reps "rep 1", "rep 2"… instead of their names.
    "EXPORT_PSEUDONYMISE_REPS": False,
    # API intake attaches a repeat e-mail to an open lead of *another* source (answering 202)
    # only when True: that answer tells a key the address is someone else's lead. False:
    # a key's answers depend on its own source's leads only.
    "API_DEDUPLICATE_ACROSS_SOURCES": False,
    # Engagement (leadfollow.engagement; docs/engagement.md). Each event earns its type's
    # points, halving every ENGAGEMENT_HALF_LIFE_DAYS; events older than
    # ENGAGEMENT_WINDOW_DAYS earn nothing. Added to the profile score, with EngagementRules.
    "ENGAGEMENT_POINTS": {
        "page_view": 1,
        "pricing_view": 5,
        "email_open": 1,
        "email_click": 3,
        "form_repeat": 10,
        "meeting_booked": 20,
        "custom": 1,
    },
    "ENGAGEMENT_HALF_LIFE_DAYS": 7.0,
    "ENGAGEMENT_WINDOW_DAYS": 90,
    "ENGAGEMENT_BATCH_SIZE": 1000,  # leads per transaction of the hourly decay pass
    "MAX_EVENT_BATCH": 500,  # events per POST to the event intake API
    "MAX_EVENT_PROPERTIES_BYTES": 4 * 1024,
    # Heating up: an event lifting a lead across HOT_SCORE_THRESHOLD, or raising its score
    # by HEATING_UP_JUMP points at once (None: off), alerts its owner once; the lead stays
    # "heated" for at least HEATING_UP_COOLDOWN_HOURS and until it falls below the threshold.
    "HEATING_UP_JUMP": None,
    "HEATING_UP_COOLDOWN_HOURS": 24,
    # A contacted lead not contacted for this long that heats up gets a follow-up due now.
    "HEATING_UP_QUIET_HOURS": 24,
    "HEATED_UP_MARK_MINUTES": 60,  # the rep queue marks leads heated up this recently
    # Host-site tracking (leadfollow.tracking.TrackingMiddleware): off unless enabled; never
    # for a Do-Not-Track or Global-Privacy-Control browser; only with the consent cookie's
    # value "1"/"true"/"yes" (None: the site asks for consent elsewhere, e.g. it only
    # serves leads who agreed). Events: page_view, or the type of the first matching
    # TRACKING_PAGES prefix, e.g. {"/pricing/": "pricing_view"}.
    "TRACKING_ENABLED": False,
    "TRACKING_CONSENT_COOKIE": "leadfollow_consent",
    "TRACKING_COOKIE_NAME": "leadfollow_lead",
    "TRACKING_COOKIE_MAX_AGE_DAYS": 180,
    "TRACKING_TOKEN_MAX_AGE_DAYS": 30,  # signed tokens on links in leadfollow's e-mails
    "TRACKING_PAGES": {},
    "TRACKING_EXCLUDE_PREFIXES": ["/admin/", "/static/", "/media/"],
    "TRACKING_DEDUPE_MINUTES": 10,  # a reload of the same page within this counts once
    # Outcome report (leadfollow.outcomes): a bucket's qualification rate is compared with
    # the reference bucket's only when both hold at least this many decided (qualified or
    # disqualified) leads; below it the report says "too few" instead of a ratio.
    "OUTCOME_MIN_DECIDED": 20,
    # The bucket the others are compared with: within_1h, 5m, 1h, 24h, later, never, pending.
    "OUTCOME_REFERENCE_BUCKET": "within_1h",
    # Response report: above this many contacted leads in the period, its percentiles (clock
    # time per rep and source, time to qualification, business time) are estimated from
    # the fixed sample of one lead in REPORT_SAMPLE_EVERY (PostgreSQL; docs/scaling.md).
    "EXACT_PERCENTILES_UP_TO": 100_000,
}


class LeadFollowSettings:
    """Attribute access to ``settings.LEADFOLLOW`` merged over ``DEFAULTS``."""

    def __init__(self, defaults: dict[str, Any]):
        self.defaults = defaults
        self._cached: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        return getattr(settings, "LEADFOLLOW", None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.defaults:
            raise AttributeError(f"Invalid leadfollow setting: {name!r}")
        if name not in self._cached:
            value = self.user_settings.get(name, self.defaults[name])
            if name == "TIME_ZONE" and value is None:
                value = settings.TIME_ZONE
            if name == "FROM_EMAIL" and value is None:
                value = settings.DEFAULT_FROM_EMAIL
            self._cached[name] = value
        return self._cached[name]

    def reload(self) -> None:
        self._cached.clear()


lf_settings = LeadFollowSettings(DEFAULTS)


#: Settings whose change invalidates what was read from them (calendars listen too).
WATCHED_SETTINGS = frozenset({"LEADFOLLOW", "TIME_ZONE", "DEFAULT_FROM_EMAIL"})


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting in WATCHED_SETTINGS:
        lf_settings.reload()
