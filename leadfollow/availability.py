"""Who takes leads: making users reps, pausing and resuming them (the non-responder rule,
and "I'm away for an hour").

A user becomes a rep through a ``RepProfile`` row (admin: "Rep availability"); routing gives
leads only to users who have one. The only writer of a rep's pause. A paused rep gets no
new leads; the sweep hands their uncontacted leads (and overdue follow-ups) over as for an
absence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue_on_commit
from leadfollow.models import Assignment, AssignmentReason, PauseReason, RepProfile


def make_reps(users: Iterable, **defaults: Any) -> list[RepProfile]:
    """Give each of these users a ``RepProfile`` (accepting leads, the site's hours unless
    ``defaults`` say otherwise); returns the profiles created, leaving existing ones as
    they are."""
    users = list(users)
    existing = set(RepProfile.objects.filter(user__in=users).values_list("user_id", flat=True))
    created = []
    for user in users:
        if user.pk in existing:
            continue
        profile = RepProfile(user=user, **defaults)
        profile.full_clean(exclude=["user"])
        profile.save()
        created.append(profile)
        existing.add(user.pk)
    return created


def pause(
    profile: RepProfile,
    *,
    reason: str,
    now: datetime | None = None,
    until: datetime | None = None,
) -> bool:
    """Pause the rep (``until`` None: until they resume). False if already paused."""
    now = now or timezone.now()
    if profile.is_paused(now):
        return False
    changes = {
        "paused_at": now,
        "paused_until": until,
        "pause_reason": reason,
        "pause_notified_at": None,
    }
    RepProfile.objects.filter(pk=profile.pk).update(**changes)
    for name, value in changes.items():
        setattr(profile, name, value)
    if reason == PauseReason.MISSED_DEADLINES:
        enqueue_on_commit("notify_rep_paused", profile.pk)
    return True


def pause_self(profile: RepProfile, *, now: datetime | None = None) -> bool:
    """The rep steps away for ``SELF_PAUSE_MINUTES``."""
    now = now or timezone.now()
    until = now + timedelta(minutes=lf_settings.SELF_PAUSE_MINUTES)
    return pause(profile, reason=PauseReason.SELF, now=now, until=until)


def resume(profile: RepProfile) -> bool:
    """End the pause at once. False if the rep was not paused."""
    updated = RepProfile.objects.filter(pk=profile.pk, paused_at__isnull=False).update(
        paused_at=None, paused_until=None, pause_reason=""
    )
    profile.paused_at = profile.paused_until = None
    profile.pause_reason = ""
    return bool(updated)


def recent_misses(user_ids, now: datetime) -> dict[int, int]:
    """Missed first-response deadlines per rep within ``PAUSE_WINDOW_HOURS``."""
    since = now - timedelta(hours=lf_settings.PAUSE_WINDOW_HOURS)
    # A miss moves the lead on (sla_breach) or, the last one, escalates it (by leadfollow,
    # not by a manager's hand: no actor).
    missed = Q(reason=AssignmentReason.SLA_BREACH) | Q(
        reason=AssignmentReason.ESCALATION, actor__isnull=True
    )
    rows = (
        Assignment.objects.filter(
            missed,
            from_rep_id__in=user_ids,
            created_at__gt=since,
            created_at__lte=now,
        )
        .order_by()
        .values("from_rep_id")
        .annotate(n=Count("pk"))
    )
    return {row["from_rep_id"]: row["n"] for row in rows}


def pause_non_responders(user_ids, now: datetime) -> list[int]:
    """Pause each of these reps who reached ``PAUSE_AFTER_MISSES`` recent misses; returns
    the user ids paused now. Called by the sweep after it moved breached leads."""
    limit = lf_settings.PAUSE_AFTER_MISSES
    if not limit or not user_ids:
        return []
    over = [uid for uid, n in recent_misses(user_ids, now).items() if n >= limit]
    paused = []
    for profile in RepProfile.objects.filter(user_id__in=over).select_related("user"):
        if pause(profile, reason=PauseReason.MISSED_DEADLINES, now=now):
            paused.append(profile.user_id)
    return paused
