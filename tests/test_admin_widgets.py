"""The admin's structured inputs, as a manager posts them: per-day working hours, lists one
value a line, typed scoring-rule values and the attributes table. No JSON is typed."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from leadfollow.admin.widgets import attribute_text, attribute_value
from leadfollow.models import Lead, RepProfile, RoutingRule, ScoringRule
from tests.factories import LeadFactory, RepFactory, UserFactory
from tests.test_hardening import admin_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_():
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def rep_form(client, rep) -> dict:
    data = admin_form_data(client, reverse("admin:leadfollow_repprofile_change", args=[rep.pk]))
    data.pop("working_hours", None)
    return data


def test_rep_page_shows_a_day_by_day_editor_in_the_reps_zone(admin_client_):
    rep = RepFactory(timezone="America/New_York", working_hours={"mon": [["08:00", "12:00"]]})
    page = admin_client_.get(reverse("admin:leadfollow_repprofile_change", args=[rep.pk]))
    html = page.content.decode()
    assert "Times are in" in html and "America/New_York" in html
    assert 'name="working_hours_mon_start" value="08:00"' in html
    assert html.count('name="working_hours_sun_start"') == 1  # one empty range a day
    assert "leadfollow/admin-widgets.js" in html


def test_saving_ranges_day_by_day(admin_client_):
    rep = RepFactory()
    data = rep_form(admin_client_, rep)
    data.update(
        working_hours_mon_start=["13:00", "9:00", ""],
        working_hours_mon_end=["17:00", "12:00", ""],
        working_hours_fri_start=["22:00"],
        working_hours_fri_end=["06:00"],  # a night shift into Saturday
        working_hours_sat_start=["10:00"],
        working_hours_sat_end=["00:00"],  # until midnight
    )
    url = reverse("admin:leadfollow_repprofile_change", args=[rep.pk])
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rep.refresh_from_db()
    assert rep.working_hours == {
        "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
        "fri": [["22:00", "06:00"]],
        "sat": [["10:00", "24:00"]],
    }


@pytest.mark.parametrize(
    ("starts", "ends", "message"),
    [
        (["09:00"], [""], "Monday: give both a start and an end time."),
        (["09:00", "11:00"], ["12:00", "13:00"], "overlap"),
        (["09:00"], ["09:00"], "is empty"),
        (["9h"], ["17:00"], "is not a time"),
    ],
)
def test_bad_ranges_are_form_errors_and_nothing_is_saved(admin_client_, starts, ends, message):
    rep = RepFactory(working_hours={"tue": [["09:00", "17:00"]]})
    data = rep_form(admin_client_, rep)
    data.update(working_hours_mon_start=starts, working_hours_mon_end=ends)
    url = reverse("admin:leadfollow_repprofile_change", args=[rep.pk])
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["working_hours"])
    rep.refresh_from_db()
    assert rep.working_hours == {"tue": [["09:00", "17:00"]]}
    # the refused form shows what was typed
    assert 'value="09:00"' in response.content.decode() or 'value="9h"' in response.content.decode()


def test_routing_rule_lists_one_value_a_line(admin_client_):
    rep = RepFactory()
    url = reverse("admin:leadfollow_routingrule_add")
    response = admin_client_.post(
        url,
        {
            "name": "DACH", "priority": "1", "active": "on", "sources": "ads\nweb, ads",
            "attribute": "country", "attribute_values": "de\nat\n\nch", "reps": [rep.pk],
            "fallback_to_all": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.get()
    assert rule.sources == ["ads", "web"] and rule.attribute_values == ["de", "at", "ch"]
    page = admin_client_.get(reverse("admin:leadfollow_routingrule_change", args=[rule.pk]))
    assert ">\nads\nweb</textarea>" in page.content.decode()


@pytest.mark.parametrize(
    ("operator", "kind", "text", "stored"),
    [
        ("gte", "number", "200", 200),
        ("gt", "number", "2.5", 2.5),
        ("in", "texts", "de\nat", ["de", "at"]),
        ("in", "numbers", "1\n2", [1, 2]),
        ("eq", "bool", "true", True),
        ("eq", "text", "acme", "acme"),
        ("exists", "none", "", None),
    ],
)
def test_scoring_rule_values_are_typed(admin_client_, operator, kind, text, stored):
    field = "company" if kind == "text" else "attributes.size"
    response = admin_client_.post(
        reverse("admin:leadfollow_scoringrule_add"),
        {"name": "r", "field_path": field, "operator": operator, "value_0": kind,
         "value_1": text, "points": "5", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = ScoringRule.objects.get()
    assert rule.value == stored and type(rule.value) is type(stored)
    page = admin_client_.get(reverse("admin:leadfollow_scoringrule_change", args=[rule.pk]))
    assert f'<option value="{kind}" selected>' in page.content.decode()


def test_scoring_rule_value_that_is_not_a_number_is_a_form_error(admin_client_):
    response = admin_client_.post(
        reverse("admin:leadfollow_scoringrule_add"),
        {"name": "r", "field_path": "attributes.size", "operator": "gte", "value_0": "number",
         "value_1": "lots", "points": "5"},
    )  # fmt: skip
    assert "“lots” is not a number" in str(response.context["adminform"].form.errors["value"])
    assert not ScoringRule.objects.exists()


@pytest.mark.parametrize(
    "value", ["text", "250", 250, 2.5, True, None, ["a", 1], {"x": {"y": 1}}, "", "[1]"]
)
def test_attribute_cells_round_trip(value):
    assert attribute_value(attribute_text(value)) == value


def test_lead_attributes_table_keeps_types_and_is_unchanged_when_untouched(admin_client_):
    attributes = {"company_size": 250, "zip": "250", "plan": "pro", "tags": ["a", "b"]}
    lead = LeadFactory(owner=RepFactory().user, attributes=attributes)
    url = reverse("admin:leadfollow_lead_change", args=[lead.pk])
    html = admin_client_.get(url).content.decode()
    assert 'name="attributes_key" value="company_size"' in html
    assert 'value="&quot;250&quot;"' in html  # text that would read as a number stays text
    data = admin_form_data(admin_client_, url)
    data.pop("attributes")
    data.update(
        attributes_key=["company_size", "zip", "plan", "tags", ""],
        attributes_value=["250", '"250"', "pro", '["a", "b"]', ""],
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.attributes == attributes
    data.update(attributes_key=["plan", "seats"], attributes_value=["enterprise", "40"])
    admin_client_.post(url, data)
    lead.refresh_from_db()
    assert lead.attributes == {"plan": "enterprise", "seats": 40}


def test_adding_a_lead_with_attributes(admin_client_):
    RepFactory(user=UserFactory(username="alice"))
    url = reverse("admin:leadfollow_lead_add")
    data = admin_form_data(admin_client_, url)
    data.pop("attributes", None)
    data.update(name="Jo", email="jo@example.com", source="web", status="new",
                attributes_key=["budget"], attributes_value=["5000"])  # fmt: skip
    data.pop("owner", None)
    response = admin_client_.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Lead.objects.get().attributes == {"budget": 5000}
    assert RepProfile.objects.count() == 1
