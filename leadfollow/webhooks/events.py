"""Lead events for webhooks: which change is which event, the payload, the delivery rows.

Called by the lifecycle module (``leadfollow.ownership``) inside the change's
transaction: the delivery rows commit with the change or not at all (an outbox), and
their tasks are queued after commit. The payload is a snapshot taken at the change.
Payload schema: ``docs/webhook-payload.schema.json`` (``version`` 1).
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from leadfollow import rulecache
from leadfollow.jobs import enqueue_on_commit
from leadfollow.models import AssignmentReason, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leadfollow.models.webhooks import new_event_id

PAYLOAD_VERSION = 1

# An Assignment row's reason is the event (a manager's pick of an owned lead reassigns it).
EVENT_BY_REASON = {
    AssignmentReason.INTAKE: WebhookEvent.CREATED,
    AssignmentReason.SLA_BREACH: WebhookEvent.BREACHED,
    AssignmentReason.REP_UNAVAILABLE: WebhookEvent.REASSIGNED,
    AssignmentReason.HANDED_BACK: WebhookEvent.HANDED_BACK,
    AssignmentReason.ESCALATION: WebhookEvent.ESCALATED,
}


def event_for_assignment(assignment) -> str:
    if assignment.reason == AssignmentReason.MANUAL:
        return WebhookEvent.REASSIGNED if assignment.from_rep_id else WebhookEvent.ASSIGNED
    return EVENT_BY_REASON[assignment.reason]


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _user(user_id: int | None, names: dict[int, str]) -> dict | None:
    return None if user_id is None else {"id": user_id, "username": names.get(user_id, "")}


def _usernames(*user_ids: int | None) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    ids = {pk for pk in user_ids if pk is not None}
    if not ids:
        return {}
    return dict(User.objects.filter(pk__in=ids).values_list("pk", User.USERNAME_FIELD))


def _user_ids(lead, assignment) -> list[int | None]:
    ids = [lead.owner_id]
    if assignment is not None:
        ids += [assignment.from_rep_id, assignment.to_rep_id, assignment.actor_id]
    return ids


def payload(
    event: str,
    lead,
    *,
    event_id: str,
    now: datetime,
    assignment=None,
    names: dict[int, str] | None = None,
    **extra,
) -> dict:
    """The body every receiver gets (see the JSON Schema in docs/). ``names``: usernames
    by user id when the caller read them already (a batch)."""
    if names is None:
        names = _usernames(*_user_ids(lead, assignment))
    data: dict = {
        "lead": {
            "id": lead.pk,
            "status": lead.status,
            "source": lead.source,
            "external_id": lead.external_id,
            "name": lead.name,
            "email": lead.email,
            "phone": lead.phone,
            "company": lead.company,
            "score": lead.score,
            "received_at": _time(lead.received_at),
            "assigned_at": _time(lead.assigned_at),
            "first_response_due": _time(lead.first_response_due),
            "first_contacted_at": _time(lead.first_contacted_at),
            "escalated_at": _time(lead.escalated_at),
            "reassignment_count": lead.reassignment_count,
            "owner": _user(lead.owner_id, names),
        }
    }
    if assignment is not None:
        data["assignment"] = {
            "id": assignment.pk,
            "reason": assignment.reason,
            "from_rep": _user(assignment.from_rep_id, names),
            "to_rep": _user(assignment.to_rep_id, names),
            "actor": _user(assignment.actor_id, names),
            "first_response_due": _time(assignment.first_response_due),
            "note": assignment.note,
            "created_at": _time(assignment.created_at),
        }
    data.update(extra)
    return {
        "id": event_id,
        "type": event,
        "version": PAYLOAD_VERSION,
        "timestamp": _time(now),
        "data": data,
    }


def active_endpoints() -> list[tuple[int, list[str]]]:
    """(id, events wanted) of the active endpoints, cached per process like the rules
    (``leadfollow.rulecache``): a lifecycle change costs no query when nothing changed."""

    def load() -> list[tuple[int, list[str]]]:
        rows = WebhookEndpoint.objects.filter(active=True).values_list("pk", "events")
        return [(pk, list(wanted or [])) for pk, wanted in rows]

    return rulecache.cached("webhooks", load)


def connect_receivers() -> None:
    """Every process reads the endpoints again when one is saved or deleted (ready())."""
    from django.db.models.signals import post_delete, post_save

    def changed(**kwargs) -> None:
        rulecache.invalidate("webhooks")

    for signal, uid in ((post_save, "lf_webhook_saved"), (post_delete, "lf_webhook_deleted")):
        signal.connect(changed, sender=WebhookEndpoint, weak=False, dispatch_uid=uid)


def emit(event: str, lead, *, assignment=None, now: datetime | None = None, **extra) -> int:
    """Write one delivery per active endpoint that wants ``event`` and queue each after
    commit. Returns how many. Nothing is built when no endpoint wants it."""
    return emit_all([(event, lead, assignment, now, extra)])


def emit_all(items) -> int:
    """``emit()`` for many changes at once (a sweep batch): the endpoints read once, the
    usernames in one query and the deliveries in one INSERT, whatever the batch's size.
    ``items``: (event, lead, assignment or None, now or None, extra payload keys)."""
    endpoints = active_endpoints()
    if not endpoints:
        return 0
    wanted = [
        (event, lead, assignment, now or timezone.now(), extra, targets)
        for event, lead, assignment, now, extra in items
        if (targets := [pk for pk, events in endpoints if not events or event in events])
    ]
    if not wanted:
        return 0
    names = _usernames(*(uid for _, lead, a, *_ in wanted for uid in _user_ids(lead, a)))
    rows = []
    for event, lead, assignment, now, extra, targets in wanted:
        event_id = new_event_id()
        body = payload(
            event, lead, event_id=event_id, now=now, assignment=assignment, names=names, **extra
        )
        rows += [
            WebhookDelivery(
                endpoint_id=endpoint,
                event_id=event_id,
                event=event,
                lead_id=lead.pk,
                payload=body,
                created_at=now,
                next_attempt_at=now,
            )
            for endpoint in targets
        ]
    deliveries = WebhookDelivery.objects.bulk_create(rows)
    for delivery in deliveries:
        enqueue_on_commit("deliver_webhook", delivery.pk)
    return len(deliveries)


def emit_assignments(pairs) -> int:
    """One event per (lead, Assignment row) — a single change, or a sweep batch's."""
    return emit_all(
        [(event_for_assignment(row), lead, row, row.created_at, {}) for lead, row in pairs]
    )


def emit_contacted(lead, attempt) -> int:
    return emit(
        WebhookEvent.CONTACTED,
        lead,
        attempt={
            "id": attempt.pk,
            "channel": attempt.channel,
            "outcome": attempt.outcome,
            "attempted_at": _time(attempt.attempted_at),
            "automated": attempt.automated,
        },
    )


def emit_deadline_warnings(pairs) -> int:
    """One ``lead.deadline_warning`` per (lead, its warning Reminder row)."""
    return emit_all(
        [
            (
                WebhookEvent.DEADLINE_WARNING,
                lead,
                None,
                reminder.created_at,
                {"warning": {"reminder_id": reminder.pk, "due_at": _time(reminder.due_at)}},
            )
            for lead, reminder in pairs
        ]
    )
