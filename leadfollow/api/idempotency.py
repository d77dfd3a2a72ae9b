"""Idempotency-Key à la Stripe: the first response to a key is replayed for 24 hours.

The record is inserted *before* the work, in the same transaction, so a concurrent
twin blocks on the unique (source, key) index until the first request commits, then
replays its response instead of creating a second lead. Claiming is one
``INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`` (PostgreSQL and SQLite):
no lookup before it, no DELETE of an expired record, no savepoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
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
    # No savepoint: an exception from run() rolls back the whole transaction, the claim
    # with it (the view's, or this one when called outside a transaction).
    with transaction.atomic(savepoint=False):
        if _claim(source, key, request_hash, now, since):
            outcome = run()
            IdempotencyRecord.objects.filter(source=source, key=key).update(
                status_code=outcome.status, response=outcome.body
            )
            return outcome
    stored = _stored(source, key, since)
    if stored is None:  # expired between the two statements: the sender may retry
        raise KeyInFlight()
    return _replay(stored, request_hash)


def _claim(source: str, key: str, request_hash: str, now: datetime, since: datetime) -> bool:
    """Insert the key's record, or take over an expired one, in one statement: True when
    this request is the one to run. A concurrent twin's uncommitted record makes the
    statement wait; once the twin commits, its record is fresh and nothing is returned
    (the caller replays it); if the twin rolled back, this insert goes ahead."""
    meta = IdempotencyRecord._meta
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    created = meta.get_field("created_at")
    table, source_, key_, hash_, status_, response_, created_at = (
        quote(name)
        for name in (meta.db_table, "source", "key", "request_hash", "status_code", "response",
                     "created_at")
    )  # fmt: skip
    sql = (
        f"INSERT INTO {table} ({source_}, {key_}, {hash_}, {status_}, {response_}, {created_at}) "
        f"VALUES (%s, %s, %s, NULL, NULL, %s) "
        f"ON CONFLICT ({source_}, {key_}) DO UPDATE SET {hash_} = EXCLUDED.{hash_}, "
        f"{status_} = NULL, {response_} = NULL, {created_at} = EXCLUDED.{created_at} "
        f"WHERE {table}.{created_at} < %s RETURNING {quote(meta.pk.column)}"
    )
    params = [
        source,
        key,
        request_hash,
        created.get_db_prep_value(now, connection),
        created.get_db_prep_value(since, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


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
