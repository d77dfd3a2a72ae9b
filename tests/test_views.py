from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leadfollow.models import Assignment, AssignmentReason, ContactAttempt, Lead, LeadStatus
from leadfollow.ownership import OUTCOME_STATUS
from leadfollow.views import countdown_strings, countdown_text
from tests.factories import (
    AssignmentFactory,
    ContactAttemptFactory,
    LeadFactory,
    RepFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def other_rep(db):
    return RepFactory()


@pytest.fixture
def manager(db):
    user = UserFactory(username="manager")
    user.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    return user


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep.user)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def cold_lead(rep):
    """Overdue by a bit more than two hours, never contacted."""
    now = timezone.now()
    return LeadFactory(
        name="Cold Carla",
        owner=rep.user,
        received_at=now - 3 * HOUR,
        first_response_due=now - timedelta(hours=2, minutes=10, seconds=30),
    )


def queue_names(response) -> list[str]:
    return [lead.name for lead in response.context["leads"]]


def attempt_data(**overrides) -> dict:
    data = {"channel": "call", "outcome": "connected", "note": "", "next_follow_up_at": ""}
    data.update(overrides)
    return {f"attempt-{key}": value for key, value in data.items()}


def local_input(dt) -> str:
    """A datetime as the browser's datetime-local input sends it (rep's zone: Berlin)."""
    return timezone.localtime(dt).strftime("%Y-%m-%dT%H:%M")


# --- login and visibility ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["leadfollow:queue", "leadfollow:lead"])
def test_pages_require_login(client, cold_lead, name):
    url = reverse(name, args=[cold_lead.pk] if name == "leadfollow:lead" else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


def test_anonymous_post_stores_nothing(client, cold_lead):
    response = client.post(reverse("leadfollow:log_attempt", args=[cold_lead.pk]), attempt_data())
    assert response.status_code == 302
    assert not ContactAttempt.objects.exists()


def test_rep_sees_only_own_open_leads(rep_client, rep, other_rep, cold_lead):
    LeadFactory(name="Theirs", owner=other_rep.user)
    LeadFactory(name="Pool", owner=None)
    LeadFactory(name="Won", owner=rep.user, status=LeadStatus.QUALIFIED)
    response = rep_client.get(reverse("leadfollow:queue"))
    assert response.status_code == 200
    assert queue_names(response) == ["Cold Carla"]
    assert b"Theirs" not in response.content


def test_rep_cannot_view_another_reps_queue(rep_client, other_rep):
    LeadFactory(name="Theirs", owner=other_rep.user)
    response = rep_client.get(reverse("leadfollow:queue"), {"rep": other_rep.user.pk})
    assert queue_names(response) == []
    response = rep_client.get(reverse("leadfollow:queue"), {"rep": "all"})
    assert queue_names(response) == []


def test_status_filter_overrides_the_open_default(rep_client, rep):
    LeadFactory(name="Won", owner=rep.user, status=LeadStatus.QUALIFIED)
    LeadFactory(name="Open", owner=rep.user)
    response = rep_client.get(reverse("leadfollow:queue"), {"status": "qualified"})
    assert queue_names(response) == ["Won"]


def test_another_reps_lead_is_404(client, other_rep, cold_lead):
    client.force_login(other_rep.user)
    assert client.get(reverse("leadfollow:lead", args=[cold_lead.pk])).status_code == 404


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("leadfollow:log_attempt", attempt_data()),
        ("leadfollow:set_status", {"status-status": "qualified"}),
        ("leadfollow:schedule_follow_up", {"follow_up-next_follow_up_at": ""}),
        ("leadfollow:hand_back", {"hand_back-reason": "not mine"}),
    ],
)
def test_posting_to_another_reps_lead_is_404_and_changes_nothing(
    client, other_rep, cold_lead, name, data
):
    client.force_login(other_rep.user)
    before = Lead.objects.values().get(pk=cold_lead.pk)
    response = client.post(reverse(name, args=[cold_lead.pk]), data)
    assert response.status_code == 404
    assert Lead.objects.values().get(pk=cold_lead.pk) == before
    assert not ContactAttempt.objects.exists()
    assert not Assignment.objects.exists()


def test_manager_sees_own_queue_by_default_and_any_with_rep(
    manager_client, manager, rep, other_rep, cold_lead
):
    LeadFactory(name="Theirs", owner=other_rep.user)
    LeadFactory(name="Managers own", owner=manager)
    url = reverse("leadfollow:queue")
    assert queue_names(manager_client.get(url)) == ["Managers own"]
    assert queue_names(manager_client.get(url, {"rep": other_rep.user.pk})) == ["Theirs"]
    everyone = manager_client.get(url, {"rep": "all"})
    assert set(queue_names(everyone)) == {"Cold Carla", "Theirs", "Managers own"}
    assert everyone.context["is_manager"]


def test_manager_with_an_absurd_rep_id_is_told_not_shown_own_queue(manager_client, manager):
    LeadFactory(name="Managers own", owner=manager)
    response = manager_client.get(reverse("leadfollow:queue"), {"rep": str(2**70)})
    assert response.status_code == 400
    assert "rep must be a user id" in response.content.decode()


def test_manager_may_open_and_change_any_lead(manager_client, cold_lead):
    assert manager_client.get(reverse("leadfollow:lead", args=[cold_lead.pk])).status_code == 200
    response = manager_client.post(
        reverse("leadfollow:set_status", args=[cold_lead.pk]), {"status-status": "working"}
    )
    assert response.status_code == 302
    cold_lead.refresh_from_db()
    assert cold_lead.status == LeadStatus.WORKING


# --- the queue ----------------------------------------------------------------------------------


def test_queue_orders_by_urgency_and_shows_the_deadline(rep_client, rep, cold_lead):
    now = timezone.now()
    LeadFactory(
        name="Soon", owner=rep.user, first_response_due=now + timedelta(minutes=35, seconds=5)
    )
    LeadFactory(name="Later", owner=rep.user, first_response_due=now + 5 * HOUR, score=90)
    response = rep_client.get(reverse("leadfollow:queue"))
    assert queue_names(response) == ["Cold Carla", "Soon", "Later"]
    html = response.content.decode()
    assert "overdue by 2 h 10 min" in html
    assert "due in 36 min" in html
    deadline = timezone.localtime(cold_lead.first_response_due).isoformat()
    assert f'<time datetime="{deadline}"' in html
    assert "leadfollow/countdown.js" in html
    assert 'id="lf-countdown-strings"' in html


def test_queue_shows_last_attempt_and_next_follow_up(rep_client, rep):
    lead = LeadFactory(
        name="Called", owner=rep.user, next_follow_up_at=timezone.now() + timedelta(days=2)
    )
    ContactAttemptFactory(lead=lead, outcome="no_answer", attempted_at=timezone.now() - HOUR)
    ContactAttemptFactory(lead=lead, outcome="voicemail", attempted_at=timezone.now() - 2 * HOUR)
    response = rep_client.get(reverse("leadfollow:queue"))
    (row,) = response.context["leads"]
    assert row.last_attempt_outcome_label == "No answer"
    assert row.last_attempt_channel_label == "Call"
    assert row.deadline.kind == "follow_up"


def test_follow_ups_tab(rep_client, rep):
    now = timezone.now()
    LeadFactory(name="Due", owner=rep.user, next_follow_up_at=now - HOUR)
    LeadFactory(name="Next week", owner=rep.user, next_follow_up_at=now + timedelta(days=7))
    LeadFactory(name="No follow-up", owner=rep.user)
    response = rep_client.get(reverse("leadfollow:queue"), {"tab": "follow_ups"})
    assert queue_names(response) == ["Due"]


def test_recently_contacted_tab(rep_client, rep):
    now = timezone.now()
    LeadFactory(name="Yesterday", owner=rep.user, last_contacted_at=now - timedelta(days=1))
    LeadFactory(
        name="Won today",
        owner=rep.user,
        last_contacted_at=now - HOUR,
        status=LeadStatus.QUALIFIED,
    )
    LeadFactory(name="Long ago", owner=rep.user, last_contacted_at=now - timedelta(days=8))
    response = rep_client.get(reverse("leadfollow:queue"), {"tab": "recent"})
    assert queue_names(response) == ["Won today", "Yesterday"]


def test_unknown_tab_falls_back_to_queue(rep_client, cold_lead):
    response = rep_client.get(reverse("leadfollow:queue"), {"tab": "nope"})
    assert response.context["tab"] == "queue"
    assert queue_names(response) == ["Cold Carla"]


def test_invalid_filter_values_show_errors_not_a_crash(rep_client, cold_lead):
    response = rep_client.get(reverse("leadfollow:queue"), {"score_min": "lots"})
    assert response.status_code == 200
    assert "score_min" in response.context["filter"].errors
    assert queue_names(response) == ["Cold Carla"]


def test_queue_is_paginated(rep_client, rep):
    LeadFactory.create_batch(26, owner=rep.user)
    first = rep_client.get(reverse("leadfollow:queue"))
    assert len(first.context["leads"]) == 25
    assert 'href="?page=2"' in first.content.decode()
    second = rep_client.get(reverse("leadfollow:queue"), {"page": 2})
    assert len(second.context["leads"]) == 1


def _queue_queries(client, rep, count: int) -> int:
    Lead.objects.all().delete()
    now = timezone.now()
    for i in range(count):
        lead = LeadFactory(
            owner=rep.user,
            first_response_due=now + timedelta(minutes=i - count // 2),
            next_follow_up_at=now + timedelta(days=1),
        )
        ContactAttemptFactory(lead=lead, rep=rep.user)
        AssignmentFactory(lead=lead, to_rep=rep.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("leadfollow:queue"), {"rep": "all"})
    assert len(response.context["leads"]) == min(count, 25)
    return len(queries)


def test_queue_query_count_does_not_grow_with_rows(client, rep, django_assert_num_queries, manager):
    client.force_login(manager)
    small = _queue_queries(client, rep, 3)
    large = _queue_queries(client, rep, 30)
    assert small == large
    # session, user, permissions (user + group), rep profile, rep picker, count, page
    # 9th: the viewer's own pause state; 10th: the live queue's count and fingerprint;
    # 11th: the reps' loads for the picker's availability
    with django_assert_num_queries(11):
        client.get(reverse("leadfollow:queue"), {"rep": "all"})


def test_rep_queue_query_count(rep_client, rep, django_assert_num_queries):
    LeadFactory.create_batch(3, owner=rep.user)
    # incl. the rep's pause state and the live queue's count and fingerprint
    with django_assert_num_queries(9) as captured:
        rep_client.get(reverse("leadfollow:queue"))
    LeadFactory.create_batch(27, owner=rep.user)
    with django_assert_num_queries(len(captured.captured_queries)):
        response = rep_client.get(reverse("leadfollow:queue"))
    assert len(response.context["leads"]) == 25


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (35 * 60, "due in 35 min"),
        (35 * 60 - 1, "due in 35 min"),
        (30, "due in 1 min"),
        (0, "due in less than a minute"),
        (-30, "overdue by less than a minute"),
        (-(2 * 3600 + 10 * 60 + 59), "overdue by 2 h 10 min"),
        (3 * 86400 + 4 * 3600, "due in 3 d 4 h"),
        (-(86400 + 60), "overdue by 1 d"),
        (3 * 3600, "due in 3 h"),
    ],
)
def test_countdown_text(seconds, text):
    now = timezone.now()
    assert countdown_text(now + timedelta(seconds=seconds), now, countdown_strings()) == text


# --- the lead page ------------------------------------------------------------------------------


def test_lead_page_shows_contact_history_and_forms(rep_client, rep, cold_lead):
    Lead.objects.filter(pk=cold_lead.pk).update(
        company="ACME", phone="+49 30 1234", attributes={"budget": 5000}, score=42
    )
    ContactAttemptFactory(lead=cold_lead, rep=rep.user, outcome="voicemail", note="left a note")
    AssignmentFactory(lead=cold_lead, to_rep=rep.user, reason=AssignmentReason.SLA_BREACH)
    response = rep_client.get(reverse("leadfollow:lead", args=[cold_lead.pk]))
    html = response.content.decode()
    for text in (
        "ACME",
        'href="tel:+49 30 1234"',
        "budget",
        "5000",
        "Score 42",
        "Left voicemail",
        "left a note",
        "First-response deadline missed",
        "overdue by 2 h 10 min",
    ):
        assert text in html, text
    assert html.count("csrfmiddlewaretoken") >= 5  # four lead forms and log-out


def test_csrf_is_enforced(rep, cold_lead):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep.user)
    response = client.post(reverse("leadfollow:log_attempt", args=[cold_lead.pk]), attempt_data())
    assert response.status_code == 403
    assert not ContactAttempt.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "leadfollow:log_attempt",
        "leadfollow:set_status",
        "leadfollow:schedule_follow_up",
        "leadfollow:hand_back",
    ],
)
def test_actions_are_post_only(rep_client, cold_lead, name):
    assert rep_client.get(reverse(name, args=[cold_lead.pk])).status_code == 405


def test_logging_the_first_call_stops_the_clock(rep_client, rep, cold_lead):
    url = reverse("leadfollow:queue")
    assert queue_names(rep_client.get(url, {"overdue": "true"})) == ["Cold Carla"]
    response = rep_client.post(
        reverse("leadfollow:log_attempt", args=[cold_lead.pk]),
        attempt_data(note="Spoke to Carla"),
        follow=True,
    )
    assert response.redirect_chain == [(reverse("leadfollow:lead", args=[cold_lead.pk]), 302)]
    assert "Contact attempt logged." in response.content.decode()
    cold_lead.refresh_from_db()
    assert cold_lead.first_contacted_at is not None
    assert cold_lead.status == LeadStatus.WORKING
    attempt = ContactAttempt.objects.get()
    assert (attempt.rep, attempt.channel, attempt.outcome, attempt.note) == (
        rep.user,
        "call",
        "connected",
        "Spoke to Carla",
    )
    assert queue_names(rep_client.get(url, {"overdue": "true"})) == []


def test_attempt_with_follow_up(rep_client, cold_lead):
    at = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = rep_client.post(
        reverse("leadfollow:log_attempt", args=[cold_lead.pk]),
        attempt_data(outcome="call_back", next_follow_up_at=local_input(at)),
    )
    assert response.status_code == 302
    cold_lead.refresh_from_db()
    assert cold_lead.next_follow_up_at == at


def test_attempt_completes_a_due_follow_up(rep_client, rep):
    lead = LeadFactory(
        owner=rep.user,
        first_contacted_at=timezone.now() - timedelta(days=2),
        next_follow_up_at=timezone.now() - HOUR,
    )
    rep_client.post(reverse("leadfollow:log_attempt", args=[lead.pk]), attempt_data())
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("decision_maker", LeadStatus.QUALIFIED),
        ("meeting_booked", LeadStatus.QUALIFIED),
        ("not_interested", LeadStatus.DISQUALIFIED),
        ("connected", LeadStatus.WORKING),
        ("no_answer", LeadStatus.WORKING),
    ],
)
def test_outcome_moves_status(rep_client, cold_lead, outcome, status):
    rep_client.post(
        reverse("leadfollow:log_attempt", args=[cold_lead.pk]), attempt_data(outcome=outcome)
    )
    cold_lead.refresh_from_db()
    assert cold_lead.status == status
    assert OUTCOME_STATUS.get(outcome, LeadStatus.WORKING) == status


def _past() -> str:
    return local_input(timezone.now() - HOUR)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": ""}, "channel"),
        ({"outcome": ""}, "outcome"),
        ({"outcome": "sold"}, "outcome"),
        ({"note": "x" * 2001}, "note"),
        ({"next_follow_up_at": "tomorrow-ish"}, "next_follow_up_at"),
        ({"next_follow_up_at": "past"}, "next_follow_up_at"),
        ({"next_follow_up_at": "far"}, "next_follow_up_at"),
    ],
)
def test_invalid_attempt_stores_nothing(rep_client, cold_lead, overrides, field):
    if overrides.get("next_follow_up_at") == "past":
        overrides["next_follow_up_at"] = _past()
    if overrides.get("next_follow_up_at") == "far":
        overrides["next_follow_up_at"] = local_input(timezone.now() + timedelta(days=400))
    before = Lead.objects.values().get(pk=cold_lead.pk)
    response = rep_client.post(
        reverse("leadfollow:log_attempt", args=[cold_lead.pk]), attempt_data(**overrides)
    )
    assert response.status_code == 200
    form = response.context["attempt_form"]
    assert list(form.errors) == [field]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ContactAttempt.objects.exists()
    assert Lead.objects.values().get(pk=cold_lead.pk) == before


def test_set_status(rep_client, cold_lead):
    response = rep_client.post(
        reverse("leadfollow:set_status", args=[cold_lead.pk]),
        {"status-status": "disqualified"},
        follow=True,
    )
    assert "Status set to Disqualified." in response.content.decode()
    cold_lead.refresh_from_db()
    assert cold_lead.status == LeadStatus.DISQUALIFIED


def test_invalid_status_changes_nothing(rep_client, cold_lead):
    response = rep_client.post(
        reverse("leadfollow:set_status", args=[cold_lead.pk]), {"status-status": "lost"}
    )
    assert response.status_code == 200
    assert list(response.context["status_form"].errors) == ["status"]
    cold_lead.refresh_from_db()
    assert cold_lead.status == LeadStatus.NEW


def test_schedule_and_clear_follow_up(rep_client, cold_lead):
    url = reverse("leadfollow:schedule_follow_up", args=[cold_lead.pk])
    at = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    response = rep_client.post(url, {"follow_up-next_follow_up_at": local_input(at)}, follow=True)
    assert "Follow-up scheduled." in response.content.decode()
    cold_lead.refresh_from_db()
    assert cold_lead.next_follow_up_at == at
    response = rep_client.post(url, {"follow_up-next_follow_up_at": ""}, follow=True)
    assert "Follow-up cleared." in response.content.decode()
    cold_lead.refresh_from_db()
    assert cold_lead.next_follow_up_at is None


def test_follow_up_in_the_past_is_rejected(rep_client, cold_lead):
    response = rep_client.post(
        reverse("leadfollow:schedule_follow_up", args=[cold_lead.pk]),
        {"follow_up-next_follow_up_at": _past()},
    )
    assert response.status_code == 200
    assert response.context["follow_up_form"].has_error("next_follow_up_at", "follow_up_in_past")
    cold_lead.refresh_from_db()
    assert cold_lead.next_follow_up_at is None


def test_follow_up_is_read_in_the_reps_time_zone(client, cold_lead):
    tokyo = RepFactory(timezone="Asia/Tokyo")
    Lead.objects.filter(pk=cold_lead.pk).update(owner=tokyo.user)
    client.force_login(tokyo.user)
    day = timezone.now().astimezone(TOKYO).date() + timedelta(days=2)
    client.post(
        reverse("leadfollow:schedule_follow_up", args=[cold_lead.pk]),
        {"follow_up-next_follow_up_at": f"{day.isoformat()}T09:00"},
    )
    cold_lead.refresh_from_db()
    assert cold_lead.next_follow_up_at == datetime.combine(day, time(9), tzinfo=TOKYO)


def test_hand_back_writes_an_assignment_and_leaves_the_lead_unowned(rep_client, rep, cold_lead):
    response = rep_client.post(
        reverse("leadfollow:hand_back", args=[cold_lead.pk]),
        {"hand_back-reason": "Wrong territory"},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("leadfollow:queue"), 302)]
    assert "is back in the pool" in response.content.decode()
    cold_lead.refresh_from_db()
    assert cold_lead.owner is None
    assignment = Assignment.objects.get()
    assert (assignment.lead, assignment.from_rep, assignment.to_rep, assignment.actor) == (
        cold_lead,
        rep.user,
        None,
        rep.user,
    )
    assert (assignment.reason, assignment.note) == (
        AssignmentReason.HANDED_BACK,
        "Wrong territory",
    )
    assert rep_client.get(reverse("leadfollow:lead", args=[cold_lead.pk])).status_code == 404


def test_hand_back_needs_a_reason(rep_client, rep, cold_lead):
    response = rep_client.post(
        reverse("leadfollow:hand_back", args=[cold_lead.pk]), {"hand_back-reason": " "}
    )
    assert response.status_code == 200
    assert list(response.context["hand_back_form"].errors) == ["reason"]
    cold_lead.refresh_from_db()
    assert cold_lead.owner == rep.user
    assert not Assignment.objects.exists()


def test_hand_back_of_an_unowned_lead_is_an_error(manager_client):
    lead = LeadFactory(owner=None)
    response = manager_client.post(
        reverse("leadfollow:hand_back", args=[lead.pk]), {"hand_back-reason": "tidy up"}
    )
    assert response.status_code == 200
    assert "not assigned to anyone" in response.content.decode()
    assert not Assignment.objects.exists()


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_empty_tabs_say_so(rep_client):
    response = rep_client.get(reverse("leadfollow:queue"), {"tab": "recent"})
    assert "Nobody contacted in the last 7 days." in response.content.decode()


def test_pages_render_in_german(rep_client, cold_lead):
    from django.utils import translation

    with translation.override("de"):
        assert rep_client.get(reverse("leadfollow:queue")).status_code == 200
        page = rep_client.get(reverse("leadfollow:lead", args=[cold_lead.pk]))
    assert page.status_code == 200


def test_a_site_can_replace_the_base_template(rep_client, cold_lead, tmp_path, settings):
    site = tmp_path / "leadfollow"
    site.mkdir()
    (site / "base.html").write_text(
        "<html><head>{% block extra_head %}"
        '{% include "leadfollow/includes/assets.html" %}{% endblock %}</head><body>'
        "<div id='site-chrome'>ACME intranet</div>"
        "{% block content %}{% endblock %}{% block extra_js %}{% endblock %}</body></html>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    html = rep_client.get(reverse("leadfollow:queue")).content.decode()
    assert "ACME intranet" in html
    assert "Cold Carla" in html
    assert 'id="lf-countdown-strings"' in html
    assert "leadfollow/countdown.js" in html
    assert "Skip to main content" not in html  # that came from leadfollow's own base
