"""Messages to reps, managers and leads. Runs in django-q2 workers, never inside intake or
the sweep's transaction.

Each function claims its ledger row and sends in one transaction: a second delivery of the
same task (ORM broker: at least once) finds the row claimed and sends nothing, and a send
that fails rolls the claim back so the broker's retry sends it. After the e-mail, a signal
(``leadfollow.signals``) lets sites add Slack or SMS; receivers run after the claim, are
called with ``send_robust`` and a failing receiver is logged, not retried.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.template import Context
from django.template.backends.django import Template as DjangoBackendTemplate
from django.template.loader import get_template
from django.utils import timezone

from leadfollow import signals
from leadfollow.conf import lf_settings
from leadfollow.jobs import enqueue_on_commit
from leadfollow.models import (
    Assignment,
    Channel,
    ContactAttempt,
    Lead,
    Outcome,
    Reminder,
    RepProfile,
)
from leadfollow.ownership import record_attempt
from leadfollow.people import managers, user_zone

logger = logging.getLogger(__name__)

# Marks the automated attempt that records the first-touch e-mail (and makes it once).
FIRST_TOUCH_NOTE = "leadfollow: first-touch e-mail"


def render_text(name: str, context: dict) -> str:
    """Render a plain-text template without HTML escaping: an e-mail body is not HTML, and
    "O'Brien & Sons <sales>" must not arrive as "O&#x27;Brien &amp; Sons &lt;sales&gt;".
    Subjects are still joined onto one line by the caller (no header injection)."""
    template = get_template(name)
    if isinstance(template, DjangoBackendTemplate):
        return template.template.render(Context(context, autoescape=False))
    return template.render(context)  # another engine: its own escaping rules


def _send(
    template: str, context: dict, recipients: list[str], *, reply_to: list[str] | None = None
) -> bool:
    """Render ``leadfollow/email/<template>{_subject,}.txt`` (overridable) and send."""
    recipients = [address for address in recipients if address]
    if not recipients:
        return False
    subject = render_text(f"leadfollow/email/{template}_subject.txt", context)
    body = render_text(f"leadfollow/email/{template}.txt", context)
    message = EmailMessage(
        " ".join(subject.split()),
        body,
        lf_settings.FROM_EMAIL,
        recipients,
        reply_to=[address for address in reply_to or [] if address] or None,
    )
    message.send()
    return True


def _announce(name: str, **kwargs) -> None:
    """Send ``signals.<name>``; a failing receiver is logged and does not undo the e-mail."""
    signal: Signal = getattr(signals, name)
    for receiver, result in signal.send_robust(sender=Lead, **kwargs):
        if isinstance(result, Exception):
            logger.error("leadfollow.%s receiver %r failed", name, receiver, exc_info=result)


def _claim(model, pk: int) -> bool:
    """Mark the row notified; False if another delivery of the same task got there first.

    Call inside a transaction: the row stays locked until commit, so a concurrent
    delivery waits and then finds it claimed; a rollback releases the claim.
    """
    return bool(
        model.objects.filter(pk=pk, notified_at__isnull=True).update(notified_at=timezone.now())
    )


def _deadline(at: datetime | None, zone) -> dict:
    # The templates format with |timezone:zone (the date filter alone would use the
    # current time zone, i.e. settings.TIME_ZONE).
    return {"due": at, "zone": zone.key}


def notify_assignment(assignment_id: int) -> bool:
    """E-mail the rep who just got a lead: why, and the deadline in the rep's own time zone.

    Returns whether an e-mail was sent. Sends ``signals.rep_notified`` once per assignment.
    """
    with transaction.atomic():
        if not _claim(Assignment, assignment_id):
            return False
        assignment = Assignment.objects.select_related(
            "lead", "to_rep__leadfollow_rep", "from_rep", "actor"
        ).get(pk=assignment_id)
        rep = assignment.to_rep
        if rep is None:
            return False
        context = {
            "assignment": assignment,
            "lead": assignment.lead,
            "rep": rep,
            "reason": assignment.reason,
            "previous_rep": assignment.from_rep,
            "actor": assignment.actor,
            **_deadline(assignment.first_response_due, user_zone(rep)),
        }
        sent = _send("lead_assigned", context, [rep.email])
    _announce("rep_notified", assignment=assignment, rep=rep, emailed=sent)
    return sent


def escalation_recipients():
    """The managers (``leadfollow.people.managers``) and ``LEADFOLLOW["MANAGER_GROUP"]``."""
    recipients = managers()
    if lf_settings.MANAGER_GROUP:
        group = get_user_model().objects.filter(
            groups__name=lf_settings.MANAGER_GROUP, is_active=True
        )
        recipients = get_user_model().objects.filter(
            Q(pk__in=recipients.values("pk")) | Q(pk__in=group.values("pk"))
        )
    return recipients


def notify_escalation(assignment_id: int) -> bool:
    """E-mail the managers about a lead that missed its deadline too often."""
    with transaction.atomic():
        if not _claim(Assignment, assignment_id):
            return False
        assignment = Assignment.objects.select_related("lead", "from_rep").get(pk=assignment_id)
        context = {
            "assignment": assignment,
            "lead": assignment.lead,
            # The rep who held it when it was escalated (the lead itself now has none).
            "rep": assignment.from_rep,
            **_deadline(assignment.first_response_due, user_zone(None)),
        }
        recipients = escalation_recipients()
        return _send("lead_escalated", context, [user.email for user in recipients])


def notify_rep_paused(profile_id: int) -> bool:
    """E-mail the managers that a rep was paused after repeated missed deadlines; once
    per pause (``pause_notified_at`` is the ledger)."""
    from leadfollow.availability import recent_misses

    with transaction.atomic():
        if not _claim_pause(profile_id):
            return False
        profile = RepProfile.objects.select_related("user").get(pk=profile_id)
        context = {
            "rep": profile.user,
            "profile": profile,
            "misses": recent_misses([profile.user_id], profile.paused_at).get(profile.user_id, 0),
            "hours": lf_settings.PAUSE_WINDOW_HOURS,
            **_deadline(profile.paused_at, user_zone(None)),
        }
        recipients = escalation_recipients()
        return _send("rep_paused", context, [user.email for user in recipients])


def _claim_pause(profile_id: int) -> bool:
    claimed = RepProfile.objects.filter(
        pk=profile_id, paused_at__isnull=False, pause_notified_at__isnull=True
    ).update(pause_notified_at=timezone.now())
    return bool(claimed)


def notify_reminder(reminder_id: int) -> bool:
    """E-mail the owner a follow-up reminder or an early deadline warning."""
    with transaction.atomic():
        if not _claim(Reminder, reminder_id):
            return False
        reminder = Reminder.objects.select_related("lead", "rep__leadfollow_rep").get(
            pk=reminder_id
        )
        if reminder.rep is None:
            return False
        context = {
            "reminder": reminder,
            "lead": reminder.lead,
            "rep": reminder.rep,
            **_deadline(reminder.due_at, user_zone(reminder.rep)),
        }
        return _send(reminder.kind, context, [reminder.rep.email])


# --- the lead's first touch ----------------------------------------------------------------


def first_touch_on_commit(lead: Lead) -> None:
    """Queue the first-touch e-mail to a new lead once the intake transaction commits.

    Only when ``LEADFOLLOW["FIRST_TOUCH_EMAIL"]`` is on and the lead gave an address. The
    task gets the lead's id only (task payloads are stored unencrypted); ``robust``: a
    broker outage must not fail the intake.
    """
    if not (lf_settings.FIRST_TOUCH_EMAIL and lead.email):
        return
    enqueue_on_commit("send_first_touch", lead.pk)


def send_first_touch(lead_id: int) -> bool:
    """E-mail a new lead that their request arrived and who will answer; once per lead.

    The e-mail is recorded as an automated contact attempt (channel e-mail, outcome
    sent), which stops the deadline clock only if ``AUTOMATED_ATTEMPTS_STOP_CLOCK``. That
    attempt is also the ledger: it is looked for under a row lock on the lead, so two
    deliveries of the task send one e-mail. Returns whether an e-mail was sent.
    """
    with transaction.atomic():
        lead = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("owner__leadfollow_rep")
            .filter(pk=lead_id)
            .first()
        )
        if lead is None or not lead.email or not lead.is_open:
            return False
        already = ContactAttempt.objects.filter(
            lead=lead, automated=True, channel=Channel.EMAIL, note=FIRST_TOUCH_NOTE
        )
        if already.exists():
            return False
        rep = lead.owner
        context = {"lead": lead, "rep": rep, "link": lf_settings.FIRST_TOUCH_LINK}
        _send("first_touch", context, [lead.email], reply_to=[rep.email] if rep else None)
        attempt = record_attempt(
            lead,
            rep=None,  # leadfollow sent it, not the owner
            channel=Channel.EMAIL,
            outcome=Outcome.SENT,
            note=FIRST_TOUCH_NOTE,
            automated=True,
        )
    _announce("first_touch_sent", lead=lead, attempt=attempt)
    return True
