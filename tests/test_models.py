import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from leadfollow.conf import DEFAULTS
from leadfollow.models import Absence, Assignment, Lead, LeadStatus, RepProfile, ScoringRule
from leadfollow.models.assignment import AppendOnlyError
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    LeadFactory,
    RepFactory,
    ScoringRuleFactory,
    UserFactory,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


# --- LeadQuerySet -------------------------------------------------------------------------


@pytest.mark.django_db
def test_open_is_new_and_working():
    new = LeadFactory(status=LeadStatus.NEW)
    working = LeadFactory(status=LeadStatus.WORKING)
    LeadFactory(status=LeadStatus.QUALIFIED)
    LeadFactory(status=LeadStatus.DISQUALIFIED)
    assert ids(Lead.objects.open()) == {new.pk, working.pk}


@pytest.mark.django_db
def test_uncontacted_is_never_contacted_whatever_the_status(monday_10):
    never = LeadFactory()
    never_closed = LeadFactory(status=LeadStatus.DISQUALIFIED)
    LeadFactory(first_contacted_at=monday_10)
    assert ids(Lead.objects.uncontacted()) == {never.pk, never_closed.pk}


@pytest.mark.django_db
def test_cold_is_open_uncontacted_and_past_the_deadline(monday_10):
    now = monday_10
    cold_new = LeadFactory(first_response_due=now - MINUTE)
    cold_working = LeadFactory(status=LeadStatus.WORKING, first_response_due=now - HOUR)
    LeadFactory(first_response_due=now + MINUTE)  # still in time
    LeadFactory(first_response_due=now)  # due this instant: not missed yet
    LeadFactory(first_response_due=now - HOUR, first_contacted_at=now - 2 * HOUR)
    LeadFactory(first_response_due=now - HOUR, status=LeadStatus.DISQUALIFIED)
    LeadFactory(first_response_due=None)  # unassigned, no deadline
    assert ids(Lead.objects.cold(now)) == {cold_new.pk, cold_working.pk}


@pytest.mark.django_db
def test_cold_without_now_uses_the_current_time():
    missed = LeadFactory(first_response_due=timezone.now() - MINUTE)
    LeadFactory(first_response_due=timezone.now() + HOUR)
    assert ids(Lead.objects.cold()) == {missed.pk}


@pytest.mark.django_db
def test_is_cold_agrees_with_the_cold_queryset(monday_10):
    now = monday_10
    leads = [
        LeadFactory(status=status, first_contacted_at=contacted, first_response_due=due)
        for status, contacted, due in itertools.product(
            LeadStatus.values,
            [None, now - 2 * HOUR],
            [None, now - HOUR, now, now + HOUR],
        )
    ]
    in_python = {lead.pk for lead in leads if lead.is_cold(now)}
    assert in_python == ids(Lead.objects.cold(now))
    # new + working, uncontacted, due an hour ago
    assert len(in_python) == 2


def test_is_cold_on_an_unsaved_lead(monday_10):
    lead = Lead(first_response_due=monday_10 - MINUTE)
    assert lead.is_cold(monday_10)
    assert not lead.is_cold(monday_10 - HOUR)
    lead.first_contacted_at = monday_10 - 2 * MINUTE
    assert not lead.is_cold(monday_10)


@pytest.mark.django_db
def test_follow_up_due_includes_this_instant_and_skips_closed_leads(monday_10):
    now = monday_10
    past = LeadFactory(first_contacted_at=now - HOUR, next_follow_up_at=now - MINUTE)
    this_instant = LeadFactory(first_contacted_at=now - HOUR, next_follow_up_at=now)
    LeadFactory(first_contacted_at=now - HOUR, next_follow_up_at=now + MINUTE)
    LeadFactory(status=LeadStatus.QUALIFIED, next_follow_up_at=now - HOUR)
    LeadFactory(next_follow_up_at=None)
    assert ids(Lead.objects.follow_up_due(now)) == {past.pk, this_instant.pk}


@pytest.mark.django_db
def test_overdue_is_a_missed_first_response_or_a_missed_follow_up(monday_10):
    now = monday_10
    cold = LeadFactory(first_response_due=now - MINUTE)
    follow_up_missed = LeadFactory(
        first_contacted_at=now - 2 * HOUR,
        first_response_due=now - 3 * HOUR,  # met long ago: only the follow-up counts
        next_follow_up_at=now - MINUTE,
    )
    in_time_but_follow_up_missed = LeadFactory(
        first_response_due=now + HOUR, next_follow_up_at=now - MINUTE
    )
    LeadFactory(first_response_due=now + MINUTE)
    LeadFactory(first_contacted_at=now - HOUR, first_response_due=now - HOUR)  # answered
    LeadFactory(first_contacted_at=now - HOUR, next_follow_up_at=now)  # due, not yet overdue
    LeadFactory(first_contacted_at=now - HOUR, next_follow_up_at=now + HOUR)
    LeadFactory(status=LeadStatus.QUALIFIED, next_follow_up_at=now - HOUR)
    LeadFactory(status=LeadStatus.DISQUALIFIED, first_response_due=now - HOUR)
    assert ids(Lead.objects.overdue(now)) == {
        cold.pk,
        follow_up_missed.pk,
        in_time_but_follow_up_missed.pk,
    }
    # Every cold lead is overdue.
    assert ids(Lead.objects.cold(now)) <= ids(Lead.objects.overdue(now))


@pytest.mark.django_db
def test_for_rep_is_the_owner_only():
    alice, bob = UserFactory(), UserFactory()
    mine = LeadFactory(owner=alice)
    LeadFactory(owner=bob)
    LeadFactory(owner=None)
    assert ids(Lead.objects.for_rep(alice)) == {mine.pk}


@pytest.fixture
def leads_of_two_reps(db):
    alice, bob = UserFactory(), UserFactory()
    return alice, [LeadFactory(owner=alice), LeadFactory(owner=bob), LeadFactory(owner=None)]


def test_visible_to_anonymous_and_none_is_nothing(leads_of_two_reps):
    assert not Lead.objects.visible_to(AnonymousUser()).exists()
    assert not Lead.objects.visible_to(None).exists()


def test_visible_to_a_rep_is_their_own_leads(leads_of_two_reps):
    alice, (own, _, _) = leads_of_two_reps
    assert ids(Lead.objects.visible_to(alice)) == {own.pk}


def test_visible_to_inactive_manager_is_nothing_beyond_own(leads_of_two_reps):
    # An inactive user has no permissions in Django's ModelBackend.
    alice, (own, _, _) = leads_of_two_reps
    alice.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    alice.is_active = False
    alice.save()
    assert ids(Lead.objects.visible_to(alice)) == {own.pk}


def test_visible_to_user_with_manage_leads_is_everything(leads_of_two_reps):
    _, leads = leads_of_two_reps
    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    assert ids(Lead.objects.visible_to(manager)) == {lead.pk for lead in leads}


def test_visible_to_group_with_manage_leads_is_everything(leads_of_two_reps):
    _, leads = leads_of_two_reps
    managers = Group.objects.create(name="Sales managers")
    managers.permissions.add(Permission.objects.get(codename="manage_leads"))
    manager = UserFactory()
    manager.groups.add(managers)
    assert ids(Lead.objects.visible_to(manager)) == {lead.pk for lead in leads}


def test_visible_to_superuser_is_everything(leads_of_two_reps):
    _, leads = leads_of_two_reps
    boss = UserFactory(is_superuser=True)
    assert ids(Lead.objects.visible_to(boss)) == {lead.pk for lead in leads}


def test_visible_to_chains_with_other_states(leads_of_two_reps, monday_10):
    alice, (own, others, _) = leads_of_two_reps
    Lead.objects.filter(pk__in=[own.pk, others.pk]).update(first_response_due=monday_10 - HOUR)
    assert ids(Lead.objects.visible_to(alice).cold(monday_10)) == {own.pk}


# --- Lead constraints ---------------------------------------------------------------------


@pytest.mark.django_db
def test_external_id_is_unique_per_source():
    LeadFactory(source="ads", external_id="A-1")
    LeadFactory(source="partner", external_id="A-1")  # another sender may reuse it
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadFactory(source="ads", external_id="A-1")
    assert Lead.objects.filter(source="ads", external_id="A-1").count() == 1


@pytest.mark.django_db
def test_leads_without_external_id_do_not_clash():
    LeadFactory(source="web", external_id=None)
    LeadFactory(source="web", external_id=None)
    assert Lead.objects.filter(source="web", external_id__isnull=True).count() == 2


# --- Assignment ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_assignment_rows_cannot_be_changed():
    assignment = AssignmentFactory(reason="intake")
    assignment.reason = "manual"
    with pytest.raises(AppendOnlyError):
        assignment.save()
    assert Assignment.objects.get(pk=assignment.pk).reason == "intake"


@pytest.mark.django_db
def test_assignment_rows_cannot_be_deleted():
    assignment = AssignmentFactory()
    with pytest.raises(AppendOnlyError):
        assignment.delete()
    assert Assignment.objects.filter(pk=assignment.pk).exists()


@pytest.mark.django_db
def test_assignment_history_accumulates_per_lead():
    lead = LeadFactory()
    first = AssignmentFactory(lead=lead, reason="intake")
    second = AssignmentFactory(lead=lead, from_rep=first.to_rep, reason="sla_breach")
    assert list(lead.assignments.all()) == [second, first]  # newest first


# --- RepProfile and Absence ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("length", [-HOUR, timedelta(0)])
def test_absence_must_end_after_it_starts_in_the_database(rep, monday_10, length):
    with pytest.raises(IntegrityError), transaction.atomic():
        Absence.objects.create(rep=rep, starts_at=monday_10, ends_at=monday_10 + length)


def test_absence_full_clean_explains_the_constraint(rep, monday_10):
    absence = Absence(rep=rep, starts_at=monday_10, ends_at=monday_10 - HOUR)
    with pytest.raises(ValidationError) as exc_info:
        absence.full_clean()
    assert exc_info.value.message_dict[NON_FIELD_ERRORS] == ["An absence must end after it starts."]
    Absence(rep=rep, starts_at=monday_10, ends_at=monday_10 + HOUR).full_clean()


def test_rep_profile_rejects_unknown_time_zone(db):
    profile = RepProfile(user=UserFactory(), timezone="Europe/Atlantis")
    with pytest.raises(ValidationError) as exc_info:
        profile.full_clean()
    assert set(exc_info.value.message_dict) == {"timezone"}
    assert "Europe/Atlantis" in exc_info.value.message_dict["timezone"][0]


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["09:00", "25:00"]]},
        {"monday": [["09:00", "17:00"]]},
        {"mon": [["09:00", "13:00"], ["12:00", "17:00"]]},
        ["09:00", "17:00"],
    ],
)
def test_rep_profile_rejects_bad_working_hours(db, hours):
    profile = RepProfile(user=UserFactory(), timezone="Europe/Berlin", working_hours=hours)
    with pytest.raises(ValidationError) as exc_info:
        profile.full_clean()
    assert set(exc_info.value.message_dict) == {"working_hours"}


@pytest.mark.parametrize(
    ("tz", "hours"),
    [
        ("", {}),  # both fall back to the site calendar
        ("America/New_York", {"mon": [["08:00", "12:00"]], "sat": [["22:00", "02:00"]]}),
    ],
)
def test_rep_profile_accepts_valid_calendar(db, tz, hours):
    RepProfile(user=UserFactory(), timezone=tz, working_hours=hours).full_clean()


@pytest.mark.django_db
def test_effective_capacity_falls_back_to_the_site_default():
    rep = RepFactory(capacity=None)
    assert rep.effective_capacity == DEFAULTS["DEFAULT_REP_CAPACITY"]
    with override_settings(LEADFOLLOW={"DEFAULT_REP_CAPACITY": 7}):
        assert rep.effective_capacity == 7


@pytest.mark.django_db
@pytest.mark.parametrize("capacity", [0, 3])
def test_effective_capacity_uses_the_reps_own_value_even_zero(capacity):
    rep = RepFactory(capacity=capacity)
    with override_settings(LEADFOLLOW={"DEFAULT_REP_CAPACITY": 7}):
        assert rep.effective_capacity == capacity


@pytest.mark.django_db
def test_present_excludes_reps_absent_now(monday_10):
    now = monday_10
    away = AbsenceFactory(starts_at=now - HOUR, ends_at=now + HOUR).rep
    starting_now = AbsenceFactory(starts_at=now, ends_at=now + HOUR).rep
    back = AbsenceFactory(starts_at=now - 2 * HOUR, ends_at=now).rep  # back this instant
    leaving_later = AbsenceFactory(starts_at=now + MINUTE, ends_at=now + HOUR).rep
    never_away = RepFactory()
    present = ids(RepProfile.objects.present(now))
    assert present == {back.pk, leaving_later.pk, never_away.pk}
    assert away.is_absent(now) and starting_now.is_absent(now)
    assert not back.is_absent(now)


@pytest.mark.django_db
def test_accepting_needs_the_flag_and_an_active_user():
    accepting = RepFactory()
    RepFactory(accepting_leads=False)
    RepFactory(user=UserFactory(is_active=False))
    assert ids(RepProfile.objects.accepting()) == {accepting.pk}


@pytest.mark.django_db
def test_open_loads_count_open_uncontacted_leads(monday_10):
    from leadfollow.routing import open_loads

    busy, idle = RepFactory(), RepFactory()
    LeadFactory.create_batch(2, owner=busy.user)
    LeadFactory(owner=busy.user, status=LeadStatus.WORKING)
    LeadFactory(owner=busy.user, first_contacted_at=monday_10)  # contacted: done with SLA
    LeadFactory(owner=busy.user, status=LeadStatus.QUALIFIED)
    LeadFactory(owner=None)
    assert open_loads() == {busy.user_id: 3}
    assert open_loads([busy.user_id, idle.user_id]) == {busy.user_id: 3}
    assert open_loads([idle.user_id]) == {}


# --- ScoringRule --------------------------------------------------------------------------


def clean_errors(**fields) -> dict[str, list[str]]:
    rule = ScoringRule(name="rule", points=5, **fields)
    try:
        rule.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


@pytest.mark.parametrize(
    "path", ["budget", "attributes", "attributes.", "attributes.utm..campaign", "owner", ""]
)
def test_scoring_rule_unknown_field_path(path):
    errors = clean_errors(field_path=path, operator="exists", value=None)
    assert "field_path" in errors


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte"])
@pytest.mark.parametrize("value", ["100", True, None, [1]])
def test_scoring_rule_numeric_operator_needs_a_number(op, value):
    errors = clean_errors(field_path="attributes.company_size", operator=op, value=value)
    assert list(errors) == ["value"]
    assert "number" in errors["value"][0]


@pytest.mark.parametrize("value", ["de", None, {"de": 1}])
def test_scoring_rule_in_needs_a_list(value):
    errors = clean_errors(field_path="attributes.country", operator="in", value=value)
    assert list(errors) == ["value"]


@pytest.mark.parametrize(
    ("path", "op", "value"),
    [
        ("attributes.company_size", "gte", 50),
        ("attributes.budget", "lt", 999.5),
        ("source", "in", ["ads", "partner"]),
        ("email_domain", "eq", "example.com"),
        ("attributes.utm.campaign", "startswith", "spring"),
        ("attributes.pricing_page_views", "exists", None),
        ("status", "ne", "disqualified"),
    ],
)
def test_scoring_rule_valid(path, op, value):
    assert clean_errors(field_path=path, operator=op, value=value) == {}


@pytest.mark.django_db
def test_scoring_rule_factory_builds_a_valid_rule():
    ScoringRuleFactory().full_clean()


# --- PostgreSQL: the partial indexes serve the hot queries ---------------------------------


@pytest.fixture
def many_leads(db, monday_10):
    """A few thousand leads, mostly closed or contacted, owned by 20 reps; ANALYZEd."""
    reps = UserFactory.create_batch(20)
    now = monday_10
    leads = []
    for i in range(5000):
        closed = i % 5 != 0
        leads.append(
            Lead(
                name=f"Lead {i}",
                email=f"bulk{i}@example.org",
                owner=reps[i % len(reps)],
                status=LeadStatus.QUALIFIED if closed else LeadStatus.NEW,
                received_at=now - timedelta(minutes=i),
                first_response_due=now + timedelta(minutes=60 - i),
                first_contacted_at=(now - timedelta(minutes=i)) if i % 3 == 0 else None,
            )
        )
    Lead.objects.bulk_create(leads, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leadfollow_lead")
    return reps


def explain(queryset) -> str:
    with connection.cursor() as cursor:
        # Only within this test's transaction; tiny test tables can make a seq scan cheaper.
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.postgres
def test_cold_list_uses_the_cold_index(many_leads, monday_10):
    queryset = Lead.objects.cold(monday_10).order_by("first_response_due")[:100]
    assert queryset.exists()
    plan = explain(queryset)
    assert "leadfollow_lead_cold_idx" in plan, plan


@pytest.mark.postgres
def test_rep_queue_uses_the_rep_open_index(many_leads):
    queryset = Lead.objects.open().for_rep(many_leads[0]).order_by("first_response_due")
    assert queryset.exists()
    plan = explain(queryset)
    assert "leadfollow_lead_rep_open_idx" in plan, plan


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_lead_table_keeps_room_for_updates_and_is_vacuumed_early():
    """Storage settings the migrations give the lead table on PostgreSQL (docs/scaling.md):
    room on each page for HOT updates, and autovacuum after 2 % of rows changed, so dead
    entries do not pile up in the small partial indexes of open leads, or were inserted,
    so index-only scans over new leads need not read their pages."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'leadfollow_lead'")
        (options,) = cursor.fetchone()
    assert set(options) == {
        "fillfactor=70",
        "autovacuum_vacuum_scale_factor=0.02",
        "autovacuum_analyze_scale_factor=0.02",
        "autovacuum_vacuum_insert_scale_factor=0.02",
    }


@pytest.mark.django_db
def test_assignment_lookups_by_lead_and_rep_have_their_indexes():
    """The foreign keys' own indexes were dropped as duplicates: the composite ones must stay."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "leadfollow_assignment")
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert ("lead_id", "created_at") in indexed
    assert ("to_rep_id", "created_at") in indexed
    assert ("lead_id",) not in indexed and ("to_rep_id",) not in indexed


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_sweep_finds_lost_escalations_without_reading_unsent_assignments(monday_10):
    """With assignment mails off, no row is ever marked sent: the minute's look for a lost
    escalation must not read a day of them (leadfollow_assign_esc_idx)."""
    from django.test.utils import CaptureQueriesContext

    from leadfollow.sweep import renotify_lost

    rep = RepFactory()
    leads = LeadFactory.create_batch(50, owner=rep.user)
    Assignment.objects.bulk_create(
        Assignment(lead=leads[i % 50], to_rep=rep.user, reason="intake",
                   created_at=monday_10 - timedelta(minutes=5 + i % 600))
        for i in range(3000)
    )  # fmt: skip
    lost = Assignment.objects.create(
        lead=leads[0], from_rep=rep.user, reason="escalation", created_at=monday_10
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leadfollow_assignment")
    later = monday_10 + timedelta(minutes=3)
    with (
        override_settings(LEADFOLLOW={"NOTIFY_ON_ASSIGNMENT": False}),
        CaptureQueriesContext(connection) as queries,
    ):
        assert renotify_lost(later) == 1  # the escalation is queued again
    (sql,) = [q["sql"] for q in queries if "'escalation'" in q["sql"] and "notified_at" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "leadfollow_assign_esc_idx" in plan, plan
    assert Assignment.objects.get(pk=lost.pk).reason == "escalation"
