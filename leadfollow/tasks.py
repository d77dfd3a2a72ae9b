"""django-q2 entry points: each one call into a module; arguments are ids (one task: rule
definitions), never personal data.

django-q2 stores a failed task's error text in its Task table (and logs it): each entry
point re-raises an error as ``TaskFailed`` naming the task, its id arguments and the
exception's type and line, never its message.
"""

import functools
from datetime import timedelta

from django.utils import timezone

from leadfollow.jobs import (
    describe_error,
    enqueue,  # noqa: F401  (kept for callers of the first version)
)


class TaskFailed(Exception):
    """A leadfollow task failed; the message holds ids and the error's type only."""


def ids_only(func, *, shown=repr):
    """``shown(args)``: what a failure says of the arguments (by default the ids)."""

    @functools.wraps(func)
    def entry_point(*args):
        try:
            return func(*args)
        except Exception as error:
            detail = describe_error(error)
            raise TaskFailed(f"leadfollow.tasks.{func.__name__}{shown(args)}: {detail}") from None

    return entry_point


@ids_only
def sweep() -> dict[str, int]:
    from leadfollow.sweep import reassign_overdue

    return reassign_overdue(timezone.now()).as_dict()


@ids_only
def notify_assignment(assignment_id: int) -> bool:
    from leadfollow.notifications import notify_assignment as notify

    return notify(assignment_id)


@ids_only
def notify_escalation(assignment_id: int) -> bool:
    from leadfollow.notifications import notify_escalation as notify

    return notify(assignment_id)


@ids_only
def notify_rep_paused(profile_id: int) -> bool:
    from leadfollow.notifications import notify_rep_paused as notify

    return notify(profile_id)


@ids_only
def notify_reminder(reminder_id: int) -> bool:
    from leadfollow.notifications import notify_reminder as notify

    return notify(reminder_id)


@ids_only
def rescore_open_leads() -> int:
    from leadfollow.scoring import rescore_open_leads as rescore

    return rescore()


def _rule_count(args) -> str:
    return f"(<{len(args[0])} changed rules>)"


@functools.partial(ids_only, shown=_rule_count)
def rescore_rule_changes(histories: list[list[dict | None]]) -> int:
    """The one task whose argument is not ids: each changed rule's definitions before and
    after (the old one exists nowhere else once saved). A manager's settings, not a lead's
    data; a failure names only how many rules changed."""
    from leadfollow.scoring import rescore_rule_changes as rescore

    return rescore(histories)


@ids_only
def decay_engagement() -> int:
    from leadfollow.engagement import decay_engagement as decay

    return decay(timezone.now())


@ids_only
def compact_rollups() -> int:
    from leadfollow.rollups import compact

    return compact()


@ids_only
def send_first_touch(lead_id: int) -> bool:
    from leadfollow.notifications import send_first_touch as send

    return send(lead_id)


@ids_only
def deliver_webhook(delivery_id: int) -> bool:
    from leadfollow.webhooks.delivery import deliver

    return deliver(delivery_id)


@ids_only
def retry_webhooks() -> int:
    from leadfollow.webhooks.delivery import retry_due

    return retry_due()


@ids_only
def notify_webhook_disabled(endpoint_id: int) -> bool:
    from leadfollow.notifications import notify_webhook_disabled as notify

    return notify(endpoint_id)


@ids_only
def purge_expired() -> int:
    """Delete Idempotency-Key records past ``API_IDEMPOTENCY_TTL_SECONDS``, used
    signatures past their expiry and finished webhook deliveries past
    ``WEBHOOK_LOG_DAYS``; returns how many rows went."""
    from leadfollow.conf import lf_settings
    from leadfollow.models import IdempotencyRecord, UsedSignature
    from leadfollow.webhooks.delivery import purge_log

    now = timezone.now()
    ttl = timedelta(seconds=lf_settings.API_IDEMPOTENCY_TTL_SECONDS)
    return IdempotencyRecord.purge(now - ttl) + UsedSignature.purge(now) + purge_log(now)


@ids_only
def apply_retention() -> dict[str, int]:
    """Erase the personal data ``RETENTION_DAYS`` says is due; counts per model."""
    from leadfollow.privacy import apply_retention as apply

    return apply(timezone.now()).counts
