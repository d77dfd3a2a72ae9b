import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from leadfollow import signals
from leadfollow.models import (
    Absence,
    Assignment,
    AssignmentReason,
    Lead,
    Reminder,
    ReminderKind,
    RepProfile,
)
from leadfollow.sweep import SweepReport, reassign_overdue
from tests.factories import LeadFactory, RepFactory, UserFactory

pytestmark = pytest.mark.django_db


def lf(**options):
    return override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **options})


def overdue(now, owner=None, *, late=timedelta(minutes=1), **fields):
    """A lead assigned an hour ago whose first-response deadline passed ``late`` ago."""
    return LeadFactory(
        owner=owner.user if owner else None,
        received_at=now - timedelta(hours=1),
        assigned_at=now - timedelta(hours=1),
        first_response_due=now - late,
        **fields,
    )


def breach(lead, from_rep, to_rep, now):
    """History: ``from_rep`` missed this lead once before (the row and the count the
    sweep writes for a move off a rep)."""
    Assignment.objects.create(
        lead=lead,
        from_rep=from_rep.user,
        to_rep=to_rep.user,
        reason=AssignmentReason.SLA_BREACH,
        created_at=now - timedelta(minutes=30),
    )
    lead.reassignment_count += 1
    Lead.objects.filter(pk=lead.pk).update(reassignment_count=lead.reassignment_count)


def reasons(lead):
    return list(lead.assignments.order_by("pk").values_list("reason", flat=True))


def make_manager():
    manager = UserFactory(username="boss")
    manager.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    return manager


# --- reassignment after a missed deadline ------------------------------------------------------


def test_breached_lead_moves_to_another_rep_exactly_once(monday_10):
    alice, bob = RepFactory(), RepFactory()
    lead = overdue(monday_10, alice)

    first = reassign_overdue(monday_10)
    second = reassign_overdue(monday_10)
    later = reassign_overdue(monday_10 + timedelta(seconds=50))

    lead.refresh_from_db()
    assert (first.reassigned, second.reassigned, later.reassigned) == (1, 0, 0)
    assert lead.owner == bob.user
    assert lead.reassignment_count == 1
    assert lead.assigned_at == monday_10
    # REASSIGNMENT_SLA_MINUTES (30) of bob's business time, from the sweep.
    assert lead.first_response_due == monday_10 + timedelta(minutes=30)
    row = lead.assignments.get()
    assert (row.reason, row.from_rep, row.to_rep) == ("sla_breach", alice.user, bob.user)


def test_sweep_pages_through_many_batches(monday_10):
    reps = [RepFactory(capacity=500) for _ in range(3)]
    for i in range(45):
        overdue(monday_10, reps[i % 3], late=timedelta(minutes=1 + i % 4))
    # Not about pausing: fifteen misses each would pause every rep after a few.
    with lf(SWEEP_BATCH_SIZE=10, PAUSE_AFTER_MISSES=None):
        report = reassign_overdue(monday_10)
    assert report.reassigned == 45
    assert Assignment.objects.filter(reason=AssignmentReason.SLA_BREACH).count() == 45
    assert Lead.objects.cold(monday_10).count() == 0


def test_reassignment_sla_is_configurable(monday_10):
    alice, _ = RepFactory(), RepFactory()
    lead = overdue(monday_10, alice)
    with lf(REASSIGNMENT_SLA_MINUTES=10):
        reassign_overdue(monday_10)
    lead.refresh_from_db()
    assert lead.first_response_due == monday_10 + timedelta(minutes=10)


def test_never_back_to_a_rep_who_missed_it(monday_10):
    alice, bob, carol = RepFactory(), RepFactory(), RepFactory()
    # Carol holds more leads, so least-loaded would prefer alice, who missed this one before.
    for _ in range(2):
        LeadFactory(owner=carol.user, first_response_due=monday_10 + timedelta(hours=1))
    lead = overdue(monday_10, bob)
    breach(lead, alice, bob, monday_10)

    with lf(MAX_MISSES=5):
        reassign_overdue(monday_10)

    lead.refresh_from_db()
    assert lead.owner == carol.user


def test_goes_back_to_a_rep_who_missed_it_when_nobody_else_exists(monday_10):
    alice, bob = RepFactory(), RepFactory()
    lead = overdue(monday_10, bob)
    breach(lead, alice, bob, monday_10)

    with lf(MAX_MISSES=5):
        report = reassign_overdue(monday_10)

    lead.refresh_from_db()
    assert report.reassigned == 1
    assert lead.owner == alice.user


def test_contacted_closed_and_not_yet_due_leads_stay(monday_10):
    alice, _ = RepFactory(), RepFactory()
    contacted = overdue(monday_10, alice, first_contacted_at=monday_10 - timedelta(minutes=5))
    closed = overdue(monday_10, alice, status="disqualified")
    not_due = overdue(monday_10, alice, late=-timedelta(minutes=5))

    assert reassign_overdue(monday_10).reassigned == 0
    for lead in (contacted, closed, not_due):
        lead.refresh_from_db()
        assert lead.owner == alice.user


def test_reassignment_notifies_new_owner_after_commit_and_sends_signal(
    monday_10, django_capture_on_commit_callbacks
):
    alice, bob = RepFactory(), RepFactory()
    lead = overdue(monday_10, alice)
    seen = []

    def receiver(sender, lead, assignment, **kwargs):
        seen.append((lead.pk, assignment.reason))

    signals.lead_reassigned.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            reassign_overdue(monday_10)
        # Nothing is sent inside the sweep's transaction.
        assert mail.outbox == []
        assert len(callbacks) == 1
        for callback in callbacks:
            callback()
    finally:
        signals.lead_reassigned.disconnect(receiver)

    assert seen == [(lead.pk, "sla_breach")]
    assert [m.to for m in mail.outbox] == [[bob.user.email]]
    # A second delivery of the same task sends nothing.
    callbacks[0]()
    assert len(mail.outbox) == 1


# --- escalation ---------------------------------------------------------------------------------


def test_escalates_after_max_misses_and_never_bounces_again(
    monday_10, django_capture_on_commit_callbacks
):
    alice, bob, _ = RepFactory(), RepFactory(), RepFactory()
    manager = make_manager()
    lead = overdue(monday_10, bob)
    breach(lead, alice, bob, monday_10)
    escalated = []
    signals.lead_escalated.connect(receiver := lambda sender, lead, **kw: escalated.append(lead.pk))
    try:
        with lf(MAX_MISSES=2), django_capture_on_commit_callbacks(execute=True):
            report = reassign_overdue(monday_10)
            again = reassign_overdue(monday_10 + timedelta(hours=3))
    finally:
        signals.lead_escalated.disconnect(receiver)

    lead.refresh_from_db()
    assert (report.escalated, report.reassigned, again.escalated, again.reassigned) == (1, 0, 0, 0)
    assert lead.escalated_at == monday_10
    assert lead.owner is None  # the managers' now: out of every queue and "cold now"
    assert not Lead.objects.cold(monday_10 + timedelta(hours=3)).filter(pk=lead.pk).exists()
    assert Lead.objects.escalated().filter(pk=lead.pk).exists()
    row = lead.assignments.order_by("-created_at", "-pk").first()
    assert (row.from_rep, row.to_rep) == (bob.user, None)
    assert reasons(lead) == ["sla_breach", "escalation"]
    assert escalated == [lead.pk]
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert lead.name in mail.outbox[0].subject


def test_escalation_mails_the_manager_group(monday_10, django_capture_on_commit_callbacks):
    alice = RepFactory()
    group = Group.objects.create(name="Sales managers")
    boss = UserFactory(username="grouped-boss")
    boss.groups.add(group)
    UserFactory(username="inactive-boss", is_active=False).groups.add(group)
    lead = overdue(monday_10, alice)
    managers = lf(MAX_MISSES=1, MANAGER_GROUP="Sales managers")
    with managers, django_capture_on_commit_callbacks(execute=True):
        reassign_overdue(monday_10)
    assert [m.to for m in mail.outbox] == [[boss.email]]
    assert reasons(lead) == ["escalation"]


def test_escalates_when_nobody_can_take_the_lead(monday_10):
    alice = RepFactory()
    Absence.objects.create(
        rep=alice, starts_at=monday_10 - timedelta(hours=1), ends_at=monday_10 + timedelta(days=1)
    )
    lead = overdue(monday_10, alice)

    report = reassign_overdue(monday_10)

    lead.refresh_from_db()
    assert report.escalated == 1
    assert lead.escalated_at == monday_10


# --- rep became unavailable ---------------------------------------------------------------------


def test_absent_reps_uncontacted_leads_are_handed_over_once(monday_10):
    alice, bob = RepFactory(), RepFactory()
    waiting = overdue(monday_10, alice, late=-timedelta(minutes=20))
    touched = overdue(monday_10, alice, late=-timedelta(minutes=20), first_contacted_at=monday_10)
    Absence.objects.create(
        rep=alice, starts_at=monday_10 - timedelta(minutes=5), ends_at=monday_10 + timedelta(days=3)
    )

    first = reassign_overdue(monday_10)
    second = reassign_overdue(monday_10 + timedelta(minutes=1))

    waiting.refresh_from_db()
    touched.refresh_from_db()
    assert (first.handed_over, second.handed_over) == (1, 0)
    assert waiting.owner == bob.user
    assert reasons(waiting) == ["rep_unavailable"]
    assert waiting.reassignment_count == 1
    assert touched.owner == alice.user  # contacted leads stay with the rep who called


def test_rep_who_stopped_accepting_hands_over(monday_10):
    alice, bob = RepFactory(accepting_leads=False), RepFactory()
    lead = overdue(monday_10, alice, late=-timedelta(minutes=20))
    assert reassign_overdue(monday_10).handed_over == 1
    lead.refresh_from_db()
    assert lead.owner == bob.user


def test_unowned_lead_goes_to_the_first_rep_available(monday_10):
    lead = overdue(monday_10, None, late=-timedelta(minutes=20))
    assert reassign_overdue(monday_10).handed_over == 0  # nobody yet: nothing written
    assert reasons(lead) == []
    rep = RepFactory()
    assert reassign_overdue(monday_10).handed_over == 1
    lead.refresh_from_db()
    assert lead.owner == rep.user
    assert lead.reassignment_count == 0  # a first owner, not a reassignment


def test_lead_of_absent_rep_stays_when_nobody_else_is_available(monday_10):
    alice = RepFactory()
    Absence.objects.create(
        rep=alice, starts_at=monday_10 - timedelta(minutes=5), ends_at=monday_10 + timedelta(days=3)
    )
    lead = overdue(monday_10, alice, late=-timedelta(minutes=20))
    assert reassign_overdue(monday_10).handed_over == 0
    lead.refresh_from_db()
    assert lead.owner == alice.user


# --- reminders ----------------------------------------------------------------------------------


def test_follow_up_reminder_is_sent_once_per_date(monday_10, django_capture_on_commit_callbacks):
    alice = RepFactory()
    lead = LeadFactory(
        owner=alice.user,
        first_contacted_at=monday_10 - timedelta(days=2),
        next_follow_up_at=monday_10 - timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = reassign_overdue(monday_10)
        second = reassign_overdue(monday_10 + timedelta(minutes=1))
    assert (first.reminded, second.reminded) == (1, 0)
    assert [m.to for m in mail.outbox] == [[alice.user.email]]
    assert "Follow-up" in mail.outbox[0].subject

    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=monday_10 + timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert reassign_overdue(monday_10 + timedelta(minutes=2)).reminded == 0
        assert reassign_overdue(monday_10 + timedelta(minutes=6)).reminded == 1
    assert len(mail.outbox) == 2
    assert Reminder.objects.filter(lead=lead, kind=ReminderKind.FOLLOW_UP).count() == 2


def test_early_warning_once_when_share_of_sla_elapsed(
    monday_10, django_capture_on_commit_callbacks
):
    alice = RepFactory()
    due_soon = LeadFactory(
        owner=alice.user,
        assigned_at=monday_10 - timedelta(minutes=45),
        first_response_due=monday_10 + timedelta(minutes=15),
    )
    LeadFactory(  # half-way: not yet
        owner=alice.user,
        assigned_at=monday_10 - timedelta(minutes=30),
        first_response_due=monday_10 + timedelta(minutes=30),
    )
    with lf(EARLY_WARNING_SHARE=0.75), django_capture_on_commit_callbacks(execute=True):
        first = reassign_overdue(monday_10)
        second = reassign_overdue(monday_10 + timedelta(minutes=1))
    assert (first.warned, second.warned) == (1, 0)
    assert [m.to for m in mail.outbox] == [[alice.user.email]]
    assert Reminder.objects.get().lead == due_soon
    # Off by default.
    assert reassign_overdue(monday_10 + timedelta(minutes=10)).warned == 0


def test_early_warning_counts_business_time(django_capture_on_commit_callbacks):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    alice = RepFactory()
    friday = datetime(2026, 11, 27, 16, 30, tzinfo=berlin)
    LeadFactory(  # 30 of 60 business minutes left on Friday, the rest on Monday
        owner=alice.user,
        assigned_at=friday,
        first_response_due=datetime(2026, 11, 30, 9, 30, tzinfo=berlin),
    )
    sunday = datetime(2026, 11, 29, 12, 0, tzinfo=berlin)
    monday = datetime(2026, 11, 30, 9, 20, tzinfo=berlin)
    with lf(EARLY_WARNING_SHARE=0.75):
        assert reassign_overdue(sunday).warned == 0  # wall clock says 97%, business time 50%
        assert reassign_overdue(monday).warned == 1


# --- lost notifications ------------------------------------------------------------------------


def test_lost_notifications_are_queued_again_once(monday_10, django_capture_on_commit_callbacks):
    """Rows still unclaimed 2 minutes to 24 hours after they were written are sent again,
    if the news still holds; a claimed row is never sent twice."""
    alice, bob = RepFactory(), RepFactory()
    manager = make_manager()

    def held_by(rep, **fields):
        return LeadFactory(
            owner=rep.user, first_response_due=monday_10 + timedelta(hours=1), **fields
        )

    def row(lead, rep, ago, **fields):
        fields.setdefault("reason", AssignmentReason.INTAKE)
        return Assignment.objects.create(
            lead=lead, to_rep=rep.user, created_at=monday_10 - ago, **fields
        )

    lost = row(held_by(alice), alice, timedelta(minutes=5))
    row(held_by(alice), alice, timedelta(minutes=1))  # may still be on its way
    row(held_by(alice), alice, timedelta(hours=25))  # stale
    row(held_by(alice), alice, timedelta(minutes=5), notified_at=monday_10)  # sent
    row(held_by(alice, status="won"), alice, timedelta(minutes=5))  # closed since
    moved = held_by(bob)
    row(moved, alice, timedelta(minutes=20))  # superseded: the lead is bob's now
    latest = row(moved, bob, timedelta(minutes=10), reason=AssignmentReason.SLA_BREACH)
    escalation = row(
        held_by(bob, escalated_at=monday_10), bob, timedelta(minutes=5), reason="escalation"
    )
    follow_up = held_by(alice, first_contacted_at=monday_10 - timedelta(days=1))
    reminder = Reminder.objects.create(
        lead=follow_up,
        kind=ReminderKind.FOLLOW_UP,
        due_at=monday_10 - timedelta(minutes=10),
        rep=alice.user,
        created_at=monday_10 - timedelta(minutes=9),
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = reassign_overdue(monday_10)
    with django_capture_on_commit_callbacks(execute=True):
        second = reassign_overdue(monday_10 + timedelta(minutes=1))

    assert (first.renotified, second.renotified) == (4, 0)
    assert first.as_dict() == {**SweepReport().as_dict(), "renotified": 4}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [alice.user.email, bob.user.email, manager.email, alice.user.email]
    )
    for claimed in (lost, latest, escalation, reminder):
        claimed.refresh_from_db()
        assert claimed.notified_at is not None
    assert Assignment.objects.filter(notified_at__isnull=True).count() == 4


def test_lost_assignment_mail_is_not_sent_when_assignment_mails_are_off(monday_10):
    alice = RepFactory()
    lead = LeadFactory(owner=alice.user, first_response_due=monday_10 + timedelta(hours=1))
    Assignment.objects.create(
        lead=lead, to_rep=alice.user, reason="intake", created_at=monday_10 - timedelta(minutes=5)
    )
    with lf(NOTIFY_ON_ASSIGNMENT=False):
        assert reassign_overdue(monday_10).renotified == 0
    assert reassign_overdue(monday_10).renotified == 1


def test_sweep_reads_rep_loads_once_per_batch(monday_10):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reps = [RepFactory(capacity=500) for _ in range(4)]
    for i in range(30):
        overdue(monday_10, reps[i % 4])
    with (
        lf(SWEEP_BATCH_SIZE=10, NOTIFY_ON_ASSIGNMENT=False, PAUSE_AFTER_MISSES=None),
        CaptureQueriesContext(connection) as queries,
    ):
        assert reassign_overdue(monday_10).reassigned == 30
    load_reads = [q for q in queries if "COUNT(*)" in q["sql"] and "leadfollow_lead" in q["sql"]]
    # One per batch (3), and hand_over_unavailable's "anyone at all?" check.
    assert len(load_reads) == 4


def _between_batches(change):
    """Run ``change`` once, inside the pass's first batch (after its moves were written):
    what the next batches must see, as if another request had committed it meanwhile."""
    done = []

    def receiver(sender, **kwargs):
        if not done:
            done.append(True)
            change()

    return receiver


def _pass_with(change, monday_10, leads=6):
    owner = RepFactory()
    for i in range(leads):
        overdue(monday_10, owner, late=timedelta(minutes=10 + i))
    receiver = _between_batches(change)
    signals.lead_reassigned.connect(receiver)
    try:
        with lf(SWEEP_BATCH_SIZE=2, NOTIFY_ON_ASSIGNMENT=False, PAUSE_AFTER_MISSES=None):
            report = reassign_overdue(monday_10)
    finally:
        signals.lead_reassigned.disconnect(receiver)
    assert report.reassigned == leads
    return {
        user: Lead.objects.filter(owner__username=user, reassignment_count=1).count()
        for user in Lead.objects.values_list("owner__username", flat=True).distinct()
    }


def test_a_rep_who_stops_accepting_during_a_pass_gets_nothing_from_its_later_batches(monday_10):
    bob, carol = RepFactory(), RepFactory()
    stop = lambda: RepProfile.objects.filter(pk=bob.pk).update(accepting_leads=False)  # noqa: E731
    held = _pass_with(stop, monday_10)
    # The first batch (2 leads) went one each; the four after it all to carol.
    assert held[bob.user.username] == 1
    assert held[carol.user.username] == 5


def test_a_rep_who_joins_during_a_pass_takes_leads_from_its_later_batches(monday_10):
    RepFactory(user__username="bob"), RepFactory(user__username="carol")
    held = _pass_with(lambda: RepFactory(user__username="dave"), monday_10)
    # Dave, empty-handed, is least loaded: he takes the next leads until level.
    assert held["dave"] >= 2
    dave_lead = Lead.objects.filter(owner__username="dave").first()
    assert dave_lead.assignments.last().to_rep.username == "dave"


def test_leads_given_to_a_rep_between_two_batches_count_against_their_capacity(monday_10):
    bob, carol = RepFactory(capacity=3), RepFactory(capacity=50)

    def intake_elsewhere():
        for _ in range(2):
            LeadFactory(owner=bob.user, first_response_due=monday_10 + timedelta(hours=1))

    held = _pass_with(intake_elsewhere, monday_10)
    # Bob took one lead in the first batch; with the two given meanwhile he is full.
    assert held[bob.user.username] == 1
    assert held[carol.user.username] == 5


def test_handover_batches_see_a_rep_who_stops_accepting_between_them(monday_10):
    bob, carol = RepFactory(), RepFactory()
    for _ in range(6):  # unowned, not yet due: the handover gives them first owners
        overdue(monday_10, None, late=-timedelta(minutes=20))
    stop = lambda: RepProfile.objects.filter(pk=bob.pk).update(accepting_leads=False)  # noqa: E731
    receiver = _between_batches(stop)
    signals.lead_assigned.connect(receiver)
    try:
        with lf(SWEEP_BATCH_SIZE=2, NOTIFY_ON_ASSIGNMENT=False):
            assert reassign_overdue(monday_10).handed_over == 6
    finally:
        signals.lead_assigned.disconnect(receiver)
    assert Lead.objects.filter(owner=bob.user).count() == 1
    assert Lead.objects.filter(owner=carol.user).count() == 5


def test_management_command_runs_one_pass(monday_10, capsys):
    alice, _ = RepFactory(), RepFactory()
    overdue(monday_10, alice, late=timedelta(days=10000))
    call_command("leadfollow_sweep")
    assert "reassigned: 1" in capsys.readouterr().out


# --- PostgreSQL: concurrent sweeps --------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_reassign_each_lead_exactly_once(monday_10):
    count = 1000
    reps = [RepFactory(capacity=2 * count) for _ in range(5)]
    leads = Lead.objects.bulk_create(
        Lead(
            name=f"Lead {i}",
            email=f"lead{i}@example.org",
            source="web",
            owner=reps[i % 5].user,
            received_at=monday_10 - timedelta(hours=1),
            assigned_at=monday_10 - timedelta(hours=1),
            first_response_due=monday_10 - timedelta(minutes=1 + i % 17),
        )
        for i in range(count)
    )
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def sweep():
        try:
            barrier.wait()
            reports.append(reassign_overdue(monday_10))
        except Exception as exc:  # surfaced below, with the thread's error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    # Settings are process-wide: override once, around both threads. Batches of 50 make
    # the two sweeps interleave over 20 batches each instead of one taking everything.
    # The rep e-mails are tested elsewhere; in sync mode each would run inline at commit.
    # 200 misses per rep would pause every rep after a few: pausing is tested elsewhere.
    with lf(SWEEP_BATCH_SIZE=50, MAX_MISSES=5, NOTIFY_ON_ASSIGNMENT=False, PAUSE_AFTER_MISSES=None):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert sum(r.reassigned for r in reports) == count
    breaches = Assignment.objects.filter(reason=AssignmentReason.SLA_BREACH)
    assert breaches.count() == count
    moved = {
        lead_id: (from_rep, to_rep)
        for lead_id, from_rep, to_rep in breaches.values_list("lead_id", "from_rep_id", "to_rep_id")
    }
    assert set(moved) == {lead.pk for lead in leads}
    assert Lead.objects.filter(reassignment_count=1).count() == count
    for lead_id, owner_id in Lead.objects.values_list("pk", "owner_id"):
        from_rep, to_rep = moved[lead_id]
        assert owner_id == to_rep != from_rep


def test_a_sweep_batch_writes_in_a_constant_number_of_statements(monday_10):
    """One locking SELECT, one load count, one UPDATE of the leads, one INSERT of the rows,
    one UPDATE of the reps — per batch, whatever its size; signals still per lead."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reps = [RepFactory(capacity=500) for _ in range(4)]
    moved = []
    receiver = lambda sender, lead, **kw: moved.append(lead.pk)  # noqa: E731
    signals.lead_reassigned.connect(receiver)

    def statements(leads: int) -> int:
        for i in range(leads):
            overdue(monday_10, reps[i % 4])
        settings = {"NOTIFY_ON_ASSIGNMENT": False, "PAUSE_AFTER_MISSES": None}
        with lf(**settings), CaptureQueriesContext(connection) as queries:
            assert reassign_overdue(monday_10).reassigned == leads
        return len(queries)

    try:
        statements(1)  # warm: the routing rules are read once per process, then cached
        few, many = statements(5), statements(60)
    finally:
        signals.lead_reassigned.disconnect(receiver)
    assert few == many
    assert len(moved) == 66
