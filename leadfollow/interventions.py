"""What a manager does to cold leads by hand: reassign, assign to someone, escalate.

Plain functions over lead ids, used by the admin's bulk actions (and usable from the
API or a shell). Each lead is locked and re-read in its own transaction, so a lead the
sweep moved or a rep contacted in the meantime is seen as it is now; each change
writes an Assignment row naming the manager as ``actor``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadfollow import signals, sweep
from leadfollow.conf import lf_settings
from leadfollow.models import Assignment, AssignmentReason, Lead, RepProfile
from leadfollow.routing import Candidate, assign, pick_rep

__all__ = ["InterventionResult", "assign_to_rep", "escalate", "reassign_to_next"]


@dataclass
class InterventionResult:
    changed: list[int] = field(default_factory=list)  # lead ids
    skipped: list[int] = field(default_factory=list)  # closed, or nobody could take it

    def __len__(self) -> int:
        return len(self.changed)


def _locked_open(lead_id: int) -> Lead | None:
    lead = Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).first()
    return lead if lead is not None and lead.is_open else None


def _move(lead: Lead, candidate: Candidate, *, actor, now: datetime) -> Assignment:
    # Like the sweep: the next rep gets the (shorter) handover deadline.
    sla = lf_settings.REASSIGNMENT_SLA_MINUTES if lead.owner_id else None
    if lead.owner_id:
        lead.reassignment_count += 1
    assignment = assign(
        lead, candidate, reason=AssignmentReason.MANUAL, now=now, actor=actor, sla=sla
    )
    signals.lead_reassigned.send(sender=Lead, lead=lead, assignment=assignment)
    return assignment


def reassign_to_next(lead_ids: Iterable[int], *, actor, now: datetime | None = None):
    """Give each lead to the next available rep other than its owner (routing's choice)."""
    now = now or timezone.now()
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            candidate = None
            if lead is not None:
                exclude = [lead.owner_id] if lead.owner_id else []
                candidate = pick_rep(now, exclude_user_ids=exclude, lead=lead)
            if candidate is None:
                result.skipped.append(lead_id)
                continue
            _move(lead, candidate, actor=actor, now=now)
            result.changed.append(lead_id)
    return result


def assign_to_rep(lead_ids: Iterable[int], rep: RepProfile, *, actor, now: datetime | None = None):
    """Give each lead to ``rep``, whatever their load or hours (the manager decided)."""
    now = now or timezone.now()
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            if lead is None or lead.owner_id == rep.user_id:
                result.skipped.append(lead_id)
                continue
            candidate = Candidate(profile=rep, open_load=0, starts_at=now)
            _move(lead, candidate, actor=actor, now=now)
            result.changed.append(lead_id)
    return result


def escalate(lead_ids: Iterable[int], *, actor, now: datetime | None = None):
    """Stamp ``escalated_at`` (the sweep then stops bouncing the lead) and record it."""
    now = now or timezone.now()
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            if lead is None or lead.escalated_at is not None:
                result.skipped.append(lead_id)
                continue
            sweep.escalate(lead, now, actor=actor)
            result.changed.append(lead_id)
    return result
