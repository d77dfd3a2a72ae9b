from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from leadfollow.filters import LeadFilterSet, end_of_day, user_zone
from leadfollow.models import Lead, LeadStatus
from tests.conftest import BERLIN
from tests.factories import LeadFactory, RepFactory, UserFactory

pytestmark = pytest.mark.django_db


def names(data, now=None, user=None) -> set[str]:
    request = SimpleNamespace(user=user) if user is not None else None
    filterset = LeadFilterSet(data, queryset=Lead.objects.all(), request=request, now=now)
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("name", flat=True))


def test_no_data_filters_nothing():
    LeadFactory.create_batch(3)
    assert len(names({})) == 3


def test_status_takes_several_values():
    LeadFactory(name="n", status=LeadStatus.NEW)
    LeadFactory(name="w", status=LeadStatus.WORKING)
    LeadFactory(name="q", status=LeadStatus.QUALIFIED)
    assert names({"status": ["new", "qualified"]}) == {"n", "q"}


def test_status_rejects_unknown_value():
    filterset = LeadFilterSet({"status": ["lost"]}, queryset=Lead.objects.all())
    assert not filterset.is_valid()
    assert "status" in filterset.errors


def test_status_query_has_no_distinct():
    filterset = LeadFilterSet({"status": ["new"]}, queryset=Lead.objects.all())
    assert not filterset.qs.query.distinct


def test_source():
    LeadFactory(name="a", source="ads")
    LeadFactory(name="w", source="web")
    assert names({"source": "ads"}) == {"a"}


def test_owner_and_unassigned():
    rep, other = UserFactory(), UserFactory()
    LeadFactory(name="mine", owner=rep)
    LeadFactory(name="theirs", owner=other)
    LeadFactory(name="pool", owner=None)
    assert names({"owner": str(rep.pk)}) == {"mine"}
    assert names({"unassigned": "true"}) == {"pool"}
    assert names({"unassigned": "false"}) == {"mine", "theirs"}


@pytest.mark.parametrize("value", ["1.5", "x", "0", str(2**63)])
def test_owner_must_be_a_valid_id(value):
    filterset = LeadFilterSet({"owner": value}, queryset=Lead.objects.all())
    assert not filterset.is_valid()


def test_overdue_means_missed_first_response_or_follow_up(monday_10):
    hour = timedelta(hours=1)
    LeadFactory(name="cold", first_response_due=monday_10 - hour)
    LeadFactory(name="fresh", first_response_due=monday_10 + hour)
    LeadFactory(
        name="contacted",
        first_response_due=monday_10 - hour,
        first_contacted_at=monday_10 - 2 * hour,
    )
    LeadFactory(
        name="missed follow-up",
        first_response_due=monday_10 - 3 * hour,
        first_contacted_at=monday_10 - 4 * hour,
        next_follow_up_at=monday_10 - timedelta(minutes=5),
    )
    LeadFactory(name="closed", first_response_due=monday_10 - hour, status=LeadStatus.DISQUALIFIED)
    assert names({"overdue": "true"}, now=monday_10) == {"cold", "missed follow-up"}
    assert names({"overdue": "false"}, now=monday_10) == {"fresh", "contacted", "closed"}


def test_follow_up_due_today_in_the_site_zone(monday_10):
    # Berlin: Monday ends at 24:00 local time.
    LeadFactory(name="late today", next_follow_up_at=monday_10.replace(hour=23, minute=59))
    LeadFactory(name="missed", next_follow_up_at=monday_10 - timedelta(days=1))
    LeadFactory(name="tomorrow", next_follow_up_at=monday_10.replace(hour=0) + timedelta(days=1))
    LeadFactory(name="none")
    LeadFactory(
        name="closed",
        next_follow_up_at=monday_10 - timedelta(hours=1),
        status=LeadStatus.QUALIFIED,
    )
    assert names({"follow_up_due": "true"}, now=monday_10) == {"late today", "missed"}
    assert names({"follow_up_due": "false"}, now=monday_10) == {"tomorrow", "none", "closed"}


def test_follow_up_due_today_uses_the_reps_time_zone(monday_10):
    # 10:00 Berlin is 01:00 in Los Angeles: "today" there ends at 09:00 Berlin on Tuesday.
    rep = RepFactory(timezone="America/Los_Angeles")
    LeadFactory(name="tuesday 08:00 berlin", next_follow_up_at=monday_10 + timedelta(hours=22))
    assert names({"follow_up_due": "true"}, now=monday_10) == set()
    assert names({"follow_up_due": "true"}, now=monday_10, user=rep.user) == {
        "tuesday 08:00 berlin"
    }


def test_user_zone_falls_back_to_the_business_calendar_zone():
    assert user_zone(None) == BERLIN
    assert user_zone(UserFactory()) == BERLIN
    assert user_zone(RepFactory(timezone="").user) == BERLIN
    assert user_zone(RepFactory(timezone="Asia/Tokyo").user) == ZoneInfo("Asia/Tokyo")
    # One definition for pages and e-mails: the site's TIME_ZONE does not win over
    # LEADFOLLOW["TIME_ZONE"], nor does a zone some middleware activated.
    new_york = {"TIME_ZONE": "America/New_York"}
    with override_settings(TIME_ZONE="UTC", LEADFOLLOW=new_york):
        assert user_zone(RepFactory(timezone="").user) == ZoneInfo("America/New_York")
        with timezone.override(ZoneInfo("Asia/Tokyo")):
            assert user_zone(None) == ZoneInfo("America/New_York")


def test_end_of_day_across_dst_change():
    # Berlin, Sunday 2026-03-29 has 23 hours; its end is Monday 00:00 CEST.
    now = datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)
    end = end_of_day(now, BERLIN)
    assert end == datetime(2026, 3, 30, 0, 0, tzinfo=BERLIN)
    assert end.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("acme", {"Bob Builder"}),
        ("ada", {"Ada Lovelace"}),
        ("EXAMPLE.NET", {"Carla Mail"}),
        ("ada lovelace", {"Ada Lovelace"}),
        ("ada acme", set()),
        ("  ", {"Ada Lovelace", "Bob Builder", "Carla Mail"}),
    ],
)
def test_text_search_on_name_company_and_email(query, expected):
    LeadFactory(name="Ada Lovelace", email="a@example.org", company="Analytical")
    LeadFactory(name="Bob Builder", company="ACME Rockets", email="b@example.org")
    LeadFactory(name="Carla Mail", email="someone@example.net")
    assert names({"q": query}) == expected


def test_received_between(monday_10):
    LeadFactory(name="before", received_at=monday_10 - timedelta(days=2))
    LeadFactory(name="inside", received_at=monday_10)
    LeadFactory(name="after", received_at=monday_10 + timedelta(days=2))
    data = {
        "received_after": (monday_10 - timedelta(days=1)).isoformat(),
        "received_before": (monday_10 + timedelta(days=1)).isoformat(),
    }
    assert names(data) == {"inside"}
    assert names({"received_before": monday_10.isoformat()}) == {"before"}
    assert names({"received_after": "2026-11-23"}) == {"inside", "after"}


def test_received_rejects_garbage():
    filterset = LeadFilterSet({"received_after": "yesterday"}, queryset=Lead.objects.all())
    assert not filterset.is_valid()


def test_score_range():
    for score in (5, 10, 20, 40):
        LeadFactory(name=str(score), score=score)
    assert names({"score_min": "10", "score_max": "20"}) == {"10", "20"}
    assert names({"score_min": "21"}) == {"40"}


def test_filters_combine(monday_10):
    rep = UserFactory()
    LeadFactory(name="hit", owner=rep, source="ads", score=30, company="ACME")
    LeadFactory(name="wrong source", owner=rep, source="web", score=30, company="ACME")
    LeadFactory(name="low", owner=rep, source="ads", score=1, company="ACME")
    data = {"owner": rep.pk, "source": "ads", "score_min": 10, "q": "acme", "status": ["new"]}
    assert names(data) == {"hit"}


@pytest.mark.django_db
def test_received_range_accepts_any_iso_offset(client, rep):
    # PostgreSQL refuses offsets beyond ±15:59; the filter converts to UTC first.
    client.force_login(rep.user)
    response = client.get(
        reverse("leadfollow:queue"), {"received_after": "2026-01-01T00:00:00-17:40"}
    )
    assert response.status_code == 200
