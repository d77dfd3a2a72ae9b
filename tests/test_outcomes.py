"""The outcome report on constructed data: counts, rates, intervals and ratios worked out
by hand (see tests/test_stats.py for the arithmetic), and a property test that the
report's counts add up to the leads in the period."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadfollow import metrics, ownership
from leadfollow.models import Lead
from leadfollow.outcomes import OUTCOME_KEYS
from tests.factories import LeadFactory, RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)  # a Monday
START, END = date(2026, 11, 1), date(2026, 11, 23)
AT = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
DELAY = {  # a first contact inside each bucket
    "5m": timedelta(minutes=3),
    "1h": timedelta(minutes=30),
    "24h": timedelta(hours=5),
    "later": timedelta(days=3),
}

pytestmark = pytest.mark.django_db


def make(bucket, status, n, *, to_qualify=None, received=AT, **kwargs):
    """``n`` leads first contacted within ``bucket`` (None: never), with ``status``; a
    qualified lead is decided ``to_qualify(i)`` after receipt."""
    for i in range(n):
        delay = DELAY.get(bucket)
        decided = None
        if status in ("qualified", "disqualified"):
            decided = received + (to_qualify(i) if to_qualify else timedelta(days=1))
        LeadFactory(
            received_at=received,
            first_contacted_at=None if delay is None else received + delay,
            status=status,
            decided_at=decided,
            **kwargs,
        )


def report(**kwargs):
    kwargs.setdefault("start", START)
    kwargs.setdefault("end", END)
    kwargs.setdefault("now", NOW)
    return metrics.response_report(**kwargs)


def table(r):
    return {b["key"]: b for b in r["outcomes"]["buckets"]}


@pytest.fixture
def team():
    rep = RepFactory()
    hours = lambda h: lambda i: timedelta(hours=h(i))  # noqa: E731
    # 5 min: 12 of 20 decided qualified (qualified 1 h, 2 h, … 12 h after receipt), 2 open.
    make("5m", "qualified", 12, to_qualify=hours(lambda i: i + 1), owner=rep.user)
    make("5m", "disqualified", 8, owner=rep.user)
    make("5m", "working", 2, owner=rep.user)
    # 5 min – 1 h: 18 of 20 (each qualified after 24 h), 1 open.
    make("1h", "qualified", 18, to_qualify=hours(lambda i: 24), owner=rep.user)
    make("1h", "disqualified", 2, owner=rep.user)
    make("1h", "new", 1, owner=rep.user)
    # 1 – 24 h, from ads: 5 of 25 (after 48 h), 3 open.
    make("24h", "qualified", 5, to_qualify=hours(lambda i: 48), source="ads")
    make("24h", "disqualified", 20, source="ads")
    make("24h", "working", 3, source="ads")
    # After 24 h: 1 of 3 (after 72 h): too few to compare.
    make("later", "qualified", 1, to_qualify=hours(lambda i: 72))
    make("later", "disqualified", 2)
    # Never: none. Not yet (under 24 h): 2 open.
    make(None, "new", 2, received=NOW - timedelta(hours=2))
    return rep


class TestOutcomeReport:
    def test_counts_per_bucket(self, team):
        t = table(report())
        got = {k: (b["leads"], b["decided"], b["qualified"], b["undecided"]) for k, b in t.items()}
        assert got == {
            "5m": (22, 20, 12, 2),
            "1h": (21, 20, 18, 1),
            "within_1h": (43, 40, 30, 3),
            "24h": (28, 25, 5, 3),
            "later": (3, 3, 1, 0),
            "never": (0, 0, 0, 0),
            "pending": (2, 0, 0, 2),
        }

    def test_totals(self, team):
        o = report()["outcomes"]
        assert (o["leads"], o["decided"], o["qualified"], o["undecided"]) == (76, 68, 36, 8)
        assert o["rate"] == 36 / 68
        assert (o["reference"], o["min_decided"]) == ("within_1h", 20)

    def test_rates_and_wilson_intervals(self, team):
        t = table(report())
        expected = {  # rate, Wilson 95% by hand
            "5m": (0.6, 0.386587, 0.781199),
            "within_1h": (0.75, 0.598078, 0.858150),
            "24h": (0.2, 0.088587, 0.391335),
            "later": (1 / 3, 0.061491, 0.792341),
        }
        for key, (rate, low, high) in expected.items():
            b = t[key]
            assert b["rate"] == pytest.approx(rate, abs=1e-12), key
            assert b["rate_low"] == pytest.approx(low, abs=1e-4), key
            assert b["rate_high"] == pytest.approx(high, abs=1e-4), key
        assert t["1h"]["rate"] == 0.9

    def test_empty_bucket_has_no_rate(self, team):
        never = table(report())["never"]
        assert never["rate"] is None and never["rate_low"] is None and never["rate_high"] is None
        assert never["ratio"] is None and never["ratio_note"] == "too_few"
        pending = table(report())["pending"]
        assert (pending["rate"], pending["enough"]) == (None, False)

    def test_ratio_to_the_reference_with_katz_interval(self, team):
        t = table(report())
        h24 = t["24h"]
        # within 1 h qualified 3.75× as often as 1–24 h (30/40 vs 5/25).
        assert h24["ratio"] == pytest.approx(3.75)
        assert h24["ratio_low"] == pytest.approx(1.678018, abs=1e-4)
        assert h24["ratio_high"] == pytest.approx(8.380424, abs=1e-4)
        assert h24["ratio_note"] is None and h24["research_ratio"] == 7.0
        assert t["within_1h"]["ratio_note"] == "reference"
        # 5 min and 5 min – 1 h are parts of the reference: not compared with it.
        assert t["5m"]["ratio_note"] == t["1h"]["ratio_note"] == "overlaps_reference"

    def test_tiny_bucket_says_so_instead_of_a_ratio(self, team):
        later = table(report())["later"]
        assert (later["decided"], later["enough"]) == (3, False)
        assert later["ratio"] is None and later["ratio_note"] == "too_few"
        assert later["research_ratio"] == 60.0

    def test_threshold_is_a_setting(self, team, settings):
        settings.LEADFOLLOW = {"OUTCOME_MIN_DECIDED": 3}
        later = table(report())["later"]
        assert later["enough"] is True
        assert later["ratio"] == pytest.approx(2.25)
        assert later["ratio_low"] == pytest.approx(0.449633, abs=1e-4)
        assert later["ratio_high"] == pytest.approx(11.259400, abs=1e-4)

    def test_reference_is_a_setting(self, team, settings):
        settings.LEADFOLLOW = {"OUTCOME_REFERENCE_BUCKET": "1h"}
        t = table(report())
        assert t["1h"]["ratio_note"] == "reference"
        # 0.9 / 0.6 = 1.5; no research figure for another reference.
        assert t["5m"]["ratio"] == pytest.approx(1.5)
        assert t["24h"]["research_ratio"] is None

    def test_no_qualified_lead_in_a_bucket(self, settings):
        settings.LEADFOLLOW = {"OUTCOME_MIN_DECIDED": 1}
        make("1h", "qualified", 1)
        make("later", "disqualified", 2)
        later = table(report())["later"]
        assert (later["rate"], later["rate_low"]) == (0.0, 0.0)
        assert later["ratio"] is None and later["ratio_note"] == "none_qualified"

    def test_no_qualified_lead_in_the_reference(self, settings):
        settings.LEADFOLLOW = {"OUTCOME_MIN_DECIDED": 1}
        make("1h", "disqualified", 2)
        make("later", "qualified", 1)
        later = table(report())["later"]
        assert later["ratio"] is None and later["ratio_note"] == "reference_none_qualified"

    def test_median_time_to_qualification_per_bucket(self, team):
        t = table(report())
        minutes = {k: b["median_minutes_to_qualify"] for k, b in t.items()}
        assert minutes == {
            "5m": 6.5 * 60,  # 1 … 12 h: (6 + 7) / 2
            "1h": 24 * 60,
            "within_1h": 24 * 60,  # 12 values ≤ 12 h, 18 of 24 h: the 15th and 16th
            "24h": 48 * 60,
            "later": 72 * 60,
            "never": None,
            "pending": None,
        }

    def test_per_rep_and_per_source(self, team):
        r = report()
        rep_row = next(row for row in r["reps"] if row["rep_id"] == team.user.pk)
        mine = {b["key"]: (b["decided"], b["qualified"]) for b in rep_row["outcomes"]["buckets"]}
        assert mine["within_1h"] == (40, 30) and mine["24h"] == (0, 0)
        ads = next(row for row in r["sources"] if row["source"] == "ads")
        theirs = {b["key"]: (b["decided"], b["qualified"]) for b in ads["outcomes"]["buckets"]}
        assert theirs["24h"] == (25, 5) and theirs["within_1h"] == (0, 0)
        # Filtering the whole report by source gives the same figures.
        only = table(report(source="ads"))
        assert (only["24h"]["decided"], only["24h"]["qualified"]) == (25, 5)

    def test_one_query_more_than_the_response_report(self, team, django_assert_num_queries):
        # The outcome counts ride on the response report's grouped query; the medians are
        # one more query, whatever the number of leads, buckets, reps or sources.
        make("5m", "qualified", 30, owner=RepFactory().user, source="partners")
        report()  # the first report of a process reads the rollup's zone (PostgreSQL)
        # PostgreSQL: the rollup's sums, the uncontacted leads whose deadline is ahead and
        # the live days' per-day counts, instead of the moves' two queries.
        with django_assert_num_queries(10):
            report()


class TestDecidedAt:
    def test_set_on_closing_kept_when_repeated_cleared_on_reopening(self):
        lead = LeadFactory()
        ownership.set_status(lead, "qualified")
        first = Lead.objects.get(pk=lead.pk).decided_at
        assert first is not None
        ownership.set_status(lead, "qualified")
        assert Lead.objects.get(pk=lead.pk).decided_at == first
        ownership.set_status(lead, "working")
        assert Lead.objects.get(pk=lead.pk).decided_at is None


# --- property: the counts add up ------------------------------------------------------

LEADS = st.lists(
    st.tuples(
        st.sampled_from([None, *DELAY.values(), timedelta(0), timedelta(hours=24)]),
        st.integers(0, 30 * 24),  # hours before NOW the lead arrived
        st.sampled_from(["new", "working", "qualified", "disqualified"]),
        st.sampled_from([None, -120, -1, 0, 1, 600]),  # deadline, minutes from NOW
        st.sampled_from(["web", "ads"]),
        st.integers(0, 2),  # owner
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=LEADS)
def test_counts_add_up_to_the_leads_in_the_period(rows):
    reps = [None]
    with transaction.atomic():
        reps += [RepFactory().user, RepFactory().user]
        lo, hi = metrics.period_bounds(START, END)
        expected = 0
        for delay, hours_ago, status, due, source, owner in rows:
            received = NOW - timedelta(hours=hours_ago)
            expected += lo <= received < hi
            LeadFactory(
                received_at=received,
                first_contacted_at=None if delay is None else received + delay,
                status=status,
                decided_at=received + timedelta(days=1)
                if status in ("qualified", "disqualified")
                else None,
                first_response_due=None if due is None else NOW + timedelta(minutes=due),
                source=source,
                owner=reps[owner],
            )
        r = report()
        assert r["received"] == expected
        assert sum(r["counts"].values()) == expected
        assert r["decided"] + r["counts"]["pending"] == expected
        o = r["outcomes"]
        t = {b["key"]: b for b in o["buckets"]}
        exclusive = [k for k in OUTCOME_KEYS if k != "within_1h"]
        assert sum(t[k]["leads"] for k in exclusive) == o["leads"] == expected
        assert sum(t[k]["decided"] for k in exclusive) == o["decided"]
        assert o["decided"] + o["undecided"] == expected
        for key in ("leads", "decided", "qualified", "undecided"):
            assert t["within_1h"][key] == t["5m"][key] + t["1h"][key]
        for b in o["buckets"]:
            assert 0 <= b["qualified"] <= b["decided"] <= b["leads"]
            if b["rate"] is not None:
                assert b["rate_low"] <= b["rate"] <= b["rate_high"]
        for group in ("reps", "sources"):
            for key in OUTCOME_KEYS:
                assert (
                    sum(
                        next(x for x in row["outcomes"]["buckets"] if x["key"] == key)["decided"]
                        for row in r[group]
                    )
                    == t[key]["decided"]
                ), (group, key)
        transaction.set_rollback(True)


# --- settings checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "error_id"),
    [
        ("OUTCOME_MIN_DECIDED", 0, "leadfollow.E070"),
        ("OUTCOME_MIN_DECIDED", "20", "leadfollow.E070"),
        ("OUTCOME_MIN_DECIDED", True, "leadfollow.E070"),
        ("OUTCOME_REFERENCE_BUCKET", "2h", "leadfollow.E071"),
        ("OUTCOME_REFERENCE_BUCKET", None, "leadfollow.E071"),
    ],
)
def test_bad_outcome_settings_fail_the_checks(settings, name, value, error_id):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    from leadfollow.checks import check_outcomes

    assert check_outcomes() == []
    settings.LEADFOLLOW = {name: value}
    assert [e.id for e in check_outcomes()] == [error_id]
    with pytest.raises(SystemCheckError, match=error_id):
        call_command("check")


# --- through the API ------------------------------------------------------------------


@time_machine.travel(NOW + timedelta(hours=1))  # the team's Monday; New York on EST (-5)
def test_api_metrics_returns_the_typed_outcome_report(team, settings):
    from django.contrib.auth.models import Permission
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    # Site zone differs from Django's: the API speaks the site's.
    settings.LEADFOLLOW = {**settings.LEADFOLLOW, "TIME_ZONE": "America/New_York"}
    manager = UserFactory()
    manager.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    api = APIClient()
    api.force_authenticate(manager)
    response = api.get("/api/metrics/?start=2026-11-01&end=2026-11-30")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == {
        "start": "2026-11-01",
        "end": "2026-11-30",
        "time_zone": "America/New_York",
    }
    now = datetime.fromisoformat(body["now"])
    assert now.utcoffset() == timedelta(hours=-5) and now.microsecond == 0
    buckets = {b["key"]: b for b in body["outcomes"]["buckets"]}
    assert (buckets["24h"]["decided"], buckets["24h"]["qualified"]) == (25, 5)
    assert buckets["24h"]["ratio"] == pytest.approx(3.75)
    assert buckets["later"]["ratio_note"] == "too_few"
    assert set(body["counts"]) == {"5m", "1h", "24h", "later", "never", "waiting", "pending"}
    assert {"went_cold", "breaches"} <= set(body["days"][0])
    # A rep sees the outcome of their own leads only.
    mine = APIClient()
    mine.force_authenticate(team.user)
    own = mine.get("/api/metrics/?start=2026-11-01&end=2026-11-30").json()
    assert own["outcomes"]["decided"] == 40


def test_api_schema_documents_the_metrics_response():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "leadfollow/api/openapi.yaml").read_text()
    metrics_path = text[text.index("  /api/metrics/:") :]
    metrics_path = metrics_path[: metrics_path.index("\n  /", 5)]
    assert "$ref: '#/components/schemas/MetricsReport'" in metrics_path
    for component in ("MetricsReport:", "Outcomes:", "OutcomeBucket:", "MetricsCounts:"):
        assert f"    {component}" in text


def test_api_metrics_response_keeps_every_key_of_the_report(team):
    """The typed serializer drops nothing the report computes (clients relied on the
    untyped dict, e.g. ``owner_id`` in the rep rows)."""
    from leadfollow.api.metrics_serializers import MetricsReportSerializer

    raw = report()
    data = MetricsReportSerializer(raw).data

    def keys(value, path=""):
        if isinstance(value, dict):
            for key, item in value.items():
                yield f"{path}.{key}"
                yield from keys(item, f"{path}.{key}")
        elif isinstance(value, list | tuple) and value and isinstance(value[0], dict):
            for item in value:
                yield from keys(item, f"{path}[]")

    assert set(keys(raw)) == set(keys(data))
