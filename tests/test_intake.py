import threading
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from leadfollow.intake import create_lead
from leadfollow.models import Assignment, AssignmentReason, Lead, ScoringRule, Submission
from leadfollow.signals import lead_assigned, lead_received
from tests.conftest import BERLIN
from tests.factories import LeadFactory, RepFactory

pytestmark = pytest.mark.django_db

FRIDAY_18 = datetime(2026, 11, 20, 18, 0, tzinfo=BERLIN)
JO = {"name": "Jo Meyer", "email": "  Jo.Meyer@Example.COM ", "phone": "+49 (30) 123-4567"}


def test_lead_is_normalised_scored_assigned_and_given_a_deadline(rep, monday_10):
    ScoringRule.objects.create(
        name="Big company", field_path="attributes.size", operator="gte", value=200, points=20
    )
    result = create_lead({**JO, "attributes": {"size": 500}}, source="ads", now=monday_10)

    lead = Lead.objects.get()
    assert result.created and result.lead == lead
    assert lead.email == "jo.meyer@example.com"
    assert lead.phone == "+49301234567"
    assert (lead.source, lead.score, lead.owner) == ("ads", 20, rep.user)
    assert lead.first_response_due == monday_10 + timedelta(hours=1)
    assignment = Assignment.objects.get()
    assert (assignment.to_rep, assignment.reason) == (rep.user, AssignmentReason.INTAKE)
    assert assignment.first_response_due == lead.first_response_due


def test_friday_evening_lead_is_due_monday_an_hour_after_opening(rep):
    lead = create_lead(JO, now=FRIDAY_18).lead
    assert lead.first_response_due == datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "SLA_MINUTES_BY_SOURCE": {"ads": 15}})
def test_sla_per_source(rep, monday_10):
    assert create_lead(JO, source="ads", now=monday_10).lead.first_response_due == (
        monday_10 + timedelta(minutes=15)
    )


def test_working_rep_is_preferred_to_one_off_duty(monday_10):
    RepFactory(working_hours={"sat": [["09:00", "17:00"]]})
    working = RepFactory()
    assert create_lead(JO, now=monday_10).lead.owner == working.user


def test_off_hours_lead_goes_to_rep_who_starts_first_and_deadline_counts_from_there():
    berlin = RepFactory()  # opens Monday 09:00 Berlin
    RepFactory(timezone="America/New_York")  # opens Monday 15:00 Berlin
    lead = create_lead(JO, now=FRIDAY_18 + timedelta(hours=6)).lead  # Saturday 00:00
    assert lead.owner == berlin.user
    assert lead.first_response_due == datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


def test_least_loaded_then_longest_waiting_rep(monday_10):
    ann, bob = RepFactory(), RepFactory()
    LeadFactory(owner=ann.user)
    owners = [
        create_lead({"name": f"L{i}", "email": f"l{i}@x.io"}, now=monday_10).lead.owner
        for i in range(3)
    ]
    # bob had fewer open leads; then both have one more... ann waited longer.
    assert owners == [bob.user, ann.user, bob.user]


def test_rep_at_capacity_or_absent_or_not_accepting_gets_nothing(monday_10):
    full = RepFactory(capacity=1)
    LeadFactory(owner=full.user)
    RepFactory(accepting_leads=False)
    away = RepFactory()
    away.absences.create(
        starts_at=monday_10 - timedelta(days=1), ends_at=monday_10 + timedelta(days=1)
    )
    free = RepFactory()
    lead = create_lead(JO, now=monday_10).lead
    assert lead.owner == free.user


def test_contacted_leads_do_not_count_towards_capacity(monday_10):
    rep = RepFactory(capacity=1)
    LeadFactory(owner=rep.user, first_contacted_at=monday_10)
    assert create_lead(JO, now=monday_10).lead.owner == rep.user


def test_no_rep_available_keeps_lead_unowned_with_site_deadline(monday_10):
    lead = create_lead(JO, now=monday_10).lead
    assert lead.owner is None
    assert lead.first_response_due == monday_10 + timedelta(hours=1)
    assert Assignment.objects.get().to_rep is None


def test_same_external_id_returns_the_first_lead(rep, monday_10):
    first = create_lead({**JO, "external_id": "fb-1"}, source="ads", now=monday_10)
    again = create_lead({**JO, "name": "Changed", "external_id": "fb-1"}, source="ads")
    assert (first.created, again.created) == (True, False)
    assert again.lead.pk == first.lead.pk and Lead.objects.get().name == "Jo Meyer"
    assert Assignment.objects.count() == 1
    other_source = create_lead({**JO, "email": "", "external_id": "fb-1"}, source="web")
    assert other_source.created


def test_same_email_with_open_lead_attaches_a_submission(rep, monday_10):
    first = create_lead({**JO, "attributes": {"budget": 10}}, now=monday_10).lead
    again = create_lead(
        {
            "name": "Jo",
            "email": "jo.meyer@example.com",
            "company": "ACME",
            "message": "Any news?",
            "attributes": {"budget": 99, "pages": 4},
            "external_id": "x9",
        },
        source="chat",
        now=monday_10 + timedelta(minutes=5),
    )
    assert not again.created and again.lead.pk == first.pk
    lead = Lead.objects.get()
    assert lead.attributes == {"budget": 10, "pages": 4}
    assert lead.company == "ACME"
    submission = Submission.objects.get()
    assert (submission.source, submission.external_id, submission.message) == (
        "chat",
        "x9",
        "Any news?",
    )
    # The attached submission's external id is idempotent too.
    create_lead({"name": "Jo", "email": "jo.meyer@example.com", "external_id": "x9"}, source="chat")
    assert Submission.objects.count() == 1 and Lead.objects.count() == 1


def test_same_email_after_lead_closed_creates_a_new_lead(rep, monday_10):
    create_lead(JO, now=monday_10)
    Lead.objects.update(status="qualified")
    assert create_lead(JO, now=monday_10).created
    assert Lead.objects.count() == 2


@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "DEDUPLICATE_BY_EMAIL": False})
def test_email_deduplication_can_be_switched_off(rep, monday_10):
    create_lead(JO, now=monday_10)
    assert create_lead(JO, now=monday_10).created


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "jo@example.com"}, "name", "This field is required."),
        ({"name": "Jo", "email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"name": "Jo", "phone": "call me"}, "phone", "Enter a phone number of 5 to 20 digits"),
        ({"name": "Jo"}, "__all__", "Give an e-mail address or a phone number"),
        (
            {"name": "Jo", "email": "a@b.co", "attributes": [1]},
            "attributes",
            "must be a JSON object",
        ),
        (
            {"name": "Jo", "email": "a@b.co", "attributes": {"x": "y" * 20000}},
            "attributes",
            "too large",
        ),
        ({"name": "x" * 201, "email": "a@b.co"}, "name", "at most 200 characters"),
        ({"name": "Jo\x00", "email": "a@b.co"}, "name", "Null characters are not allowed."),
        ({"name": "Jo", "email": "a@b.co", "attributes": {"k": "\x00"}}, "attributes", "NUL"),
    ],
)
def test_bad_input_is_rejected_with_field_messages_and_stores_nothing(data, field, message, rep):
    LeadFactory()
    with pytest.raises(ValidationError) as error:
        create_lead(data)
    assert any(message in text for text in error.value.message_dict[field])
    assert Lead.objects.count() == 1 and Assignment.objects.count() == 0


def test_signals_are_sent(rep, monday_10):
    received, assigned = [], []
    lead_received.connect(
        lambda **kw: received.append(kw["created"]), weak=False, dispatch_uid="t1"
    )
    lead_assigned.connect(
        lambda **kw: assigned.append(kw["assignment"].to_rep), weak=False, dispatch_uid="t2"
    )
    try:
        create_lead(JO, now=monday_10)
        create_lead(JO, now=monday_10)
    finally:
        lead_received.disconnect(dispatch_uid="t1")
        lead_assigned.disconnect(dispatch_uid="t2")
    assert received == [True, False]
    assert assigned == [rep.user]


def test_rep_is_emailed_only_after_commit(rep, monday_10, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        create_lead(JO, now=monday_10)
        assert mail.outbox == []
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [[rep.user.email]]
    assert "Jo Meyer" in mail.outbox[0].subject


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_deliveries_make_one_lead():
    RepFactory()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait()
            results.append(create_lead({**JO, "external_id": "same"}, source="ads"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Lead.objects.count() == 1 and Assignment.objects.count() == 1
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert {r.lead.pk for r in results} == {Lead.objects.get().pk}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_intakes_never_push_a_rep_past_capacity():
    reps = [
        RepFactory(
            capacity=3,
            working_hours={
                d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(8)

    def deliver(i):
        try:
            barrier.wait()
            create_lead({"name": f"L{i}", "email": f"l{i}@example.com"})
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Lead.objects.count() == 8
    for profile in reps:
        assert Lead.objects.filter(owner=profile.user).count() == 3
    assert Lead.objects.filter(owner=None).count() == 2


def test_urgency_puts_missed_deadlines_first_then_time_left_then_score(monday_10):
    soon = LeadFactory(first_response_due=monday_10 + timedelta(minutes=10), score=1)
    later_hot = LeadFactory(first_response_due=monday_10 + timedelta(minutes=50), score=90)
    later = LeadFactory(first_response_due=monday_10 + timedelta(minutes=50), score=5)
    breached_long_ago = LeadFactory(first_response_due=monday_10 - timedelta(hours=3))
    breached = LeadFactory(first_response_due=monday_10 - timedelta(minutes=5))
    contacted = LeadFactory(
        first_response_due=monday_10 - timedelta(hours=9), first_contacted_at=monday_10
    )
    assert list(Lead.objects.by_urgency(monday_10)) == [
        breached_long_ago,
        breached,
        soon,
        later_hot,
        later,
        contacted,
    ]


def test_intake_statements_do_not_grow_with_rules_reps_or_history(
    db, django_assert_max_num_queries
):
    """Rules are cached per process (a rule change invalidates them), rep loads are one
    grouped count: the statement count is the same with 2 or 40 rules, 2 or 20 reps."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from leadfollow.models import RoutingRule
    from tests.factories import ScoringRuleFactory

    def statements(n: int) -> int:
        create_lead({"name": "warm", "email": f"warm{n}@example.org"})  # rules now cached
        with CaptureQueriesContext(connection) as queries:
            create_lead({"name": "Jo", "email": f"jo{n}@example.org", "external_id": f"x{n}"})
        return len(queries)

    RepFactory.create_batch(2)
    ScoringRuleFactory.create_batch(2)
    few = statements(1)
    RepFactory.create_batch(18)
    ScoringRuleFactory.create_batch(38)
    RoutingRule.objects.create(name="fair", sources=["fair"])
    LeadFactory.create_batch(50)
    assert statements(2) == few <= 8  # PostgreSQL: the advisory locks included
    # A rule edited in the admin (or anywhere that saves it) is seen by the next intake.
    ScoringRuleFactory(field_path="source", operator="eq", value="web", points=7)
    lead = create_lead({"name": "Scored", "email": "s@example.org"}).lead
    assert lead.score >= 7
