"""Outbound webhooks: events from lifecycle changes, signed delivery to a receiver on
127.0.0.1, retries, auto-disabling, SSRF refusals, the admin's endpoint form and log."""

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from leadfollow import ownership
from leadfollow.intake import create_lead
from leadfollow.models import (
    DeliveryStatus,
    LeadStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from leadfollow.webhooks import delivery, outbound, signing
from tests.factories import LeadFactory, ManagerFactory, RepFactory
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
LOCAL = {"TIME_ZONE": "Europe/Berlin", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def local():
    with override_settings(LEADFOLLOW=LOCAL):
        yield


@pytest.fixture
def endpoint(receiver, local):
    return WebhookEndpoint.objects.create(name="CRM", url=receiver.url)


def intake(django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return create_lead({"name": "Ada Lovelace", "email": "ada@example.org", **data}).lead


def events_received(receiver) -> list[str]:
    return [json.loads(r.body)["type"] for r in receiver.requests]


# --- signing -----------------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_reference_vector():
    # The example in the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    sig = signing.signature(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_refuses_a_tampered_body_an_old_timestamp_and_missing_headers():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signing.signed_headers(secret, "evt_1", b"{}")
    signing.verify(secret, headers, b"{}")
    with pytest.raises(signing.InvalidSignature, match="no matching"):
        signing.verify(secret, headers, b'{"x":1}')
    old = signing.signed_headers(secret, "evt_1", b"{}", timestamp=1614265330)
    with pytest.raises(signing.InvalidSignature, match="tolerance"):
        signing.verify(secret, old, b"{}")
    with pytest.raises(signing.InvalidSignature, match="missing"):
        signing.verify(secret, {"webhook-id": "evt_1"}, b"{}")


# --- events and delivery -------------------------------------------------------------------


def test_a_new_lead_reaches_the_receiver_signed(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    rep = RepFactory(working_hours=ALWAYS)
    lead = intake(django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    signing.verify(endpoint.secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "lead.created"
    assert body["version"] == 1
    assert body["id"] == request.headers["webhook-id"]
    assert body["data"]["lead"]["id"] == lead.pk
    assert body["data"]["lead"]["owner"] == {"id": rep.user_id, "username": rep.user.username}
    assert body["data"]["assignment"]["reason"] == "intake"
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_status) == ("delivered", 1, 200)
    assert row.payload == body  # the one field erasure blanks
    assert row.duration_ms is not None


def test_nothing_is_sent_or_stored_when_the_change_rolls_back(receiver, endpoint):
    from django.db import transaction

    RepFactory(working_hours=ALWAYS)
    with pytest.raises(RuntimeError), transaction.atomic():
        create_lead({"name": "Rolled Back", "email": "rb@example.org"})
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 0
    assert receiver.requests == []


def test_no_endpoint_costs_no_query_after_the_first(django_assert_num_queries, local):
    lead = LeadFactory()
    from leadfollow.webhooks import events

    assert events.emit("lead.qualified", lead) == 0  # reads the endpoints once
    with django_assert_num_queries(0):
        assert events.emit("lead.qualified", lead) == 0
    WebhookEndpoint.objects.create(name="new", url="http://127.0.0.1:9/hook")
    assert events.emit("lead.qualified", lead) == 1  # saving an endpoint is seen at once


def test_each_lifecycle_change_is_one_event(receiver, endpoint, django_capture_on_commit_callbacks):
    always = {"working_hours": ALWAYS}
    alice, bob = RepFactory(**always), RepFactory(**always)
    manager = ManagerFactory()
    lead = intake(django_capture_on_commit_callbacks)
    first, other = (alice, bob) if lead.owner_id == alice.user_id else (bob, alice)
    with django_capture_on_commit_callbacks(execute=True):
        ownership.hand_back(lead, actor=lead.owner, note="wrong territory")  # to other
    with django_capture_on_commit_callbacks(execute=True):
        ownership.assign_by_manager(lead, first, actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        ownership.escalate(lead, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        ownership.assign_by_manager(lead, other, actor=manager)
    with django_capture_on_commit_callbacks(execute=True):
        ownership.log_attempt(lead, rep=other.user, channel="call", outcome="connected")
        ownership.log_attempt(lead, rep=other.user, channel="call", outcome="connected")
    with django_capture_on_commit_callbacks(execute=True):
        ownership.log_attempt(lead, rep=other.user, channel="call", outcome="meeting_booked")
    with django_capture_on_commit_callbacks(execute=True):
        ownership.set_status(lead, LeadStatus.QUALIFIED)  # no change: no event
        ownership.set_status(lead, LeadStatus.DISQUALIFIED)
    assert events_received(receiver) == [
        "lead.created",
        "lead.handed_back",
        "lead.reassigned",
        "lead.escalated",
        "lead.assigned",
        "lead.contacted",  # the first attempt only
        "lead.qualified",
        "lead.disqualified",
    ]
    ids = {json.loads(r.body)["id"] for r in receiver.requests}
    assert len(ids) == len(receiver.requests)  # each event its own id


def test_the_sweep_emits_breached_and_deadline_warning(
    receiver, local, django_capture_on_commit_callbacks
):
    from leadfollow.sweep import reassign_overdue

    with override_settings(LEADFOLLOW={**LOCAL, "EARLY_WARNING_SHARE": 0.5}):
        WebhookEndpoint.objects.create(
            name="CRM", url=receiver.url, events=["lead.breached", "lead.deadline_warning"]
        )
        alice, bob = RepFactory(working_hours=ALWAYS), RepFactory(working_hours=ALWAYS)
        now = timezone.now()
        LeadFactory(
            owner=alice.user,
            assigned_at=now - timedelta(hours=2),
            first_response_due=now - timedelta(minutes=1),
        )
        LeadFactory(
            owner=bob.user,
            assigned_at=now - timedelta(minutes=50),
            first_response_due=now + timedelta(minutes=10),
        )
        with django_capture_on_commit_callbacks(execute=True):
            reassign_overdue(now)
    assert sorted(events_received(receiver)) == ["lead.breached", "lead.deadline_warning"]
    breached = next(json.loads(r.body) for r in receiver.requests if b"breached" in r.body)
    assert breached["data"]["assignment"]["from_rep"]["id"] == alice.user_id


def test_an_endpoint_gets_only_the_events_it_wants(
    receiver, local, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(name="only closed", url=receiver.url, events=["lead.qualified"])
    RepFactory(working_hours=ALWAYS)
    lead = intake(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        ownership.set_status(lead, LeadStatus.QUALIFIED)
    assert events_received(receiver) == ["lead.qualified"]


def test_a_receiver_error_is_retried_with_backoff(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503]
    intake(django_capture_on_commit_callbacks)
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_status, row.error) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    first_wait = row.next_attempt_at - row.last_attempt_at
    assert timedelta(seconds=29) < first_wait <= timedelta(seconds=31)
    assert delivery.retry_due(timezone.now()) == 0  # not yet due
    assert delivery.deliver(row.pk) is False  # a duplicate task sends nothing early
    assert len(receiver.requests) == 1
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        assert delivery.retry_due() == 1  # runs the task (sync cluster)
    row.refresh_from_db()
    assert (row.attempts, row.response_status) == (2, 503)
    assert (
        timedelta(seconds=59) < row.next_attempt_at - row.last_attempt_at <= timedelta(seconds=61)
    )
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        assert delivery.retry_due() == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == ("delivered", 3, 200)
    # The same event, the same id and signature scheme on every attempt.
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_after_the_last_attempt_a_delivery_fails(
    receiver, local, django_capture_on_commit_callbacks
):
    with override_settings(LEADFOLLOW={**LOCAL, "WEBHOOK_MAX_ATTEMPTS": 2}):
        WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
        receiver.statuses = [500, 500]
        RepFactory(working_hours=ALWAYS)
        intake(django_capture_on_commit_callbacks)
        row = WebhookDelivery.objects.get()
        with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
            delivery.retry_due()
        row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)


def test_an_endpoint_failing_repeatedly_is_disabled_and_managers_told_once(
    receiver, local, django_capture_on_commit_callbacks
):
    manager = ManagerFactory()
    with override_settings(LEADFOLLOW={**LOCAL, "WEBHOOK_DISABLE_AFTER_FAILURES": 3}):
        endpoint = WebhookEndpoint.objects.create(name="Flaky CRM", url=receiver.url)
        receiver.statuses = [500] * 10
        lead = LeadFactory()
        for status in (LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED) * 2:
            with django_capture_on_commit_callbacks(execute=True):
                ownership.set_status(lead, status)
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.consecutive_failures) == (False, 3)
    assert endpoint.disabled_at is not None
    assert len(receiver.requests) == 3  # nothing sent once disabled
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert "Flaky CRM" in mail.outbox[0].subject
    from leadfollow.notifications import notify_webhook_disabled

    assert notify_webhook_disabled(endpoint.pk) is False  # once


def test_the_daily_purge_deletes_finished_deliveries_after_the_log_days(local):
    from leadfollow.tasks import purge_expired

    endpoint = WebhookEndpoint.objects.create(name="CRM", url="https://crm.example/hook")
    now = timezone.now()
    for status, age in [("delivered", 31), ("failed", 31), ("pending", 31), ("delivered", 29)]:
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="lead.created",
            status=status,
            created_at=now - timedelta(days=age),
        )
    assert purge_expired() == 2
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "delivered",
        "pending",
    ]


# --- safety --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
        "http://localhost/hook",
        "http://0.0.0.0/",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(url):
    assert "private, loopback or link-local" in outbound.url_error(url)
    response = outbound.post(url, b"{}", {})
    assert response.status is None and response.error.startswith("refused")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x"])
def test_only_http_urls(url):
    assert "http" in outbound.url_error(url, resolve=False)


def test_the_receiver_is_refused_without_the_setting(receiver, django_capture_on_commit_callbacks):
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin"}):
        WebhookEndpoint.objects.bulk_create([WebhookEndpoint(name="local", url=receiver.url)])
        lead = LeadFactory()
        with django_capture_on_commit_callbacks(execute=True):
            ownership.set_status(lead, LeadStatus.QUALIFIED)
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().error.startswith("refused")


def test_redirects_are_not_followed(receiver, endpoint):
    receiver.statuses, receiver.location = [302], "http://169.254.169.254/"
    response = outbound.post(receiver.url, b"{}", {})
    assert (response.status, response.error, response.ok) == (302, "redirect not followed", False)
    assert len(receiver.requests) == 1


def test_a_slow_receiver_times_out(receiver):
    receiver.delay = 3
    with override_settings(LEADFOLLOW={**LOCAL, "WEBHOOK_TIMEOUT_SECONDS": 1}):
        response = outbound.post(receiver.url, b"{}", {})
    assert response.error == "timeout" or "Timeout" in response.error
    assert response.duration_ms < 2500


# --- admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    manager = ManagerFactory(is_staff=True, is_superuser=True)
    client.force_login(manager)
    return client


def test_a_manager_adds_an_endpoint_in_the_admin(admin_client, receiver, local):
    url = reverse("admin:leadfollow_webhookendpoint_add")
    page = admin_client.get(url)
    assert page.status_code == 200
    secret = re.search(rb'name="secret"[^>]*value="(whsec_[^"]+)"', page.content)
    assert secret, "a fresh secret is proposed"
    response = admin_client.post(
        url,
        {
            "name": "CRM",
            "url": receiver.url,
            "secret": secret.group(1).decode(),
            "events": ["lead.created", "lead.qualified"],
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content[-2000:]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["lead.created", "lead.qualified"]


def test_the_admin_refuses_a_private_url_and_a_bad_secret(admin_client):
    response = admin_client.post(
        reverse("admin:leadfollow_webhookendpoint_add"),
        {"name": "x", "url": "http://10.0.0.5/hook", "secret": "not-a-secret", "active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "private, loopback or link-local" in str(errors["url"])
    assert "whsec_" in str(errors["secret"])
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_and_send_again(
    admin_client, receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ownership.set_status(lead, LeadStatus.QUALIFIED)
    row = WebhookDelivery.objects.get()
    page = admin_client.get(reverse("admin:leadfollow_webhookdelivery_changelist"))
    assert page.status_code == 200
    assert b"lead.qualified" in page.content and b"HTTP 500" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:leadfollow_webhookdelivery_changelist"),
            {"action": "send_again", "_selected_action": [row.pk]},
            follow=True,
        )
    assert "1 delivery queued." in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_status) == (DeliveryStatus.DELIVERED, 2, 200)
    assert len(receiver.requests) == 2


def test_switching_an_endpoint_back_on_resets_its_failures(admin_client, receiver, local):
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url=receiver.url, active=False, consecutive_failures=20
    )
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=timezone.now())
    response = admin_client.post(
        reverse("admin:leadfollow_webhookendpoint_change", args=[endpoint.pk]),
        {"name": "CRM", "url": receiver.url, "secret": endpoint.secret, "active": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.active, endpoint.consecutive_failures, endpoint.disabled_at) == (True, 0, None)


# --- docs ------------------------------------------------------------------------------------


def test_the_documented_receiver_verifies_a_real_delivery(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    """The verification snippet in docs/webhooks.md, run against a delivery."""
    text = (ROOT / "docs" / "webhooks.md").read_text()
    code = re.search(r"```python\n(# verify_webhook.py.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), namespace)
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ownership.set_status(lead, LeadStatus.QUALIFIED)
    request = receiver.requests[0]
    event = namespace["verify"](endpoint.secret, request.headers, request.body)
    assert event["type"] == "lead.qualified"
    with pytest.raises(ValueError):
        namespace["verify"](endpoint.secret, request.headers, request.body + b" ")


def test_payloads_match_the_documented_schema(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "docs" / "webhook-payload.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    RepFactory(working_hours=ALWAYS)
    lead = intake(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        ownership.log_attempt(lead, rep=lead.owner, channel="call", outcome="meeting_booked")
    assert events_received(receiver) == ["lead.created", "lead.contacted", "lead.qualified"]
    for request in receiver.requests:
        jsonschema.validate(json.loads(request.body), schema)


# --- every event through the door a person or system uses ---------------------------------


def _http(django_capture_on_commit_callbacks, call):
    """One request as it happens on a site: its transaction commits, then tasks run."""
    with django_capture_on_commit_callbacks(execute=True):
        return call()


def test_api_intake_emits_lead_created(receiver, endpoint, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    RepFactory(working_hours=ALWAYS)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {make_api_key('ads')[1]}")
    body = {"name": "Jo Meyer", "email": "jo@example.com"}
    response = _http(
        django_capture_on_commit_callbacks, lambda: api.post("/api/leads/", body, format="json")
    )
    assert response.status_code == 201, response.content
    assert events_received(receiver) == ["lead.created"]
    event = json.loads(receiver.requests[0].body)
    assert event["data"]["lead"]["id"] == response.json()["id"]
    assert event["data"]["lead"]["source"] == "ads"


def test_a_reps_lead_page_emits_contacted_qualified_and_handed_back(
    client, receiver, endpoint, django_capture_on_commit_callbacks
):
    rita, other = RepFactory(working_hours=ALWAYS), RepFactory(working_hours=ALWAYS)
    now = timezone.now()
    lead = LeadFactory(
        owner=rita.user, assigned_at=now, first_response_due=now + timedelta(hours=1)
    )
    second = LeadFactory(
        owner=rita.user, assigned_at=now, first_response_due=now + timedelta(hours=1)
    )
    client.force_login(rita.user)
    attempt = {"channel": "call", "outcome": "connected", "note": "", "next_follow_up_at": ""}

    def post(name, pk, data):
        url = reverse(f"leadfollow:{name}", args=[pk])
        response = _http(django_capture_on_commit_callbacks, lambda: client.post(url, data))
        assert response.status_code == 302, response.content[-1500:]

    post("log_attempt", lead.pk, {f"attempt-{k}": v for k, v in attempt.items()})
    post("set_status", lead.pk, {"status-status": "qualified"})
    post("hand_back", second.pk, {"hand_back-reason": "wrong territory"})
    assert events_received(receiver) == ["lead.contacted", "lead.qualified", "lead.handed_back"]
    handed = json.loads(receiver.requests[2].body)["data"]["assignment"]
    assert handed["from_rep"]["id"] == rita.user_id and handed["note"] == "wrong territory"
    assert handed["to_rep"]["id"] == other.user_id


def test_a_managers_api_and_admin_emit_assigned_reassigned_escalated_disqualified(
    client, receiver, endpoint, django_capture_on_commit_callbacks
):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
    from rest_framework.test import APIClient

    ana, bob = RepFactory(working_hours=ALWAYS), RepFactory(working_hours=ALWAYS)
    manager = ManagerFactory(is_staff=True)
    now = timezone.now()
    unowned = LeadFactory(owner=None)
    owned = LeadFactory(
        owner=ana.user, assigned_at=now, first_response_due=now + timedelta(hours=1)
    )
    cold = LeadFactory(
        owner=ana.user,
        received_at=now - timedelta(hours=2),
        assigned_at=now - timedelta(hours=2),
        first_response_due=now - timedelta(minutes=30),
    )
    api = APIClient()
    api.force_authenticate(manager)

    def patch(lead, body):
        url = f"/api/leads/{lead.pk}/"
        response = _http(
            django_capture_on_commit_callbacks, lambda: api.patch(url, body, format="json")
        )
        assert response.status_code == 200, response.content

    patch(unowned, {"owner": bob.user_id})
    patch(owned, {"owner": bob.user_id})
    patch(owned, {"status": "disqualified"})
    client.force_login(manager)
    changelist = reverse("admin:leadfollow_coldlead_changelist")
    action = {"action": "escalate", ACTION_CHECKBOX_NAME: [cold.pk]}
    response = _http(django_capture_on_commit_callbacks, lambda: client.post(changelist, action))
    assert response.status_code == 302
    assert events_received(receiver) == [
        "lead.assigned",
        "lead.reassigned",
        "lead.disqualified",
        "lead.escalated",
    ]
    escalated = json.loads(receiver.requests[3].body)["data"]
    assert escalated["lead"]["id"] == cold.pk and escalated["assignment"]["actor"]["id"] == (
        manager.pk
    )


def test_the_sweep_command_emits_deadline_warning_and_breached(
    receiver, local, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    with override_settings(LEADFOLLOW={**LOCAL, "EARLY_WARNING_SHARE": 0.5}):
        WebhookEndpoint.objects.create(name="CRM", url=receiver.url)
        alice, bob = RepFactory(working_hours=ALWAYS), RepFactory(working_hours=ALWAYS)
        now = timezone.now()
        late = LeadFactory(
            owner=alice.user,
            received_at=now - timedelta(hours=2),
            assigned_at=now - timedelta(hours=2),
            first_response_due=now - timedelta(minutes=1),
        )
        soon = LeadFactory(
            owner=bob.user,
            assigned_at=now - timedelta(minutes=50),
            first_response_due=now + timedelta(minutes=10),
        )
        with django_capture_on_commit_callbacks(execute=True):
            call_command("leadfollow_sweep", stdout=io.StringIO())
    by_type = {json.loads(r.body)["type"]: json.loads(r.body) for r in receiver.requests}
    assert sorted(by_type) == ["lead.breached", "lead.deadline_warning"]
    assert by_type["lead.breached"]["data"]["lead"]["id"] == late.pk
    assert by_type["lead.breached"]["data"]["lead"]["owner"]["id"] == bob.user_id
    assert by_type["lead.deadline_warning"]["data"]["lead"]["id"] == soon.pk


def test_a_manager_without_model_grants_reads_the_log_and_sends_again(
    client, receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    lead = LeadFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ownership.set_status(lead, LeadStatus.QUALIFIED)
    row = WebhookDelivery.objects.get()
    changelist = reverse("admin:leadfollow_webhookdelivery_changelist")
    client.force_login(ManagerFactory(is_staff=True))  # leadfollow.manage_leads only
    assert b"Webhook deliveries" in client.get(reverse("admin:index")).content
    page = client.get(changelist)
    assert page.status_code == 200 and b"HTTP 500" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "send_again", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 2)
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))  # staff, not a manager
    assert client.get(changelist).status_code == 403


def test_an_endless_answer_is_read_only_up_to_the_size_limit(receiver):
    receiver.stream_bytes = 65536
    limits = {**LOCAL, "WEBHOOK_TIMEOUT_SECONDS": 3, "WEBHOOK_MAX_RESPONSE_BYTES": 1024}
    with override_settings(LEADFOLLOW=limits):
        response = outbound.post(receiver.url, b"{}", {})
    assert (response.status, response.error) == (200, "")
    assert response.duration_ms < 2000  # not read until the deadline


def test_an_answer_trickling_in_is_cut_off_at_twice_the_timeout(receiver):
    receiver.stream_bytes, receiver.stream_pause = 1, 0.2  # never idle for a read timeout
    with override_settings(LEADFOLLOW={**LOCAL, "WEBHOOK_TIMEOUT_SECONDS": 1}):
        response = outbound.post(receiver.url, b"{}", {})
    assert response.error == "timeout" and not response.ok
    assert response.duration_ms < 3500
