"""Messages to reps. Runs in django-q2 workers, never inside intake; safe to run twice."""

from __future__ import annotations

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from leadfollow.conf import lf_settings
from leadfollow.models import Assignment


def notify_assignment(assignment_id: int) -> bool:
    """E-mail the rep who just got a lead. Returns whether a message was sent."""
    claimed = Assignment.objects.filter(pk=assignment_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    if not claimed:
        return False
    assignment = Assignment.objects.select_related("lead", "to_rep").get(pk=assignment_id)
    rep = assignment.to_rep
    if rep is None or not rep.email:
        return False
    context = {"assignment": assignment, "lead": assignment.lead, "rep": rep}
    subject = render_to_string("leadfollow/email/lead_assigned_subject.txt", context)
    body = render_to_string("leadfollow/email/lead_assigned.txt", context)
    send_mail(" ".join(subject.split()), body, lf_settings.FROM_EMAIL, [rep.email])
    return True
