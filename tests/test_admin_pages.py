"""What a manager reads in the admin: the lead's assignment history in words, the dashboard
link on the admin's start page, and the rep list's absence and load columns (no N+1)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from leadfollow import ownership
from leadfollow.models import Absence
from tests.factories import LeadFactory, RepFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    user = get_user_model().objects.create_user(
        "morgan", "morgan@example.com", "pw", is_staff=True, first_name="Morgan", last_name="Lee"
    )
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leadfollow"))
    client.force_login(user)
    client.user = user
    return client


def test_assignment_inline_names_people_reason_actor_and_deadline(manager_client):
    alice = RepFactory(user=UserFactory(username="alice", first_name="Alice", last_name="Smith"))
    bob = RepFactory(user=UserFactory(username="bob"))
    lead = LeadFactory()
    ownership.assign_by_manager(lead, alice, actor=None, now=timezone.now(),
                                confirm_unavailable=True)  # fmt: skip
    ownership.assign_by_manager(lead, bob, actor=manager_client.user, now=timezone.now(),
                                confirm_unavailable=True)  # fmt: skip
    page = manager_client.get(reverse("admin:leadfollow_lead_change", args=[lead.pk]))
    html = page.content.decode()
    for text in ("Alice Smith", "bob", "Morgan Lee", "leadfollow (automatic)", "nobody"):
        assert text in html, text
    assert "None →" not in html and f"{lead.pk}: " not in html


def test_admin_index_links_to_the_dashboard_for_managers(manager_client, client):
    url = reverse("admin:leadfollow_dashboard")
    assert f'href="{url}"' in manager_client.get(reverse("admin:index")).content.decode()
    plain = get_user_model().objects.create_user("staff", "s@example.com", "pw", is_staff=True)
    client.force_login(plain)
    assert f'href="{url}"' not in client.get(reverse("admin:index")).content.decode()


def changelist_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("admin:leadfollow_repprofile_changelist"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_rep_list_shows_absence_and_load_in_the_same_queries_for_any_number_of_reps(
    manager_client,
):
    now = timezone.now()
    away = RepFactory(user=UserFactory(username="away"), capacity=4)
    Absence.objects.create(rep=away, starts_at=now - timedelta(days=1),
                           ends_at=now + timedelta(days=2))  # fmt: skip
    LeadFactory(owner=away.user, first_response_due=now + timedelta(hours=1))
    few, html = changelist_queries(manager_client)
    assert "until " in html and "1/4" in html and "absent until" in html
    for _ in range(5):
        rep = RepFactory()
        Absence.objects.create(rep=rep, starts_at=now - timedelta(hours=1),
                               ends_at=now + timedelta(hours=1))  # fmt: skip
        LeadFactory(owner=rep.user)
    many, _ = changelist_queries(manager_client)
    assert many == few
