"""The live queue's JSON endpoint and the page's hooks for livequeue.js (the browser part is
tests/test_browser_live_queue.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leadfollow import ownership
from tests.factories import LeadFactory, ManagerFactory, RepFactory

pytestmark = pytest.mark.django_db

LIVE = reverse("leadfollow:live")


@pytest.fixture
def rita(client):
    profile = RepFactory(user__username="rita")
    client.force_login(profile.user)
    return profile.user


def test_login_required(client):
    response = client.get(LIVE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_counts_the_reps_open_leads_and_changes_its_fingerprint_when_one_arrives(
    client, rita, django_assert_num_queries
):
    now = timezone.now()
    LeadFactory(owner=rita, assigned_at=now - timedelta(minutes=5))
    LeadFactory(owner=rita, status="qualified")
    LeadFactory()  # someone else's
    # session, user, permissions (user + group: is this a manager?), one aggregate
    with django_assert_num_queries(5):
        first = client.get(LIVE).json()
    assert first["count"] == 1 and first["new"] == []
    assert client.get(LIVE).json()["fingerprint"] == first["fingerprint"]
    lead = LeadFactory(owner=rita, name="Nina New", assigned_at=timezone.now())
    second = client.get(LIVE, {"since": first["now"]}).json()
    assert second["count"] == 2
    assert second["fingerprint"] != first["fingerprint"]
    assert second["new"] == [
        {"id": lead.pk, "name": "Nina New", "url": reverse("leadfollow:lead", args=[lead.pk])}
    ]
    assert client.get(LIVE, {"since": second["now"]}).json()["new"] == []


def test_a_lead_leaving_changes_the_fingerprint(client, rita):
    lead = LeadFactory(owner=rita, assigned_at=timezone.now())
    before = client.get(LIVE).json()
    ownership.set_status(lead, "disqualified")
    after = client.get(LIVE).json()
    assert (after["count"], after["fingerprint"] != before["fingerprint"]) == (0, True)


@pytest.mark.parametrize("since", ["yesterday", "2026-12-01T10:00", "2026-13-01T10:00+00:00"])
def test_a_bad_since_is_a_400(client, rita, since):
    response = client.get(LIVE, {"since": since})
    assert response.status_code == 400
    assert "since" in response.json()["error"]


def test_a_manager_watches_everyone_or_one_rep(client):
    rita, otto = RepFactory(), RepFactory()
    LeadFactory(owner=rita.user)
    LeadFactory(owner=otto.user)
    LeadFactory(owner=otto.user)
    client.force_login(ManagerFactory())
    assert client.get(LIVE, {"rep": "all"}).json()["count"] == 3
    assert client.get(LIVE, {"rep": otto.user_id}).json()["count"] == 2
    assert client.get(LIVE).json()["count"] == 0  # their own queue


def test_a_rep_cannot_watch_another_reps_queue(client, rita):
    otto = RepFactory()
    LeadFactory(owner=otto.user)
    assert client.get(LIVE, {"rep": otto.user_id}).json()["count"] == 0


def test_the_page_works_without_javascript_and_carries_the_hooks(client, rita):
    LeadFactory(owner=rita, name="Paula Page")
    LeadFactory(owner=rita)
    page = client.get(reverse("leadfollow:queue"))
    html = page.content.decode()
    assert "<title>(2) My queue</title>" in html  # the count, even without the script
    assert "Paula Page" in html
    assert f'data-lf-live="{LIVE}"' in html
    assert 'id="lf-notify" hidden' in html  # shown by the script only
    assert "leadfollow/livequeue.js" in html
