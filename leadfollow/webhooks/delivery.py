"""Sending deliveries: one attempt per task, retries with exponential backoff, the retry
pass, "send again", and disabling an endpoint that keeps failing.

Safe to run twice: an attempt claims its row with a conditional UPDATE that moves
``next_attempt_at`` past the attempt's own time limit (a lease). A second delivery of the
same task finds it claimed and does nothing; a worker that died mid-send leaves the lease
to expire, and the retry pass queues the row again. Ordering is not guaranteed; receivers
deduplicate by ``webhook-id`` (the event id).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from leadfollow import rulecache
from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue, enqueue_on_commit
from leadfollow.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from leadfollow.webhooks import outbound, signing

logger = logging.getLogger(__name__)

RETRY_PASS_LIMIT = 1000


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: base, 2 × base, 4 × base, … capped."""
    seconds = lf_settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, lf_settings.WEBHOOK_RETRY_MAX_SECONDS))


def _lease() -> timedelta:
    return timedelta(seconds=2 * lf_settings.WEBHOOK_TIMEOUT_SECONDS + 30)


def _claim(delivery_id: int, now: datetime) -> bool:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = (
        WebhookDelivery.objects.filter(due, pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(endpoint__active=True)
        .update(next_attempt_at=now + _lease(), attempts=F("attempts") + 1, last_attempt_at=now)
    )
    return bool(claimed)


def deliver(delivery_id: int) -> bool:
    """One attempt at one delivery (the task ``deliver_webhook``). Returns whether the
    receiver answered 2xx; False also when nothing was due."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = body_of(delivery)
    headers = signing.signed_headers(delivery.endpoint.secret, delivery.event_id, body)
    response = outbound.post(delivery.endpoint.url, body, headers)
    _record(delivery, response, timezone.now())
    return response.ok


def _record(delivery: WebhookDelivery, response: outbound.Response, now: datetime) -> None:
    fields = {
        "response_status": response.status,
        "duration_ms": response.duration_ms,
        "error": response.error,
    }
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    with transaction.atomic():
        if response.ok:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.DELIVERED, delivered_at=now, next_attempt_at=None, **fields
            )
            endpoint.exclude(consecutive_failures=0).update(consecutive_failures=0)
            return
        if delivery.attempts >= lf_settings.WEBHOOK_MAX_ATTEMPTS:
            fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            fields.update(next_attempt_at=now + backoff(delivery.attempts))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        endpoint.update(consecutive_failures=F("consecutive_failures") + 1)
        disabled = endpoint.filter(
            active=True, consecutive_failures__gte=lf_settings.WEBHOOK_DISABLE_AFTER_FAILURES
        ).update(active=False, disabled_at=now, disable_notified_at=None)
        if disabled:
            rulecache.invalidate("webhooks")
            logger.warning("leadfollow: webhook endpoint %s disabled", delivery.endpoint_id)
            enqueue_on_commit("notify_webhook_disabled", delivery.endpoint_id)


def retry_due(now: datetime | None = None) -> int:
    """Queue pending deliveries whose retry time (or lease) has passed, oldest first;
    every minute from the ``leadfollow.webhooks`` schedule. Changes nothing itself."""
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__active=True
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:RETRY_PASS_LIMIT]
    )
    for pk in ids:
        enqueue("deliver_webhook", pk)
    return len(ids)


def send_again(deliveries, *, user=None) -> int:
    """Queue one more attempt of each delivery to an active endpoint (the admin action).
    Returns how many; deliveries to disabled endpoints are left alone."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(deliveries.filter(endpoint__active=True).values_list("pk", flat=True))
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, requested_by=user
        )
        for pk in ids:
            enqueue_on_commit("deliver_webhook", pk)
    return len(ids)


def purge_log(now: datetime | None = None) -> int:
    """Delete finished deliveries older than ``WEBHOOK_LOG_DAYS`` (the daily purge)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=lf_settings.WEBHOOK_LOG_DAYS)
    old = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        status=DeliveryStatus.PENDING
    )
    return old.delete()[0]
