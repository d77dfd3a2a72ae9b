"""Idempotency-Key à la Stripe: the first response to a key is replayed for 24 hours.

The record is inserted *before* the work, in the same transaction, so a concurrent
twin blocks on the unique (source, key) index until the first request commits, then
replays its response instead of creating a second lead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

from leadfollow.conf import lf_settings
from leadfollow.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _(
        "This Idempotency-Key was already used with a different request body. "
        "Send a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class KeyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("A request with this Idempotency-Key is still being processed.")
    default_code = "idempotency_key_in_flight"


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(raw_body: bytes) -> str:
    return hashlib.sha256(raw_body).hexdigest()


def once(
    *, source: str, key: str, raw_body: bytes, now: datetime, run: Callable[[], Outcome]
) -> Outcome:
    """``run()`` once per (source, key) within the TTL; later calls get its outcome.

    An exception from ``run()`` stores nothing, so the sender may retry with the key.
    """
    request_hash = fingerprint(raw_body)
    since = now - timedelta(seconds=lf_settings.API_IDEMPOTENCY_TTL_SECONDS)
    stored = _stored(source, key, since)
    if stored is not None:
        return _replay(stored, request_hash)
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.filter(source=source, key=key, created_at__lt=since).delete()
            record = IdempotencyRecord.objects.create(
                source=source, key=key, request_hash=request_hash, created_at=now
            )
            outcome = run()
            record.status_code, record.response = outcome.status, outcome.body
            record.save(update_fields=["status_code", "response"])
            return outcome
    except IntegrityError:
        stored = _stored(source, key, since)
        if stored is None:
            raise
        return _replay(stored, request_hash)


def _stored(source: str, key: str, since: datetime) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(source=source, key=key, created_at__gte=since).first()


def _replay(record: IdempotencyRecord, request_hash: str) -> Outcome:
    if record.request_hash != request_hash:
        raise KeyReused()
    if record.status_code is None:
        raise KeyInFlight()
    # The lead exists now: a replay of "201 Created" answers 200 with the same body.
    replayed_status = status.HTTP_200_OK if record.status_code == 201 else record.status_code
    return Outcome(replayed_status, record.response, replayed=True)
