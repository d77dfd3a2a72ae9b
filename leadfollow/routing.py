"""Who takes a lead: available reps, the least-loaded choice, and assign() with its audit row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Q

from leadfollow import signals
from leadfollow.businesshours import add_business_minutes, is_open, next_opening
from leadfollow.calendars import rep_calendar, site_calendar
from leadfollow.conf import lf_settings
from leadfollow.models import Assignment, Lead, RepProfile


@dataclass(frozen=True)
class Candidate:
    profile: RepProfile
    open_load: int
    starts_at: datetime  # now when working, else the start of their next working window


def sla_minutes(lead: Lead) -> int:
    return lf_settings.SLA_MINUTES_BY_SOURCE.get(
        lead.source, lf_settings.FIRST_RESPONSE_SLA_MINUTES
    )


def candidates(now: datetime, *, exclude_user_ids=()) -> list[Candidate]:
    """Reps who may take a lead: accepting, not absent, under capacity, by when they work."""
    profiles = (
        RepProfile.objects.accepting()
        .present(now)
        .exclude(user_id__in=exclude_user_ids)
        .with_open_load()
        .filter(
            Q(capacity__isnull=True, open_load__lt=lf_settings.DEFAULT_REP_CAPACITY)
            | Q(capacity__isnull=False, open_load__lt=F("capacity"))
        )
        .select_related("user")
    )
    found = []
    for profile in profiles:
        calendar = rep_calendar(profile)
        starts_at = now if is_open(now, calendar) else next_opening(now, calendar)
        if starts_at is not None:
            found.append(Candidate(profile, profile.open_load, starts_at))
    return found


def least_loaded(found: list[Candidate]) -> Candidate | None:
    """Working reps first (else whoever starts first), then the lightest load,
    then the rep assigned longest ago, so ties go round-robin."""

    def key(c: Candidate):
        last = c.profile.last_assigned_at
        return (c.starts_at, c.open_load, last.timestamp() if last else float("-inf"), c.profile.pk)

    return min(found, key=key, default=None)


def pick_rep(now: datetime, *, exclude_user_ids=()) -> Candidate | None:
    """Choose a rep and hold a row lock on their profile until the transaction ends.

    Locking the candidates in primary-key order (never one by one in load order) keeps
    concurrent intakes from deadlocking; re-reading the load after the lock keeps two
    intakes from both filling a rep's last free slot.
    """
    ids = [c.profile.pk for c in candidates(now, exclude_user_ids=exclude_user_ids)]
    if not ids:
        return None
    list(RepProfile.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    fresh = [c for c in candidates(now, exclude_user_ids=exclude_user_ids) if c.profile.pk in ids]
    return least_loaded(fresh)


def assign(
    lead: Lead,
    candidate: Candidate | None,
    *,
    reason: str,
    now: datetime,
    actor=None,
    sla: int | None = None,
) -> Assignment:
    """Give ``lead`` to the candidate's rep (or to nobody), set its deadline, write history."""
    if sla is None:
        sla = sla_minutes(lead)
    previous_owner_id = lead.owner_id
    if candidate is None:
        lead.owner = None
        lead.first_response_due = add_business_minutes(now, sla, site_calendar())
    else:
        lead.owner = candidate.profile.user
        lead.first_response_due = add_business_minutes(now, sla, rep_calendar(candidate.profile))
        RepProfile.objects.filter(pk=candidate.profile.pk).update(last_assigned_at=now)
    lead.assigned_at = now
    lead.save(update_fields=["owner", "first_response_due", "assigned_at", "updated_at"])
    assignment = Assignment.objects.create(
        lead=lead,
        from_rep_id=previous_owner_id,
        to_rep=lead.owner,
        reason=reason,
        actor=actor,
        created_at=now,
        first_response_due=lead.first_response_due,
    )
    signals.lead_assigned.send(sender=Lead, lead=lead, assignment=assignment)
    if lead.owner_id and lf_settings.NOTIFY_ON_ASSIGNMENT:
        from leadfollow.tasks import enqueue

        transaction.on_commit(lambda: enqueue("notify_assignment", assignment.pk), robust=True)
    return assignment
