from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AssignmentReason(models.TextChoices):
    INTAKE = "intake", _("New lead")
    SLA_BREACH = "sla_breach", _("First-response deadline missed")
    REP_UNAVAILABLE = "rep_unavailable", _("Rep became unavailable")
    MANUAL = "manual", _("Assigned by a manager")
    HANDED_BACK = "handed_back", _("Handed back by the rep")
    ESCALATION = "escalation", _("Escalated to managers")


class AppendOnlyError(Exception):
    pass


class Assignment(models.Model):
    """Who held a lead when and why. Append-only: rows are never changed or deleted."""

    # No single-column index on ``lead`` or ``to_rep``: the (lead, created_at) and (to_rep,
    # created_at) indexes below serve every lookup by either, and each index is written
    # again for every row intake and the sweep append.
    lead = models.ForeignKey(
        "leadfollow.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="assignments",
        db_index=False,
    )
    from_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to rep"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leadfollow_assignments",
        db_index=False,
    )
    reason = models.CharField(_("reason"), max_length=32, choices=AssignmentReason.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Who made the change; empty when leadfollow did it."),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    first_response_due = models.DateTimeField(_("deadline set"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    # The one column written after insert, by a conditional UPDATE, so a notification
    # task delivered twice sends once.
    notified_at = models.DateTimeField(_("rep notified at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"
        indexes = [
            models.Index(fields=["lead", "created_at"], name="leadfollow_assign_lead_idx"),
            models.Index(fields=["to_rep", "created_at"], name="leadfollow_assign_rep_idx"),
            # The sweep's "lost notifications" pass reads unsent rows of the last 24 hours:
            # a partial index keeps it to those few rows however long the history.
            models.Index(
                fields=["created_at"],
                condition=models.Q(notified_at__isnull=True),
                name="leadfollow_assign_unsent_idx",
            ),
            # The response report's breaches of a period when it counts them from these rows
            # (a source asked for): every row but the intake ones, which are most of the
            # table (one per lead) and never a breach; PostgreSQL proves a breach's reasons
            # imply this predicate, so the query reads the moves, not every lead's row.
            models.Index(
                fields=["created_at"],
                condition=~models.Q(reason="intake"),
                name="leadfollow_assign_moves_idx",
            ),
            # Its escalations on their own: rows that send nothing stay unsent (with
            # NOTIFY_ON_ASSIGNMENT off, every assignment), and the pass looks for the
            # rare unsent escalation every minute.
            models.Index(
                fields=["created_at"],
                condition=models.Q(notified_at__isnull=True, reason="escalation"),
                name="leadfollow_assign_esc_idx",
            ),
        ]

    def __str__(self) -> str:
        # No related rows here (lists of assignments would fetch each): reason and time.
        at = timezone.localtime(self.created_at) if self.created_at else None
        return f"{self.get_reason_display()} · {at:%Y-%m-%d %H:%M}" if at else str(self.reason)

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Assignment history is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Assignment history is append-only.")
