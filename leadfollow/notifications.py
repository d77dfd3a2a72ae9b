"""Messages to reps, managers and leads. Runs in django-q2 workers, never inside intake or
the sweep's transaction.

Each function claims its ledger row and sends in one transaction: a second delivery of the
same task (ORM broker: at least once) finds the row claimed and sends nothing, and a send
that fails rolls the claim back so the broker's retry sends it. After the e-mail, a signal
(``leadfollow.signals``) lets sites add Slack or SMS; receivers run after the claim, are
called with ``send_robust`` and a failing receiver is logged, not retried.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from leadfollow import alerts, signals
from leadfollow.conf import lf_settings
from leadfollow.jobs import describe_error, enqueue_on_commit
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


@sensitive_variables()  # an error report must not quote the addresses or the text
def _send(
    template: str, context: dict, recipients: list[str], *, reply_to: list[str] | None = None
) -> bool:
    """Render ``leadfollow/email/<template>{_subject,}.txt`` (overridable, as every alert's
    e-mail is) and send to addresses, not users (the first-touch e-mail goes to a lead)."""
    recipients = [address for address in recipients if address]
    if not recipients:
        return False
    email = alerts.Alert(template, context)
    message = EmailMessage(
        email.subject(),
        email.body(),
        lf_settings.FROM_EMAIL,
        recipients,
        reply_to=[address for address in reply_to or [] if address] or None,
    )
    message.send()
    return True


_announcing = contextvars.ContextVar("leadfollow_announcing", default=False)


class _RedactReceiverErrors(logging.Filter):
    """Django's ``send_robust`` logs a failing receiver's message and traceback on
    ``django.dispatch``. For leadfollow's own signals that message may quote a lead (a
    Slack receiver's "cannot post jo@example.com"): keep the type and line only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _announcing.get() and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            record.msg = "Error calling %s in Signal.send_robust(): %s"
            record.args = (record.args[0] if record.args else "?", describe_error(error))
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("django.dispatch").addFilter(_RedactReceiverErrors())


def _announce(name: str, **kwargs) -> None:
    """Send ``signals.<name>``; a failing receiver is logged and does not undo the e-mail."""
    signal: Signal = getattr(signals, name)
    token = _announcing.set(True)
    try:
        results = signal.send_robust(sender=Lead, **kwargs)
    finally:
        _announcing.reset(token)
    for receiver, result in results:
        if isinstance(result, Exception):
            # The error's type and line, not its message or locals: they may quote the lead.
            logger.error(
                "leadfollow.%s receiver %r failed: %s", name, receiver, describe_error(result)
            )


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
        served = alerts.send("lead_assigned", context, [rep])
    _announce("rep_notified", assignment=assignment, rep=rep, emailed=alerts.EMAIL in served)
    return bool(served)


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
        return bool(alerts.send("lead_escalated", context, escalation_recipients()))


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
        return bool(alerts.send("rep_paused", context, escalation_recipients()))


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
        return bool(alerts.send(reminder.kind, context, [reminder.rep]))


def notify_webhook_disabled(endpoint_id: int) -> bool:
    """Tell the managers that a webhook endpoint was disabled after failing repeatedly;
    once per disabling (``disabled_at`` is set again only by the next disabling)."""
    from leadfollow.models import WebhookEndpoint

    with transaction.atomic():
        claimed = WebhookEndpoint.objects.filter(
            pk=endpoint_id,
            active=False,
            disabled_at__isnull=False,
            disable_notified_at__isnull=True,
        ).update(disable_notified_at=timezone.now())
        if not claimed:
            return False
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        context = {
            "endpoint": endpoint,
            "failures": endpoint.consecutive_failures,
            **_deadline(endpoint.disabled_at, user_zone(None)),
        }
        return bool(alerts.send("webhook_disabled", context, escalation_recipients()))


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


@sensitive_variables()
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
