"""Logging a contact attempt: the moment the first human touch stops the deadline clock."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from leadfollow import signals
from leadfollow.conf import lf_settings
from leadfollow.models import ContactAttempt, Lead, LeadStatus


def stops_clock(attempt: ContactAttempt) -> bool:
    return not attempt.automated or lf_settings.AUTOMATED_ATTEMPTS_STOP_CLOCK


@transaction.atomic
def record_attempt(
    lead: Lead,
    *,
    rep,
    channel: str,
    outcome: str,
    note: str = "",
    attempted_at: datetime | None = None,
    automated: bool = False,
    next_follow_up_at: datetime | None = None,
) -> ContactAttempt:
    """Store an attempt and stamp the lead's contact times.

    The stamps are computed in SQL (earliest first contact, latest last contact) under a
    row lock, so two attempts logged at once, or one logged late, leave the right times.
    """
    was_contacted = (
        Lead.objects.select_for_update()
        .filter(pk=lead.pk, first_contacted_at__isnull=False)
        .exists()
    )
    attempt = ContactAttempt.objects.create(
        lead=lead,
        rep=rep,
        channel=channel,
        outcome=outcome,
        note=note,
        attempted_at=attempted_at or timezone.now(),
        automated=automated,
    )
    at = Value(attempt.attempted_at)
    changes = {"last_contacted_at": Coalesce(Greatest(F("last_contacted_at"), at), at)}
    first = stops_clock(attempt) and not was_contacted
    if stops_clock(attempt):
        changes["first_contacted_at"] = Coalesce(Least(F("first_contacted_at"), at), at)
        # Only a person working the lead makes it "working"; an auto-reply does not.
        changes["status"] = Case(
            When(status=LeadStatus.NEW, then=Value(LeadStatus.WORKING)), default=F("status")
        )
    if next_follow_up_at is not None:
        changes["next_follow_up_at"] = next_follow_up_at
    Lead.objects.filter(pk=lead.pk).update(**changes, updated_at=timezone.now())
    lead.refresh_from_db()
    signals.lead_contacted.send(sender=Lead, lead=lead, attempt=attempt, first=first)
    return attempt
