"""What a lead did after intake: engagement events, and the rules that score them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow.models.scoring import POINTS_LIMIT

#: The longest "within D days" a count rule may ask about.
MAX_RULE_DAYS = 365


class EventType(models.TextChoices):
    PAGE_VIEW = "page_view", _("Page view")
    PRICING_VIEW = "pricing_view", _("Pricing page view")
    EMAIL_OPEN = "email_open", _("E-mail opened")
    EMAIL_CLICK = "email_click", _("E-mail link clicked")
    FORM_REPEAT = "form_repeat", _("Form submitted again")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    CUSTOM = "custom", _("Custom")


class EngagementEvent(models.Model):
    """One thing a lead did: a page view, an e-mail opened, a second form…

    ``idempotency_id`` is the sender's id for the event, unique per ``source``: the same
    event sent twice is stored once. ``properties`` is the only field that may hold
    personal data (URL, campaign, user agent…): one JSON field, so erasure can blank it.
    """

    lead = models.ForeignKey(
        "leadfollow.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="engagement_events",
    )
    type = models.CharField(_("type"), max_length=32, choices=EventType.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    source = models.SlugField(_("source"), max_length=64, db_index=False)
    idempotency_id = models.CharField(
        _("idempotency id"),
        max_length=128,
        null=True,
        blank=True,
        help_text=_("The sender's id for this event; unique per source."),
    )
    properties = models.JSONField(_("properties"), default=dict, blank=True)

    class Meta:
        verbose_name = _("engagement event")
        verbose_name_plural = _("engagement events")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "idempotency_id"],
                condition=Q(idempotency_id__isnull=False),
                name="leadfollow_event_unique_id",
            ),
        ]
        indexes = [
            # Scoring reads one lead's recent events; the timeline shows them newest first.
            models.Index(fields=["lead", "occurred_at"], name="leadfollow_event_lead_idx"),
            # The decay pass: which leads had events in the window.
            models.Index(fields=["occurred_at"], name="leadfollow_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.occurred_at:%Y-%m-%d %H:%M}"


class EngagementRule(models.Model):
    """ "At least N events of type T within D days" earns P points (behaviour scoring)."""

    name = models.CharField(_("name"), max_length=120)
    event_type = models.CharField(_("event type"), max_length=32, choices=EventType.choices)
    min_events = models.PositiveIntegerField(
        _("at least (events)"), default=1, validators=[MinValueValidator(1)]
    )
    within_days = models.PositiveIntegerField(
        _("within (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RULE_DAYS)],
    )
    points = models.IntegerField(_("points"), help_text=_("Negative values lower the score."))
    active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note for reps"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("engagement rule")
        verbose_name_plural = _("engagement rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if isinstance(self.points, int) and abs(self.points) > POINTS_LIMIT:
            raise ValidationError(
                {
                    "points": _("Points must be between -%(limit)d and %(limit)d.")
                    % {"limit": POINTS_LIMIT}
                }
            )
