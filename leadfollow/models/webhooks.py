"""Outbound webhooks: the endpoints managers configure and the log of every delivery."""

from __future__ import annotations

import base64
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SECRET_PREFIX = "whsec_"


class WebhookEvent(models.TextChoices):
    """One event per lifecycle change (leadfollow.ownership emits them after commit)."""

    CREATED = "lead.created", _("Lead created")
    ASSIGNED = "lead.assigned", _("Lead assigned")
    REASSIGNED = "lead.reassigned", _("Lead reassigned")
    DEADLINE_WARNING = "lead.deadline_warning", _("First-response deadline approaching")
    BREACHED = "lead.breached", _("First-response deadline missed")
    ESCALATED = "lead.escalated", _("Lead escalated")
    CONTACTED = "lead.contacted", _("Lead first contacted")
    QUALIFIED = "lead.qualified", _("Lead qualified")
    DISQUALIFIED = "lead.disqualified", _("Lead disqualified")
    HANDED_BACK = "lead.handed_back", _("Lead handed back")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _validate_events(value) -> None:
    from django.core.exceptions import ValidationError

    if not isinstance(value, list) or any(v not in WebhookEvent.values for v in value):
        raise ValidationError(
            _("Choose events from: %(events)s."), params={"events": ", ".join(WebhookEvent.values)}
        )


def _validate_secret(value: str) -> None:
    from django.core.exceptions import ValidationError

    raw = value.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        key = b""
    if not value.startswith(SECRET_PREFIX) or not 24 <= len(key) <= 64:
        raise ValidationError(
            _("A secret is “whsec_” followed by 24 to 64 bytes in base64."), code="secret"
        )


def _validate_url(value: str) -> None:
    from leadfollow.webhooks.outbound import url_error

    if error := url_error(value, resolve=False):
        from django.core.exceptions import ValidationError

        raise ValidationError(error, code="url")


class HttpURLField(models.URLField):
    """A URL field whose form adds ``https://`` to a bare host (Django 6's default)."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})


class WebhookEndpoint(models.Model):
    """A receiver of lead events. Disabled automatically after
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed attempts in a row (managers are told)."""

    name = models.CharField(_("name"), max_length=100)
    url = HttpURLField(_("URL"), max_length=500, validators=[_validate_url])
    secret = models.CharField(
        _("signing secret"),
        max_length=100,
        default=new_secret,
        validators=[_validate_secret],
        help_text=_("Standard Webhooks secret (whsec_…): give it to the receiver."),
    )
    events = models.JSONField(
        _("events"),
        default=list,
        blank=True,
        validators=[_validate_events],
        help_text=_("Empty: every event."),
    )
    active = models.BooleanField(_("active"), default=True)
    consecutive_failures = models.PositiveIntegerField(
        _("failures in a row"), default=0, editable=False
    )
    disabled_at = models.DateTimeField(
        _("disabled automatically at"), null=True, blank=True, editable=False
    )
    disable_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event: str) -> bool:
        return not self.events or event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: written with the change (same transaction), sent after
    commit by a django-q2 task, retried with exponential backoff.

    ``payload`` is the whole body, and the only place a delivery holds personal data:
    erasure blanks it."""

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event_id = models.CharField(_("event id"), max_length=40, default=new_event_id)
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    lead = models.ForeignKey(
        "leadfollow.Lead",
        verbose_name=_("lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When the next attempt may start. A running attempt pushes it past its own timeout
    # (a lease), so a worker that died mid-send is retried by the retry pass.
    next_attempt_at = models.DateTimeField(_("next retry"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent again by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="leadfollow_webhook_delivery_once"
            )
        ]
        indexes = [
            # The retry pass: only the few pending rows, never the history.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="leadfollow_webhook_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.event_id})"
