import threading
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.db import connection
from django.test import override_settings

from leadfollow import signals
from leadfollow.intake import create_lead
from leadfollow.models import Assignment, AssignmentReason, ContactAttempt, Lead
from leadfollow.notifications import (
    FIRST_TOUCH_NOTE,
    escalation_recipients,
    managers,
    notify_assignment,
    send_first_touch,
)
from tests.factories import LeadFactory, RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 2026-11-23 09:00 UTC: 10:00 in Berlin, 04:00 in New York, 18:00 in Tokyo.
MONDAY_9_UTC = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FORM = {"name": "Ada Lovelace", "email": "ada@example.org", "message": "Call me"}


def lf(**options):
    return override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **options})


class Received(list):
    """Connects to a signal for the test's duration and records the keyword arguments."""

    def __init__(self, signal):
        super().__init__()
        self.signal = signal

    def __call__(self, sender, **kwargs):
        kwargs.pop("signal")
        self.append(kwargs)

    def __enter__(self):
        self.signal.connect(self, dispatch_uid=id(self))
        return self

    def __exit__(self, *exc):
        self.signal.disconnect(dispatch_uid=id(self))


def test_managers_by_permission_group_permission_or_configured_group():
    permission = Permission.objects.get(codename="manage_leads")
    direct = UserFactory(username="direct")
    direct.user_permissions.add(permission)
    via_group = UserFactory(username="via-group")
    group = Group.objects.create(name="leads admins")
    group.permissions.add(permission)
    via_group.groups.add(group)
    named = UserFactory(username="named")
    named.groups.add(Group.objects.create(name="Sales managers"))
    UserFactory(username="rep")

    assert {u.username for u in managers()} == {"direct", "via-group"}
    assert {u.username for u in escalation_recipients()} == {"direct", "via-group"}
    with override_settings(LEADFOLLOW={"MANAGER_GROUP": "Sales managers"}):
        # The group is told about escalations; it does not make its members managers.
        assert {u.username for u in managers()} == {"direct", "via-group"}
        assert {u.username for u in escalation_recipients()} == {"direct", "via-group", "named"}


# --- the rep's assignment e-mail ----------------------------------------------------------------


def assignment(reason, *, to_rep, from_rep=None, actor=None, due=MONDAY_9_UTC):
    lead = LeadFactory(name="Grace Hopper", source="ads", owner=to_rep)
    return Assignment.objects.create(
        lead=lead,
        from_rep=from_rep,
        to_rep=to_rep,
        actor=actor,
        reason=reason,
        first_response_due=due,
    )


def test_assignment_mail_is_sent_once_and_carries_no_task_payload_data():
    rep = UserFactory()
    lead = LeadFactory(owner=rep)
    row = Assignment.objects.create(lead=lead, to_rep=rep, reason=AssignmentReason.INTAKE)
    assert notify_assignment(row.pk) is True
    assert notify_assignment(row.pk) is False
    assert [m.to for m in mail.outbox] == [[rep.email]]
    assert lead.name in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("reason", "subject", "why"),
    [
        ("intake", "New lead for you", "A new lead from ads is yours: Grace Hopper."),
        (
            "sla_breach",
            "Lead moved to you (deadline missed)",
            "alice did not contact it by its deadline, so it moved to you.",
        ),
        (
            "rep_unavailable",
            "Lead handed over to you",
            "alice is unavailable (away or not taking leads), so it was handed over to you.",
        ),
        ("manual", "Lead assigned to you", "boss assigned the lead Grace Hopper from ads to you."),
    ],
)
def test_assignment_mail_says_why(reason, subject, why):
    bob = RepFactory(user__username="bob").user
    alice = UserFactory(username="alice")
    boss = UserFactory(username="boss")
    row = assignment(reason, to_rep=bob, from_rep=alice, actor=boss)

    assert notify_assignment(row.pk) is True

    (message,) = mail.outbox
    assert message.subject == f"{subject}: Grace Hopper"
    assert why in message.body
    assert message.body.startswith("Hello bob,")


def test_handover_of_an_unowned_lead_says_nobody_was_available():
    bob = RepFactory().user
    row = assignment("rep_unavailable", to_rep=bob, from_rep=None)
    notify_assignment(row.pk)
    assert "nobody was available when it came in, and you are now" in mail.outbox[0].body


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/New_York", "Mon 2026-11-23 04:00 (America/New_York)"),
        ("Asia/Tokyo", "Mon 2026-11-23 18:00 (Asia/Tokyo)"),
        # No zone of their own: LEADFOLLOW["TIME_ZONE"].
        ("", "Mon 2026-11-23 10:00 (Europe/Berlin)"),
    ],
)
def test_assignment_mail_shows_the_deadline_in_the_reps_time_zone(zone, shown):
    rep = RepFactory(timezone=zone).user
    notify_assignment(assignment("intake", to_rep=rep).pk)
    body = mail.outbox[0].body
    assert f"Please make first contact by {shown}." in body
    assert "UTC" not in body


def test_deadline_of_a_user_without_rep_profile_uses_the_site_zone():
    user = UserFactory()
    with lf(TIME_ZONE="Asia/Tokyo"):
        notify_assignment(assignment("manual", to_rep=user).pk)
    assert "Mon 2026-11-23 18:00 (Asia/Tokyo)" in mail.outbox[0].body


def test_rep_notified_signal_once_per_assignment_even_without_an_address():
    silent = RepFactory(user__email="").user
    row = assignment("sla_breach", to_rep=silent)
    with Received(signals.rep_notified) as received:
        assert notify_assignment(row.pk) is False  # no e-mail address
        assert notify_assignment(row.pk) is False  # already claimed
    assert mail.outbox == []
    assert received == [{"assignment": row, "rep": silent, "emailed": False}]
    assert received[0]["assignment"].reason == "sla_breach"


def test_a_failing_receiver_does_not_undo_or_repeat_the_mail(caplog):
    rep = RepFactory().user
    row = assignment("intake", to_rep=rep)

    def broken(sender, **kwargs):
        raise RuntimeError("Slack is down")

    signals.rep_notified.connect(broken)
    try:
        assert notify_assignment(row.pk) is True
        assert notify_assignment(row.pk) is False
    finally:
        signals.rep_notified.disconnect(broken)
    assert len(mail.outbox) == 1
    assert "leadfollow.rep_notified receiver" in caplog.text


def test_a_failed_send_releases_the_claim_for_the_brokers_retry(monkeypatch):
    rep = RepFactory().user
    row = assignment("intake", to_rep=rep)

    def smtp_down(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", smtp_down)
    with pytest.raises(ConnectionRefusedError):
        notify_assignment(row.pk)
    monkeypatch.undo()
    row.refresh_from_db()
    assert row.notified_at is None
    assert notify_assignment(row.pk) is True
    assert len(mail.outbox) == 1


# --- the lead's first touch ---------------------------------------------------------------------


def test_first_touch_is_off_by_default(django_capture_on_commit_callbacks):
    RepFactory()
    with django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(FORM).lead
    assert [m.to for m in mail.outbox] == [[lead.owner.email]]  # only the rep's e-mail
    assert not ContactAttempt.objects.exists()


def test_first_touch_mails_the_lead_after_commit_and_records_an_automated_attempt(
    django_capture_on_commit_callbacks,
):
    rep = RepFactory(user__first_name="Bob", user__last_name="Baker").user
    received = Received(signals.first_touch_sent)
    with lf(FIRST_TOUCH_EMAIL=True, NOTIFY_ON_ASSIGNMENT=False):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            lead = create_lead(FORM).lead
        # Nothing is sent inside the intake's transaction.
        assert mail.outbox == []
    assert len(callbacks) == 1
    with received:
        callbacks[0]()

    (message,) = mail.outbox
    assert message.to == ["ada@example.org"]
    assert message.reply_to == [rep.email]
    assert message.subject == "Thank you, we received your request"
    # The address is unverified: nothing the visitor typed is quoted back (issue 13).
    assert message.body.startswith("Hello,\n")
    assert "Ada" not in message.body and "Lovelace" not in message.body
    assert "Bob Baker will be your contact" in message.body

    attempt = ContactAttempt.objects.get()
    assert (attempt.lead, attempt.rep, attempt.channel, attempt.outcome, attempt.automated) == (
        lead,
        None,
        "email",
        "sent",
        True,
    )
    assert received == [{"lead": lead, "attempt": attempt}]
    # Automated: the deadline clock keeps running, the lead stays new and can still go cold.
    lead.refresh_from_db()
    assert lead.first_contacted_at is None
    assert lead.last_contacted_at == attempt.attempted_at
    assert lead.status == "new"

    # A second delivery of the same task sends nothing and records nothing.
    with received:
        callbacks[0]()
        assert send_first_touch(lead.pk) is False
    assert len(mail.outbox) == 1
    assert ContactAttempt.objects.count() == 1
    assert len(received) == 1


def test_first_touch_stops_the_clock_only_if_configured(django_capture_on_commit_callbacks):
    RepFactory()
    options = {"FIRST_TOUCH_EMAIL": True, "AUTOMATED_ATTEMPTS_STOP_CLOCK": True}
    with lf(**options), django_capture_on_commit_callbacks(execute=True):
        lead = create_lead(FORM).lead
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None


def test_first_touch_without_an_owner_or_without_an_address(django_capture_on_commit_callbacks):
    with lf(FIRST_TOUCH_EMAIL=True), django_capture_on_commit_callbacks(execute=True) as callbacks:
        unowned = create_lead(FORM).lead
        create_lead({"name": "Phone only", "phone": "+49 30 1234567"})
    assert len(callbacks) == 1  # the phone-only lead queues nothing
    assert unowned.owner is None
    (message,) = mail.outbox
    assert message.reply_to == []
    assert "will be your contact" not in message.body


def test_a_repeat_form_does_not_send_a_second_first_touch(django_capture_on_commit_callbacks):
    RepFactory()
    with lf(FIRST_TOUCH_EMAIL=True, NOTIFY_ON_ASSIGNMENT=False):
        with django_capture_on_commit_callbacks(execute=True):
            first = create_lead(FORM)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            repeat = create_lead({**FORM, "message": "Still interested"})
    assert (first.created, repeat.created, repeat.lead) == (True, False, first.lead)
    assert callbacks == []
    assert len(mail.outbox) == 1


def test_first_touch_skips_closed_and_deleted_leads():
    closed = LeadFactory(status="disqualified")
    assert send_first_touch(closed.pk) is False
    assert send_first_touch(closed.pk + 1000) is False
    assert mail.outbox == []


def test_first_touch_template_is_overridable(tmp_path, settings):
    (tmp_path / "leadfollow" / "email").mkdir(parents=True)
    (tmp_path / "leadfollow" / "email" / "first_touch.txt").write_text("Hi {{ lead.name }}!")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    lead = LeadFactory(name="Ada")
    assert send_first_touch(lead.pk) is True
    assert mail.outbox[0].body == "Hi Ada!"


# --- PostgreSQL: two deliveries at the same moment ---------------------------------------------


def _at_once(target, *args) -> list:
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target(*args))
        except Exception as exc:  # surfaced by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return sorted(results)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_touch_deliveries_send_once():
    lead = LeadFactory(owner=RepFactory().user)
    for _ in range(5):
        assert _at_once(send_first_touch, lead.pk) in ([False, True], [False, False])
    assert len(mail.outbox) == 1
    assert ContactAttempt.objects.filter(lead=lead).count() == 1
    assert ContactAttempt.objects.get().note == FIRST_TOUCH_NOTE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_assignment_deliveries_send_once():
    rep = RepFactory().user
    row = assignment("intake", to_rep=rep)
    assert _at_once(notify_assignment, row.pk) == [False, True]
    assert len(mail.outbox) == 1
    assert Lead.objects.count() == 1
