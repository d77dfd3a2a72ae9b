"""The audit trail of erasures: who erased how many records when, and nothing personal."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ErasureVia(models.TextChoices):
    COMMAND = "command", _("Management command")
    ADMIN = "admin", _("Admin action")
    API = "api", _("API")
    RETENTION = "retention", _("Retention schedule")
    CODE = "code", _("Code")


class ErasureRecord(models.Model):
    """One erasure that changed something. Holds lead ids and counts, never the address or
    anything else the erased rows held: the request itself is personal data."""

    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when leadfollow did it (retention) or a command without --actor."),
    )
    via = models.CharField(_("via"), max_length=16, choices=ErasureVia.choices)
    forced = models.BooleanField(_("open leads forced"), default=False)
    lead_ids = models.JSONField(_("leads"), default=list)
    counts = models.JSONField(_("records per model"), default=dict)
    records = models.PositiveIntegerField(_("records erased"), default=0)

    class Meta:
        verbose_name = _("erasure record")
        verbose_name_plural = _("erasure records")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} · {self.get_via_display()} · {self.records}"
