"""Issue 13: input that answered 5xx is a 400 (or a form error) and stores nothing; replays,
floods and probing through legitimate doors are refused. One section per item."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leadfollow import jsonsafety
from leadfollow.models import (
    Absence,
    Lead,
    RepProfile,
    RoutingRule,
    ScoringRule,
    Submission,
    UsedSignature,
)
from leadfollow.routing import unavailability
from leadfollow.tasks import purge_expired
from tests.factories import (
    LeadFactory,
    ManagerFactory,
    RepFactory,
    ScoringRuleFactory,
    UserFactory,
    make_api_key,
)
from tests.test_api_intake import signed_headers

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
JO = {"name": "Jo Meyer", "email": "jo@example.com"}


def lf(**options):
    return override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **options})


def post_form(client, url: str, data: dict):
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture
def key_client(db):
    RepFactory()
    _, raw = make_api_key("ads")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def manager(db):
    user = ManagerFactory(is_staff=True, is_superuser=True)
    RepFactory(user=user)
    return user


@pytest.fixture
def manager_api(manager):
    client = APIClient(raise_request_exception=False)
    client.force_login(manager)
    return client


@pytest.fixture
def admin_client_(manager):
    client = Client(raise_request_exception=False)
    client.force_login(manager)
    return client


def admin_form_data(client: Client, url: str) -> dict:
    """The add/change form's current values and its inlines' management forms, as posted."""
    context = client.get(url).context
    form = context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, dict | list) and name not in ("reps",):
            value = json.dumps(value)
        data[name] = value
    for inline in context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


# --- 1. signed intake: odd timestamps --------------------------------------------------


@pytest.mark.parametrize("timestamp", ["²", "9" * 5000, "-1", "1.5", " 12", "١٢٣", "0x10"])
def test_an_odd_signature_timestamp_is_a_401_with_a_message(timestamp):
    api_key, _ = make_api_key("ads")
    body = json.dumps(JO).encode()
    headers = {**signed_headers(api_key, body), "HTTP_X_LEADFOLLOW_TIMESTAMP": timestamp}
    client = APIClient(raise_request_exception=False)
    response = client.post("/api/leads/", body, content_type="application/json", **headers)
    assert response.status_code == 401
    assert "X-Leadfollow-Timestamp" in response.json()["detail"]
    assert not Lead.objects.exists()


# --- 2. nesting deeper than MAX_JSON_DEPTH ---------------------------------------------


@pytest.mark.parametrize("depth", [33, 476, 10_000])
def test_deeply_nested_intake_is_a_400(key_client, depth):
    body = '{"name": "Jo", "email": "jo@example.com", "attributes": ' + nested(depth) + "}"
    response = key_client.post("/api/leads/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in json.dumps(response.json())
    assert not Lead.objects.exists()


def test_nesting_within_the_limit_is_stored(key_client):
    body = {**JO, "attributes": json.loads(nested(30))}
    assert key_client.post("/api/leads/", body, "json").status_code == 201


def test_the_depth_limit_is_a_setting(key_client):
    body = {**JO, "attributes": json.loads(nested(4))}
    with lf(MAX_JSON_DEPTH=4):
        assert key_client.post("/api/leads/", body, "json").status_code == 400
    with lf(MAX_JSON_DEPTH=5):
        assert key_client.post("/api/leads/", body, "json").status_code == 201


def test_deep_form_encoded_attributes_are_a_400(key_client):
    response = post_form(key_client, "/api/leads/", {**JO, "attributes": DEEP})
    assert response.status_code == 400
    assert not Lead.objects.exists()


def test_deep_json_to_every_writing_api_endpoint_is_a_400(manager_api, manager):
    lead = LeadFactory(owner=manager)
    rule = ScoringRuleFactory()
    profile = manager.leadfollow_rep
    calls = [
        ("patch", f"/api/leads/{lead.pk}/"),
        ("post", f"/api/leads/{lead.pk}/attempts/"),
        ("post", "/api/scoring-rules/"),
        ("patch", f"/api/scoring-rules/{rule.pk}/"),
        ("post", "/api/reps/"),
        ("patch", f"/api/reps/{profile.pk}/"),
        ("post", "/api/absences/"),
    ]
    for method, url in calls:
        response = getattr(manager_api, method)(url, DEEP, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
    assert lead.attempts.count() == 0 and ScoringRule.objects.count() == 1
    assert not Absence.objects.exists()


def test_deep_json_in_a_form_encoded_json_field_is_a_400(manager_api):
    rule = {"name": "r", "field_path": "source", "operator": "eq", "points": 1}
    response = post_form(manager_api, "/api/scoring-rules/", {**rule, "value": DEEP})
    assert response.status_code == 400
    assert not ScoringRule.objects.exists()


# Every JSON field of leadfollow's admin forms: (add URL, field, a valid value).
ADMIN_JSON_FIELDS = [
    ("admin:leadfollow_lead_add", "attributes"),
    ("admin:leadfollow_repprofile_add", "working_hours"),
    ("admin:leadfollow_scoringrule_add", "value"),
    ("admin:leadfollow_routingrule_add", "sources"),
    ("admin:leadfollow_routingrule_add", "attribute_values"),
]


def _admin_base(client, url_name: str) -> dict:
    data = admin_form_data(client, reverse(url_name))
    data.update(
        {
            "name": "Jo",
            "email": "jo@example.com",
            "source": "web",
            "status": "new",
            "field_path": "source",
            "operator": "eq",
            "points": "1",
            "priority": "1",
            "fallback_to_all": "on",
            "timezone": "",
            "weight": "1",
            "user": str(UserFactory().pk),
        }
    )
    return data


def _admin_counts():
    return (Lead.objects.count(), RepProfile.objects.count(), ScoringRule.objects.count(),
            RoutingRule.objects.count())  # fmt: skip


BAD_ADMIN_JSON = [DEEP, nested(40), "NaN", "1e999", '["\\u0000"]', '["\\ud800"]', '{"k": NaN}']


def _admin_input(field: str, bad: str) -> dict:
    """``bad`` typed into the admin's structured input for ``field`` (no raw JSON anymore)."""
    return {
        "attributes": {"attributes_key": "k", "attributes_value": bad},
        "working_hours": {"working_hours_mon_start": bad, "working_hours_mon_end": "17:00"},
        "value": {"value_0": "texts", "value_1": bad},
        "sources": {"sources": bad},
        "attribute_values": {"attribute": "country", "attribute_values": bad},
    }[field]


def _stored_json():
    yield from Lead.objects.values_list("attributes", flat=True)
    yield from RepProfile.objects.values_list("working_hours", flat=True)
    yield from ScoringRule.objects.values_list("value", flat=True)
    for rule in RoutingRule.objects.all():
        yield rule.sources
        yield rule.attribute_values


@pytest.mark.parametrize(("url_name", "field"), ADMIN_JSON_FIELDS)
@pytest.mark.parametrize("bad", BAD_ADMIN_JSON, ids=range(len(BAD_ADMIN_JSON)))
def test_admin_json_fields_refuse_what_cannot_be_stored(admin_client_, url_name, field, bad):
    """Typed into a structured input, such text is a form error or stored as plain text
    that is valid JSON to store; never a 500, never an unstorable value."""
    data = {**_admin_base(admin_client_, url_name), **_admin_input(field, bad)}
    before = _admin_counts()
    response = admin_client_.post(reverse(url_name), data)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:  # the form, with its errors
        assert response.context["adminform"].form.errors
        assert _admin_counts() == before
    for value in _stored_json():
        assert jsonsafety.problem(value) is None, value


@pytest.mark.parametrize(
    ("url_name", "field", "bad"),
    [
        ("admin:leadfollow_lead_add", "attributes", nested(40)),
        ("admin:leadfollow_lead_add", "attributes", "1e999"),
        ("admin:leadfollow_lead_add", "attributes", '["\\u0000"]'),
        ("admin:leadfollow_lead_add", "attributes", '["\\ud800"]'),
        ("admin:leadfollow_lead_add", "attributes", DEEP),
        ("admin:leadfollow_repprofile_add", "working_hours", "9 o'clock"),
        ("admin:leadfollow_routingrule_add", "sources", "[[["),
    ],
)
def test_admin_structured_inputs_refuse_unstorable_values(admin_client_, url_name, field, bad):
    data = {**_admin_base(admin_client_, url_name), **_admin_input(field, bad)}
    before = _admin_counts()
    response = admin_client_.post(reverse(url_name), data)
    assert response.status_code == 200, response.status_code
    assert response.context["adminform"].form.errors.get(field), field
    assert _admin_counts() == before


# --- 3. non-finite numbers, NUL and lone surrogates --------------------------------------


def test_infinity_in_json_attributes_is_a_400(key_client):
    body = '{"name": "Jo", "email": "jo@example.com", "attributes": {"budget": 1e999}}'
    response = key_client.post("/api/leads/", body, content_type="application/json")
    assert response.status_code == 400
    assert not Lead.objects.exists()


@pytest.mark.parametrize("attributes", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}'])
def test_non_finite_form_encoded_attributes_are_a_400(key_client, attributes):
    response = post_form(key_client, "/api/leads/", {**JO, "attributes": attributes})
    assert response.status_code == 400
    assert "finite" in json.dumps(response.json()) or "JSON" in json.dumps(response.json())
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "attributes",
    ['{"x": 1e999}', '{"x": "\\u0000"}', '{"x": "\\ud800"}', '{"\\ud800": 1}', '{"\\u0000": 1}'],
)
def test_unstorable_form_encoded_attributes_are_a_400(key_client, attributes):
    response = post_form(key_client, "/api/leads/", {**JO, "attributes": attributes})
    assert response.status_code == 400
    assert "attributes" in response.json()
    assert not Lead.objects.exists()


@pytest.mark.parametrize("value", ['"\\ud800"', '["\\ud800"]', '"\\u0000"', "1e999"])
def test_scoring_rule_value_that_cannot_be_stored_is_a_400(manager_api, value):
    body = '{"name": "r", "field_path": "source", "operator": "eq", "points": 1, "value": '
    response = manager_api.post(
        "/api/scoring-rules/", body + value + "}", content_type="application/json"
    )
    assert response.status_code == 400
    assert not ScoringRule.objects.exists()


def test_the_one_validator():
    for bad in (float("nan"), float("inf"), {"k": "\x00"}, {"\ud800": 1}, json.loads(nested(33))):
        assert jsonsafety.problem(bad) is not None
    assert jsonsafety.problem({"a": [1, 2.5, "ü", None, True]}) is None
    with pytest.raises(ValueError):
        jsonsafety.loads(DEEP)


# --- 4. working hours without a window -------------------------------------------------


def test_working_hours_without_any_window_are_refused(manager_api, admin_client_, manager):
    profile = manager.leadfollow_rep
    response = manager_api.patch(f"/api/reps/{profile.pk}/", {"working_hours": {"mon": []}}, "json")
    assert response.status_code == 400
    # The admin's per-day editor cannot say "a week without windows": every day left empty
    # means the site's hours.
    data = admin_form_data(admin_client_, reverse("admin:leadfollow_repprofile_add"))
    user = UserFactory()
    data.update(user=str(user.pk), weight="1")
    response = admin_client_.post(reverse("admin:leadfollow_repprofile_add"), data)
    assert response.status_code == 302
    assert RepProfile.objects.get(user=user).working_hours == {}


def test_a_stored_rep_without_hours_is_unavailable_and_a_manual_pick_gets_a_deadline(
    manager_api,
):
    rep = RepFactory()
    RepProfile.objects.filter(pk=rep.pk).update(working_hours={"mon": []})  # legacy row
    rep.refresh_from_db()
    assert "no working hours" in unavailability(rep, timezone.now())
    lead = LeadFactory()
    body = {"owner": rep.user_id}
    assert manager_api.patch(f"/api/leads/{lead.pk}/", body, "json").status_code == 400
    body["confirm_unavailable"] = True
    response = manager_api.patch(f"/api/leads/{lead.pk}/", body, "json")
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.owner_id == rep.user_id and lead.first_response_due is not None


def test_the_admin_bulk_action_assigns_to_a_stored_rep_without_hours(admin_client_, manager):
    """The cold-leads action "Assign to a rep I choose…" with a legacy row {"mon": []}:
    unavailable (a confirmation is asked), then assigned with a deadline, never a 500."""
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    rep = RepFactory()
    RepProfile.objects.filter(pk=rep.pk).update(working_hours={"mon": []})
    now = timezone.now()
    lead = LeadFactory(owner=manager, assigned_at=now - timedelta(hours=5),
                       first_response_due=now - timedelta(hours=1))  # fmt: skip
    url = reverse("admin:leadfollow_coldlead_changelist")
    action = {"action": "assign_to_chosen_rep", ACTION_CHECKBOX_NAME: [lead.pk], "apply": "1",
              "rep": rep.pk}  # fmt: skip
    response = admin_client_.post(url, action)
    assert response.status_code == 200
    assert "no working hours" in str(response.context["form"].errors)
    lead.refresh_from_db()
    assert lead.owner_id == manager.pk
    response = admin_client_.post(url, {**action, "confirm_unavailable": "on"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner_id == rep.user_id and lead.first_response_due > now


# --- 5. attributes are an object everywhere --------------------------------------------


@pytest.mark.parametrize(
    ("keys", "values", "error"),
    [(["", "k"], ["orphan", "1"], "has no key"), (["k", "k"], ["1", "2"], "appears twice")],
)
def test_admin_attributes_table_refuses_rows_that_make_no_object(
    admin_client_, keys, values, error
):
    data = {**_admin_base(admin_client_, "admin:leadfollow_lead_add")}
    data.update(attributes_key=keys, attributes_value=values)
    response = admin_client_.post(reverse("admin:leadfollow_lead_add"), data)
    assert error in str(response.context["adminform"].form.errors["attributes"])
    assert not Lead.objects.exists()


@pytest.mark.parametrize("stored", [[1, 2], "text", 5])
def test_attributes_stored_as_non_objects_are_wrapped_by_migration_0018(
    admin_client_, manager, stored
):
    """Rows the admin accepted before it refused non-objects: the lead page and the admin's
    key/value table answered 500 on them; the data migration keeps them as {"value": …}."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = import_module("leadfollow.migrations.0018_lead_attributes_object")
    lead, kept = LeadFactory(owner=manager), LeadFactory(owner=manager, attributes={"a": [1]})
    Lead.objects.filter(pk=lead.pk).update(attributes=stored)
    pages = [reverse("leadfollow:lead", args=[lead.pk]),
             reverse("admin:leadfollow_lead_change", args=[lead.pk])]  # fmt: skip
    assert admin_client_.get(pages[0]).status_code == 500
    editor = SimpleNamespace(
        connection=connection,
        quote_name=connection.ops.quote_name,
        execute=lambda sql: connection.cursor().execute(sql),
    )
    migration.wrap_non_object_attributes(apps, editor)
    lead.refresh_from_db()
    kept.refresh_from_db()
    assert lead.attributes == {"value": stored}
    assert kept.attributes == {"a": [1]}
    for page in pages:
        assert admin_client_.get(page).status_code == 200, page


# --- 6. NUL bytes and odd digits in query strings --------------------------------------


NUL_PAGES = [
    "admin:leadfollow_lead_changelist?source=%00",
    "admin:leadfollow_coldlead_changelist?source=a%00",
    "admin:leadfollow_lead_changelist?status__exact=%00",
    "admin:leadfollow_contactattempt_changelist?channel__exact=%00",
    "admin:leadfollow_scoringrule_changelist?operator__exact=%00",
    "admin:leadfollow_lead_changelist?q=%00",
    "admin:autocomplete?app_label=leadfollow&model_name=lead&field_name=owner&term=%00",
    "leadfollow:queue?source=%00",
]


@pytest.mark.parametrize("page", NUL_PAGES)
def test_a_nul_byte_in_a_query_string_is_a_400(admin_client_, page):
    name, query = page.split("?")
    response = admin_client_.get(f"{reverse(name)}?{query}")
    assert response.status_code == 400
    assert b"Null characters" in response.content


def test_a_nul_byte_in_a_rep_form_is_a_400(admin_client_, manager):
    lead = LeadFactory(owner=manager)
    url = reverse("leadfollow:set_status", args=[lead.pk])
    assert admin_client_.post(url, {"status": "working\x00"}).status_code == 400


def test_a_nul_byte_in_an_api_query_string_is_the_apis_400(manager_api):
    response = manager_api.get("/api/leads/?source=%00")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Null characters are not allowed in the request."]
    }


def test_other_pages_of_the_site_are_left_alone(admin_client_):
    response = admin_client_.get(reverse("admin:auth_user_changelist") + "?q=%00")
    assert response.status_code != 400


def test_every_admin_list_answers_ids_beyond_64_bits_without_a_500(admin_client_):
    """The admin lets a query filter any local field or foreign key (``?owner=``,
    ``?pk__in=``); SQLite's driver cannot bind a 40-digit id (OverflowError), nor can a
    date hierarchy build such a year. Django's invalid-lookup answer, as for any bad value."""
    from django.contrib import admin
    from django.db import models

    from leadfollow.admin.safeinput import SafeLookupsAdminMixin

    huge = "9" * 40
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "leadfollow":
            continue
        assert isinstance(model_admin, SafeLookupsAdminMixin), model
        url = reverse(f"admin:leadfollow_{model._meta.model_name}_changelist")
        keys = [f.name for f in model._meta.get_fields() if isinstance(f, models.ForeignKey)]
        if model_admin.date_hierarchy:
            keys.append(f"{model_admin.date_hierarchy}__year")
        for key in ("pk__in", *keys):
            response = admin_client_.get(url, {key: huge})
            assert response.status_code in (200, 302), (url, key, response.status_code)


@pytest.mark.parametrize("value", ["²", "x", "9" * 40])
def test_a_bad_owner_or_rep_is_refused_not_silently_dropped(admin_client_, value):
    """A filter the manager believes applied must not show every lead instead: the admin
    answers as Django does for any invalid filter value, the rep pages with a 400."""
    lead = LeadFactory(owner=RepFactory().user)
    changelist = reverse("admin:leadfollow_lead_changelist")
    response = admin_client_.get(changelist, {"owner": value})
    assert (response.status_code, response["Location"]) == (302, changelist + "?e=1")
    page = admin_client_.get(reverse("leadfollow:queue"), {"rep": value})
    assert page.status_code == 400 and "rep must be a user id" in page.content.decode()
    live = admin_client_.get(reverse("leadfollow:live"), {"rep": value})
    assert live.status_code == 400 and "rep must be a user id" in live.json()["error"]
    # The good values still work.
    assert admin_client_.get(changelist, {"owner": str(lead.owner_id)}).status_code == 200
    assert admin_client_.get(reverse("leadfollow:queue"), {"rep": "all"}).status_code == 200


# --- 7. replay records in the database ---------------------------------------------------


def test_a_signature_is_recorded_in_the_database_and_purged_after_expiry():
    RepFactory()
    api_key, _ = make_api_key("ads")
    body = json.dumps(JO).encode()
    headers = signed_headers(api_key, body)
    client = APIClient()
    assert (
        client.post("/api/leads/", body, content_type="application/json", **headers).status_code
        == 201
    )
    (used,) = UsedSignature.objects.all()
    assert used.expires_at > timezone.now() + timedelta(seconds=599)
    replay = client.post("/api/leads/", body, content_type="application/json", **headers)
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    assert Lead.objects.count() == 1
    UsedSignature.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert purge_expired() == 1
    assert not UsedSignature.objects.exists()


def test_a_refused_body_still_uses_up_its_signature():
    """The claim is in the intake's transaction: a 400 answer commits it (the request was
    seen), and the same signed body cannot be replayed."""
    api_key, _ = make_api_key("ads")
    body = json.dumps({"name": "Jo"}).encode()  # no contact: 400
    headers = signed_headers(api_key, body)
    client = APIClient()
    assert (
        client.post("/api/leads/", body, content_type="application/json", **headers).status_code
        == 400
    )
    assert (
        client.post("/api/leads/", body, content_type="application/json", **headers).status_code
        == 401
    )


# --- 9. failed authentication is throttled per address ---------------------------------


def test_failed_keys_from_one_address_are_throttled():
    client = APIClient(raise_request_exception=False)
    with lf(API_AUTH_FAILURE_RATE="3/min"):
        codes = [
            client.post("/api/leads/", JO, "json", HTTP_AUTHORIZATION=f"Api-Key lf_x.{n}",
                        REMOTE_ADDR="10.0.0.1").status_code
            for n in range(5)
        ]  # fmt: skip
        assert codes == [401, 401, 401, 429, 429]
        other = client.post(
            "/api/leads/", JO, "json", HTTP_AUTHORIZATION="Api-Key x", REMOTE_ADDR="10.0.0.2"
        )
        assert other.status_code == 401


def test_failed_signatures_are_throttled_too():
    api_key, _ = make_api_key("ads")
    client = APIClient(raise_request_exception=False)
    body = json.dumps(JO).encode()
    headers = {**signed_headers(api_key, body), "HTTP_X_LEADFOLLOW_SIGNATURE": "sha256=00"}
    with lf(API_AUTH_FAILURE_RATE="2/min"):
        codes = [
            client.post("/api/leads/", body, content_type="application/json", **headers).status_code
            for _ in range(3)
        ]
    assert codes == [401, 401, 429]


# --- 10. the public contact form ---------------------------------------------------------


CONTACT = {
    "name": "Mallory <script>",
    "email": "victim@example.org",
    "message": "Click http://evil.example to claim your prize",
}


def test_a_contact_form_flood_gets_429_and_no_email_quotes_visitor_text(
    django_capture_on_commit_callbacks,
):
    RepFactory()
    client = Client()
    with (
        lf(CONTACT_FORM_RATE="10/hour", FIRST_TOUCH_EMAIL=True, NOTIFY_ON_ASSIGNMENT=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        codes = []
        for n in range(13):
            data = {**CONTACT, "email": f"victim{n}@example.org"}
            codes.append(client.post(reverse("contact"), data).status_code)
    assert codes == [302] * 10 + [429] * 3
    assert Lead.objects.count() == 10
    assert len(mail.outbox) == 10
    for message in mail.outbox:
        assert "evil" not in message.body and "Mallory" not in message.body
        assert "Mallory" not in message.subject


def test_another_address_may_still_post():
    RepFactory()
    client = Client()
    with lf(CONTACT_FORM_RATE="1/hour"):
        assert client.post(reverse("contact"), CONTACT, REMOTE_ADDR="10.0.0.1").status_code == 302
        assert client.post(reverse("contact"), CONTACT, REMOTE_ADDR="10.0.0.1").status_code == 429
        data = {**CONTACT, "email": "b@example.org"}
        assert client.post(reverse("contact"), data, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_the_honeypot_stores_nothing():
    RepFactory()
    response = Client().post(reverse("contact"), {**CONTACT, "website": "http://spam"})
    assert response.status_code == 302
    assert not Lead.objects.exists()


# --- 11. repeats stay within MAX_ATTRIBUTES_BYTES ----------------------------------------


def test_a_repeat_never_grows_attributes_past_the_limit(key_client):
    with lf(MAX_ATTRIBUTES_BYTES=200):
        first = {**JO, "attributes": {"a": "x" * 120}}
        assert key_client.post("/api/leads/", first, "json").status_code == 201
        again = {**JO, "attributes": {"b": "y" * 120}}
        assert key_client.post("/api/leads/", again, "json").status_code == 200
    lead = Lead.objects.get()
    assert lead.attributes == {"a": "x" * 120}  # kept as it was
    assert Submission.objects.get().attributes == {"b": "y" * 120}  # the new keys stay here


def test_a_repeat_within_the_limit_still_merges(key_client):
    assert key_client.post("/api/leads/", {**JO, "attributes": {"a": 1}}, "json").status_code == 201
    assert key_client.post("/api/leads/", {**JO, "attributes": {"b": 2}}, "json").status_code == 200
    assert Lead.objects.get().attributes == {"a": 1, "b": 2}


# --- 12. another source learns nothing about an open lead --------------------------------


def test_a_repeat_from_another_source_is_a_lead_of_its_own_by_default(key_client):
    """A 202 "attached" would tell the key the address is another source's lead (issue 18):
    by default a key only ever meets its own source's leads."""
    assert key_client.post("/api/leads/", JO, "json").status_code == 201
    _, other_raw = make_api_key("partner")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_raw}")
    response = other.post("/api/leads/", {**JO, "external_id": "p-1"}, "json")
    assert response.status_code == 201 and response.json()["created"] is True
    assert Lead.objects.filter(email=JO["email"]).count() == 2
    assert not Submission.objects.exists()


@lf(API_DEDUPLICATE_ACROSS_SOURCES=True)
def test_a_repeat_from_another_source_is_attached_but_reveals_nothing(key_client):
    assert key_client.post("/api/leads/", JO, "json").status_code == 201
    lead = Lead.objects.get()
    _, other_raw = make_api_key("partner")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_raw}")
    response = other.post("/api/leads/", {**JO, "external_id": "p-1"}, "json")
    assert response.status_code == 202
    assert response.json() == {"created": False, "attached": True}
    assert Submission.objects.get().lead == lead
    # Its own retry (same external id) learns no more.
    again = other.post("/api/leads/", {**JO, "external_id": "p-1"}, "json")
    assert again.status_code == 202 and "id" not in again.json()


def test_a_repeat_from_the_same_source_still_gets_the_lead(key_client):
    first = key_client.post("/api/leads/", JO, "json").json()
    again = key_client.post("/api/leads/", JO, "json")
    assert again.status_code == 200 and again.json()["id"] == first["id"]


# --- 13. plain-text e-mails are not HTML-escaped -----------------------------------------


def test_plain_text_emails_are_not_html_escaped(django_capture_on_commit_callbacks):
    RepFactory()
    from leadfollow.intake import create_lead

    with lf(NOTIFY_ON_ASSIGNMENT=True), django_capture_on_commit_callbacks(execute=True):
        create_lead({"name": "O'Brien & Sons <sales>", "email": "ob@example.com"})
    (message,) = mail.outbox
    assert "O'Brien & Sons <sales>" in message.body + message.subject
    assert "&amp;" not in message.body and "&#x27;" not in message.body
    assert "\n" not in message.subject


# --- 14. the browsable API shows a rep only their own availability ------------------------


def test_absence_form_lists_only_the_reps_own_profile():
    me, other = RepFactory(), RepFactory(user__username="someone-else")
    client = APIClient()
    client.force_login(me.user)
    page = client.get("/api/absences/", HTTP_ACCEPT="text/html").content.decode()
    assert me.user.username in page
    assert other.user.username not in page
    response = client.post(
        "/api/absences/",
        {"rep": other.pk, "starts_at": "2026-01-01T00:00Z", "ends_at": "2026-01-02T00:00Z"},
        "json",
    )
    assert response.status_code == 400 and not Absence.objects.exists()


# --- 15. production profile --------------------------------------------------------------


def test_the_production_profile_has_password_validators_a_lockout_and_a_sender():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_project.settings_production",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_ALLOWED_HOSTS="leads.example.com",
        DATABASE_URL="postgres://leadfollow@db.invalid:5432/leadfollow",
        DJANGO_DEFAULT_FROM_EMAIL="Sales <leads@example.com>",
    )
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(len(s.AUTH_PASSWORD_VALIDATORS), 'axes' in s.INSTALLED_APPS, "
        "s.MIDDLEWARE[-1], s.AUTHENTICATION_BACKENDS[0], s.DEFAULT_FROM_EMAIL, sep='|')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split("|") == [
        "4",
        "True",
        "axes.middleware.AxesMiddleware",
        "axes.backends.AxesStandaloneBackend",
        "Sales <leads@example.com>",
    ]


LOCKOUT_SCRIPT = """
import django

django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
try:
    validate_password("1")
    out = ["weak password accepted"]
except ValidationError:
    out = ["weak password refused"]
password = "correct horse battery staple"
get_user_model().objects.create_superuser("boss", "boss@example.com", password)
for n, path in enumerate(["/accounts/login/", "/admin/login/"]):
    client = Client(HTTP_HOST="leads.example.com", REMOTE_ADDR=f"192.0.2.{n + 1}")
    wrong = {"username": "boss", "password": "wrong"}
    codes = {client.post(path, wrong, secure=True).status_code for _ in range(40)}
    right = client.post(path, {"username": "boss", "password": password}, secure=True)
    out.append(f"{path} {sorted(codes)} {right.status_code} {'_auth_user_id' in client.session}")
print("|".join(out))
"""


@pytest.mark.slow
def test_the_production_profile_locks_out_both_login_pages_and_refuses_weak_passwords(tmp_path):
    """As a user meets it: 40 wrong passwords, then the right one, on each login page of
    demo_project.settings_production (its own database, django-axes migrated)."""
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "REDIS_URL"}
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        DJANGO_SETTINGS_MODULE="demo_project.settings_production",
        DJANGO_SECRET_KEY="x" * 60,
        DJANGO_ALLOWED_HOSTS="leads.example.com",
        DATABASE_URL="sqlite://:memory:",
        DJANGO_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-c", LOCKOUT_SCRIPT], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    weak, *logins = done.stdout.strip().splitlines()[-1].split("|")
    assert weak == "weak password refused"
    # 200: the form again with its error; 429: locked out, even with the right password.
    assert logins == [
        "/accounts/login/ [200, 429] 429 False",
        "/admin/login/ [200, 429] 429 False",
    ]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shared_cache", [True, False], ids=["redis", "per-process"])
def test_a_captured_signed_request_is_accepted_once_across_two_gunicorn_workers(shared_cache):
    """Two real worker processes sharing a Redis cache, and with a local-memory cache each:
    either way the replay record in the database makes every copy but one a 401, on
    whichever worker gets it."""
    import socket
    import subprocess
    import sys
    import threading
    import urllib.error
    import urllib.request
    from pathlib import Path

    from django.db import connection

    RepFactory()
    api_key, _ = make_api_key("ads")
    body = json.dumps({**JO, "email": "replay@example.com"}).encode()
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in signed_headers(api_key, body).items()
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if shared_cache and not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis: set REDIS_URL=redis://…")
    # tests.settings: RedisCache with REDIS_URL, else LocMemCache (one per process).
    env = {k: v for k, v in os.environ.items() if shared_cache or k != "REDIS_URL"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "django.core.wsgi:get_wsgi_application()"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**env, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    statuses: list[int] = []

    def post() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/leads/",
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        time.sleep(1)  # both workers booted
        threads = [threading.Thread(target=post) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert sorted(statuses) == [201] + [401] * 11, statuses
    assert Lead.objects.filter(email="replay@example.com").count() == 1


@pytest.mark.parametrize("bad_id", [str(2**63), str(-(2**63) - 1), "9" * 40])
def test_admin_ids_beyond_64_bits_are_form_errors_not_500(admin_client_, bad_id):
    """SQLite's driver raises OverflowError for such an id (found by the admin fuzz test):
    a routing rule's reps (many-to-many) and a lead's owner (foreign key) refuse it."""
    from leadfollow.models import Lead, RoutingRule

    rep = RepFactory()
    response = admin_client_.post(
        reverse("admin:leadfollow_routingrule_add"),
        {"name": "big", "priority": 1, "active": "on", "reps": [bad_id], "sla_minutes": ""},
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors["reps"]
    assert not RoutingRule.objects.exists()
    response = admin_client_.post(
        reverse("admin:leadfollow_lead_add"),
        {"name": "Jo", "email": "jo@example.com", "source": "web", "status": "new",
         "owner": bad_id, "attributes": "{}"},
    )  # fmt: skip
    assert response.status_code == 200 and response.context["adminform"].form.errors["owner"]
    assert not Lead.objects.exists() and rep.pk
