from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leadfollow.models import Assignment
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    ContactAttemptFactory,
    LeadFactory,
    RepFactory,
    ScoringRuleFactory,
    SubmissionFactory,
    UserFactory,
)

HOUR = timedelta(hours=1)
LEADFOLLOW_ADMINS = sorted(
    (
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "leadfollow"
    ),
)


def changelist(model_name: str) -> str:
    return reverse(f"admin:leadfollow_{model_name}_changelist")


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture
def superuser(db):
    return UserFactory(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def manager(db):
    """Staff with every leadfollow permission, manage_leads included, but not a superuser."""
    user = UserFactory(username="manager", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="leadfollow"))
    return user


@pytest.fixture
def staff_rep(db):
    """A rep who may open the admin and view leads, nothing more."""
    user = UserFactory(username="staffrep", is_staff=True)
    RepFactory(user=user)
    user.user_permissions.add(Permission.objects.get(codename="view_lead"))
    return user


@pytest.fixture
def data(db):
    """One row in every leadfollow table, so each changelist renders real rows."""
    now = timezone.now()
    rep = RepFactory()
    lead = LeadFactory(
        owner=rep.user,
        email="ada@example.org",
        company="Analytical Engines",
        assigned_at=now - 2 * HOUR,
        first_response_due=now - HOUR,
    )
    return {
        "lead": lead,
        "attempt": ContactAttemptFactory(lead=lead, rep=rep.user, note="Left a message"),
        "assignment": AssignmentFactory(lead=lead, to_rep=rep.user),
        "submission": SubmissionFactory(lead=lead, message="Second form: pricing please"),
        "absence": AbsenceFactory(rep=rep),
        "rule": ScoringRuleFactory(),
    }


def test_every_leadfollow_model_except_submission_is_in_the_admin():
    assert set(LEADFOLLOW_ADMINS) >= {
        "lead",
        "contactattempt",
        "assignment",
        "repprofile",
        "absence",
        "scoringrule",
    }


@pytest.mark.parametrize("model_name", LEADFOLLOW_ADMINS)
@pytest.mark.parametrize("who", ["superuser", "manager"])
def test_changelists_render(client, request, data, who, model_name):
    client.force_login(request.getfixturevalue(who))
    response = client.get(changelist(model_name))
    assert response.status_code == 200
    assert response.context["cl"].model._meta.model_name == model_name


@pytest.mark.parametrize("who", ["superuser", "manager"])
def test_changelists_show_the_rows(client, request, data, who):
    client.force_login(request.getfixturevalue(who))
    for model_name, obj in [
        ("lead", data["lead"]),
        ("contactattempt", data["attempt"]),
        ("assignment", data["assignment"]),
        ("absence", data["absence"]),
        ("scoringrule", data["rule"]),
    ]:
        assert obj.pk in listed(client.get(changelist(model_name))), model_name


@pytest.mark.parametrize("who", ["superuser", "manager"])
def test_lead_change_page_renders_its_inlines(client, request, data, who):
    client.force_login(request.getfixturevalue(who))
    lead = data["lead"]
    response = client.get(reverse("admin:leadfollow_lead_change", args=[lead.pk]))
    assert response.status_code == 200
    inlines = {
        formset.formset.model._meta.model_name: formset
        for formset in response.context["inline_admin_formsets"]
    }
    assert set(inlines) == {"contactattempt", "assignment", "submission"}
    body = response.content.decode()
    assert "Left a message" in body
    assert "Second form: pricing please" in body
    # History is read-only: no empty form to add an assignment by hand.
    assert not inlines["assignment"].has_add_permission


def test_staff_rep_can_open_own_lead_but_not_someone_elses(client, staff_rep):
    own = LeadFactory(owner=staff_rep)
    other = LeadFactory(owner=UserFactory())
    client.force_login(staff_rep)
    assert client.get(reverse("admin:leadfollow_lead_change", args=[own.pk])).status_code == 200
    response = client.get(reverse("admin:leadfollow_lead_change", args=[other.pk]))
    # Django's admin answers an object outside get_queryset() with a redirect to the index.
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_deadline_filter_cold_lists_only_cold_leads(client, superuser):
    now = timezone.now()
    cold = LeadFactory(first_response_due=now - HOUR)
    LeadFactory(first_response_due=now + HOUR)  # waiting, in time
    LeadFactory(first_response_due=now - HOUR, first_contacted_at=now - 2 * HOUR)
    LeadFactory(first_response_due=now - HOUR, status="disqualified")
    client.force_login(superuser)

    response = client.get(changelist("lead"), {"deadline": "cold"})

    assert response.status_code == 200
    assert listed(response) == {cold.pk}
    assert len(listed(client.get(changelist("lead")))) == 4


def test_deadline_filter_waiting_and_overdue(client, superuser):
    now = timezone.now()
    cold = LeadFactory(first_response_due=now - HOUR)
    waiting = LeadFactory(first_response_due=now + HOUR)
    follow_up_missed = LeadFactory(first_contacted_at=now - 2 * HOUR, next_follow_up_at=now - HOUR)
    client.force_login(superuser)
    assert listed(client.get(changelist("lead"), {"deadline": "waiting"})) == {waiting.pk}
    assert listed(client.get(changelist("lead"), {"deadline": "overdue"})) == {
        cold.pk,
        follow_up_missed.pk,
    }


def test_staff_rep_sees_only_own_leads(client, staff_rep):
    own = LeadFactory.create_batch(2, owner=staff_rep)
    LeadFactory(owner=UserFactory())
    LeadFactory(owner=None)
    client.force_login(staff_rep)
    response = client.get(changelist("lead"))
    assert response.status_code == 200
    assert listed(response) == {lead.pk for lead in own}


def test_manager_sees_every_lead(client, manager):
    leads = [LeadFactory(owner=UserFactory()), LeadFactory(owner=None)]
    client.force_login(manager)
    assert listed(client.get(changelist("lead"))) == {lead.pk for lead in leads}


def test_staff_rep_without_other_permissions_cannot_open_other_changelists(client, staff_rep):
    client.force_login(staff_rep)
    assert client.get(changelist("scoringrule")).status_code == 403


def test_assignment_admin_cannot_add_change_or_delete(client, superuser, data):
    assignment = data["assignment"]
    client.force_login(superuser)

    response = client.get(changelist("assignment"))
    assert response.status_code == 200
    assert response.context["has_add_permission"] is False
    assert not response.context["cl"].model_admin.get_actions(response.wsgi_request)

    assert client.get(reverse("admin:leadfollow_assignment_add")).status_code == 403
    delete_url = reverse("admin:leadfollow_assignment_delete", args=[assignment.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = reverse("admin:leadfollow_assignment_change", args=[assignment.pk])
    assert client.post(change_url, {"reason": "manual"}).status_code == 403

    assert Assignment.objects.get(pk=assignment.pk).reason == assignment.reason


def lead_counts(queries) -> list[str]:
    return [
        q["sql"] for q in queries if "COUNT(" in q["sql"] and 'FROM "leadfollow_lead"' in q["sql"]
    ]


def test_filtered_lead_changelist_counts_once(client, superuser):
    now = timezone.now()
    LeadFactory.create_batch(3, first_response_due=now - HOUR)
    LeadFactory.create_batch(2, first_response_due=now + HOUR)
    client.force_login(superuser)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(changelist("lead"), {"deadline": "cold"})

    assert response.context["cl"].show_full_result_count is False
    # The filtered count for the paginator, but no second COUNT(*) of the whole table.
    assert len(lead_counts(captured.captured_queries)) == 1
    assert response.context["cl"].result_count == 3


def test_search_finds_a_lead_by_email(client, superuser):
    wanted = LeadFactory(email="grace.hopper@navy.example")
    LeadFactory(email="someone@example.org")
    client.force_login(superuser)
    assert listed(client.get(changelist("lead"), {"q": "grace.hopper@navy.example"})) == {wanted.pk}
    assert listed(client.get(changelist("lead"), {"q": "navy.example"})) == {wanted.pk}


def test_search_respects_visibility(client, staff_rep):
    LeadFactory(email="shared@example.org", owner=UserFactory())
    mine = LeadFactory(email="shared@example.org", owner=staff_rep, external_id="x-1")
    client.force_login(staff_rep)
    assert listed(client.get(changelist("lead"), {"q": "shared@example.org"})) == {mine.pk}


def test_manager_with_only_manage_leads_can_open_leads(client, data):
    user = UserFactory(username="lean_manager", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    client.force_login(user)
    assert listed(client.get(changelist("lead"))) == {data["lead"].pk}
    change = reverse("admin:leadfollow_lead_change", args=[data["lead"].pk])
    assert client.get(change).status_code == 200


def test_lead_filters_offer_reps_and_recent_sources_only(client, superuser, data):
    UserFactory(username="not_a_rep")
    LeadFactory(source="fair", received_at=timezone.now() - timedelta(days=200))
    client.force_login(superuser)
    response = client.get(changelist("lead"))
    choices = {
        spec.title: [c["display"] for c in spec.choices(response.context["cl"])]
        for spec in response.context["cl"].filter_specs
    }
    assert "not_a_rep" not in choices["owner"] and str(data["lead"].owner) in choices["owner"]
    assert "web" in choices["source"] and "fair" not in choices["source"]
    response = client.get(changelist("lead"), {"owner": "none"})
    assert data["lead"].pk not in listed(response)
