"""Periods with more than EXACT_PERCENTILES_UP_TO contacted leads: percentiles estimated from
the fixed sample (ids that are multiples of REPORT_SAMPLE_EVERY), counts exact."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.checks import run_checks
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leadfollow import metrics
from leadfollow.models import Lead
from leadfollow.models.lead import REPORT_SAMPLE_EVERY
from leadfollow.stats import percentile
from tests.factories import ManagerFactory, RepFactory
from tests.test_dashboard import make_manager

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)
PERIOD = {"start": date(2026, 10, 1), "end": date(2026, 11, 23), "now": NOW}

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.postgres


@pytest.fixture
def leads():
    """400 leads with chosen ids (so which are in the sample is known): random delays,
    owners, sources and outcomes."""
    rng = random.Random(7)
    owners = [RepFactory().user for _ in range(3)]
    made = []
    for i in range(1, 401):
        received = NOW - timedelta(days=2, minutes=rng.randrange(0, 30 * 24 * 60))
        contacted = None if i % 5 == 0 else received + timedelta(minutes=rng.expovariate(1 / 90))
        status = rng.choice(["qualified", "disqualified", "working"])
        made.append(
            Lead(
                id=1000 + i,
                name="x",
                source=rng.choice(["web", "ads"]),
                owner=rng.choice(owners),
                status=status,
                received_at=received,
                first_contacted_at=contacted,
                decided_at=received + timedelta(hours=rng.randrange(1, 300))
                if status == "qualified"
                else None,
            )
        )
    Lead.objects.bulk_create(made)
    return made


def minutes(lead) -> float:
    return (lead.first_contacted_at - lead.received_at).total_seconds() / 60


def median_and_p90(values):
    values = sorted(values)
    return percentile(values, 0.5), percentile(values, 0.9)


@pytest.fixture
def estimate_above_10(settings):
    settings.LEADFOLLOW = {**settings.LEADFOLLOW, "EXACT_PERCENTILES_UP_TO": 10}


@on_postgres
def test_above_the_limit_percentiles_come_from_the_sample(leads, estimate_above_10):
    report = metrics.response_report(**PERIOD)
    sample = [lead for lead in leads if lead.id % REPORT_SAMPLE_EVERY == 0]
    contacted = [lead for lead in sample if lead.first_contacted_at]
    assert report["percentiles"] == {
        "sampled": True,
        "measured": len(contacted),
        "sample_every": REPORT_SAMPLE_EVERY,
    }
    clock = report["clock"]
    expected = median_and_p90(minutes(lead) for lead in contacted)
    assert (clock["median_minutes"], clock["p90_minutes"]) == pytest.approx(expected)
    for row in report["reps"]:
        mine = [minutes(lead) for lead in contacted if lead.owner_id == row["rep_id"]]
        assert (row["median_minutes"], row["p90_minutes"]) == pytest.approx(median_and_p90(mine))
    for row in report["sources"]:
        mine = [minutes(lead) for lead in contacted if lead.source == row["source"]]
        assert (row["median_minutes"], row["p90_minutes"]) == pytest.approx(median_and_p90(mine))
    # Business hours: the draws are the sample's contacted leads (fewer than 2,000 here).
    assert report["business"]["sampled"] is True
    assert report["business"]["measured"] == len(contacted)
    # The counts are the same as without the sample: every lead.
    assert report["received"] == len(leads)
    assert report["contacted"] == sum(1 for lead in leads if lead.first_contacted_at)


@on_postgres
def test_medians_to_qualify_come_from_the_sample(leads, estimate_above_10):
    report = metrics.response_report(**PERIOD)
    within_1h = [
        (lead.decided_at - lead.received_at).total_seconds() / 60
        for lead in leads
        if lead.id % REPORT_SAMPLE_EVERY == 0
        and lead.status == "qualified"
        and lead.first_contacted_at
        and minutes(lead) <= 60
    ]
    bucket = next(b for b in report["outcomes"]["buckets"] if b["key"] == "within_1h")
    assert bucket["median_minutes_to_qualify"] == pytest.approx(percentile(sorted(within_1h), 0.5))


def test_up_to_the_limit_every_lead_counts(leads):
    report = metrics.response_report(**PERIOD)
    contacted = [lead for lead in leads if lead.first_contacted_at]
    assert report["percentiles"] == {
        "sampled": False,
        "measured": len(contacted),
        "sample_every": None,
    }
    expected = median_and_p90(minutes(lead) for lead in contacted)
    clock = report["clock"]
    assert (clock["median_minutes"], clock["p90_minutes"]) == pytest.approx(expected)


def test_without_postgres_every_lead_counts_whatever_the_limit(leads, estimate_above_10):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite behaviour")
    assert metrics.response_report(**PERIOD)["percentiles"]["sampled"] is False


@on_postgres
def test_dashboard_and_api_say_the_figures_are_estimates(client, leads, estimate_above_10):
    client.force_login(make_manager())
    query = "?start=2026-10-01&end=" + timezone.localdate().isoformat()
    page = client.get(reverse("admin:leadfollow_dashboard") + query)
    assert page.status_code == 200
    assert 'id="lf-clock-sampled"' in page.content.decode()
    assert f"one in {REPORT_SAMPLE_EVERY}" in page.content.decode()
    api = APIClient()
    api.force_authenticate(ManagerFactory())
    body = api.get("/api/metrics/" + query).json()
    assert body["percentiles"]["sampled"] is True
    assert body["percentiles"]["sample_every"] == REPORT_SAMPLE_EVERY


def test_dashboard_says_nothing_of_a_sample_for_exact_figures(client, leads):
    client.force_login(make_manager())
    page = client.get(reverse("admin:leadfollow_dashboard") + "?start=2026-10-01")
    assert page.status_code == 200
    assert "lf-clock-sampled" not in page.content.decode()


@pytest.mark.parametrize("value", [0, -1, "many", None])
def test_a_limit_that_is_not_a_positive_integer_is_an_error(settings, value):
    settings.LEADFOLLOW = {**settings.LEADFOLLOW, "EXACT_PERCENTILES_UP_TO": value}
    assert "leadfollow.E072" in {error.id for error in run_checks()}
