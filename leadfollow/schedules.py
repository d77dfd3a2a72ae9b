"""ensure_schedules(): the django-q2 Schedule rows leadfollow needs, created or updated by name.

Idempotent, meant to run on every deploy. ``django_q.tasks.schedule()`` would raise on a
duplicate name, yet ``Schedule.name`` is not unique, so rows are matched by name here and
accidental duplicates are removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

# Each minute: the sweep moves a breached lead within a minute plus the cluster's scheduler
# tick (~30 s) plus queue wait. django-q2's catch_up is a Q_CLUSTER option, not a
# Schedule field; the system check leadfollow.W002 recommends turning it off.
SCHEDULES = {
    "leadfollow.sweep": {
        "func": "leadfollow.tasks.sweep",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "repeats": -1,
    },
    # Daily: Idempotency-Key records older than API_IDEMPOTENCY_TTL_SECONDS are never
    # replayed again, and used signatures past expiry are refused by their timestamp
    # anyway; delete both. Safe to run twice or late.
    "leadfollow.purge": {
        "func": "leadfollow.tasks.purge_expired",
        "schedule_type": Schedule.DAILY,
        "repeats": -1,
    },
    # Each minute: webhook deliveries whose retry time (or a dead worker's lease) passed.
    "leadfollow.webhooks": {
        "func": "leadfollow.tasks.retry_webhooks",
        "schedule_type": Schedule.MINUTES,
        "minutes": 1,
        "repeats": -1,
    },
    # Daily: erase the personal data of closed leads past RETENTION_DAYS (nothing when it is
    # empty) through leadfollow.privacy.erase; safe to run twice or late.
    "leadfollow.retention": {
        "func": "leadfollow.tasks.apply_retention",
        "schedule_type": Schedule.DAILY,
        "repeats": -1,
    },
    # Hourly: engagement scores decay (leadfollow.engagement.decay_engagement); writes only
    # the leads whose score changes, so a quiet hour costs reads, not writes.
    "leadfollow.engagement_decay": {
        "func": "leadfollow.tasks.decay_engagement",
        "schedule_type": Schedule.HOURLY,
        "repeats": -1,
    },
    # Every 10 minutes: collapse the response rollup's differences (PostgreSQL; nothing
    # elsewhere). The report is exact without it; it keeps the rows the report sums few.
    "leadfollow.rollups": {
        "func": "leadfollow.tasks.compact_rollups",
        "schedule_type": Schedule.MINUTES,
        "minutes": 10,
        "repeats": -1,
    },
}


@dataclass(frozen=True)
class Ensured:
    name: str
    created: bool


@transaction.atomic
def ensure_schedules() -> list[Ensured]:
    """Create or update leadfollow's schedules; returns what was done, by name."""
    done = []
    for name, fields in SCHEDULES.items():
        rows = list(Schedule.objects.select_for_update().filter(name=name).order_by("pk"))
        Schedule.objects.filter(pk__in=[row.pk for row in rows[1:]]).delete()
        if rows:
            Schedule.objects.filter(pk=rows[0].pk).update(**fields)
        else:
            Schedule.objects.create(name=name, next_run=timezone.now(), **fields)
        done.append(Ensured(name, created=not rows))
    return done
