"""Opt-in tracking of a lead's visits to the host site itself: no third-party script, no
tracking service, nothing for visitors who are not leads already.

``MIDDLEWARE = [..., "leadfollow.tracking.TrackingMiddleware"]`` and
``LEADFOLLOW["TRACKING_ENABLED"] = True``. A visitor is known as a lead by

* a signed cookie (``TRACKING_COOKIE_NAME``) set when they sent the contact form
  (``leadfollow.intake_views.ContactFormView``), or
* a signed token (``?lf_t=…``) on links in leadfollow's e-mails: ``{% load
  leadfollow_tracking %}{{ "https://example.com/pricing/"|tracked_for:lead }}``; following
  one records an ``email_click`` and sets the cookie.

Nothing is recorded or stored (no cookie either) when tracking is off, when the browser
sends ``DNT: 1`` or ``Sec-GPC: 1``, or without consent (the ``TRACKING_CONSENT_COOKIE``
cookie set to "1", "true" or "yes" by the site's own consent banner). Only successful GET
requests for HTML pages count; a reload within ``TRACKING_DEDUPE_MINUTES`` counts once.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from leadfollow.conf import lf_settings
from leadfollow.models import EventType

logger = logging.getLogger(__name__)

COOKIE_SALT = "leadfollow.tracking.cookie"
TOKEN_SALT = "leadfollow.tracking.token"
TOKEN_PARAMETER = "lf_t"
CONSENTING = frozenset({"1", "true", "yes"})


def consent_given(request: HttpRequest) -> bool:
    name = lf_settings.TRACKING_CONSENT_COOKIE
    if name is None:
        return True
    return request.COOKIES.get(name, "").strip().lower() in CONSENTING


def tracking_allowed(request: HttpRequest) -> bool:
    """On, consented to, and neither Do-Not-Track nor Global Privacy Control."""
    if not lf_settings.TRACKING_ENABLED:
        return False
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return False
    return consent_given(request)


def lead_token(lead_id: int) -> str:
    """A signed, timestamped token naming a lead, for links in e-mails to it."""
    return signing.dumps(lead_id, salt=TOKEN_SALT, compress=False)


def tracked_url(url: str, lead_id: int) -> str:
    """``url`` with the lead's token (``lf_t``) added to its query."""
    parts = urlsplit(url)
    query = [
        *parse_qsl(parts.query, keep_blank_values=True),
        (TOKEN_PARAMETER, lead_token(lead_id)),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _token_lead(request: HttpRequest) -> int | None:
    token = request.GET.get(TOKEN_PARAMETER)
    if not token:
        return None
    max_age = lf_settings.TRACKING_TOKEN_MAX_AGE_DAYS * 86400
    try:
        value = signing.loads(token, salt=TOKEN_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cookie_lead(request: HttpRequest) -> int | None:
    max_age = lf_settings.TRACKING_COOKIE_MAX_AGE_DAYS * 86400
    value = request.get_signed_cookie(
        lf_settings.TRACKING_COOKIE_NAME, default=None, salt=COOKIE_SALT, max_age=max_age
    )
    return int(value) if value and value.isascii() and value.isdecimal() else None


def remember_lead(request: HttpRequest, response: HttpResponse, lead_id: int) -> None:
    """Set the signed cookie that names the visitor's lead, if tracking is allowed."""
    if not tracking_allowed(request):
        return
    response.set_signed_cookie(
        lf_settings.TRACKING_COOKIE_NAME,
        str(lead_id),
        salt=COOKIE_SALT,
        max_age=lf_settings.TRACKING_COOKIE_MAX_AGE_DAYS * 86400,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def page_event_type(path: str) -> str:
    for prefix, event_type in (lf_settings.TRACKING_PAGES or {}).items():
        if path.startswith(prefix) and event_type in EventType.values:
            return event_type
    return EventType.PAGE_VIEW


def _dedupe_id(lead_id: int, event_type: str, path: str, now: datetime) -> str:
    window = max(int(lf_settings.TRACKING_DEDUPE_MINUTES), 1) * 60
    bucket = int(now.timestamp()) // window
    digest = hashlib.sha256(path.encode("utf-8", "replace")).hexdigest()[:24]
    return f"{lead_id}:{event_type}:{digest}:{bucket}"


def _countable(request: HttpRequest, response: HttpResponse) -> bool:
    if request.method != "GET" or response.status_code != 200:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    path = request.path_info
    return not any(path.startswith(p) for p in lf_settings.TRACKING_EXCLUDE_PREFIXES or ())


def track(request: HttpRequest, response: HttpResponse, now: datetime | None = None) -> int:
    """Record what this request says about a known lead; returns events stored (0-2)."""
    from leadfollow.engagement import SITE_SOURCE, record_events

    if not tracking_allowed(request) or not _countable(request, response):
        return 0
    now = now or timezone.now()
    path = request.path_info[:500]
    items = []
    lead_id = _token_lead(request)
    if lead_id is not None:
        click = EventType.EMAIL_CLICK
        items.append({"lead_id": lead_id, "type": click, "properties": {"path": path},
                      "id": _dedupe_id(lead_id, click, path, now)})  # fmt: skip
        remember_lead(request, response, lead_id)
    else:
        lead_id = _cookie_lead(request)
    if lead_id is None:
        return 0
    event_type = page_event_type(path)
    items.append({"lead_id": lead_id, "type": event_type, "properties": {"path": path},
                  "id": _dedupe_id(lead_id, event_type, path, now)})  # fmt: skip
    with transaction.atomic():
        results = record_events(items, source=SITE_SOURCE, now=now)
    return sum(1 for result in results if result.status == 201)


class TrackingMiddleware:
    """Records page views of known leads after the response is built; a failure is
    logged and never breaks the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if lf_settings.TRACKING_ENABLED:
            try:
                track(request, response)
            except Exception:
                logger.exception("leadfollow: could not record a page view")
        return response
