"""Personal data (issue 18): erasure through each door, retention, subject access, side channels.

The proof of erasure is a scan of every column of every leadfollow, django-q2 and admin-log
table (found by introspection, so a model added later is scanned too), plus django-q2's
pickled columns read back through the ORM.
"""

from __future__ import annotations

import io
import json
import logging
import smtplib
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task
from rest_framework.test import APIClient

from leadfollow import metrics, ownership, privacy
from leadfollow.intake import create_lead
from leadfollow.models import (
    Assignment,
    ContactAttempt,
    EngagementEvent,
    ErasureRecord,
    Lead,
    LeadStatus,
    Reminder,
    Submission,
)
from tests.factories import ManagerFactory, RepFactory, UserFactory, make_api_key

EMAIL = "johanna.quist@example.net"
NAME = "Johanna Quistorp"
PHONE = "+4930555012345"
COMPANY = "Quistorp Kunstschmiede"
SECRET_WORD = "Zwiebelturm"  # only in what she wrote
PERSONAL = (EMAIL, NAME, PHONE, COMPANY, SECRET_WORD)
OTHER_EMAIL = "bystander@example.org"
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SCANNED_PREFIXES = ("leadfollow_", "django_q_", "django_admin_log")


def lf(**options):
    return override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **options})


# --- the scan ------------------------------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def copies(needles=PERSONAL) -> list[str]:
    """Where any of ``needles`` is stored: "table.column" for each hit (case-insensitive)."""
    needles = [needle.lower() for needle in needles]
    hits = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor)
        for table in [name for name in names if name.startswith(SCANNED_PREFIXES)]:
            description = connection.introspection.get_table_description(cursor, table)
            columns = [column.name for column in description]
            cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = _text(value).lower()
                    hits += [f"{table}.{column}" for needle in needles if needle in text]
    # django-q2 pickles arguments and results (and signs queued payloads): read them decoded.
    from django_q.signing import SignedPackage

    for model in apps.get_app_config("django_q").get_models():
        for obj in model._base_manager.all():
            for field in obj._meta.concrete_fields:
                value = field.value_from_object(obj)
                if field.name == "payload" and value:
                    value = SignedPackage.loads(value)
                text = repr(value).lower()
                hits += [f"{model._meta.label}.{field.name}" for n in needles if n in text]
    return hits


def table_rows() -> dict[str, list]:
    """Every row of the scanned tables, to show that something changed nothing."""
    quote = connection.ops.quote_name
    rows = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table.startswith(SCANNED_PREFIXES):
                cursor.execute(f"SELECT * FROM {quote(table)} ORDER BY 1")
                rows[table] = [tuple(map(_text, row)) for row in cursor.fetchall()]
    return rows


# --- a person with a history ---------------------------------------------------------------


@pytest.fixture
def manager(db):
    return ManagerFactory(is_staff=True, first_name="Mona", last_name="Manager")


@pytest.fixture
def reps(db):
    first = RepFactory(user__first_name="Rita", user__last_name="Rep", working_hours=ALWAYS)
    second = RepFactory(user__first_name="Sam", user__last_name="Second", working_hours=ALWAYS)
    return first.user, second.user


def key_client(source: str) -> APIClient:
    _, raw = make_api_key(source)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def person(db, reps, manager, django_capture_on_commit_callbacks):
    """Johanna's lead from the API, a repeat from the contact form, a rep's attempt, a
    hand-back, a reminder, the first-touch e-mail task, an admin edit and a failed task of
    an older version that quoted her address, the webhook deliveries of her lead's events
    (to an endpoint on a refused address: nothing leaves the machine); then closed. Plus a
    bystander's lead."""
    from leadfollow.models import WebhookEndpoint

    WebhookEndpoint.objects.create(
        name="crm", url="http://127.0.0.1:9/hook", secret="whsec_dGVzdA==", events=[]
    )
    with lf(FIRST_TOUCH_EMAIL=True), django_capture_on_commit_callbacks(execute=True):
        response = key_client("ads").post(
            "/api/leads/",
            {
                "name": NAME,
                "email": EMAIL,
                "phone": PHONE,
                "company": COMPANY,
                "message": f"Please quote a weathervane for our {SECRET_WORD}.",
                "external_id": "fb-991",
                "utm_campaign": "spring",
                "consent_purpose": "Quote",
                "consent_text": "You may contact me about my quote.",
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )
        assert response.status_code == 201, response.content
        lead = Lead.objects.get(pk=response.json()["id"])
        Client().post(
            "/contact/",
            {"name": NAME, "email": EMAIL, "message": f"Also the {SECRET_WORD} roof?"},
        )
        bystander = create_lead({"name": "Bea Bystander", "email": OTHER_EMAIL}).lead
    assert lead.submissions.count() == 1
    owner = Lead.objects.get(pk=lead.pk).owner
    ownership.log_attempt(
        lead, rep=owner, channel="call", outcome="call_back", note=f"{NAME}: call {PHONE}"
    )
    ownership.hand_back(Lead.objects.get(pk=lead.pk), actor=owner, note=f"{NAME} wants Munich")
    ownership.log_attempt(bystander, rep=reps[0], channel="call", outcome="connected")
    _, esp_key = make_api_key("esp", events_any_source=True)
    esp = APIClient()
    esp.credentials(HTTP_AUTHORIZATION=f"Api-Key {esp_key}")
    clicked = {"url": f"https://example.com/offer?to={EMAIL}", "subject": f"{SECRET_WORD} quote"}
    event = {"email": EMAIL, "type": "email_click", "id": "esp-1", "properties": clicked}
    assert esp.post("/api/events/", event, format="json").status_code == 201
    Reminder.objects.create(lead=lead, kind="follow_up", due_at=timezone.now(), rep=reps[0])
    LogEntry.objects.create(
        user=manager,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.pk),
        object_repr=str(lead),  # "Johanna Quistorp (ads)", as the admin writes it
        action_flag=CHANGE,
        change_message="[]",
    )
    Task.objects.create(
        id=uuid.uuid4().hex,
        name="old-failure",
        func="leadfollow.tasks.send_first_touch",
        args=(lead.pk,),
        result=f"SMTPRecipientsRefused: {{'{EMAIL}': (550, b'unknown')}}",
        started=timezone.now(),
        stopped=timezone.now(),
        success=False,
    )
    ownership.set_status(Lead.objects.get(pk=lead.pk), LeadStatus.DISQUALIFIED)
    assert Task.objects.filter(func="leadfollow.tasks.send_first_touch", success=True).exists()
    assert set(copies()) >= {
        "leadfollow_lead.email",
        "leadfollow_submission.message",
        "leadfollow_webhookdelivery.payload",
        "leadfollow_engagementevent.properties",
    }
    return Lead.objects.get(pk=lead.pk), bystander


def report(now):
    return metrics.response_report(now=now)


# --- the three doors -----------------------------------------------------------------------


def by_command(manager, lead):
    out = io.StringIO()
    call_command("leadfollow_erase", "--email", EMAIL, "--actor", manager.username, stdout=out)
    return out.getvalue()


def by_admin(manager, lead):
    client = Client()
    client.force_login(manager)
    url = reverse("admin:leadfollow_lead_changelist")
    data = {"action": "erase_personal_data", "_selected_action": [lead.pk], "index": "0"}
    confirm = client.post(url, data)
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    done = client.post(url, {**data, "apply": "1"}, follow=True)
    assert done.status_code == 200
    return " ".join(str(m) for m in done.context["messages"])


def by_api(manager, lead, expect=200):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.post("/api/privacy/erasure/", {"email": EMAIL}, format="json")
    assert response.status_code == expect, response.content
    return response.json()


DOORS = {"command": by_command, "admin": by_admin, "api": by_api}


@pytest.mark.parametrize("door", DOORS)
def test_erasure_leaves_no_copy_and_keeps_the_figures(door, person, manager):
    lead, bystander = person
    now = timezone.now()
    before = report(now)
    history = list(Assignment.objects.filter(lead=lead).values("from_rep", "to_rep", "reason"))
    kept = Lead.objects.filter(pk=lead.pk).values(
        "received_at", "assigned_at", "first_contacted_at", "status", "score", "source", "owner"
    )[0]

    DOORS[door](manager, lead)

    assert copies() == []
    assert report(now) == before
    erased = Lead.objects.get(pk=lead.pk)
    assert erased.name == privacy.TOMBSTONE and erased.erased_at is not None
    assert erased.email == erased.phone == erased.message == "" and erased.attributes == {}
    assert erased.consent_purpose == "Quote"  # the proof of consent is not personal
    assert Lead.objects.filter(pk=lead.pk).values(*kept)[0] == kept
    assert list(Assignment.objects.filter(lead=lead).values(*history[0])) == history
    assert ContactAttempt.objects.filter(lead=lead).count() == 2  # the attempts stay
    untouched = Lead.objects.get(pk=bystander.pk)
    assert untouched.email == OTHER_EMAIL and untouched.erased_at is None
    (record,) = ErasureRecord.objects.all()
    assert record.via == door and record.actor == manager and record.lead_ids == [lead.pk]
    assert record.counts["leadfollow.Lead"] == 1 and record.counts["leadfollow.Submission"] == 1
    assert record.counts["leadfollow.ContactAttempt"] == 2  # the rep's note, first touch
    assert record.counts["django_q.Task"] == 1 and record.counts["admin.LogEntry"] == 1
    assert record.counts["leadfollow.WebhookDelivery"] >= 1  # lead.created, …, disqualified
    assert record.records == sum(record.counts.values())

    # A second erasure through the same door changes nothing and writes no audit row.
    rows = table_rows()
    if door == "command":  # by e-mail: nobody has the address any more
        with pytest.raises(CommandError, match="No lead found"):
            by_command(manager, lead)
    elif door == "api":
        by_api(manager, lead, expect=404)
    else:  # the admin selects the lead itself: found, nothing left to erase
        assert "Erased 0 record(s) of 1 lead(s)" in by_admin(manager, lead)
    assert table_rows() == rows
    again = privacy.erase([lead.pk], actor=manager)  # by id: found, nothing left to erase
    assert again.records == 0 and again.record is None
    assert table_rows() == rows


def test_the_api_refuses_a_second_erasure_by_address_with_404(person, manager):
    by_api(manager, person[0])
    api = APIClient()
    api.force_authenticate(manager)
    assert api.post("/api/privacy/erasure/", {"email": EMAIL}, format="json").status_code == 404
    again = api.post("/api/privacy/erasure/", {"lead": person[0].pk}, format="json")
    assert again.status_code == 200 and again.json()["records"] == 0
    assert again.json()["audit_id"] is None


@pytest.fixture
def open_lead(db, reps):
    return create_lead({"name": NAME, "email": EMAIL, "message": SECRET_WORD}).lead


def test_open_leads_are_refused_by_every_door_unless_forced(open_lead, manager):
    with pytest.raises(CommandError, match="still open"):
        call_command("leadfollow_erase", "--lead", str(open_lead.pk))
    api = APIClient()
    api.force_authenticate(manager)
    refused = api.post("/api/privacy/erasure/", {"email": EMAIL}, format="json")
    assert refused.status_code == 409 and refused.json()["open_lead_ids"] == [open_lead.pk]
    message = by_admin(manager, open_lead)
    assert "still open" in message
    assert Lead.objects.get(pk=open_lead.pk).email == EMAIL and not ErasureRecord.objects.exists()

    forced = api.post("/api/privacy/erasure/", {"email": EMAIL, "force": True}, format="json")
    assert forced.status_code == 200 and forced.json()["records"] >= 1
    lead = Lead.objects.get(pk=open_lead.pk)
    assert lead.status == LeadStatus.NEW and lead.owner_id == open_lead.owner_id  # as it was
    assert ErasureRecord.objects.get().forced is True
    assert copies() == []


def test_forced_admin_erasure_and_dry_run_command(open_lead, manager):
    out = io.StringIO()
    call_command("leadfollow_erase", "--email", EMAIL, "--force", "--dry-run", stdout=out)
    assert "Would erase" in out.getvalue() and Lead.objects.get().email == EMAIL
    client = Client()
    client.force_login(manager)
    url = reverse("admin:leadfollow_lead_changelist")
    data = {"action": "erase_personal_data", "_selected_action": [open_lead.pk], "index": "0"}
    assert b'name="force"' in client.post(url, data).content
    client.post(url, {**data, "apply": "1", "force": "1"})
    assert Lead.objects.get().name == privacy.TOMBSTONE


def test_bad_requests_get_clear_answers_not_500s(db, manager, reps, tmp_path):
    api = APIClient()
    api.force_authenticate(manager)
    url = "/api/privacy/erasure/"
    assert api.post(url, {}, format="json").status_code == 400
    assert api.post(url, {"email": EMAIL, "lead": 1}, format="json").status_code == 400
    assert api.post(url, {"email": "not an address"}, format="json").status_code == 400
    assert api.post(url, {"lead": "x"}, format="json").status_code == 400
    assert api.post(url, {"lead": 2**70}, format="json").status_code == 400
    assert api.post(url, [1, 2], format="json").status_code == 400
    assert api.post(url, {"email": EMAIL}, format="json").status_code == 404
    assert api.post("/api/privacy/export/", {"email": EMAIL}, format="json").status_code == 404
    with pytest.raises(CommandError, match="valid e-mail"):
        call_command("leadfollow_erase", "--email", "nope")
    with pytest.raises(CommandError, match="No lead"):
        call_command("leadfollow_export", "--lead", "12345")
    with pytest.raises(CommandError, match="No user"):
        call_command("leadfollow_erase", "--lead", "1", "--actor", "ghost")
    lead = create_lead({"name": NAME, "email": EMAIL}).lead
    missing = tmp_path / "no-such-dir" / "export.json"
    with pytest.raises(CommandError, match="Cannot write .*no-such-dir"):
        call_command("leadfollow_export", "--lead", str(lead.pk), "--output", str(missing))


def test_only_managers_may_erase_or_export(person, reps):
    rep_api = APIClient()
    rep_api.force_authenticate(reps[0])
    for url in ("/api/privacy/erasure/", "/api/privacy/export/"):
        assert rep_api.post(url, {"email": EMAIL}, format="json").status_code == 403
        assert APIClient().post(url, {"email": EMAIL}, format="json").status_code in (401, 403)
    staff = UserFactory(is_staff=True)  # admin access, but not a manager
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("admin:leadfollow_lead_changelist"))
    assert b"erase_personal_data" not in page.content
    assert Lead.objects.get(pk=person[0].pk).email == EMAIL


def test_erasure_costs_the_same_queries_for_one_lead_or_twenty(db, reps):
    """Set-based: one UPDATE per registered model, not one per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def closed_leads(n: int, tag: str) -> list[int]:
        ids = []
        for i in range(n):
            lead = create_lead({"name": f"{tag}{i}", "email": f"{tag}{i}@example.org"}).lead
            ownership.log_attempt(lead, rep=reps[0], channel="call", outcome="not_interested",
                                  note=f"note {tag}{i}")  # fmt: skip
            ids.append(lead.pk)
        return ids

    one, twenty = closed_leads(1, "a"), closed_leads(20, "b")
    privacy.erase(closed_leads(1, "warm"))  # the content types are cached from here on
    with CaptureQueriesContext(connection) as for_one:
        assert privacy.erase(one).records == 2
    with CaptureQueriesContext(connection) as for_twenty:
        assert privacy.erase(twenty).records == 40
    assert len(for_twenty) == len(for_one)


# --- the registry ----------------------------------------------------------------------------

TEXTUAL = (models.CharField, models.TextField, models.JSONField)


def test_every_text_column_of_leadfollow_is_registered_or_declared_not_personal(db):
    """A new model (an engagement event's ``properties``, a webhook delivery's ``payload``)
    fails here until it is one ``privacy.register(...)`` line, or declared not personal."""
    registered = {holder.label: set(holder.fields) for holder in privacy.holders()}
    unaccounted = []
    for model in apps.get_app_config("leadfollow").get_models():
        if model._meta.proxy:
            continue
        label = model._meta.label
        for field in model._meta.concrete_fields:
            if not isinstance(field, TEXTUAL):
                continue
            if field.name not in registered.get(label, set()) | privacy.NOT_PERSONAL.get(
                label, set()
            ):
                unaccounted.append(f"{label}.{field.name}")
    assert unaccounted == []


def test_each_registered_field_has_a_tombstone(db):
    for holder in privacy.holders():
        tombstones = holder.tombstones()  # raises ImproperlyConfigured if one has none
        assert set(tombstones) == set(holder.fields)


# --- retention -----------------------------------------------------------------------------


@lf(RETENTION_DAYS={"disqualified": 180, "qualified": None})
def test_retention_erases_only_what_is_due(db, reps):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        leads = {
            status: create_lead({"name": f"{status} person", "email": f"{status}@example.org"})
            for status in ("disqualified", "qualified", "working")
        }
        for status, result in leads.items():
            if status != "working":
                ownership.set_status(result.lead, status)
    with time_machine.travel(start + timedelta(days=90), tick=False):
        young = create_lead({"name": "young", "email": "young@example.org"}).lead
        ownership.set_status(young, "disqualified")

    with time_machine.travel(start + timedelta(days=179), tick=False):
        out = io.StringIO()
        call_command("leadfollow_retention", "--dry-run", stdout=out)
        assert "Would erase 0 record(s) of 0 lead(s)" in out.getvalue()

    with time_machine.travel(start + timedelta(days=181), tick=False):
        out = io.StringIO()
        call_command("leadfollow_retention", "--dry-run", stdout=out)
        due = leads["disqualified"].lead.pk
        assert f"lead {due}: disqualified, unchanged for 181 days" in out.getvalue()
        assert "Would erase 1 record(s) of 1 lead(s)" in out.getvalue()
        assert Lead.objects.filter(erased_at__isnull=False).count() == 0
        rows = table_rows()
        from leadfollow import tasks

        assert tasks.apply_retention() == {"leadfollow.Lead": 1}
        assert tasks.apply_retention() == {}  # the next day's run finds nothing new
    erased = set(Lead.objects.filter(erased_at__isnull=False).values_list("pk", flat=True))
    assert erased == {due}
    assert copies(["disqualified@example.org"]) == []
    for kept in ("qualified@example.org", "working@example.org", "young@example.org"):
        assert Lead.objects.filter(email=kept).exists()
    assert ErasureRecord.objects.get().via == "retention"
    assert table_rows() != rows


def test_retention_is_off_by_default_and_scheduled_daily(db):
    from django_q.models import Schedule

    from leadfollow.schedules import ensure_schedules

    out = io.StringIO()
    call_command("leadfollow_retention", stdout=out)
    assert "nothing is erased automatically" in out.getvalue()
    ensure_schedules()
    schedule = Schedule.objects.get(name="leadfollow.retention")
    assert schedule.func == "leadfollow.tasks.apply_retention"
    assert schedule.schedule_type == Schedule.DAILY


def test_the_audit_trail_is_read_only_in_the_admin(person, manager):
    privacy.erase([person[0].pk], actor=manager)
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("admin:leadfollow_erasurerecord_changelist"))
    assert page.status_code == 200
    assert not any(needle.encode() in page.content for needle in PERSONAL)
    record = ErasureRecord.objects.get()
    detail = client.get(reverse("admin:leadfollow_erasurerecord_change", args=[record.pk]))
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert client.get(reverse("admin:leadfollow_erasurerecord_add")).status_code == 403


@pytest.mark.parametrize("name", ["REQUIRE_CONSENT", "EXPORT_PSEUDONYMISE_REPS"])
def test_privacy_switches_must_be_booleans(name):
    from leadfollow.checks import check_settings

    with lf(**{name: "yes"}):
        assert "leadfollow.E060" in [error.id for error in check_settings()]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"disqualified": 180, "qualified": None}, True),
        ({"new": 30}, False),  # open: a retention rule may not erase open leads
        ({"disqualified": 0}, False),
        ({"lost": 10}, False),
        ([180], False),
    ],
)
def test_retention_setting_is_checked(value, ok):
    from leadfollow.checks import check_settings

    with lf(RETENTION_DAYS=value):
        ids = [error.id for error in check_settings()]
    assert ("leadfollow.E061" not in ids) == ok


# --- subject access ------------------------------------------------------------------------


def test_export_round_trips_through_every_door(person, manager):
    lead, _bystander = person
    expected = json.loads(json.dumps(privacy.export_person(email=EMAIL)))
    out = io.StringIO()
    call_command("leadfollow_export", "--email", EMAIL.upper(), stdout=out)
    from_command = json.loads(out.getvalue())
    api = APIClient()
    api.force_authenticate(manager)
    from_api = api.post("/api/privacy/export/", {"email": EMAIL}, format="json").json()
    client = Client()
    client.force_login(manager)
    download = client.post(
        reverse("admin:leadfollow_lead_changelist"),
        {"action": "export_personal_data", "_selected_action": [lead.pk], "index": "0"},
    )
    assert download["Content-Disposition"].startswith("attachment;")
    from_admin = json.loads(download.content)
    for document in (from_command, from_api, from_admin):
        document.pop("exported_at")
    expected.pop("exported_at")
    assert from_command == from_api == expected
    assert from_admin == {k: v for k, v in expected.items() if k != "email"}

    records = expected["records"]
    (row,) = records["leadfollow.Lead"]
    # Round trip: every exported column reads back as the database holds it.
    stored = Lead.objects.get(pk=lead.pk)
    for name in ("name", "email", "phone", "company", "message", "attributes", "status"):
        assert row[name] == getattr(stored, name)
    assert row["received_at"] == stored.received_at.isoformat()
    assert row["consent_text"] == "You may contact me about my quote."
    assert SECRET_WORD in records["leadfollow.Submission"][0]["message"]
    assert any(NAME in a["note"] for a in records["leadfollow.ContactAttempt"])
    reasons = [a["reason"] for a in records["leadfollow.Assignment"]]
    assert reasons[:2] == ["intake", "handed_back"]
    assert records["leadfollow.Assignment"][0]["to_rep"] in ("Rita Rep", "Sam Second")
    assert len(records["leadfollow.Reminder"]) == 1
    events = {e["type"]: e for e in records["leadfollow.EngagementEvent"]}
    assert set(events) == {"form_repeat", "email_click"}  # the contact form's repeat, the ESP's
    assert events["email_click"]["properties"]["url"] == f"https://example.com/offer?to={EMAIL}"
    assert "django_q.Task" not in records and "admin.LogEntry" not in records


def test_every_exported_column_reads_back_as_stored(person, tmp_path):
    """The round trip, generically: each exported row parsed by its model's fields equals
    the row in the database (users are shown by name, so they are compared by name)."""
    target = tmp_path / "export.json"
    call_command(
        "leadfollow_export", "--email", EMAIL, "--output", str(target), stderr=io.StringIO()
    )
    document = json.loads(target.read_text(encoding="utf-8"))
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    compared = 0
    for label, rows in document["records"].items():
        model = apps.get_model(label)
        for row in rows:
            stored = model._base_manager.get(pk=row["id"])
            for field in model._meta.concrete_fields:
                value = field.value_from_object(stored)
                if field.is_relation and field.related_model is user_model:
                    user = user_model.objects.filter(pk=value).first()
                    assert row[field.name] == (
                        user and (user.get_full_name() or user.get_username())
                    )
                else:
                    assert field.to_python(row[field.name]) == value, (label, field.name)
                compared += 1
    assert compared > 40


@lf(EXPORT_PSEUDONYMISE_REPS=True)
def test_export_pseudonymises_reps_when_the_setting_says_so(person):
    document = privacy.export_person(email=EMAIL)
    text = json.dumps(document)
    for real in ("Rita", "Sam", "rep0", "rep1", "Mona"):
        assert real not in text
    assignments = document["records"]["leadfollow.Assignment"]
    first_owner = assignments[0]["to_rep"]
    assert first_owner in ("rep 1", "rep 2")
    assert assignments[1]["from_rep"] == first_owner  # the same rep, the same pseudonym
    attempts = document["records"]["leadfollow.ContactAttempt"]
    assert {a["rep"] for a in attempts} == {first_owner, None}  # the rep's call, first touch
    assert document["reps_pseudonymised"] is True


def test_an_erased_lead_exports_as_tombstones(person, manager):
    lead, _ = person
    privacy.erase([lead.pk], actor=manager)
    document = privacy.export_person(lead_id=lead.pk)
    assert document["records"]["leadfollow.Lead"][0]["name"] == privacy.TOMBSTONE
    assert not any(needle in json.dumps(document) for needle in PERSONAL)


# --- side channels -------------------------------------------------------------------------


@pytest.fixture
def as_a_cluster(monkeypatch):
    """Tasks still run inline, but a failure is stored as a cluster stores it (sync mode
    re-raises instead): the Task row with ``success=False`` and the error text."""
    from django_q import tasks as q_tasks
    from django_q.signing import SignedPackage

    inline = q_tasks._sync

    def run(pack):
        task = SignedPackage.loads(pack)
        task.pop("sync", None)
        return inline(SignedPackage.dumps(task))

    monkeypatch.setattr(q_tasks, "_sync", run)


def test_failed_tasks_and_logs_carry_ids_not_personal_data(
    db, reps, monkeypatch, caplog, as_a_cluster, django_capture_on_commit_callbacks
):
    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({EMAIL: (550, f"no mailbox {NAME}".encode())})

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    with (
        caplog.at_level(logging.DEBUG),
        lf(FIRST_TOUCH_EMAIL=True),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = key_client("ads").post(
            "/api/leads/",
            {"name": NAME, "email": EMAIL, "phone": PHONE, "company": COMPANY},
            format="json",
        )
    assert response.status_code == 201
    lead_id = response.json()["id"]
    failures = Task.objects.filter(success=False)
    assert {task.func for task in failures} >= {"leadfollow.tasks.send_first_touch"}
    failure = failures.get(func="leadfollow.tasks.send_first_touch")
    assert f"send_first_touch({lead_id},)" in failure.result
    assert "SMTPRecipientsRefused" in failure.result
    assert all(task.args in ((lead_id,), None) or task.args[0] != EMAIL for task in failures)
    assert copies() == ["leadfollow_lead.name", "leadfollow_lead.email", "leadfollow_lead.phone",
                        "leadfollow_lead.company"]  # fmt: skip
    assert not any(needle.lower() in caplog.text.lower() for needle in PERSONAL), caplog.text


def test_a_failing_receiver_is_logged_without_its_message(db, reps, caplog):
    from leadfollow import signals
    from leadfollow.notifications import _announce

    def receiver(**kwargs):
        raise ValueError(f"cannot post {EMAIL} to Slack")

    signals.rep_notified.connect(receiver)
    try:
        with caplog.at_level(logging.ERROR):
            _announce("rep_notified", assignment=None, rep=None, emailed=False)
    finally:
        signals.rep_notified.disconnect(receiver)
    assert "ValueError at test_privacy.py" in caplog.text and EMAIL not in caplog.text


def test_a_key_cannot_learn_another_sources_leads(db, reps):
    ads, partner = key_client("ads"), key_client("partner")
    body = {"name": NAME, "email": EMAIL, "external_id": "x-1"}
    first = ads.post("/api/leads/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == 201
    # The same body, the same external id, the same Idempotency-Key from another source: a
    # new lead of its own, answered exactly as if the address were unknown.
    second = partner.post("/api/leads/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    fresh = partner.post(
        "/api/leads/",
        {**body, "email": "nobody-yet@example.org", "external_id": "x-2"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="other",
    )
    assert second.status_code == fresh.status_code == 201
    assert set(second.json()) == set(fresh.json())
    assert second.json()["created"] is fresh.json()["created"] is True
    assert second.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    assert Submission.objects.count() == 0


def test_an_event_key_cannot_learn_another_sources_leads_unless_allowed(db, reps, admin_client):
    """An event's 404 must not tell one source's key who is another source's lead: a key
    from ``leadfollow_api_key`` finds only its own leads; the admin's "events may name any
    source's leads" box lets, say, the e-mail provider's key reach every lead."""
    theirs = create_lead({"name": NAME, "email": EMAIL, "external_id": "x-1"}, source="ads").lead
    ours = create_lead({"name": "Own Lead", "email": OTHER_EMAIL}, source="partner").lead
    out = io.StringIO()
    call_command("leadfollow_api_key", "partner", stdout=out)
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Api-Key {out.getvalue().split()[1]}")
    probes = [
        {"email": EMAIL},
        {"lead_id": theirs.pk},
        {"external_id": "x-1", "lead_source": "ads"},
    ]
    unknown = partner.post(
        "/api/events/", {"email": "nobody-yet@example.org", "type": "page_view"}, format="json"
    )
    for probe in probes:
        answer = partner.post("/api/events/", {**probe, "type": "page_view"}, format="json")
        assert (answer.status_code, answer.json()) == (unknown.status_code, unknown.json()), probe
    assert unknown.status_code == 404
    own = partner.post("/api/events/", {"email": OTHER_EMAIL, "type": "page_view"}, format="json")
    assert own.status_code == 201
    assert list(EngagementEvent.objects.values_list("lead", flat=True)) == [ours.pk]

    added = admin_client.post(
        "/admin/leadfollow/apikey/add/",
        {"source": "esp", "name": "mail provider", "events_any_source": "on"},
    )
    raw_key = added.content.decode().split("<code>")[1].split("</code>")[0]
    esp = APIClient()
    esp.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    batch = esp.post(
        "/api/events/", [{**probe, "type": "email_open"} for probe in probes], format="json"
    )
    assert [r["status"] for r in batch.json()["results"]] == [201, 201, 201]
    assert theirs.engagement_events.count() == 3
    # Ticking the box on the partner's existing key takes effect at once (keys are cached).
    from leadfollow.models import ApiKey

    key = ApiKey.objects.get(source="partner")
    changed = admin_client.post(
        f"/admin/leadfollow/apikey/{key.pk}/change/",
        {"source": "partner", "name": "", "events_any_source": "on"},
    )
    assert changed.status_code == 302, changed.content
    answer = partner.post("/api/events/", {"email": EMAIL, "type": "page_view"}, format="json")
    assert answer.status_code == 201


# --- consent -------------------------------------------------------------------------------


def test_consent_is_stored_shown_and_in_the_api(person, manager):
    lead, bystander = person
    assert lead.consent_purpose == "Quote" and lead.consent_at is not None
    assert bystander.consent_purpose == "" and bystander.consent_at is None
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("leadfollow:lead", args=[lead.pk]))
    assert b"You may contact me about my quote." in page.content
    api = APIClient()
    api.force_authenticate(manager)
    shown = api.get(f"/api/leads/{lead.pk}/").json()
    assert shown["consent_purpose"] == "Quote" and shown["erased_at"] is None
    schema = client.get("/api/schema/").content.decode()
    assert "consent_purpose" in schema and "/api/privacy/erasure/" in schema


GIVEN = {"consent_purpose": "Q", "consent_text": "ok"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({}, "consent_purpose"),
        ({"consent_purpose": "Quote"}, "consent_text"),
        ({**GIVEN, "consent_at": "2999-01-01T00:00Z"}, "consent_at"),
        ({**GIVEN, "consent_at": {"a": 1}}, "consent_at"),
        ({**GIVEN, "consent_at": "yesterday"}, "consent_at"),
        ({**GIVEN, "consent_text": ["a"]}, "consent_text"),
    ],
)
@lf(REQUIRE_CONSENT=True)
def test_required_consent_is_refused_with_400(db, reps, extra, field):
    response = key_client("ads").post(
        "/api/leads/", {"name": NAME, "email": EMAIL, **extra}, format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.content
    assert not Lead.objects.exists()


@lf(REQUIRE_CONSENT=True)
def test_the_contact_form_asks_for_consent_when_required(db, reps):
    client = Client()
    form = client.get("/contact/")
    assert b'name="consent"' in form.content
    refused = client.post("/contact/", {"name": NAME, "email": EMAIL})
    assert refused.status_code == 200 and not Lead.objects.exists()
    client.post("/contact/", {"name": NAME, "email": EMAIL, "consent": "on"})
    lead = Lead.objects.get()
    assert lead.consent_text.startswith("I agree that my details are stored")
    assert lead.consent_purpose == "Answering my request" and lead.consent_at is not None


def test_the_contact_form_has_no_consent_box_unless_asked(db):
    assert b'name="consent"' not in Client().get("/contact/").content
