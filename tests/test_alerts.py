"""Alert channels: a rep hears about leads on the channel of their profile (e-mail, a
Slack/Teams-compatible chat webhook, a signed webhook), falling back to e-mail."""

import json
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from leadfollow import alerts
from leadfollow.models import Assignment, AssignmentReason, Reminder, ReminderKind
from leadfollow.models.webhooks import new_secret
from leadfollow.notifications import notify_assignment, notify_reminder
from leadfollow.webhooks import signing
from tests.factories import LeadFactory, ManagerFactory, RepFactory
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

DUE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
LOCAL = {"TIME_ZONE": "Europe/Berlin", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}

sent: list = []


class RecordingChannel(alerts.AlertChannel):
    """A site's own channel, configured by dotted path."""

    def send(self, alert):
        sent.append((alert.kind, [u.username for u in alert.recipients], alert.subject()))
        return True


@pytest.fixture
def receiver():
    server = Receiver()
    with override_settings(LEADFOLLOW=LOCAL):
        yield server
    server.close()


def assigned(profile, reason=AssignmentReason.INTAKE) -> Assignment:
    lead = LeadFactory(name="Grace Hopper", source="ads", owner=profile.user)
    return Assignment.objects.create(
        lead=lead, to_rep=profile.user, reason=reason, first_response_due=DUE
    )


def test_email_stays_the_default():
    rep = RepFactory()
    assert notify_assignment(assigned(rep).pk) is True
    assert mail.outbox[0].subject == "New lead for you: Grace Hopper"


def test_a_rep_on_chat_gets_a_slack_message_and_no_email(receiver):
    rep = RepFactory(alert_channel="chat", alert_url=receiver.url)
    assert notify_assignment(assigned(rep).pk) is True
    assert mail.outbox == []
    (request,) = receiver.requests
    text = json.loads(request.body)["text"]
    assert text.startswith("*New lead for you:* Grace Hopper from ads")
    assert "First contact by Mon 10:00 (Europe/Berlin)." in text


def test_slack_markup_in_a_leads_name_is_escaped():
    lead = LeadFactory(name="<!channel> & <https://evil.example|click>")
    alert = alerts.Alert("lead_escalated", {"lead": lead}, [])
    text = alerts.ChatWebhookChannel().document(alert, "https://hooks.slack.com/x")["text"]
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text
    assert "<" not in text


def test_teams_urls_get_an_adaptive_card():
    alert = alerts.Alert("lead_escalated", {"lead": LeadFactory(name="Ada")}, [])
    document = alerts.ChatWebhookChannel().document(
        alert, "https://contoso.webhook.office.com/webhookb2/abc"
    )
    assert document["type"] == "message"
    (attachment,) = document["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "Escalated:* nobody has contacted Ada" in attachment["content"]["body"][0]["text"]
    slack = alerts.ChatWebhookChannel().document(alert, "https://hooks.slack.com/services/x")
    assert set(slack) == {"text"}


def test_a_failing_chat_falls_back_to_email(receiver, caplog):
    receiver.statuses = [500]
    rep = RepFactory(alert_channel="chat", alert_url=receiver.url)
    assert notify_assignment(assigned(rep).pk) is True
    assert len(receiver.requests) == 1
    assert [m.to for m in mail.outbox] == [[rep.user.email]]


def test_a_refused_address_falls_back_to_email():
    rep = RepFactory(alert_channel="chat", alert_url="http://127.0.0.1:9/hook")
    assert notify_assignment(assigned(rep).pk) is True  # private addresses not allowed
    assert len(mail.outbox) == 1


def test_the_signed_webhook_channel(receiver):
    secret = new_secret()
    rep = RepFactory(alert_channel="webhook", alert_url=receiver.url, alert_secret=secret)
    lead = LeadFactory(name="Grace Hopper", owner=rep.user)
    reminder = Reminder.objects.create(
        lead=lead, kind=ReminderKind.SLA_WARNING, due_at=DUE, rep=rep.user
    )
    assert notify_reminder(reminder.pk) is True
    (request,) = receiver.requests
    signing.verify(secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["type"] == "alert.sla_warning"
    assert (body["lead_id"], body["recipient"]["id"]) == (lead.pk, rep.user_id)
    assert "first contact with Grace Hopper" in body["subject"]
    # Its own template (alert_webhook/sla_warning.txt), not the e-mail's subject and body.
    assert body["text"] == "Deadline soon: first contact with Grace Hopper by 10:00 (Europe/Berlin)"
    assert mail.outbox == []


@pytest.mark.parametrize("folder", ["chat", "alert_webhook"])
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("lead_assigned", "Lead moved to you (deadline missed): Ada from web"),
        ("sla_warning", "Deadline soon: first contact with Ada by 10:00 (Europe/Berlin)"),
        ("follow_up", "Follow-up due: Ada (Mon 10:00 Europe/Berlin)"),
        ("lead_escalated", "Escalated: nobody has contacted Ada from web yet."),
    ],
)
def test_each_message_has_its_own_template_per_channel(folder, kind, expected):
    """Assigned and reassigned (one template, by reason), warning, follow-up due, escalated."""
    lead = LeadFactory.build(name="Ada", source="web")
    context = {"lead": lead, "due": DUE, "zone": "Europe/Berlin", "reason": "sla_breach"}
    text = alerts.Alert(kind, context).text(folder)
    assert expected in text.replace("*", "")
    assert "\n\n" not in text  # not the e-mail fallback (subject, blank line, body)


def test_a_kind_with_only_email_templates_works_on_every_channel(receiver):
    """How a new message (say, issue 16's "heating up") is added: two e-mail templates."""
    rep = RepFactory(alert_channel="chat", alert_url=receiver.url)
    endpoint = type("E", (), {"name": "CRM", "url": "https://crm.example"})()
    served = alerts.send("webhook_disabled", {"endpoint": endpoint, "failures": 3}, [rep.user])
    assert served == {"chat": 1}
    text = json.loads(receiver.requests[0].body)["text"]
    assert text.startswith("Webhook endpoint disabled: CRM\n\nThe webhook endpoint CRM")


def test_managers_without_a_profile_share_one_email_as_before(receiver):
    a, b = ManagerFactory(), ManagerFactory()
    chatty = RepFactory(alert_channel="chat", alert_url=receiver.url)
    served = alerts.send("lead_escalated", {"lead": LeadFactory(name="Ada")}, [a, b, chatty.user])
    assert served == {"chat": 1, "email": 2}
    assert [sorted(m.to) for m in mail.outbox] == [sorted([a.email, b.email])]


def test_a_channel_of_the_sites_own_by_dotted_path():
    sent.clear()
    channels = {"email": "leadfollow.alerts.EmailChannel", "sms": f"{__name__}.RecordingChannel"}
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "ALERT_CHANNELS": channels}):
        rep = RepFactory(alert_channel="sms")
        assert notify_assignment(assigned(rep).pk) is True
    assert sent == [("lead_assigned", [rep.user.username], "New lead for you: Grace Hopper")]
    assert mail.outbox == []


def test_the_chat_template_is_overridable(receiver, tmp_path, settings):
    (tmp_path / "leadfollow" / "chat").mkdir(parents=True)
    (tmp_path / "leadfollow" / "chat" / "lead_assigned.txt").write_text("Go: {{ lead.name }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    rep = RepFactory(alert_channel="chat", alert_url=receiver.url)
    notify_assignment(assigned(rep).pk)
    assert json.loads(receiver.requests[0].body) == {"text": "Go: Grace Hopper"}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"alert_channel": "chat", "alert_url": ""}, {"alert_url": "needs a URL"}),
        ({"alert_channel": "pager"}, {"alert_channel": "Select a valid choice"}),
        (
            {"alert_channel": "webhook", "alert_url": "https://example.com/h", "alert_secret": ""},
            {"alert_secret": "whsec_"},
        ),
        (
            {"alert_channel": "chat", "alert_url": "http://192.168.1.5/hook"},
            {"alert_url": "private, loopback or link-local"},
        ),
    ],
)
def test_the_admin_checks_a_reps_channel(client, fields, errors):
    client.force_login(ManagerFactory(is_staff=True, is_superuser=True))
    rep = RepFactory()
    url = reverse("admin:leadfollow_repprofile_change", args=[rep.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"working_hours": "{}", "absences-TOTAL_FORMS": 0, "absences-INITIAL_FORMS": 0})
    data.update(fields)
    response = client.post(url, data)
    assert response.status_code == 200
    form_errors = response.context["adminform"].form.errors
    for name, text in errors.items():
        assert text in str(form_errors[name])


def test_the_admin_saves_a_chat_channel(client):
    client.force_login(ManagerFactory(is_staff=True, is_superuser=True))
    rep = RepFactory()
    url = reverse("admin:leadfollow_repprofile_change", args=[rep.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"working_hours": "{}", "absences-TOTAL_FORMS": 0, "absences-INITIAL_FORMS": 0})
    data.update({"alert_channel": "chat", "alert_url": "https://hooks.slack.com/services/T/B/x"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    rep.refresh_from_db()
    assert (rep.alert_channel, rep.alert_url) == ("chat", "https://hooks.slack.com/services/T/B/x")
