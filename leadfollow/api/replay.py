"""Signed requests are accepted once: the signature is claimed in the database, inside the
intake's transaction (no cache: a cache outage must neither let replays in nor fail intake).

Rows expire twice ``API_SIGNATURE_MAX_AGE_SECONDS`` after use — by then the timestamp is
refused anyway — and the daily ``leadfollow.purge`` schedule deletes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from rest_framework import exceptions

from leadfollow.api.authentication import ALREADY_USED
from leadfollow.conf import lf_settings
from leadfollow.models import UsedSignature


def claim(request, now: datetime) -> None:
    """Record the request's signature, if it is signed; ``AuthenticationFailed`` if a
    request with the same signature got there first. Call inside the intake's
    ``transaction.atomic()`` so the claim commits or rolls back with it."""
    signed = getattr(request, "leadfollow_signature", None)
    if signed is None:
        return
    prefix, signature = signed
    expires_at = now + timedelta(seconds=2 * lf_settings.API_SIGNATURE_MAX_AGE_SECONDS)
    try:
        with transaction.atomic():  # a savepoint: the outer transaction stays usable
            UsedSignature.objects.create(
                key_prefix=prefix, signature=signature, expires_at=expires_at
            )
    except IntegrityError:
        raise exceptions.AuthenticationFailed(ALREADY_USED) from None
