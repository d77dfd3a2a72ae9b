"""Security: one rep never reaches another rep's lead; keys, signatures, admin rights; escaping.

Every way in is tried from the same starting point — rep A logged in (session and token),
rep B owning a lead with attempts, assignments and a submission — and each must answer
404/403 or an empty list, and change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leadfollow.models import (
    ApiKey,
    Assignment,
    ContactAttempt,
    Lead,
    RepProfile,
    RoutingRule,
    ScoringRule,
)
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    ContactAttemptFactory,
    LeadFactory,
    ManagerFactory,
    RepFactory,
    SubmissionFactory,
    UserFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
HOUR = timedelta(hours=1)
SECRET_NAME = "Bravo Secretlead"


@pytest.fixture
def rep_a(db):
    return RepFactory(user=UserFactory(username="alice"))


@pytest.fixture
def rep_b(db):
    return RepFactory(user=UserFactory(username="bob"))


@pytest.fixture
def own_lead(rep_a):
    now = timezone.now()
    return LeadFactory(
        name="Alpha Ownlead",
        owner=rep_a.user,
        assigned_at=now - 2 * HOUR,
        first_response_due=now - HOUR,
    )


@pytest.fixture
def lead_b(rep_b):
    """Rep B's cold lead, with history in every related table."""
    now = timezone.now()
    lead = LeadFactory(
        name=SECRET_NAME,
        company="Bravo Corp",
        email="bravo@example.org",
        owner=rep_b.user,
        assigned_at=now - 2 * HOUR,
        first_response_due=now - HOUR,
    )
    ContactAttemptFactory(lead=lead, rep=rep_b.user, note="bravo-note")
    AssignmentFactory(lead=lead, to_rep=rep_b.user)
    SubmissionFactory(lead=lead, message="bravo-submission")
    return lead


@pytest.fixture
def session_a(rep_a):
    client = Client()
    client.force_login(rep_a.user)
    return client


@pytest.fixture
def token_a(rep_a):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=rep_a.user).key}")
    return client


def lead_state(lead: Lead) -> tuple:
    lead.refresh_from_db()
    return (
        lead.owner_id,
        lead.status,
        lead.first_contacted_at,
        lead.next_follow_up_at,
        lead.attempts.count(),
        lead.assignments.count(),
    )


# --- rep pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"rep": "all"},
        {"rep": "{b}"},
        {"owner": "{b}"},
        {"tab": "follow_ups", "rep": "{b}"},
        {"tab": "recent", "rep": "all"},
        {"status": "new", "rep": "all"},
        {"q": "Bravo", "rep": "all"},
        {"unassigned": "false", "owner": "{b}"},
    ],
)
def test_queue_never_lists_another_reps_lead(session_a, rep_b, own_lead, lead_b, query):
    params = {k: v.format(b=rep_b.user.pk) for k, v in query.items()}
    response = session_a.get(reverse("leadfollow:queue"), params)
    assert response.status_code == 200
    assert SECRET_NAME not in response.content.decode()
    assert lead_b.pk not in {lead.pk for lead in response.context["leads"]}


def test_lead_page_of_another_rep_is_404(session_a, lead_b):
    response = session_a.get(reverse("leadfollow:lead", args=[lead_b.pk]))
    assert response.status_code == 404
    assert SECRET_NAME not in response.content.decode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("log_attempt", {"attempt-channel": "call", "attempt-outcome": "connected"}),
        ("set_status", {"status-status": "disqualified"}),
        ("schedule_follow_up", {"follow_up-next_follow_up_at": "2099-01-01T10:00"}),
        ("hand_back", {"hand_back-reason": "not mine"}),
    ],
)
def test_rep_forms_on_another_reps_lead_are_404_and_change_nothing(session_a, lead_b, name, data):
    before = lead_state(lead_b)
    response = session_a.post(reverse(f"leadfollow:{name}", args=[lead_b.pk]), data)
    assert response.status_code == 404
    assert lead_state(lead_b) == before


# --- API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?owner={b}",
        "?unassigned=false",
        "?q=Bravo",
        "?cold=true",
        "?overdue=true",
        "?ordering=-score",
        "?status=new&source=web",
        "?page_size=200",
    ],
)
def test_api_lead_list_never_returns_another_reps_lead(token_a, rep_b, own_lead, lead_b, query):
    response = token_a.get("/api/leads/" + query.format(b=rep_b.user.pk))
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert lead_b.pk not in ids
    assert SECRET_NAME not in response.content.decode()


def test_api_lead_detail_and_attempts_of_another_rep_are_404(token_a, lead_b):
    before = lead_state(lead_b)
    url = f"/api/leads/{lead_b.pk}/"
    assert token_a.get(url).status_code == 404
    assert token_a.get(url + "attempts/").status_code == 404
    post = token_a.post(url + "attempts/", {"channel": "call", "outcome": "connected"}, "json")
    assert post.status_code == 404
    # Not a manager: PATCH is refused before the lead is even looked up.
    patch = token_a.patch(url, {"status": "disqualified", "owner": None}, "json")
    assert patch.status_code in (403, 404)
    assert token_a.put(url, {"status": "qualified"}, "json").status_code in (403, 404, 405)
    assert lead_state(lead_b) == before


def test_api_rep_cannot_patch_even_own_lead_owner(token_a, rep_b, own_lead):
    response = token_a.patch(f"/api/leads/{own_lead.pk}/", {"owner": rep_b.user.pk}, "json")
    assert response.status_code == 403
    own_lead.refresh_from_db()
    assert own_lead.owner_id != rep_b.user.pk


@pytest.mark.parametrize("query", ["", "?lead={lead}", "?to_rep={b}", "?reason=intake"])
def test_api_assignments_of_another_reps_lead_are_hidden(token_a, rep_b, lead_b, query):
    response = token_a.get("/api/assignments/" + query.format(lead=lead_b.pk, b=rep_b.user.pk))
    assert response.status_code == 200
    assert all(row["lead"] != lead_b.pk for row in response.json()["results"])
    other = Assignment.objects.filter(lead=lead_b).first()
    assert token_a.get(f"/api/assignments/{other.pk}/").status_code == 404


def test_api_metrics_count_only_own_leads(token_a, rep_a, rep_b, own_lead, lead_b):
    body = token_a.get("/api/metrics/").json()
    owners = {row["owner_id"] for row in body["reps"]}
    assert rep_b.user.pk not in owners
    assert sum(row["received"] for row in body["reps"]) == 1
    # Asking for rep B's figures explicitly gives nothing of theirs.
    narrowed = token_a.get("/api/metrics/", {"rep": rep_b.user.pk})
    if narrowed.status_code == 200:
        assert sum(row["received"] for row in narrowed.json()["reps"]) == 0


def test_api_rep_sees_and_changes_only_own_availability(token_a, rep_a, rep_b):
    listed = token_a.get("/api/reps/").json()["results"]
    assert [row["id"] for row in listed] == [rep_a.pk]
    assert token_a.get(f"/api/reps/{rep_b.pk}/").status_code == 404
    response = token_a.patch(f"/api/reps/{rep_b.pk}/", {"accepting_leads": False}, "json")
    assert response.status_code == 404
    # Own profile: only accepting_leads is writable, not capacity or weight.
    token_a.patch(f"/api/reps/{rep_a.pk}/", {"capacity": 999, "weight": 50}, "json")
    rep_a.refresh_from_db()
    rep_b.refresh_from_db()
    assert rep_b.accepting_leads is True
    assert (rep_a.capacity, rep_a.weight) == (None, 1)
    assert token_a.delete(f"/api/reps/{rep_a.pk}/").status_code == 403


def test_api_rep_cannot_touch_another_reps_absences(token_a, rep_b):
    absence = AbsenceFactory(rep=rep_b)
    assert token_a.get("/api/absences/").json()["results"] == []
    assert token_a.get(f"/api/absences/{absence.pk}/").status_code == 404
    assert token_a.delete(f"/api/absences/{absence.pk}/").status_code == 404
    now = timezone.now()
    created = token_a.post(
        "/api/absences/",
        {"rep": rep_b.pk, "starts_at": now.isoformat(), "ends_at": (now + HOUR).isoformat()},
        "json",
    )
    assert created.status_code == 400
    assert rep_b.absences.count() == 1


def test_api_scoring_rules_are_managers_only(token_a):
    assert token_a.get("/api/scoring-rules/").status_code == 403
    body = {"name": "x", "field_path": "source", "operator": "eq", "value": "ads", "points": 99}
    assert token_a.post("/api/scoring-rules/", body, "json").status_code == 403
    assert not ScoringRule.objects.exists()


def test_source_key_reads_nothing(lead_b):
    _, raw = make_api_key("ads")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    for url in ("/api/leads/", f"/api/leads/{lead_b.pk}/", "/api/assignments/", "/api/metrics/"):
        assert api.get(url).status_code in (401, 403), url


def test_session_api_writes_need_csrf(rep_a, own_lead):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep_a.user)
    url = f"/api/leads/{own_lead.pk}/attempts/"
    assert client.post(url, {"channel": "call", "outcome": "connected"}, "json").status_code == 403
    assert not own_lead.attempts.exists()


# --- admin and exports ---------------------------------------------------------------------


@pytest.fixture
def staff_rep_a(rep_a):
    """Rep A with admin access and every model permission except manage_leads."""
    user = rep_a.user
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="leadfollow").exclude(
            codename="manage_leads"
        )
    )
    client = Client()
    client.force_login(user)
    return client


def test_admin_lead_pages_of_another_rep_are_unreachable(staff_rep_a, lead_b):
    before = lead_state(lead_b)
    for suffix in ("change", "history", "delete"):
        url = reverse(f"admin:leadfollow_lead_{suffix}", args=[lead_b.pk])
        response = staff_rep_a.get(url, follow=True)
        assert SECRET_NAME not in response.content.decode(), suffix
    response = staff_rep_a.post(
        reverse("admin:leadfollow_lead_change", args=[lead_b.pk]),
        {"name": "hijacked", "status": "qualified", "source": "web"},
    )
    assert response.status_code in (302, 404)
    staff_rep_a.post(reverse("admin:leadfollow_lead_delete", args=[lead_b.pk]), {"post": "yes"})
    assert Lead.objects.filter(pk=lead_b.pk, name=SECRET_NAME).exists()
    assert lead_state(lead_b) == before


@pytest.mark.parametrize("model", ["lead", "contactattempt", "assignment", "coldlead"])
def test_admin_changelists_and_search_hide_another_reps_lead(staff_rep_a, lead_b, model):
    url = reverse(f"admin:leadfollow_{model}_changelist")
    for query in ({}, {"q": "Bravo"}, {"owner": str(lead_b.owner_id)}, {"q": "bravo-note"}):
        response = staff_rep_a.get(url, query)
        # 302: Django's admin drops an unknown filter parameter (?e=1).
        assert response.status_code in (200, 302, 403), (model, query)
        assert SECRET_NAME not in response.content.decode(), (model, query)
        if response.status_code == 200:
            rows = response.context["cl"].result_list
            assert all(getattr(row, "lead_id", row.pk) != lead_b.pk for row in rows), query


def test_admin_autocomplete_does_not_leak_other_leads(staff_rep_a, lead_b):
    response = staff_rep_a.get(
        "/admin/autocomplete/",
        {
            "app_label": "leadfollow",
            "model_name": "contactattempt",
            "field_name": "lead",
            "term": "Bravo",
        },
    )
    assert response.status_code in (200, 403)
    if response.status_code == 200:
        assert response.json()["results"] == []


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:leadfollow_dashboard",
        "admin:leadfollow_dashboard_report_csv",
        "admin:leadfollow_dashboard_cold_csv",
    ],
)
def test_dashboard_and_csv_exports_need_manage_leads(staff_rep_a, lead_b, url_name):
    response = staff_rep_a.get(reverse(url_name))
    assert response.status_code == 403
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert SECRET_NAME.encode() not in body


@pytest.mark.parametrize("action", ["reassign_to_next", "escalate", "assign_to_chosen_rep"])
def test_admin_bulk_actions_need_manage_leads(staff_rep_a, rep_a, lead_b, action):
    before = lead_state(lead_b)
    data = {"action": action, "_selected_action": [lead_b.pk], "rep": rep_a.pk, "apply": "1"}
    response = staff_rep_a.post(reverse("admin:leadfollow_coldlead_changelist"), data)
    assert response.status_code == 403
    assert lead_state(lead_b) == before


def test_admin_delete_selected_cannot_reach_another_reps_lead(staff_rep_a, lead_b):
    staff_rep_a.post(
        reverse("admin:leadfollow_lead_changelist"),
        {"action": "delete_selected", "_selected_action": [lead_b.pk], "post": "yes"},
    )
    assert Lead.objects.filter(pk=lead_b.pk).exists()


def test_manager_bulk_action_works_and_names_the_actor(rep_a, lead_b):
    manager = ManagerFactory(is_staff=True)
    client = Client()
    client.force_login(manager)
    response = client.post(
        reverse("admin:leadfollow_coldlead_changelist"),
        {"action": "escalate", "_selected_action": [lead_b.pk]},
    )
    assert response.status_code == 302
    lead_b.refresh_from_db()
    assert lead_b.escalated_at is not None
    assert Assignment.objects.filter(lead=lead_b, actor=manager).exists()


# --- API keys and signatures -------------------------------------------------------------

JO = {"name": "Jo Meyer", "email": "jo@example.com"}


def test_api_keys_are_stored_hashed_never_raw():
    api_key, raw = make_api_key("ads")
    secret_part = raw.partition(".")[2]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")  # noqa: S608 - fixed table name
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert raw not in stored and secret_part not in stored
    assert hashlib.sha256(raw.encode()).hexdigest() in stored
    api_key.refresh_from_db()
    assert api_key.key_hash != raw


def _spy():
    return mock.patch("hmac.compare_digest", wraps=hmac.compare_digest)


def test_api_key_is_compared_in_constant_time(rep_a):
    api_key, raw = make_api_key("ads")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with _spy() as spy:
        response = client.post("/api/leads/", JO, "json")
    assert response.status_code == 201
    compared = [set(map(str, call.args)) for call in spy.call_args_list]
    assert any(api_key.key_hash in args for args in compared), spy.call_args_list


def test_a_key_one_character_off_is_refused(rep_a):
    _, raw = make_api_key("ads")
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {wrong}")
    assert client.post("/api/leads/", JO, "json").status_code == 401
    assert not Lead.objects.exists()


def _signed(api_key: ApiKey, body: bytes, *, secret: str | None = None, ts: int | None = None):
    ts_text = str(int(time.time()) if ts is None else ts)
    key = (secret or api_key.signing_secret).encode()
    digest = hmac.new(key, ts_text.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_LEADFOLLOW_KEY_ID": api_key.prefix,
        "HTTP_X_LEADFOLLOW_TIMESTAMP": ts_text,
        "HTTP_X_LEADFOLLOW_SIGNATURE": f"sha256={digest}",
    }


def _post_signed(body: bytes, headers: dict):
    return APIClient().post("/api/leads/", body, content_type="application/json", **headers)


def test_signature_is_compared_in_constant_time(rep_a):
    api_key, _ = make_api_key("ads")
    body = json.dumps(JO).encode()
    with _spy() as spy:
        response = _post_signed(body, _signed(api_key, body))
    assert response.status_code == 201
    expected = api_key.signature(response.request["HTTP_X_LEADFOLLOW_TIMESTAMP"], body)
    assert any(expected.encode() in call.args for call in spy.call_args_list)


@pytest.mark.parametrize(
    "attack", ["wrong_secret", "stale", "future", "tampered_body", "other_key_id", "replay"]
)
def test_bad_signatures_are_refused_and_store_nothing(rep_a, attack):
    api_key, _ = make_api_key("ads")
    other, _ = make_api_key("web")
    body = json.dumps(JO).encode()
    now = int(time.time())
    headers = _signed(api_key, body)
    if attack == "wrong_secret":
        headers = _signed(api_key, body, secret="not-the-secret")
    elif attack == "stale":
        headers = _signed(api_key, body, ts=now - 3600)
    elif attack == "future":
        headers = _signed(api_key, body, ts=now + 3600)
    elif attack == "tampered_body":
        body = json.dumps({**JO, "name": "Mallory"}).encode()
    elif attack == "other_key_id":
        headers["HTTP_X_LEADFOLLOW_KEY_ID"] = other.prefix
    elif attack == "replay":
        assert _post_signed(body, headers).status_code == 201
    count = Lead.objects.count()
    response = _post_signed(body, headers)
    assert response.status_code == 401, response.content
    assert Lead.objects.count() == count


def test_revoked_key_and_signature_are_refused(rep_a):
    api_key, raw = make_api_key("ads")
    api_key.revoked_at = timezone.now()
    api_key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.post("/api/leads/", JO, "json").status_code == 401
    body = json.dumps(JO).encode()
    assert _post_signed(body, _signed(api_key, body)).status_code == 401
    assert not Lead.objects.exists()


# --- escaping ----------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
PAYLOAD = '"><' + SCRIPT[1:]  # also tries to break out of an attribute


@pytest.fixture
def hostile(rep_a):
    """Script in every text a lead, its history, a rep and the rules can carry."""
    now = timezone.now()
    user = rep_a.user
    user.first_name, user.last_name = PAYLOAD, SCRIPT
    user.save()
    lead = LeadFactory(
        name=PAYLOAD,
        company=PAYLOAD,
        message=PAYLOAD,
        phone=PAYLOAD[:32],
        email=f"x{PAYLOAD.replace(' ', '')}@example.org"[:254],
        external_id=PAYLOAD,
        attributes={PAYLOAD: PAYLOAD, "nested": {"k": PAYLOAD}, "list": [PAYLOAD]},
        owner=user,
        received_at=now - 3 * HOUR,
        assigned_at=now - 2 * HOUR,
        first_response_due=now - HOUR,
    )
    ContactAttemptFactory(lead=lead, rep=user, note=PAYLOAD)
    AssignmentFactory(lead=lead, to_rep=user, note=PAYLOAD[:200])
    SubmissionFactory(lead=lead, message=PAYLOAD, attributes={PAYLOAD: PAYLOAD})
    ScoringRule.objects.create(
        name=PAYLOAD, field_path="source", operator="eq", value="web", points=5, note=PAYLOAD
    )
    rule = RoutingRule.objects.create(name=PAYLOAD)
    rule.reps.set([rep_a])
    ApiKey.objects.create_key(source="ads", name=PAYLOAD)
    AbsenceFactory(rep=rep_a, reason=PAYLOAD, starts_at=now + 24 * HOUR, ends_at=now + 48 * HOUR)
    return lead


def assert_escaped(response, where: str) -> None:
    assert response.status_code == 200, where
    body = response.content.decode()
    assert SCRIPT not in body, where
    assert "&lt;script&gt;" in body, f"{where}: the payload is not shown at all"


def test_rep_pages_escape_every_text(rep_a, hostile):
    client = Client()
    client.force_login(rep_a.user)
    assert_escaped(client.get(reverse("leadfollow:queue")), "queue")
    assert_escaped(client.get(reverse("leadfollow:queue"), {"q": SCRIPT}), "queue search")
    assert_escaped(client.get(reverse("leadfollow:lead", args=[hostile.pk])), "lead page")
    # An invalid form re-renders with the submitted values.
    invalid = client.post(
        reverse("leadfollow:log_attempt", args=[hostile.pk]),
        {"attempt-channel": SCRIPT, "attempt-outcome": SCRIPT, "attempt-note": SCRIPT},
    )
    assert_escaped(invalid, "invalid attempt form")


def test_admin_pages_escape_every_text(hostile):
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(boss)
    pages = {
        "lead changelist": reverse("admin:leadfollow_lead_changelist"),
        "lead change": reverse("admin:leadfollow_lead_change", args=[hostile.pk]),
        "cold leads": reverse("admin:leadfollow_coldlead_changelist"),
        "dashboard": reverse("admin:leadfollow_dashboard"),
        "attempts": reverse("admin:leadfollow_contactattempt_changelist"),
        "assignments": reverse("admin:leadfollow_assignment_changelist"),
        "scoring rules": reverse("admin:leadfollow_scoringrule_changelist"),
        "routing rules": reverse("admin:leadfollow_routingrule_changelist"),
        "api keys": reverse("admin:leadfollow_apikey_changelist"),
    }
    for where, url in pages.items():
        assert_escaped(client.get(url), where)
    # Reps are listed by username (no markup possible); their absences carry the payload.
    rep_page = client.get(
        reverse("admin:leadfollow_repprofile_change", args=[hostile.owner.leadfollow_rep.pk])
    )
    assert rep_page.status_code == 200 and SCRIPT not in rep_page.content.decode()
    chooser = client.post(
        reverse("admin:leadfollow_coldlead_changelist"),
        {"action": "assign_to_chosen_rep", "_selected_action": [hostile.pk]},
    )
    assert_escaped(chooser, "assign-to-rep form")
    search = client.get(reverse("admin:leadfollow_lead_changelist"), {"q": SCRIPT})
    assert SCRIPT not in search.content.decode()


def test_csv_export_defuses_formulas(hostile):
    hostile.name = '=HYPERLINK("http://evil")'
    hostile.save()
    boss = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(boss)
    response = client.get(reverse("admin:leadfollow_dashboard_cold_csv"))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode()
    assert "HYPERLINK" in text
    assert ",=HYPERLINK" not in text and '"=HYPERLINK' not in text and "\n=HYPERLINK" not in text


def test_rep_profile_count_is_unchanged_by_a_rep(token_a):
    before = RepProfile.objects.count()
    token_a.post("/api/reps/", {"user": 1}, "json")
    assert RepProfile.objects.count() == before
    assert ContactAttempt.objects.count() == 0


# --- the production settings profile -----------------------------------------------------


def _check_deploy(**env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_project.settings_production",
        DJANGO_SECRET_KEY="x7-" + "k9Qz!rT2#mW8$vL4^pN6&bJ3*hF5(dS1)gA0" * 2,
        DJANGO_ALLOWED_HOSTS="leads.example.com",
        DATABASE_URL="postgres://leadfollow@db.invalid:5432/leadfollow",
    )
    env.update(env_overrides)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
def test_check_deploy_is_clean_for_the_production_profile():
    done = _check_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_profile_refuses_to_start_without_its_environment(missing):
    done = _check_deploy(**{missing: None})
    assert done.returncode != 0
    assert f"Set the {missing} environment variable" in done.stderr
