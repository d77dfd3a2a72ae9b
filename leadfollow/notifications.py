"""Messages to reps and managers. Runs in django-q2 workers, never inside intake or the
sweep's transaction; each function claims its ledger row first, so running twice sends once.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from leadfollow.conf import lf_settings
from leadfollow.models import Assignment, Reminder


def _send(template: str, context: dict, recipients: list[str]) -> bool:
    """Render ``leadfollow/email/<template>{_subject,}.txt`` (overridable) and send."""
    recipients = [address for address in recipients if address]
    if not recipients:
        return False
    subject = render_to_string(f"leadfollow/email/{template}_subject.txt", context)
    body = render_to_string(f"leadfollow/email/{template}.txt", context)
    send_mail(" ".join(subject.split()), body, lf_settings.FROM_EMAIL, recipients)
    return True


def _claim(model, pk: int) -> bool:
    """Mark the row notified; False if another delivery of the same task got there first."""
    return bool(
        model.objects.filter(pk=pk, notified_at__isnull=True).update(notified_at=timezone.now())
    )


def notify_assignment(assignment_id: int) -> bool:
    """E-mail the rep who just got a lead. Returns whether a message was sent."""
    if not _claim(Assignment, assignment_id):
        return False
    assignment = Assignment.objects.select_related("lead", "to_rep").get(pk=assignment_id)
    rep = assignment.to_rep
    if rep is None:
        return False
    context = {"assignment": assignment, "lead": assignment.lead, "rep": rep}
    return _send("lead_assigned", context, [rep.email])


def managers():
    """Active users holding ``leadfollow.manage_leads`` (directly or by group) or
    belonging to ``LEADFOLLOW["MANAGER_GROUP"]``. Superusers only if they match too."""
    permission = Permission.objects.filter(
        content_type__app_label="leadfollow", codename="manage_leads"
    ).first()
    condition = Q(pk__in=[])
    if permission is not None:
        condition |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    if lf_settings.MANAGER_GROUP:
        condition |= Q(groups__name=lf_settings.MANAGER_GROUP)
    return get_user_model().objects.filter(condition, is_active=True).distinct()


def notify_escalation(assignment_id: int) -> bool:
    """E-mail the managers about a lead that missed its deadline too often."""
    if not _claim(Assignment, assignment_id):
        return False
    assignment = Assignment.objects.select_related("lead", "to_rep").get(pk=assignment_id)
    context = {"assignment": assignment, "lead": assignment.lead, "rep": assignment.to_rep}
    return _send("lead_escalated", context, [user.email for user in managers()])


def notify_reminder(reminder_id: int) -> bool:
    """E-mail the owner a follow-up reminder or an early deadline warning."""
    if not _claim(Reminder, reminder_id):
        return False
    reminder = Reminder.objects.select_related("lead", "rep").get(pk=reminder_id)
    if reminder.rep is None:
        return False
    context = {"reminder": reminder, "lead": reminder.lead, "rep": reminder.rep}
    return _send(reminder.kind, context, [reminder.rep.email])
