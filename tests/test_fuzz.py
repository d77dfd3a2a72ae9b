"""Bad input never makes a 5xx, and a rejected request stores nothing.

Hypothesis drives the intake API, the rep's log-attempt form (page and API), the filters
and the scoring-rule API with oversized fields, wrong types, invalid e-mails and phones,
huge ``attributes``, unicode edge cases and SQL-looking strings. Bounded for CI
(``LF_FUZZ_EXAMPLES``, default 60 per test); run with e.g. ``LF_FUZZ_EXAMPLES=1000`` for a
thorough pass.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leadfollow.models import (
    Absence,
    Assignment,
    ContactAttempt,
    EngagementRule,
    IdempotencyRecord,
    Lead,
    RoutingRule,
    ScoringRule,
    Submission,
    WebhookEndpoint,
)
from leadfollow.scoring import rescore_open_leads
from tests.factories import LeadFactory, RepFactory, UserFactory, make_api_key

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("LF_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies ------------------------------------------------------------------------

SQLISH = [
    "' OR 1=1 --",
    "'; DROP TABLE leadfollow_lead; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5)",
    "%",
    "_",
    "\\",
    "%' UNION SELECT password FROM auth_user --",
    "$1",
    "?",
    "::text",
    "$$ $$",
]
EDGE_TEXT = [
    "",
    " ",
    "\u202eevil\u202c",  # right-to-left override
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "😀" * 50,
    "👩‍👩‍👧‍👦",
    "e\u0301" * 30,  # combining accents
    "\ufeff",
    "\uffff",
    "\u200b\u200d",
    "a" * 201,
    "a" * 10_001,
    "<script>alert(1)</script>",
    "null",
    "0",
    "-1",
    "1e309",
    *SQLISH,
]
# Valid Unicode only: lone surrogates are tested separately (below).
UNICODE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300
) | st.sampled_from(EDGE_TEXT)
SCALARS = st.one_of(
    UNICODE,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(UNICODE, inner, max_size=4),
    max_leaves=12,
)
EMAILS = st.one_of(
    st.emails(),
    st.sampled_from(["not-an-email", "a@", "@b.de", "a@b", "a b@c.de", "a@b.de\x00", "é@ü.de"]),
    UNICODE,
)
PHONES = st.one_of(
    st.from_regex(r"\+?[0-9 ()\-/.]{0,30}", fullmatch=True),
    st.sampled_from(["00 49 30 123456", "+", "123", "+" + "9" * 25, "phone", "١٢٣٤٥٦"]),
    UNICODE,
)
FIELD = st.one_of(UNICODE, JSON_VALUES)


@st.composite
def intake_bodies(draw):
    body = {}
    for name, values in [
        ("name", st.one_of(UNICODE, JSON_VALUES)),
        ("email", st.one_of(EMAILS, JSON_VALUES)),
        ("phone", st.one_of(PHONES, JSON_VALUES)),
        ("company", FIELD),
        ("message", FIELD),
        ("external_id", FIELD),
        ("attributes", st.one_of(JSON_VALUES, st.just({"blob": "x" * 20_000}))),
    ]:
        if draw(st.booleans()):
            body[name] = draw(values)
    extras = draw(st.dictionaries(UNICODE, JSON_VALUES, max_size=3))
    return {**extras, **body}


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Lead, Submission, Assignment, ContactAttempt))


@pytest.fixture
def source_client(db):
    RepFactory()
    _, raw = make_api_key("ads")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _no_throttle():
    return override_settings(
        LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "API_INTAKE_THROTTLE_RATE": None}
    )


# --- intake API --------------------------------------------------------------------------


@FUZZ
@given(body=intake_bodies(), idempotency_key=st.one_of(st.none(), st.text(max_size=300)))
def test_intake_never_5xx_and_a_rejection_stores_nothing(source_client, body, idempotency_key):
    headers = {}
    if idempotency_key is not None and "\x00" not in idempotency_key:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    before = counts()
    with _no_throttle():
        response = source_client.post(
            "/api/leads/", json.dumps(body), content_type="application/json", **headers
        )
    assert response.status_code < 500, (response.status_code, body)
    if response.status_code >= 400:
        assert counts() == before, body
    else:
        assert response.status_code in (200, 201)
        lead = Lead.objects.get(pk=response.json()["id"])
        assert lead.assignments.exists()  # every stored lead has its Assignment row


@FUZZ
@given(raw=st.binary(max_size=2000) | st.text(max_size=500).map(str.encode))
def test_intake_with_garbage_bodies_never_5xx(source_client, raw):
    before = counts()
    with _no_throttle():
        for content_type in ("application/json", "application/x-www-form-urlencoded"):
            response = source_client.post("/api/leads/", raw, content_type=content_type)
            assert response.status_code < 500, (content_type, raw)
    if response.status_code >= 400:
        assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        [],
        "a string",
        42,
        None,
        {"name": None, "email": None},
        {"name": "Jo", "email": ["jo@example.com"]},
        {"name": "Jo", "email": "jo@example.com", "attributes": "not json"},
        {"name": "Jo", "email": "jo@example.com", "attributes": [1, 2]},
        {"name": "Jo", "email": "jo@example.com", "attributes": {"k": "v" * 20_000}},
        {"name": "Jo", "email": "jo@example.com", "attributes": {"k": "\x00"}},
        {"name": "Jo\x00", "email": "jo@example.com"},
        {"name": "Jo", "email": "jo@example.com", "big": "x" * 20_000},
        {"name": "Jo", "email": "jo@example.com", "external_id": "x" * 129},
        {"name": "Jo", "phone": "+" + "1" * 21},
        {"name": "Jo"},
    ],
)
def test_intake_rejects_malformed_bodies_with_400(source_client, body):
    before = counts()
    with _no_throttle():
        response = source_client.post(
            "/api/leads/", json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 400, response.content
    assert isinstance(response.json(), dict)
    assert counts() == before


@pytest.mark.parametrize("field", ["name", "company", "message", "external_id"])
def test_intake_refuses_objects_as_text_fields(source_client, field):
    body = {"name": "Jo", "email": "jo@example.com", field: {"first": "Jo"}}
    with _no_throttle():
        response = source_client.post(
            "/api/leads/", json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 400, response.content


def test_intake_refuses_an_email_longer_than_the_column(source_client):
    body = {"name": "Jo", "email": "a" * 250 + "@example.com"}
    before = counts()
    with _no_throttle():
        response = source_client.post(
            "/api/leads/", json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 400, response.content
    assert counts() == before


def test_a_rejected_body_stores_no_lead_even_with_an_idempotency_key(source_client):
    before = Lead.objects.count()
    for _ in range(2):
        response = source_client.post(
            "/api/leads/",
            json.dumps({"name": "Jo"}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        assert response.status_code == 400
    assert Lead.objects.count() == before
    # The 400 itself may be remembered (a retry gets the same answer), nothing else.
    assert IdempotencyRecord.objects.filter(key="k-1").count() <= 1


# Lone UTF-16 surrogates arrive through JSON escapes ("\ud800") and cannot be encoded as
# UTF-8, so the database driver raises UnicodeEncodeError at INSERT time.
SURROGATE = "a\ud800b"


@pytest.mark.parametrize("field", ["name", "company", "message", "external_id", "utm_source"])
def test_intake_lone_surrogate_is_a_400(source_client, field):
    body = {"name": "Jo", "email": "jo@example.com", field: SURROGATE}
    before = counts()
    response = source_client.post("/api/leads/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert counts() == before


# --- the rep's log-attempt form and API ----------------------------------------------------


@pytest.fixture
def rep_with_lead(db):
    rep = RepFactory()
    now = timezone.now()
    lead = LeadFactory(owner=rep.user, assigned_at=now, first_response_due=now + timedelta(hours=1))
    return rep, lead


FORM_VALUES = st.one_of(
    UNICODE.filter(lambda s: "\x00" not in s),
    st.sampled_from(["call", "email", "connected", "no_answer", "2099-01-01T10:00", "1999-01-01"]),
    st.datetimes().map(lambda d: d.isoformat()),
)


@FUZZ
@given(
    channel=FORM_VALUES,
    outcome=FORM_VALUES,
    note=st.one_of(FORM_VALUES, st.just("n" * 2001)),
    follow_up=FORM_VALUES,
)
def test_log_attempt_form_never_5xx(rep_with_lead, channel, outcome, note, follow_up):
    rep, lead = rep_with_lead
    client = Client(raise_request_exception=False)
    client.force_login(rep.user)
    before = counts()
    response = client.post(
        reverse("leadfollow:log_attempt", args=[lead.pk]),
        {
            "attempt-channel": channel,
            "attempt-outcome": outcome,
            "attempt-note": note,
            "attempt-next_follow_up_at": follow_up,
        },
    )
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:  # the form came back with errors
        assert counts() == before


@FUZZ
@given(
    body=st.dictionaries(
        st.sampled_from(["channel", "outcome", "note", "next_follow_up_at", "attempted_at", "x"]),
        JSON_VALUES,
        max_size=6,
    )
)
def test_log_attempt_api_never_5xx(rep_with_lead, body):
    rep, lead = rep_with_lead
    client = APIClient(raise_request_exception=False)
    client.force_login(rep.user)
    before = counts()
    response = client.post(
        f"/api/leads/{lead.pk}/attempts/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500, (response.status_code, body)
    if response.status_code >= 400:
        assert counts() == before


def test_log_attempt_api_lone_surrogate_is_a_400(rep_with_lead):
    rep, lead = rep_with_lead
    client = APIClient(raise_request_exception=False)
    client.force_login(rep.user)
    body = {"channel": "call", "outcome": "connected", "note": SURROGATE}
    response = client.post(
        f"/api/leads/{lead.pk}/attempts/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert not ContactAttempt.objects.exists()


# --- filters -----------------------------------------------------------------------------

FILTER_NAMES = [
    "status",
    "source",
    "owner",
    "unassigned",
    "overdue",
    "cold",
    "follow_up_due",
    "q",
    "received_after",
    "received_before",
    "score_min",
    "score_max",
    "ordering",
    "page",
    "page_size",
    "rep",
    "tab",
    "lead",
    "to_rep",
    "reason",
    "start",
    "end",
]
FILTER_VALUES = st.one_of(
    st.sampled_from(SQLISH),
    st.sampled_from(["true", "false", "-1", "0", "9" * 30, "2026-13-45", "1e999", "NaN", "all"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=80),
)  # fmt: skip


@pytest.fixture
def manager_client(db):
    user = UserFactory(username="fuzzmanager", is_staff=True, is_superuser=True)
    RepFactory(user=user)
    LeadFactory(owner=user, name="O'Brien %_ \\")
    client = APIClient(raise_request_exception=False)
    client.force_login(user)
    return client


@FUZZ
@given(params=st.dictionaries(st.sampled_from(FILTER_NAMES), FILTER_VALUES, max_size=5))
def test_filters_never_5xx(manager_client, params):
    for url in (
        "/api/leads/",
        "/api/assignments/",
        "/api/metrics/",
        reverse("leadfollow:queue"),
        reverse("admin:leadfollow_lead_changelist"),
    ):
        response = manager_client.get(url, params)
        assert response.status_code < 500, (url, params, response.status_code)


def test_metrics_refuses_a_rep_id_beyond_bigint(manager_client):
    response = manager_client.get("/api/metrics/", {"rep": "9" * 30})
    assert response.status_code == 400


def test_sql_looking_search_matches_literally(manager_client):
    assert Lead.objects.count() == 1
    name = Lead.objects.get().name
    for term in SQLISH:
        response = manager_client.get("/api/leads/", {"q": term})
        assert response.status_code == 200
        # Wildcards and quotes are matched as themselves: only a literal substring finds it.
        expected = int(all(word in name for word in term.split()))
        assert response.json()["count"] == expected, term
    assert manager_client.get("/api/leads/", {"q": "O'Brien"}).json()["count"] == 1
    assert manager_client.get("/api/leads/", {"q": "%_"}).json()["count"] == 1
    assert Lead.objects.count() == 1  # nothing was dropped


# --- scoring rules -----------------------------------------------------------------------


@FUZZ
@given(
    field_path=st.one_of(
        st.sampled_from(["source", "company", "attributes.size", "attributes.x'y", "email"]),
        st.sampled_from(SQLISH),
        FILTER_VALUES,
    ),
    operator=st.one_of(
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "exists"]),
        FILTER_VALUES,
    ),
    value=st.one_of(st.sampled_from(SQLISH), JSON_VALUES),
    points=st.one_of(st.integers(-(2**40), 2**40), JSON_VALUES),
)
def test_scoring_rule_api_never_5xx_and_rules_stay_usable(
    manager_client, field_path, operator, value, points
):
    before = ScoringRule.objects.count()
    body = {
        "name": "fuzz",
        "field_path": field_path,
        "operator": operator,
        "value": value,
        "points": points,
    }
    response = manager_client.post(
        "/api/scoring-rules/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code < 500, (response.status_code, body)
    if response.status_code >= 400:
        assert ScoringRule.objects.count() == before
        return
    # An accepted rule must be evaluable in Python and in SQL.
    rescore_open_leads()
    manager_client.get("/api/leads/")
    ScoringRule.objects.filter(pk=response.json()["id"]).delete()


def test_manager_permission_is_what_the_scoring_api_checks(db):
    user = UserFactory()
    user.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/scoring-rules/").status_code == 200


# --- issue 13: depth, non-finite numbers, NUL, surrogates, admin forms, timestamps -------

SMALL = settings(
    max_examples=min(EXAMPLES, 12),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BRACKETS = st.sampled_from([("[", "]"), ('{"k":', "}")])


def _nested_text(depth: int, brackets: tuple[str, str], leaf: str = "1") -> str:
    opening, closing = brackets
    return opening * depth + leaf + closing * depth


@SMALL
@given(depth=st.integers(min_value=33, max_value=5_000), brackets=BRACKETS)
def test_json_deeper_than_the_limit_is_a_400_everywhere(manager_client, depth, brackets):
    """Intake (as body and as attributes) and every writing endpoint: 400, nothing stored."""
    deep = _nested_text(depth, brackets)
    before = counts()
    RepFactory()
    _, raw = make_api_key("ads")
    source = APIClient(raise_request_exception=False)
    source.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    intake = '{"name": "Jo", "email": "jo@example.com", "attributes": ' + deep + "}"
    response = source.post("/api/leads/", intake, content_type="application/json")
    assert response.status_code == 400, response.status_code
    lead = Lead.objects.first()
    for method, url in [
        ("post", "/api/leads/"),
        ("patch", f"/api/leads/{lead.pk}/"),
        ("post", f"/api/leads/{lead.pk}/attempts/"),
        ("post", "/api/scoring-rules/"),
        ("post", "/api/reps/"),
        ("post", "/api/absences/"),
    ]:
        client = source if url == "/api/leads/" and method == "post" else manager_client
        response = getattr(client, method)(url, deep, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
    assert counts() == before


NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"])


@SMALL
@given(number=NON_FINITE, where=st.sampled_from(["value", "list", "key"]))
def test_non_finite_numbers_are_a_400_and_store_nothing(source_client, number, where):
    attributes = {"value": f'{{"x": {number}}}', "list": f'{{"x": [1, {number}]}}',
                  "key": f'{{"x": {{"y": {number}}}}}'}[where]  # fmt: skip
    before = counts()
    as_json = '{"name": "Jo", "email": "jo@example.com", "attributes": ' + attributes + "}"
    response = source_client.post("/api/leads/", as_json, content_type="application/json")
    assert response.status_code == 400
    response = source_client.post(
        "/api/leads/",
        f"name=Jo&email=jo%40example.com&attributes={attributes}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert counts() == before


#: Every JSON-valued field leadfollow stores through the API: (url, field, body).
SCORING_RULE = {"name": "r", "field_path": "source", "operator": "eq", "points": 1}
BAD_TEXT = st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\x00", "a\x00b"])


@SMALL
@given(bad=BAD_TEXT, as_key=st.booleans())
def test_lone_surrogates_and_nul_in_every_json_field_are_a_400(manager_client, bad, as_key):
    value = {bad: 1} if as_key else [bad]
    escaped = json.dumps(value)  # ASCII: "\ud800" travels escaped, as a sender would send it
    rep_user = UserFactory()
    before = (counts(), ScoringRule.objects.count())
    for url, body in [
        ("/api/scoring-rules/", {**SCORING_RULE, "value": "__V__"}),
        ("/api/reps/", {"user": rep_user.pk, "working_hours": "__V__"}),
    ]:
        text = json.dumps(body).replace('"__V__"', escaped)
        response = manager_client.post(url, text, content_type="application/json")
        assert response.status_code == 400, (url, response.status_code)
    _, raw = make_api_key("ads")
    source = APIClient(raise_request_exception=False)
    source.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    text = '{"name": "Jo", "email": "jo@example.com", "attributes": {"a": ' + escaped + "}}"
    assert source.post("/api/leads/", text, content_type="application/json").status_code == 400
    assert (counts(), ScoringRule.objects.count()) == before


# Every leadfollow list page and the query parameters each understands.
# Every leadfollow list page and every query parameter it understands (the admin's own
# paging, ordering and search, each list filter, date hierarchies, the rep pages, the API).
ADMIN_LIST = ["q", "o", "p", "all", "e", "_to_field"]
LIST_PAGES = {
    "admin:leadfollow_lead_changelist": [*ADMIN_LIST, "source", "status__exact", "owner",
                                         "deadline", "received_at__gte", "received_at__lt"],
    "admin:leadfollow_coldlead_changelist": [*ADMIN_LIST, "source", "owner", "status__exact",
                                             "breach", "escalated"],
    "admin:leadfollow_contactattempt_changelist": [*ADMIN_LIST, "channel__exact",
                                                   "outcome__exact", "automated__exact",
                                                   "attempted_at__gte"],
    "admin:leadfollow_assignment_changelist": [*ADMIN_LIST, "reason__exact", "to_rep__id__exact",
                                               "to_rep__isnull", "created_at__gte"],
    "admin:leadfollow_scoringrule_changelist": [*ADMIN_LIST, "operator__exact", "active__exact"],
    "admin:leadfollow_routingrule_changelist": [*ADMIN_LIST, "active__exact",
                                                "fallback_to_all__exact"],
    "admin:leadfollow_repprofile_changelist": [*ADMIN_LIST, "timezone", "timezone__exact",
                                               "accepting_leads__exact", "pause_reason__exact"],
    "admin:leadfollow_absence_changelist": [*ADMIN_LIST, "starts_at__gte", "starts_at__lt"],
    "admin:leadfollow_apikey_changelist": [*ADMIN_LIST, "source__exact", "revoked_at__isnull"],
    "admin:leadfollow_engagementevent_changelist": [*ADMIN_LIST, "type__exact", "source__exact"],
    "admin:leadfollow_engagementrule_changelist": [*ADMIN_LIST, "active__exact",
                                                   "event_type__exact"],
    "admin:leadfollow_webhookendpoint_changelist": [*ADMIN_LIST, "active__exact"],
    "admin:leadfollow_webhookdelivery_changelist": [*ADMIN_LIST, "status__exact", "event__exact",
                                                    "endpoint__id__exact", "created_at__year",
                                                    "created_at__month", "created_at__day"],
    "admin:leadfollow_erasurerecord_changelist": [*ADMIN_LIST, "via__exact", "forced__exact"],
    "admin:leadfollow_dashboard": ["start", "end", "source", "rep"],
    "leadfollow:queue": ["rep", "tab", "status", "source", "q", "page", "score_min",
                         "score_max", "overdue", "unassigned", "follow_up_due"],
    "leadfollow:live": ["rep", "tab", "since", "status", "source", "q"],
    "leadfollow_api:lead-list": FILTER_NAMES,
    "leadfollow_api:assignment-list": ["lead", "to_rep", "reason", "page"],
    "leadfollow_api:scoring-rule-list": ["page"],
    "leadfollow_api:rep-list": ["page"],
    "leadfollow_api:absence-list": ["page"],
    "leadfollow_api:metrics": ["start", "end", "source", "rep"],
}  # fmt: skip
NUL_VALUES = st.text(max_size=10).map(lambda s: s[: len(s) // 2] + "\x00" + s[len(s) // 2 :])


@SMALL
@given(value=NUL_VALUES, data=st.data())
def test_a_nul_in_any_query_parameter_of_any_list_page_is_a_400(manager_client, value, data):
    for page, names in LIST_PAGES.items():
        name = data.draw(st.sampled_from(names))
        response = manager_client.get(reverse(page), {name: value})
        assert response.status_code == 400, (page, name, response.status_code)
    autocomplete = {"app_label": "leadfollow", "model_name": "lead", "field_name": "owner"}
    response = manager_client.get(reverse("admin:autocomplete"), {**autocomplete, "term": value})
    assert response.status_code == 400


AUTOCOMPLETES = [("lead", "owner"), ("absence", "rep"), ("routingrule", "reps")]


@pytest.mark.parametrize("value", ["a\x00b", "²", "9" * 40])
def test_every_query_parameter_of_every_list_page(manager_client, value):
    """Each parameter of each page, not a sample: NUL is the 400 of RejectNulMiddleware,
    other odd text (superscript or Arabic digits, a 40-digit number) is never a 5xx."""
    expected = (lambda code: code == 400) if "\x00" in value else (lambda code: code < 500)
    failures = []
    for page, names in LIST_PAGES.items():
        for name in names:
            response = manager_client.get(reverse(page), {name: value})
            if not expected(response.status_code):
                failures.append((page, name, response.status_code))
    for model, field in AUTOCOMPLETES:
        query = {"app_label": "leadfollow", "model_name": model, "field_name": field}
        response = manager_client.get(reverse("admin:autocomplete"), {**query, "term": value})
        if not expected(response.status_code):
            failures.append(("autocomplete", model, response.status_code))
    assert not failures, failures


ADMIN_FORMS = [
    "lead",
    "contactattempt",
    "scoringrule",
    "routingrule",
    "repprofile",
    "absence",
    "apikey",
    "engagementrule",
    "webhookendpoint",
]
ADMIN_VALUES = st.one_of(
    UNICODE.filter(lambda s: "\x00" not in s),
    st.sampled_from(["NaN", "1e999", "[1, 2]", '{"mon": []}', '"\\ud800"', '["\\u0000"]', "{}",
                     "-1", "9" * 30, "2026-13-45", "on", "", "null"]),
    st.integers(-3, 3).map(lambda depth: _nested_text(40 + depth, ("[", "]"))),
)  # fmt: skip


def _admin_client() -> Client:
    user = UserFactory(is_staff=True, is_superuser=True)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ADMIN_FORMS)
@pytest.mark.parametrize("change", [False, True], ids=["add", "change"])
@settings(SMALL, max_examples=max(3, EXAMPLES // 20))  # every form, a few examples each
@given(data=st.data())
def test_every_admin_add_and_change_form_never_5xx(manager_client, model, change, data):
    client = _admin_client()
    existing = {
        "lead": lambda: LeadFactory().pk,
        "contactattempt": lambda: ContactAttempt.objects.create(
            lead=LeadFactory(), channel="call", outcome="connected",
            attempted_at=timezone.now()).pk,
        "scoringrule": lambda: ScoringRule.objects.create(
            name="r", field_path="source", operator="eq", value="ads", points=1).pk,
        "routingrule": lambda: RoutingRule.objects.create(name="r", fallback_to_all=True).pk,
        "repprofile": lambda: RepFactory().pk,
        "absence": lambda: Absence.objects.create(
            rep=RepFactory(), starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(days=1)).pk,
        "apikey": lambda: make_api_key("ads")[0].pk,
        "engagementrule": lambda: EngagementRule.objects.create(
            name="r", event_type="page_view", min_events=1, within_days=7, points=1).pk,
        "webhookendpoint": lambda: WebhookEndpoint.objects.create(
            name="w", url="https://hooks.example.com/x", secret="s" * 32).pk,
    }  # fmt: skip
    if change:
        url = reverse(f"admin:leadfollow_{model}_change", args=[existing[model]()])
    else:
        url = reverse(f"admin:leadfollow_{model}_add")
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    form = page.context["adminform"].form
    post = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            post[management.add_prefix(name)] = management[name].value()
        # The inline's first empty row too (an absence on a rep, an attempt on a lead).
        extra = inline.formset.extra_forms[:1]
        for inline_form in extra if data.draw(st.booleans(), label="fill inline") else ():
            for name in inline_form.fields:
                key = inline_form.add_prefix(name)
                post[key] = data.draw(ADMIN_VALUES, label=key)
    for name in form.fields:
        post[name] = data.draw(ADMIN_VALUES, label=name)
    if model == "scoringrule" and data.draw(st.booleans(), label="preview"):
        post["_preview"] = "1"  # the score changes the rule would cause, computed in SQL
    model_class = form._meta.model

    def stored():
        rows = list(model_class.objects.order_by("pk").values())
        return rows, counts(), Absence.objects.count()

    before = stored()
    response = client.post(url, post)
    assert response.status_code < 500, (url, post, response.status_code)
    shown = response.context or {}
    if "adminform" in shown or "preview" in shown:  # the form again (errors), or the preview
        assert stored() == before, (url, post)


ODD_TIMESTAMPS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["²", "9" * 5000, "-1", "1.5", "1e9", " 1", "1 ", "0x1F", "١٢٣", "+5", ""]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
)


@SMALL
@given(timestamp=ODD_TIMESTAMPS)
def test_odd_timestamp_headers_never_5xx_and_store_nothing(db, timestamp):
    from tests.test_api_intake import signed_headers

    api_key, _ = make_api_key("ads")
    body = json.dumps({"name": "Jo", "email": "jo@example.com"}).encode()
    headers = signed_headers(api_key, body)
    # Headers are latin-1 on the wire; anything else cannot arrive.
    headers["HTTP_X_LEADFOLLOW_TIMESTAMP"] = timestamp.encode("utf-8").decode("latin-1")
    client = APIClient(raise_request_exception=False)
    cache.clear()  # the failure throttle would answer 429 after a few examples
    response = client.post("/api/leads/", body, content_type="application/json", **headers)
    assert response.status_code in (401, 403), response.status_code
    assert not Lead.objects.exists()
