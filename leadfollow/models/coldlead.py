from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadfollow.models.lead import (
    BREACH_WARNING_MINUTES,
    Lead,
    LeadQuerySet,
    about_to_breach_q,
    cold_q,
)


class ColdLeadQuerySet(LeadQuerySet):
    def at_risk(self, now: datetime | None = None, minutes: int = BREACH_WARNING_MINUTES):
        """Cold, or about to breach within ``minutes``."""
        now = now or timezone.now()
        return self.filter(cold_q(now) | about_to_breach_q(now, minutes))


class ColdLeadManager(models.Manager.from_queryset(ColdLeadQuerySet)):
    """Only leads that are cold right now (open, uncontacted, past their deadline)."""

    def get_queryset(self) -> ColdLeadQuerySet:
        return super().get_queryset().cold(timezone.now())


class ColdLead(Lead):
    """Cold leads as their own admin changelist, with the managers' bulk actions.

    Nothing is stored: it is the ``leads`` table seen through :meth:`LeadQuerySet.cold`.
    ``ColdLead.all_leads`` reads every lead (e.g. to include leads about to breach).
    """

    objects = ColdLeadManager()
    all_leads = ColdLeadQuerySet.as_manager()

    class Meta:
        proxy = True
        verbose_name = _("cold lead")
        verbose_name_plural = _("cold leads")
        ordering = ["first_response_due", "pk"]
