"""django-q2 entry points: each one call into a module; arguments are ids, never personal data."""

from datetime import timedelta

from django.utils import timezone

from leadfollow.jobs import enqueue  # noqa: F401  (kept for callers of the first version)


def sweep() -> dict[str, int]:
    from leadfollow.sweep import reassign_overdue

    return reassign_overdue(timezone.now()).as_dict()


def notify_assignment(assignment_id: int) -> bool:
    from leadfollow.notifications import notify_assignment as notify

    return notify(assignment_id)


def notify_escalation(assignment_id: int) -> bool:
    from leadfollow.notifications import notify_escalation as notify

    return notify(assignment_id)


def notify_rep_paused(profile_id: int) -> bool:
    from leadfollow.notifications import notify_rep_paused as notify

    return notify(profile_id)


def notify_reminder(reminder_id: int) -> bool:
    from leadfollow.notifications import notify_reminder as notify

    return notify(reminder_id)


def rescore_open_leads() -> int:
    from leadfollow.scoring import rescore_open_leads as rescore

    return rescore()


def decay_engagement() -> int:
    from leadfollow.engagement import decay_engagement as decay

    return decay(timezone.now())


def send_first_touch(lead_id: int) -> bool:
    from leadfollow.notifications import send_first_touch as send

    return send(lead_id)


def purge_expired() -> int:
    """Delete Idempotency-Key records past ``API_IDEMPOTENCY_TTL_SECONDS`` and used
    signatures past their expiry; returns how many rows went."""
    from leadfollow.conf import lf_settings
    from leadfollow.models import IdempotencyRecord, UsedSignature

    now = timezone.now()
    ttl = timedelta(seconds=lf_settings.API_IDEMPOTENCY_TTL_SECONDS)
    return IdempotencyRecord.purge(now - ttl) + UsedSignature.purge(now)
