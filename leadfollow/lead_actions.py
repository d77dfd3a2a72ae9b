"""What a rep does to a lead besides logging a bare attempt: outcome-driven status changes,
status, follow-ups and handing a lead back to the pool. Views, API and admin call these."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadfollow.attempts import record_attempt
from leadfollow.models import (
    Assignment,
    AssignmentReason,
    ContactAttempt,
    Lead,
    LeadStatus,
    Outcome,
)

# The one place that says which outcomes close a lead.
OUTCOME_STATUS: dict[str, str] = {
    Outcome.DECISION_MAKER: LeadStatus.QUALIFIED,
    Outcome.MEETING_BOOKED: LeadStatus.QUALIFIED,
    Outcome.NOT_INTERESTED: LeadStatus.DISQUALIFIED,
}


class NotAssigned(Exception):
    """The lead has no owner to hand it back from."""


@transaction.atomic
def log_attempt(
    lead: Lead,
    *,
    rep,
    channel: str,
    outcome: str,
    note: str = "",
    next_follow_up_at: datetime | None = None,
    attempted_at: datetime | None = None,
) -> ContactAttempt:
    """Record an attempt (``record_attempt`` stamps the contact times), then apply the outcome.

    An outcome in ``OUTCOME_STATUS`` moves the lead to that status. A follow-up that was
    already due counts as done, unless the rep scheduled the next one.
    """
    attempt = record_attempt(
        lead,
        rep=rep,
        channel=channel,
        outcome=outcome,
        note=note,
        attempted_at=attempted_at,
        next_follow_up_at=next_follow_up_at,
    )
    if outcome in OUTCOME_STATUS:
        set_status(lead, OUTCOME_STATUS[outcome])
    if (
        next_follow_up_at is None
        and lead.next_follow_up_at is not None
        and lead.next_follow_up_at <= attempt.attempted_at
    ):
        schedule_follow_up(lead, None)
    return attempt


def set_status(lead: Lead, status: str) -> None:
    LeadStatus(status)  # ValueError on anything else
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(status=status, updated_at=now)
    lead.status, lead.updated_at = status, now


def schedule_follow_up(lead: Lead, at: datetime | None) -> None:
    """Set (or with ``None`` clear) the next follow-up time."""
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=at, updated_at=now)
    lead.next_follow_up_at, lead.updated_at = at, now


@transaction.atomic
def hand_back(lead: Lead, *, actor, note: str = "", now: datetime | None = None) -> Assignment:
    """Give the lead back to the pool: no owner, an ``Assignment`` row (reason ``manual``,
    no ``to_rep``). The deadline is kept; the sweep reroutes the lead.

    ``note`` is the rep's reason, kept on the Assignment row.
    """
    now = now or timezone.now()
    locked = Lead.objects.select_for_update().get(pk=lead.pk)
    if locked.owner_id is None:
        raise NotAssigned(lead.pk)
    assignment = Assignment.objects.create(
        lead=locked,
        from_rep_id=locked.owner_id,
        to_rep=None,
        reason=AssignmentReason.MANUAL,
        actor=actor,
        created_at=now,
        first_response_due=locked.first_response_due,
        note=note,
    )
    Lead.objects.filter(pk=lead.pk).update(owner=None, updated_at=now)
    lead.owner, lead.updated_at = None, now
    return assignment
