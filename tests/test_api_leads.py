"""The read/write API: visibility, manager-only writes, filters, attempts, rules, availability."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leadfollow.models import (
    Absence,
    Assignment,
    AssignmentReason,
    Lead,
    LeadStatus,
    RepProfile,
    ScoringRule,
)
from tests.factories import LeadFactory, ManagerFactory, RepFactory, UserFactory, make_api_key

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def two_reps(db):
    return RepFactory(), RepFactory()


@pytest.fixture
def manager(db):
    return ManagerFactory()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


# --- visibility and auth -----------------------------------------------------------------


def test_a_rep_sees_only_their_own_leads(two_reps):
    ann, bob = two_reps
    mine = LeadFactory(owner=ann.user)
    theirs = LeadFactory(owner=bob.user)
    api = client_for(ann.user)
    assert ids(api.get("/api/leads/")) == [mine.pk]
    assert api.get(f"/api/leads/{mine.pk}/").status_code == 200
    assert api.get(f"/api/leads/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/leads/{theirs.pk}/attempts/").status_code == 404
    assert api.post(f"/api/leads/{theirs.pk}/attempts/", {}, format="json").status_code == 404


def test_a_manager_sees_every_lead(two_reps, manager):
    leads = [LeadFactory(owner=rep.user) for rep in two_reps] + [LeadFactory()]
    assert sorted(ids(client_for(manager).get("/api/leads/"))) == sorted(lead.pk for lead in leads)


def test_anonymous_and_source_keys_read_nothing(two_reps):
    LeadFactory(owner=two_reps[0].user)
    assert APIClient().get("/api/leads/").status_code in (401, 403)
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=make_api_key()[1])
    assert api.get("/api/leads/").status_code in (401, 403)


def test_token_auth_for_integrations(two_reps):
    lead = LeadFactory(owner=two_reps[0].user)
    token = Token.objects.create(user=two_reps[0].user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert ids(api.get("/api/leads/")) == [lead.pk]
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get("/api/leads/").status_code == 401


def test_session_auth_enforces_csrf(two_reps):
    lead = LeadFactory(owner=two_reps[0].user)
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(two_reps[0].user)
    assert api.get(f"/api/leads/{lead.pk}/").status_code == 200
    response = api.post(
        f"/api/leads/{lead.pk}/attempts/", {"channel": "call", "outcome": "connected"}
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# --- manager writes ----------------------------------------------------------------------


def test_only_managers_change_status_and_owner(two_reps, manager):
    ann, bob = two_reps
    lead = LeadFactory(owner=ann.user)
    rep_api = client_for(ann.user)
    assert rep_api.patch(f"/api/leads/{lead.pk}/", {"status": "qualified"}).status_code == 403

    response = client_for(manager).patch(
        f"/api/leads/{lead.pk}/",
        {"status": "qualified", "owner": bob.user.pk, "confirm_unavailable": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["owner"]) == ("qualified", bob.user.pk)
    lead.refresh_from_db()
    assert (lead.status, lead.owner) == (LeadStatus.QUALIFIED, bob.user)
    moved = Assignment.objects.get(lead=lead)
    assert (moved.from_rep, moved.to_rep, moved.reason, moved.actor) == (
        ann.user,
        bob.user,
        AssignmentReason.MANUAL,
        manager,
    )


def test_owner_must_be_a_rep_and_status_a_known_one(two_reps, manager):
    lead = LeadFactory(owner=two_reps[0].user)
    api = client_for(manager)
    response = api.patch(
        f"/api/leads/{lead.pk}/", {"owner": UserFactory().pk, "status": "won"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"owner", "status"}


def test_owner_null_takes_the_lead_off_its_rep_for_good(two_reps, manager):
    ann, bob = two_reps
    lead = LeadFactory(owner=ann.user)
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "BUSINESS_HOURS": ALWAYS}):
        response = client_for(manager).patch(
            f"/api/leads/{lead.pk}/", {"owner": None}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["owner"] == bob.user.pk  # the next rep who can take it
    row = Assignment.objects.get(lead=lead)
    assert (row.from_rep, row.to_rep, row.reason, row.actor) == (
        ann.user,
        bob.user,
        AssignmentReason.HANDED_BACK,
        manager,
    )


def test_unavailable_owner_needs_confirmation(two_reps, manager):
    ann, bob = two_reps
    RepProfile.objects.filter(pk=bob.pk).update(accepting_leads=False)
    lead = LeadFactory(owner=ann.user)
    api = client_for(manager)
    response = api.patch(f"/api/leads/{lead.pk}/", {"owner": bob.user.pk}, format="json")
    assert response.status_code == 400
    assert "not accepting leads" in response.json()["owner"][0]
    lead.refresh_from_db()
    assert lead.owner == ann.user and not Assignment.objects.exists()

    body = {"owner": bob.user.pk, "confirm_unavailable": True}
    response = api.patch(f"/api/leads/{lead.pk}/", body, format="json")
    assert response.status_code == 200 and response.json()["owner"] == bob.user.pk
    row = Assignment.objects.get(lead=lead)
    assert (row.from_rep, row.to_rep, row.reason) == (ann.user, bob.user, "manual")
    assert row.first_response_due == Lead.objects.get(pk=lead.pk).first_response_due


def test_owner_of_a_closed_lead_cannot_change(two_reps, manager):
    ann, bob = two_reps
    lead = LeadFactory(owner=ann.user, status=LeadStatus.QUALIFIED)
    api = client_for(manager)
    for owner in (bob.user.pk, None):
        body = {"owner": owner, "confirm_unavailable": True}
        response = api.patch(f"/api/leads/{lead.pk}/", body, format="json")
        assert response.status_code == 400, owner
        assert "reopen it" in response.json()["owner"][0]
    lead.refresh_from_db()
    assert lead.owner == ann.user and not Assignment.objects.exists()
    # Reopening in the same request is allowed: status first, then the owner.
    body = {"status": "working", "owner": bob.user.pk, "confirm_unavailable": True}
    response = api.patch(f"/api/leads/{lead.pk}/", body, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["owner"]) == ("working", bob.user.pk)


def test_attempt_before_the_lead_arrived_or_in_the_future_is_refused(two_reps):
    ann, _ = two_reps
    lead = LeadFactory(owner=ann.user)
    api = client_for(ann.user)
    for at in (lead.received_at - timedelta(minutes=1), timezone.now() + timedelta(hours=1)):
        response = api.post(
            f"/api/leads/{lead.pk}/attempts/",
            {"channel": "call", "outcome": "connected", "attempted_at": at.isoformat()},
            format="json",
        )
        assert response.status_code == 400, at
        assert list(response.json()) == ["attempted_at"]
    lead.refresh_from_db()
    assert lead.first_contacted_at is None and not lead.attempts.exists()


def test_put_and_delete_are_not_offered(two_reps, manager):
    lead = LeadFactory(owner=two_reps[0].user)
    api = client_for(manager)
    assert api.put(f"/api/leads/{lead.pk}/", {}, format="json").status_code == 405
    assert api.delete(f"/api/leads/{lead.pk}/").status_code == 405


# --- filters -----------------------------------------------------------------------------


def test_filters_and_urgency_order(two_reps, manager):
    now = timezone.now()
    ann = two_reps[0]
    cold = LeadFactory(owner=ann.user, first_response_due=now - timedelta(hours=1), score=5)
    colder = LeadFactory(owner=ann.user, first_response_due=now - timedelta(hours=3), score=1)
    due_soon = LeadFactory(owner=ann.user, first_response_due=now + timedelta(minutes=10))
    contacted = LeadFactory(
        owner=ann.user,
        first_response_due=now - timedelta(hours=2),
        first_contacted_at=now - timedelta(hours=2),
        source="ads",
        score=30,
        received_at=now - timedelta(days=3),
    )
    closed = LeadFactory(status="qualified", first_response_due=now - timedelta(hours=5))
    api = client_for(manager)

    assert ids(api.get("/api/leads/?status=new"))[:3] == [colder.pk, cold.pk, due_soon.pk]
    assert ids(api.get("/api/leads/?cold=true")) == [colder.pk, cold.pk]
    assert contacted.pk in ids(api.get("/api/leads/?cold=false"))
    assert ids(api.get("/api/leads/?source=ads")) == [contacted.pk]
    assert ids(api.get(f"/api/leads/?owner={ann.user.pk}&ordering=-score"))[0] == contacted.pk
    assert ids(api.get("/api/leads/?status=qualified")) == [closed.pk]
    assert ids(api.get("/api/leads/?score_min=10&score_max=30")) == [contacted.pk]
    after = (now - timedelta(days=1)).isoformat()
    assert contacted.pk not in ids(api.get("/api/leads/", {"received_after": after}))
    assert ids(api.get("/api/leads/", {"received_before": after})) == [contacted.pk]
    assert set(ids(api.get("/api/leads/?overdue=true"))) == {cold.pk, colder.pk}
    assert api.get("/api/leads/?ordering=nonsense").status_code == 400


def test_filters_never_widen_visibility(two_reps):
    ann, bob = two_reps
    LeadFactory(owner=bob.user)
    assert ids(client_for(ann.user).get(f"/api/leads/?owner={bob.user.pk}")) == []


# --- attempts and assignments ------------------------------------------------------------


def test_a_rep_logs_an_attempt_and_the_clock_stops(two_reps):
    ann = two_reps[0]
    lead = LeadFactory(owner=ann.user, first_response_due=timezone.now() + timedelta(hours=1))
    api = client_for(ann.user)
    response = api.post(
        f"/api/leads/{lead.pk}/attempts/",
        {"channel": "call", "outcome": "meeting_booked", "note": "Tue 10:00"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["rep"] == ann.user.pk
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None
    assert lead.status == LeadStatus.QUALIFIED  # the rep pages' outcome rule
    listed = api.get(f"/api/leads/{lead.pk}/attempts/").json()
    assert [a["outcome"] for a in listed] == ["meeting_booked"]


def test_an_attempt_needs_a_known_channel_and_outcome(two_reps):
    lead = LeadFactory(owner=two_reps[0].user)
    response = client_for(two_reps[0].user).post(
        f"/api/leads/{lead.pk}/attempts/", {"channel": "pigeon"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"channel", "outcome"}


def test_assignments_are_read_only_and_follow_visibility(two_reps):
    ann, bob = two_reps
    mine = LeadFactory(owner=ann.user)
    theirs = LeadFactory(owner=bob.user)
    Assignment.objects.create(lead=mine, to_rep=ann.user, reason="intake")
    Assignment.objects.create(lead=theirs, to_rep=bob.user, reason="intake")
    api = client_for(ann.user)
    rows = api.get("/api/assignments/").json()["results"]
    assert [row["lead"] for row in rows] == [mine.pk]
    assert api.get(f"/api/assignments/?lead={mine.pk}").json()["count"] == 1
    assert api.post("/api/assignments/", {}, format="json").status_code == 405


# --- scoring rules -----------------------------------------------------------------------


def test_scoring_rules_are_for_managers_and_validated_like_the_admin(two_reps, manager):
    assert client_for(two_reps[0].user).get("/api/scoring-rules/").status_code == 403
    api = client_for(manager)
    bad = api.post(
        "/api/scoring-rules/",
        {"name": "Big", "field_path": "nope", "operator": "gte", "value": "many", "points": 5},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"field_path", "value"}
    good = api.post(
        "/api/scoring-rules/",
        {
            "name": "Big",
            "field_path": "attributes.size",
            "operator": "gte",
            "value": 200,
            "points": 5,
        },
        format="json",
    )
    assert good.status_code == 201, good.json()
    rule_id = good.json()["id"]
    assert (
        api.patch(f"/api/scoring-rules/{rule_id}/", {"value": "x"}, format="json").status_code
        == 400
    )
    assert (
        api.patch(f"/api/scoring-rules/{rule_id}/", {"points": 7}, format="json").status_code == 200
    )
    assert ScoringRule.objects.get().points == 7
    assert api.delete(f"/api/scoring-rules/{rule_id}/").status_code == 204


# --- availability ------------------------------------------------------------------------


def test_a_rep_may_switch_only_their_own_accepting_flag(two_reps):
    ann, bob = two_reps
    api = client_for(ann.user)
    assert [row["id"] for row in api.get("/api/reps/").json()["results"]] == [ann.pk]
    response = api.patch(
        f"/api/reps/{ann.pk}/", {"accepting_leads": False, "capacity": 999}, format="json"
    )
    assert response.status_code == 200
    ann.refresh_from_db()
    assert (ann.accepting_leads, ann.capacity) == (False, None)
    assert api.patch(f"/api/reps/{bob.pk}/", {"accepting_leads": False}).status_code == 404
    assert api.delete(f"/api/reps/{ann.pk}/").status_code == 403


def test_managers_manage_availability_with_model_validation(two_reps, manager):
    api = client_for(manager)
    ann = two_reps[0]
    response = api.patch(
        f"/api/reps/{ann.pk}/",
        {"capacity": 5, "timezone": "Mars/Olympus", "working_hours": {"mon": "always"}},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"timezone", "working_hours"}
    assert api.patch(f"/api/reps/{ann.pk}/", {"capacity": 5}, format="json").status_code == 200
    created = api.post("/api/reps/", {"user": UserFactory().pk}, format="json")
    assert created.status_code == 201, created.json()


def test_a_rep_manages_their_own_absences(two_reps, manager):
    ann, bob = two_reps
    now = timezone.now()
    api = client_for(ann.user)
    window = {"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=2)).isoformat()}
    created = api.post("/api/absences/", window, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["rep"] == ann.pk
    assert api.post("/api/absences/", {**window, "rep": bob.pk}, format="json").status_code == 400
    backwards = {"starts_at": window["ends_at"], "ends_at": window["starts_at"]}
    assert api.post("/api/absences/", backwards, format="json").status_code == 400
    bobs = Absence.objects.create(rep=bob, starts_at=now, ends_at=now + timedelta(days=1))
    assert api.delete(f"/api/absences/{bobs.pk}/").status_code == 404
    assert api.delete(f"/api/absences/{created.json()['id']}/").status_code == 204
    assert (
        client_for(manager)
        .post("/api/absences/", {**window, "rep": bob.pk}, format="json")
        .status_code
        == 201
    )


# --- metrics -----------------------------------------------------------------------------


def test_metrics_buckets_for_visible_leads(two_reps, manager):
    ann, bob = two_reps
    now = timezone.now()
    LeadFactory(
        owner=ann.user,
        received_at=now - timedelta(hours=3),
        first_contacted_at=now - timedelta(hours=3) + timedelta(minutes=30),
    )
    LeadFactory(owner=bob.user, received_at=now - timedelta(hours=30))
    everyone = client_for(manager).get("/api/metrics/")
    assert everyone.status_code == 200, everyone.content
    report = everyone.json()
    assert report["received"] == 2
    assert (report["counts"]["1h"], report["counts"]["never"]) == (1, 1)
    mine = client_for(ann.user).get("/api/metrics/").json()
    assert (mine["received"], mine["counts"]["1h"]) == (1, 1)
    bad = client_for(manager).get("/api/metrics/?start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 400


def test_leads_list_query_count_is_flat(two_reps, manager, django_assert_max_num_queries):
    for i in range(30):
        LeadFactory(owner=two_reps[i % 2].user)
    with django_assert_max_num_queries(4):
        client_for(manager).get("/api/leads/")


def test_metrics_refuses_a_rep_id_beyond_bigint(manager):
    response = client_for(manager).get(f"/api/metrics/?rep={2**64}")
    assert response.status_code == 400
    assert "rep" in response.json()
