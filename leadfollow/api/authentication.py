"""Who posts a lead: a source's API key, or a body signed with the source's secret."""

from __future__ import annotations

import hmac
import re
import time

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from leadfollow import ratelimit, rulecache
from leadfollow.conf import lf_settings
from leadfollow.models import ApiKey, UsedSignature
from leadfollow.models.apikeys import split_key

KEYWORD = "Api-Key"
KEY_HEADER = "X-Api-Key"
KEY_ID_HEADER = "X-Leadfollow-Key-Id"
TIMESTAMP_HEADER = "X-Leadfollow-Timestamp"
SIGNATURE_HEADER = "X-Leadfollow-Signature"
# ASCII digits only: str.isdigit() also accepts "²" and a 5,000-digit number, which int()
# or the clock comparison then choke on. 12 digits reach the year 33658.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
#: Failed key or signature attempts per client address, counted by leadfollow.ratelimit.
FAILURE_SCOPE = "auth_failure"


ALREADY_USED = _("This signature was already used.")


class SourceKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates a *sender*, not a person: ``request.auth`` is the :class:`ApiKey`
    and ``request.user`` stays anonymous, so a source key can post leads and read nothing.

    * ``Authorization: Api-Key <key>`` or ``X-Api-Key: <key>``; or
    * ``X-Leadfollow-Key-Id: <key id>``, ``X-Leadfollow-Timestamp: <unix seconds>`` and
      ``X-Leadfollow-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">``.
      Signatures older (or newer) than ``API_SIGNATURE_MAX_AGE_SECONDS`` are refused, and
      each is accepted once.
    """

    def authenticate(self, request):
        # Guessing keys or signatures costs the guesser: after API_AUTH_FAILURE_RATE failures
        # from one address, 429 until the window ends (a source's own traffic is counted
        # per source by the intake throttle instead).
        address = ratelimit.client_address(request)
        rate = lf_settings.API_AUTH_FAILURE_RATE
        if ratelimit.exceeded(FAILURE_SCOPE, address, rate):
            raise exceptions.Throttled(
                detail=_("Too many failed authentication attempts from this address.")
            )
        try:
            raw_key = self._raw_key(request)
            if raw_key is not None:
                return self._by_key(raw_key)
            if SIGNATURE_HEADER in request.headers:
                return self._by_signature(request)
        except exceptions.AuthenticationFailed:
            ratelimit.hit(FAILURE_SCOPE, address, rate)
            raise
        return None

    def authenticate_header(self, request) -> str:
        return KEYWORD

    def _raw_key(self, request) -> str | None:
        parts = request.headers.get("Authorization", "").split()
        if parts and parts[0].lower() == KEYWORD.lower():
            if len(parts) != 2:
                raise exceptions.AuthenticationFailed(_("Invalid API key header."))
            return parts[1]
        return request.headers.get(KEY_HEADER) or None

    def _by_key(self, raw_key: str):
        prefix = split_key(raw_key)
        api_key = _key(prefix) if prefix else None
        if api_key is None or not api_key.matches(raw_key):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        return self._checked(api_key)

    def _by_signature(self, request):
        headers = request.headers
        prefix = headers.get(KEY_ID_HEADER, "")
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "").removeprefix("sha256=")
        if not (prefix and timestamp and signature):
            raise exceptions.AuthenticationFailed(
                _("A signed request needs the %(id)s, %(ts)s and %(sig)s headers.")
                % {"id": KEY_ID_HEADER, "ts": TIMESTAMP_HEADER, "sig": SIGNATURE_HEADER}
            )
        if not TIMESTAMP.fullmatch(timestamp):
            raise exceptions.AuthenticationFailed(
                _("%(ts)s must be Unix seconds: 1 to 12 digits 0-9.") % {"ts": TIMESTAMP_HEADER}
            )
        max_age = lf_settings.API_SIGNATURE_MAX_AGE_SECONDS
        if abs(time.time() - int(timestamp)) > max_age:
            raise exceptions.AuthenticationFailed(
                _("The signature's timestamp is more than %(max)d seconds off.") % {"max": max_age}
            )
        api_key = _key(prefix)
        # Django keeps the raw body, so the parsers can still read it afterwards.
        if api_key is None or not _same(api_key.signature(timestamp, request.body), signature):
            raise exceptions.AuthenticationFailed(_("Invalid signature."))
        result = self._checked(api_key)
        # A cheap early answer; the view claims the signature in the intake's transaction
        # (leadfollow.api.replay), where the unique index decides between concurrent twins.
        if UsedSignature.objects.filter(signature=signature).exists():
            raise exceptions.AuthenticationFailed(ALREADY_USED)
        request._request.leadfollow_signature = (prefix, signature)
        return result

    def _checked(self, api_key: ApiKey):
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed(_("This API key has been revoked."))
        return (AnonymousUser(), api_key)


def connect_receivers() -> None:
    """Every process reads the keys again when one is saved, deleted, or written by a
    queryset (the admin's "revoke"): called from ready()."""
    from django.db.models.signals import post_delete, post_save

    from leadfollow.models.apikeys import keys_changed

    def changed(**kwargs) -> None:
        rulecache.invalidate("apikeys")

    for signal, uid in (
        (post_save, "lf_apikey_saved"),
        (post_delete, "lf_apikey_deleted"),
        (keys_changed, "lf_apikeys_written"),
    ):
        signal.connect(changed, sender=ApiKey, weak=False, dispatch_uid=uid)


def _key(prefix: str) -> ApiKey | None:
    """The key with this public prefix, from this process's copy of all keys while the
    shared token says none changed (a revocation is seen by the next request everywhere;
    with the cache down, every request reads the database)."""
    keys = rulecache.cached("apikeys", lambda: {k.prefix: k for k in ApiKey.objects.all()})
    return keys.get(prefix)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())
