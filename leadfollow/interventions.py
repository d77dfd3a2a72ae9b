"""What a manager does to leads in bulk: reassign, assign to someone, escalate.

Plain functions over lead ids, used by the admin's bulk actions and the API. Each lead is
locked and re-read in its own transaction, so a lead the sweep moved or a rep contacted in
the meantime is seen as it is now; ``leadfollow.ownership`` makes each change and writes
its Assignment row naming the manager as ``actor``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadfollow import ownership
from leadfollow.models import AssignmentReason, Lead, RepProfile
from leadfollow.routing import pick_rep, unavailability

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


def reassign_to_next(lead_ids: Iterable[int], *, actor, now: datetime | None = None):
    """Give each lead to the next available rep (``ownership.next_rep``: not its owner,
    never one who handed it back, one who missed it only when nobody else can)."""
    now = now or timezone.now()
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            candidate = None
            if lead is not None:
                missed, handed_back = ownership.passed_over([lead])
                candidate = ownership.next_rep(
                    lead,
                    lambda **exclude: pick_rep(now, lead=lead, **exclude),  # noqa: B023
                    missed=missed[lead.pk],
                    handed_back=handed_back[lead.pk],
                )
            if candidate is None:
                result.skipped.append(lead_id)
                continue
            ownership.move(lead, candidate, reason=AssignmentReason.MANUAL, now=now, actor=actor)
            result.changed.append(lead_id)
    return result


def assign_to_rep(
    lead_ids: Iterable[int],
    rep: RepProfile,
    *,
    actor,
    now: datetime | None = None,
    confirm_unavailable: bool = False,
):
    """Give each lead to ``rep``. A rep who cannot take leads now needs
    ``confirm_unavailable`` (``ownership.RepUnavailable`` otherwise, nothing changed)."""
    now = now or timezone.now()
    reasons = unavailability(rep, now)
    if reasons and not confirm_unavailable:
        raise ownership.RepUnavailable(rep, reasons)
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            changed = None
            if lead is not None:
                changed = ownership.assign_by_manager(
                    lead, rep, actor=actor, now=now, confirm_unavailable=True
                )
            (result.changed if changed else result.skipped).append(lead_id)
    return result


def escalate(lead_ids: Iterable[int], *, actor, now: datetime | None = None):
    """Hand each open, uncontacted lead to the managers (``ownership.escalate``)."""
    now = now or timezone.now()
    result = InterventionResult()
    for lead_id in lead_ids:
        with transaction.atomic():
            lead = _locked_open(lead_id)
            if lead is None or lead.escalated_at is not None or lead.first_contacted_at:
                result.skipped.append(lead_id)
                continue
            ownership.escalate(lead, now=now, actor=actor)
            result.changed.append(lead_id)
    return result
