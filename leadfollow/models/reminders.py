"""A ledger of reminders sent, so each follow-up or early warning goes out once."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReminderKind(models.TextChoices):
    SLA_WARNING = "sla_warning", _("First-response deadline approaching")
    FOLLOW_UP = "follow_up", _("Follow-up due")
    HEATING_UP = "heating_up", _("Lead heating up")


class Reminder(models.Model):
    """One row per (lead, kind, instant): the unique constraint is what makes it once.

    ``due_at`` is the deadline or follow-up time the reminder is about, so a new
    deadline (reassignment) or a new follow-up date earns a new reminder.
    """

    lead = models.ForeignKey(
        "leadfollow.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    kind = models.CharField(_("kind"), max_length=32, choices=ReminderKind.choices)
    due_at = models.DateTimeField(_("due at"))
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Claimed by a conditional UPDATE, so a notification task delivered twice sends once.
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "kind", "due_at"], name="leadfollow_reminder_once"
            )
        ]
        indexes = [
            # The sweep's "lost notifications" pass: only the few unsent rows, never the history.
            models.Index(
                fields=["created_at"],
                condition=models.Q(notified_at__isnull=True),
                name="leadfollow_reminder_unsent_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.kind} @ {self.due_at:%Y-%m-%d %H:%M}"
