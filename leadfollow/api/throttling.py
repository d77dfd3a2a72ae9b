"""Intake throttled per source (not per IP: ad platforms post from shared addresses)."""

from __future__ import annotations

import logging

from rest_framework.throttling import SimpleRateThrottle

from leadfollow.conf import lf_settings
from leadfollow.models import ApiKey

logger = logging.getLogger(__name__)


class SourceRateThrottle(SimpleRateThrottle):
    """``LEADFOLLOW["API_INTAKE_THROTTLE_RATE"]`` requests per source, counted in the
    default cache (share it between web workers, e.g. Redis). Best effort: DRF's
    read-then-write is not atomic, so real rate limiting belongs at the proxy."""

    scope = "leadfollow_intake"

    def allow_request(self, request, view) -> bool:
        # A lead matters more than a rate limit: with the cache down, let it in.
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.exception("Intake throttle skipped: the cache is unavailable")
            return True

    def get_rate(self) -> str | None:
        return lf_settings.API_INTAKE_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.source}
