"""Intake throttled per source (not per IP: ad platforms post from shared addresses)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from leadfollow.conf import lf_settings
from leadfollow.models import ApiKey


class SourceRateThrottle(SimpleRateThrottle):
    """``LEADFOLLOW["API_INTAKE_THROTTLE_RATE"]`` requests per source, counted in the
    default cache (share it between web workers, e.g. Redis). Best effort: DRF's
    read-then-write is not atomic, so real rate limiting belongs at the proxy."""

    scope = "leadfollow_intake"

    def get_rate(self) -> str | None:
        return lf_settings.API_INTAKE_THROTTLE_RATE

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.source}
