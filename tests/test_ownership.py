"""The lead's lifecycle through every door: people and the sweep agree.

Each test goes through the door a user uses (admin pages, rep pages) and then lets the
sweep run, asserting the Assignment rows, the owner and the deadline."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import override_settings
from django.urls import reverse

from leadfollow import ownership
from leadfollow.models import Absence, Assignment, AssignmentReason, ContactAttempt, Lead
from leadfollow.sweep import reassign_overdue
from tests.factories import LeadFactory, RepFactory, UserFactory

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
# Monday 10:00 in Berlin, inside everyone's hours: the clock is pinned so "now" is a workday.
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def monday():
    with time_machine.travel(MONDAY_10, tick=False):
        yield


@pytest.fixture
def manager(client):
    user = UserFactory(username="morgan", is_staff=True)
    for codename in ("manage_leads", "add_lead", "change_lead", "add_contactattempt"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def chain_ok(lead: Lead) -> bool:
    """Each row's from_rep is the previous row's to_rep; the last to_rep is the owner."""
    rows = list(lead.assignments.order_by("created_at", "pk"))
    pairs = zip(rows, rows[1:], strict=False)
    return all(b.from_rep_id == a.to_rep_id for a, b in pairs) and (
        rows[-1].to_rep_id == Lead.objects.get(pk=lead.pk).owner_id
    )


# --- the rep hands a lead back -------------------------------------------------------------------


def test_handed_back_lead_goes_to_another_rep_and_the_sweep_never_returns_it(client):
    ana, bob = RepFactory(), RepFactory()
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_by_manager(lead, ana, actor=None, confirm_unavailable=True)
    client.force_login(ana.user)

    response = client.post(
        reverse("leadfollow:hand_back", args=[lead.pk]), {"hand_back-reason": "Wrong territory"}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == bob.user
    row = lead.assignments.order_by("-created_at", "-pk").first()
    assert (row.reason, row.from_rep, row.to_rep, row.note) == (
        AssignmentReason.HANDED_BACK,
        ana.user,
        bob.user,
        "Wrong territory",
    )
    assert row.first_response_due == lead.first_response_due > MONDAY_10

    # Bob misses it: the sweep must not give it back to Ana, who handed it back.
    report = reassign_overdue(lead.first_response_due + MINUTE)
    lead.refresh_from_db()
    assert report.escalated == 1 and lead.owner is None  # nobody else: the managers' now
    assert Assignment.objects.filter(lead=lead, to_rep=ana.user).count() == 1  # only the first
    assert chain_ok(lead)


def test_history_is_read_only_for_leads_that_were_moved_off_a_rep(django_assert_num_queries):
    ana, bob, cy = RepFactory(), RepFactory(), RepFactory()
    fresh = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_by_manager(fresh, ana, actor=None, confirm_unavailable=True)
    moved = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_by_manager(moved, bob, actor=None, confirm_unavailable=True)
    ownership.hand_back(moved, actor=bob.user)

    with django_assert_num_queries(0):  # a sweep's usual batch: first misses only
        assert ownership.passed_over([fresh]) == ({}, {})
    with django_assert_num_queries(1):
        missed, handed_back = ownership.passed_over([fresh, moved])
    assert handed_back == {moved.pk: {bob.user_id}}
    assert missed == {}
    assert moved.owner_id in {ana.user_id, cy.user_id}  # never back to bob


def test_handed_back_with_nobody_else_waits_unowned_and_keeps_its_deadline(client):
    ana = RepFactory()
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_at_intake(lead, now=MONDAY_10)
    due = Lead.objects.get(pk=lead.pk).first_response_due
    client.force_login(ana.user)
    client.post(reverse("leadfollow:hand_back", args=[lead.pk]), {"hand_back-reason": "Not mine"})
    lead.refresh_from_db()
    assert (lead.owner, lead.first_response_due) == (None, due)
    reassign_overdue(MONDAY_10 + MINUTE)  # the handover finds only Ana, and leaves it
    assert Lead.objects.get(pk=lead.pk).owner is None
    bob = RepFactory()
    reassign_overdue(MONDAY_10 + 2 * MINUTE)
    assert Lead.objects.get(pk=lead.pk).owner == bob.user


# --- the manager chooses -------------------------------------------------------------------------


def test_managers_pick_of_an_absent_rep_stands_until_its_deadline(manager):
    ana, bob = RepFactory(), RepFactory()
    Absence.objects.create(rep=bob, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 60 * MINUTE)
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_at_intake(lead, now=MONDAY_10)
    lead.refresh_from_db()
    assert lead.owner == ana.user

    with pytest.raises(ownership.RepUnavailable) as refused:
        ownership.assign_by_manager(lead, bob, actor=manager)
    assert "absent until" in str(refused.value.reasons)
    ownership.assign_by_manager(lead, bob, actor=manager, confirm_unavailable=True)
    lead.refresh_from_db()
    assert lead.owner == bob.user

    reassign_overdue(MONDAY_10 + MINUTE)  # Bob is absent, but the manager chose him
    assert Lead.objects.get(pk=lead.pk).owner == bob.user
    reassign_overdue(lead.first_response_due + MINUTE)  # missed: now it moves, not to Bob
    lead.refresh_from_db()
    assert lead.owner == ana.user
    assert [r.reason for r in lead.assignments.order_by("pk")] == ["intake", "manual", "sla_breach"]
    assert chain_ok(lead)


def test_cold_lists_next_rep_skips_the_rep_who_missed_it_while_another_can_take_it(client, manager):
    ana, bob = RepFactory(), RepFactory()
    lead = LeadFactory(received_at=MONDAY_10 - 90 * MINUTE)
    ownership.assign_by_manager(lead, ana, actor=manager, confirm_unavailable=True)
    later = Lead.objects.get(pk=lead.pk).first_response_due + MINUTE
    cold_list = reverse("admin:leadfollow_coldlead_changelist")
    with time_machine.travel(later, tick=False):
        reassign_overdue(later)  # Ana missed it: Bob has it now
        # Carl was picked most recently, so round-robin alone would choose Ana.
        carl = RepFactory(last_assigned_at=later + MINUTE)
        Lead.objects.filter(pk=lead.pk).update(first_response_due=later - MINUTE)  # Bob missed

        client.post(cold_list, {"action": "reassign_to_next", "_selected_action": [lead.pk]})
        lead.refresh_from_db()
        assert lead.owner == carl.user
        row = lead.assignments.order_by("-created_at", "-pk").first()
        assert (row.reason, row.from_rep, row.to_rep, row.actor) == (
            "manual", bob.user, carl.user, manager,
        )  # fmt: skip
        assert row.first_response_due == lead.first_response_due == later + 30 * MINUTE

        # With Bob and Carl away, the rep who missed it is the only one left: she gets it.
        for away in (bob, carl):
            Absence.objects.create(rep=away, starts_at=later, ends_at=later + 600 * MINUTE)
        Lead.objects.filter(pk=lead.pk).update(first_response_due=later - MINUTE)
        client.post(cold_list, {"action": "reassign_to_next", "_selected_action": [lead.pk]})
        assert Lead.objects.get(pk=lead.pk).owner == ana.user
    assert chain_ok(lead)


def test_heating_up_never_hands_a_lead_to_the_rep_who_handed_it_back(client):
    """The engagement door's handover (a lead heats up while its owner is away) follows
    the lifecycle's rules: not to the rep who handed it back, and a manager's pick stands."""
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    source = APIClient()
    source.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key('ads')[1]}")
    ana = RepFactory()
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE, source="ads")
    ownership.assign_by_manager(lead, ana, actor=None, confirm_unavailable=True)
    bob = RepFactory()
    client.force_login(ana.user)
    client.post(reverse("leadfollow:hand_back", args=[lead.pk]), {"hand_back-reason": "Not mine"})
    assert Lead.objects.get(pk=lead.pk).owner == bob.user
    Absence.objects.create(rep=bob, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 600 * MINUTE)

    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "HOT_SCORE_THRESHOLD": 10}):
        heated = source.post("/api/events/", {"lead_id": lead.pk, "type": "meeting_booked"},
                             format="json")  # fmt: skip
        assert heated.status_code in (200, 201, 202), heated.content
        lead.refresh_from_db()
        assert lead.heated_up_at is not None
        assert lead.owner == bob.user  # nobody but Ana is working: it waits for Bob or the sweep

        # A manager picked Cleo although she is away; Dan could take the lead now, but
        # the manager's pick stands until its deadline.
        cleo = RepFactory()
        Absence.objects.create(rep=cleo, starts_at=MONDAY_10 - MINUTE,
                               ends_at=MONDAY_10 + 600 * MINUTE)  # fmt: skip
        picked = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE, source="ads")
        ownership.assign_by_manager(picked, cleo, actor=None, confirm_unavailable=True)
        RepFactory()
        source.post("/api/events/", {"lead_id": picked.pk, "type": "meeting_booked"},
                    format="json")  # fmt: skip
        picked.refresh_from_db()
        assert picked.heated_up_at is not None and picked.owner == cleo.user
    assert chain_ok(lead)


def test_admin_chooser_shows_availability_and_asks_for_confirmation(client, manager):
    ana = RepFactory(user=UserFactory(username="ana"), capacity=1)
    bob = RepFactory(user=UserFactory(username="bob"))
    Absence.objects.create(rep=bob, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 60 * MINUTE)
    lead = LeadFactory(owner=ana.user, first_response_due=MONDAY_10 - MINUTE)
    data = {"action": "assign_to_chosen_rep", "_selected_action": [lead.pk]}
    page = client.post(reverse("admin:leadfollow_coldlead_changelist"), data)
    html = page.content.decode()
    assert "1/1 open uncontacted" in html and "full (1 of 1)" in html
    assert "absent until" in html


def test_admin_chooser_reads_availability_in_the_same_queries_for_any_number_of_reps(
    client, manager
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lead = LeadFactory(owner=RepFactory().user, first_response_due=MONDAY_10 - MINUTE)
    data = {"action": "assign_to_chosen_rep", "_selected_action": [lead.pk]}
    url = reverse("admin:leadfollow_coldlead_changelist")

    def chooser_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.post(url, data).status_code == 200
        return len(captured.captured_queries)

    few = chooser_queries()
    for _ in range(5):
        away = RepFactory()
        Absence.objects.create(rep=away, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + MINUTE)
    assert chooser_queries() == few


# --- admin forms ---------------------------------------------------------------------------------


def test_admin_add_lead_routes_it_and_gives_it_a_deadline(client, manager):
    ana = RepFactory()
    response = client.post(
        reverse("admin:leadfollow_lead_add"),
        {
            "name": "Added By Hand",
            "email": "HAND@example.com",
            "source": "phone",
            "attributes": "{}",
            "status": "new",
            **inline_management(),
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead = Lead.objects.get(name="Added By Hand")
    assert (lead.owner, lead.email) == (ana.user, "hand@example.com")
    assert lead.first_response_due == MONDAY_10 + 60 * MINUTE
    row = Assignment.objects.get(lead=lead)
    assert (row.reason, row.to_rep, row.actor) == ("intake", ana.user, manager)


def test_admin_add_closed_lead_is_decided_through_the_lifecycle(client, manager):
    ana = RepFactory()
    response = client.post(
        reverse("admin:leadfollow_lead_add"),
        {"name": "Closed On The Phone", "email": "deal@example.com", "source": "phone",
         "attributes": "{}", "status": "qualified", **inline_management()},
    )  # fmt: skip
    assert response.status_code == 302
    lead = Lead.objects.get(name="Closed On The Phone")
    assert (lead.status, lead.decided_at, lead.owner) == ("qualified", MONDAY_10, ana.user)
    assert lead.assignments.get().reason == "intake"


def test_staff_without_manage_leads_cannot_choose_an_owner_in_the_admin(client):
    """Choosing an owner is a manager's: a rep with admin access to their own leads sees
    the owner read-only, and a lead they add is routed like any other."""
    clerk = RepFactory(user=UserFactory(username="clerk", is_staff=True)).user
    for codename in ("add_lead", "change_lead", "view_lead"):
        clerk.user_permissions.add(Permission.objects.get(codename=codename))
    bob = RepFactory(user=UserFactory(username="bob"), accepting_leads=False)
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_at_intake(lead, now=MONDAY_10 - 5 * MINUTE)
    assert Lead.objects.get(pk=lead.pk).owner == clerk
    client.force_login(clerk)
    url = reverse("admin:leadfollow_lead_change", args=[lead.pk])
    form = {"name": lead.name, "email": lead.email, "source": lead.source, "attributes": "{}",
            "status": "new", "owner": bob.user.pk, "confirm_unavailable": "on",
            **inline_management()}  # fmt: skip

    page = client.get(url)
    assert "owner" not in page.context["adminform"].form.fields
    assert "confirm_unavailable" not in page.content.decode()
    assert client.post(url, {**form, "name": "Renamed"}).status_code == 302
    lead.refresh_from_db()
    assert (lead.name, lead.owner) == ("Renamed", clerk)  # the owner field was ignored
    assert lead.assignments.count() == 1

    added = client.post(reverse("admin:leadfollow_lead_add"), {**form, "name": "By Clerk"})
    assert added.status_code == 302
    new = Lead.objects.get(name="By Clerk")
    assert new.assignments.get().reason == "intake" and new.owner != bob.user


def test_admin_change_owner_writes_a_row_and_a_new_deadline(client, manager):
    ana, bob = RepFactory(), RepFactory(accepting_leads=False)
    lead = LeadFactory(received_at=MONDAY_10 - 5 * MINUTE)
    ownership.assign_at_intake(lead, now=MONDAY_10 - 5 * MINUTE)
    url = reverse("admin:leadfollow_lead_change", args=[lead.pk])
    form = {
        "name": lead.name,
        "email": lead.email,
        "source": lead.source,
        "attributes": "{}",
        "status": "new",
        "owner": bob.user.pk,
        **inline_management(),
    }
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "not accepting leads" in refused.content.decode()
    assert Lead.objects.get(pk=lead.pk).owner == ana.user

    assert client.post(url, {**form, "confirm_unavailable": "on"}).status_code == 302
    lead.refresh_from_db()
    assert lead.owner == bob.user
    row = lead.assignments.order_by("-created_at", "-pk").first()
    assert (row.reason, row.from_rep, row.to_rep, row.actor) == (
        "manual",
        ana.user,
        bob.user,
        manager,
    )
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin"}):
        assert lead.first_response_due == MONDAY_10 + 30 * MINUTE  # the handover SLA
    assert chain_ok(lead)


def test_admin_attempt_stops_the_clock_and_cannot_predate_the_lead(client, manager):
    ana = RepFactory()
    lead = LeadFactory(owner=ana.user, received_at=MONDAY_10 - 90 * MINUTE)
    url = reverse("admin:leadfollow_contactattempt_add")
    form = {"lead": lead.pk, "rep": ana.user.pk, "channel": "call", "outcome": "connected"}
    early = client.post(
        url, {**form, "attempted_at_0": "2026-11-23", "attempted_at_1": "08:00"}
    )  # 08:00 Berlin: the lead arrived at 08:30
    assert early.status_code == 200 and "before the lead arrived" in early.content.decode()
    assert not ContactAttempt.objects.exists()

    ok = client.post(url, {**form, "attempted_at_0": "2026-11-23", "attempted_at_1": "09:15"})
    assert ok.status_code == 302
    lead.refresh_from_db()
    assert lead.first_contacted_at == datetime(2026, 11, 23, 9, 15, tzinfo=BERLIN)
    reassign_overdue(MONDAY_10 + 120 * MINUTE)
    assert Lead.objects.get(pk=lead.pk).owner == ana.user  # contacted: the sweep leaves it


def test_admin_attempts_with_a_closing_outcome_close_the_lead_as_the_rep_pages_do(client, manager):
    """README: "reached decision maker" and "meeting booked" qualify the lead, "not
    interested" disqualifies it, through every door: the attempt's add page, the Lead
    page's inline, and an outcome corrected on the attempt's change page."""
    ana = RepFactory()
    added, inline, corrected = (
        LeadFactory(owner=ana.user, received_at=MONDAY_10 - 90 * MINUTE) for _ in range(3)
    )
    at = {"attempted_at_0": "2026-11-23", "attempted_at_1": "09:15"}
    response = client.post(
        reverse("admin:leadfollow_contactattempt_add"),
        {"lead": added.pk, "rep": ana.user.pk, "channel": "call", "outcome": "meeting_booked",
         **at},
    )  # fmt: skip
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.status, added.decided_at) == ("qualified", datetime(2026, 11, 23, 9, 15,
                                                                      tzinfo=BERLIN))  # fmt: skip

    page = reverse("admin:leadfollow_lead_change", args=[inline.pk])
    lead_form = {
        "name": inline.name, "email": inline.email, "source": inline.source,
        "attributes": "{}", "status": "new", "owner": ana.user.pk, **inline_management(),
        "attempts-TOTAL_FORMS": "1", "attempts-0-rep": ana.user.pk,
        "attempts-0-channel": "call", "attempts-0-outcome": "not_interested",
        **{f"attempts-0-{k}": v for k, v in at.items()},
    }  # fmt: skip
    assert client.post(page, lead_form).status_code == 302
    inline.refresh_from_db()
    assert inline.status == "disqualified" and inline.first_contacted_at is not None

    attempt = ownership.log_attempt(corrected, rep=ana.user, channel="call", outcome="no_answer")
    manager.user_permissions.add(Permission.objects.get(codename="change_contactattempt"))
    change = reverse("admin:leadfollow_contactattempt_change", args=[attempt.pk])
    response = client.post(change, {"channel": "call", "outcome": "decision_maker", "note": ""})
    assert response.status_code == 302
    corrected.refresh_from_db()
    assert corrected.status == "qualified"


def test_staff_without_manage_leads_cannot_log_on_another_reps_lead(client):
    clerk = RepFactory(user=UserFactory(username="clerk", is_staff=True)).user
    for codename in ("add_contactattempt", "change_contactattempt", "view_contactattempt"):
        clerk.user_permissions.add(Permission.objects.get(codename=codename))
    other = LeadFactory(owner=RepFactory().user, received_at=MONDAY_10 - 90 * MINUTE)
    client.force_login(clerk)
    response = client.post(
        reverse("admin:leadfollow_contactattempt_add"),
        {"lead": other.pk, "rep": clerk.pk, "channel": "call", "outcome": "connected",
         "attempted_at_0": "2026-11-23", "attempted_at_1": "09:15"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "lead" in response.context["adminform"].form.errors
    assert not ContactAttempt.objects.exists()

    # Nor move their own attempt onto it: a logged attempt's lead, rep and time are history.
    mine = LeadFactory(owner=clerk, received_at=MONDAY_10 - 90 * MINUTE)
    attempt = ownership.log_attempt(mine, rep=clerk, channel="call", outcome="connected")
    response = client.post(
        reverse("admin:leadfollow_contactattempt_change", args=[attempt.pk]),
        {"lead": other.pk, "rep": clerk.pk, "channel": "call", "outcome": "connected"},
    )
    assert response.status_code == 302
    assert ContactAttempt.objects.get(pk=attempt.pk).lead == mine
    assert Lead.objects.get(pk=other.pk).first_contacted_at is None


def inline_management() -> dict:
    """Empty inline formsets of the Lead admin page (attempts, assignments, submissions)."""
    data = {}
    for prefix in ("attempts", "assignments", "submissions"):
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def test_dashboard_and_queue_agree_on_overdue_follow_ups(client, manager):
    """One "overdue" (a missed first response or follow-up) for the dashboard's per-rep
    figure, the manager's queue and each rep's overdue tab, whoever holds the leads."""
    ana, bob = RepFactory(), RepFactory()
    for _ in range(2):
        LeadFactory(
            owner=ana.user,
            received_at=MONDAY_10 - 48 * 60 * MINUTE,
            first_contacted_at=MONDAY_10 - 47 * 60 * MINUTE,
            next_follow_up_at=MONDAY_10 - 60 * MINUTE,
            status="working",
        )
    LeadFactory(owner=bob.user, received_at=MONDAY_10 - 90 * MINUTE,
                first_response_due=MONDAY_10 - MINUTE)  # fmt: skip
    queue = reverse("leadfollow:queue") + "?overdue=true"

    report = client.get(reverse("admin:leadfollow_dashboard")).context["report"]
    per_rep = {row["rep_id"]: row["overdue"] for row in report["reps"]}
    assert (per_rep[ana.user_id], per_rep[bob.user_id]) == (2, 1)
    assert len(client.get(queue + "&rep=all").context["leads"]) == 3
    client.force_login(ana.user)
    assert len(client.get(queue).context["leads"]) == 2  # the same leads, on her overdue tab
    assert Lead.objects.overdue(MONDAY_10).count() == 3


# --- pausing non-responders ----------------------------------------------------------------------


def test_rep_who_keeps_missing_is_paused_told_and_resumes_with_one_click(
    client, django_capture_on_commit_callbacks
):
    from django.core import mail

    from leadfollow.intake import create_lead

    manager = UserFactory(username="boss", email="boss@example.com")
    manager.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    slow, other = RepFactory(user=UserFactory(username="slow")), RepFactory()
    for i in range(2):
        LeadFactory(
            owner=slow.user,
            received_at=MONDAY_10 - 90 * MINUTE,
            first_response_due=MONDAY_10 - (10 + i) * MINUTE,
        )
    settings = {"TIME_ZONE": "Europe/Berlin", "PAUSE_AFTER_MISSES": 2, "PAUSE_WINDOW_HOURS": 24}
    with override_settings(LEADFOLLOW=settings):
        with django_capture_on_commit_callbacks(execute=True):
            report = reassign_overdue(MONDAY_10)
        assert (report.reassigned, report.paused) == (2, 1)
        slow.refresh_from_db()
        assert slow.is_paused(MONDAY_10) and slow.pause_reason == "missed_deadlines"
        told = [m for m in mail.outbox if m.to == ["boss@example.com"]]
        assert len(told) == 1 and "slow" in told[0].subject
        assert "missed 2 first-response deadlines" in told[0].body
        mail.outbox.clear()

        # No new leads while paused: they go to the other rep.
        lead = create_lead({"name": "New One", "email": "new@example.com"}, now=MONDAY_10).lead
        assert lead.owner == other.user

        client.force_login(slow.user)
        page = client.get(reverse("leadfollow:queue"))
        assert "You are paused" in page.content.decode()
        assert client.post(reverse("leadfollow:resume")).status_code == 302
        slow.refresh_from_db()
        assert not slow.is_paused(MONDAY_10)
        lead = create_lead({"name": "Next One", "email": "next@example.com"}, now=MONDAY_10).lead
        assert lead.owner == slow.user  # fewer open leads than the other rep now


def test_rep_steps_away_for_an_hour_from_the_queue(client):
    from leadfollow.intake import create_lead

    away, other = RepFactory(), RepFactory()
    held = LeadFactory(
        owner=away.user, received_at=MONDAY_10, first_response_due=MONDAY_10 + 50 * MINUTE
    )
    client.force_login(away.user)
    assert "away for an hour" in client.get(reverse("leadfollow:queue")).content.decode()
    client.post(reverse("leadfollow:pause"))
    away.refresh_from_db()
    assert away.paused_until == MONDAY_10 + 60 * MINUTE
    lead = create_lead({"name": "While Away", "email": "w@example.com"}, now=MONDAY_10).lead
    assert lead.owner == other.user
    reassign_overdue(MONDAY_10 + MINUTE)  # a paused rep's uncontacted leads are handed over
    held.refresh_from_db()
    assert held.owner == other.user
    assert (
        held.assignments.order_by("-created_at", "-pk").first().reason
        == AssignmentReason.REP_UNAVAILABLE
    )
    later = create_lead({"name": "Back", "email": "b@example.com"}, now=MONDAY_10 + 61 * MINUTE)
    assert later.lead.owner == away.user  # the pause ran out by itself


def test_overdue_follow_up_of_an_absent_rep_is_handed_over():
    ana, bob = RepFactory(), RepFactory()
    lead = LeadFactory(
        owner=ana.user,
        status="working",
        received_at=MONDAY_10 - 3 * 24 * 60 * MINUTE,
        first_contacted_at=MONDAY_10 - 3 * 24 * 60 * MINUTE + MINUTE,
        next_follow_up_at=MONDAY_10 - 60 * MINUTE,
    )
    Absence.objects.create(rep=ana, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 600 * MINUTE)
    assert reassign_overdue(MONDAY_10).handed_over == 1
    lead.refresh_from_db()
    assert lead.owner == bob.user
    # And the follow-up reminder now goes to Bob, not to Ana on holiday.
    assert lead.reminders.get().rep == bob.user


def test_rep_list_shows_availability(client, manager):
    ana = RepFactory(user=UserFactory(username="ana"))
    Absence.objects.create(rep=ana, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 60 * MINUTE)
    RepFactory(user=UserFactory(username="bob"), accepting_leads=False)
    manager.is_superuser = True
    manager.save()
    html = client.get(reverse("admin:leadfollow_repprofile_changelist")).content.decode()
    assert "absent until" in html and "not accepting leads" in html and "0/25" in html


def test_managers_queue_picker_shows_who_is_away(client, manager):
    ana = RepFactory(user=UserFactory(username="ana"))
    Absence.objects.create(rep=ana, starts_at=MONDAY_10 - MINUTE, ends_at=MONDAY_10 + 60 * MINUTE)
    RepFactory(user=UserFactory(username="bob"), accepting_leads=False)
    RepFactory(user=UserFactory(username="cleo"))
    html = client.get(reverse("leadfollow:queue"), {"rep": "all"}).content.decode()
    picker = html[html.index('id="lf-rep"') : html.index("</select>")]
    assert "ana — absent until" in picker
    assert "bob — not accepting leads" in picker
    assert "cleo</option>" in picker  # available: nothing to say
