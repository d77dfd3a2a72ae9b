import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadfollow import metrics
from leadfollow.models import Assignment, Lead
from tests.factories import LeadFactory, RepFactory, UserFactory

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
# Monday 2026-11-23 12:00 in Berlin.
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)
START, END = date(2026, 11, 1), date(2026, 11, 23)

pytestmark = pytest.mark.django_db


def lead(received, delay=None, **kwargs):
    """A lead received at ``received``, first contacted ``delay`` later (None: never)."""
    return LeadFactory(
        received_at=received,
        first_contacted_at=None if delay is None else received + delay,
        **kwargs,
    )


def minutes(n):
    return timedelta(minutes=n)


def report(**kwargs):
    kwargs.setdefault("start", START)
    kwargs.setdefault("end", END)
    kwargs.setdefault("now", NOW)
    return metrics.response_report(**kwargs)


class TestBuckets:
    @pytest.fixture
    def leads(self):
        at = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
        return [
            lead(at, minutes(0)),  # 5m
            lead(at, minutes(5)),  # 5m: "within 5 minutes" includes 5:00
            lead(at, minutes(5) + timedelta(seconds=1)),  # 1h
            lead(at, minutes(60)),  # 1h
            lead(at, minutes(61)),  # 24h
            lead(at, timedelta(hours=24)),  # 24h
            lead(at, timedelta(hours=24, seconds=1)),  # later
            lead(at, timedelta(days=9)),  # later
            lead(at),  # never
            lead(NOW - timedelta(hours=24)),  # never: exactly 24 h old
            lead(NOW - timedelta(hours=23, minutes=59)),  # pending
            lead(NOW - minutes(1), minutes(0)),  # young but contacted: 5m
        ]

    def test_counts_and_shares(self, leads):
        r = report()
        assert r["received"] == 12
        assert r["counts"] == {
            "5m": 3,
            "1h": 2,
            "24h": 2,
            "later": 2,
            "never": 2,
            "waiting": 0,
            "pending": 1,
        }
        assert r["decided"] == 11
        assert r["contacted"] == 9
        assert r["shares"] == {
            "5m": 3 / 11,
            "1h": 2 / 11,
            "24h": 2 / 11,
            "later": 2 / 11,
            "never": 2 / 11,
            "waiting": 0.0,
        }
        assert r["within_1h"] == 5
        assert r["within_1h_share"] == 5 / 11

    def test_research_side_by_side(self, leads):
        rows = {row["key"]: row for row in report()["research"]}
        assert rows["within_1h"]["you"] == 5 / 11
        assert rows["within_1h"]["research"] == 0.37
        assert rows["24h"]["research"] == 0.16
        assert rows["later"]["research"] == 0.24
        assert rows["never"]["research"] == 0.23
        assert rows["never"]["count"] == 2
        assert sum(metrics.RESEARCH.values()) == pytest.approx(1)

    def test_over_24_hours_but_not_yet_due_is_waiting_not_never(self):
        # Received Friday 16:50, due Monday 09:50 in business hours; seen Monday 09:00.
        friday = datetime(2026, 11, 20, 16, 50, tzinfo=BERLIN)
        monday_due = datetime(2026, 11, 23, 9, 50, tzinfo=BERLIN)
        monday_nine = datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN)
        lead(friday, first_response_due=monday_due)
        lead(friday, first_response_due=friday + minutes(60), escalated_at=monday_due)
        r = report(now=monday_nine)
        assert r["counts"]["waiting"] == 1
        assert r["counts"]["never"] == 1  # escalated: past due, not waiting
        assert r["decided"] == 2
        # The research's clock time counts both as "never" (uncontacted for 24 h).
        never = next(row for row in r["research"] if row["key"] == "never")
        assert (never["count"], never["you"]) == (2, 1.0)
        # Once the deadline passes, the same lead is "never".
        later = report(now=monday_due + minutes(1))
        assert (later["counts"]["waiting"], later["counts"]["never"]) == (0, 2)

    def test_empty_period_has_no_shares(self):
        r = report()
        assert r["received"] == 0
        assert r["shares"]["5m"] is None
        assert r["within_1h_share"] is None
        assert r["clock"] == {"median_minutes": None, "p90_minutes": None}
        assert r["business"]["median_minutes"] is None
        assert r["reps"] == [] and r["sources"] == []
        assert len(r["days"]) == 23


class TestPercentiles:
    def test_clock_median_and_p90(self):
        at = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
        for delay in (10, 1, 4, 3, 2):
            lead(at, minutes(delay))
        lead(at)  # never: not part of the time to first contact
        r = report()
        assert r["clock"]["median_minutes"] == 3
        # percentile_cont: position 0.9 * 4 = 3.6 -> 4 + 0.6 * (10 - 4)
        assert r["clock"]["p90_minutes"] == pytest.approx(7.6, abs=1e-9)

    def test_even_count_interpolates(self):
        at = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
        for delay in (1, 2, 3, 4):
            lead(at, minutes(delay))
        r = report()
        assert r["clock"]["median_minutes"] == 2.5
        assert r["clock"]["p90_minutes"] == pytest.approx(3.7, abs=1e-9)

    def test_business_time_uses_the_owner_calendar(self):
        rep = RepFactory()  # site hours: Mon-Fri 09:00-17:00 Berlin
        night = RepFactory(timezone="UTC", working_hours={"fri": [["22:00", "24:00"]]})
        friday = datetime(2026, 11, 20, 16, 30, tzinfo=BERLIN)
        # 30 min Friday + 30 min Monday = 60 business minutes, 65 clock hours.
        lead(friday, datetime(2026, 11, 23, 9, 30, tzinfo=BERLIN) - friday, owner=rep.user)
        # Inside hours: 10 minutes either way.
        lead(datetime(2026, 11, 19, 10, 0, tzinfo=BERLIN), minutes(10), owner=rep.user)
        # No owner: site calendar. Saturday to Monday 09:20 -> 20 business minutes.
        saturday = datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)
        lead(saturday, datetime(2026, 11, 23, 9, 20, tzinfo=BERLIN) - saturday)
        # Night rep (UTC 22:00-24:00 on Fridays): received Fri 21:00 UTC, contacted
        # Fri 23:00 UTC -> 60 business minutes in *their* calendar (0 in the site's).
        received = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
        lead(received, timedelta(hours=2), owner=night.user)
        business = report()["business"]
        assert business["measured"] == 4
        assert business["sampled"] is False
        # sorted: 10, 20, 60, 60
        assert business["median_minutes"] == 40
        assert business["p90_minutes"] == 60

    def test_business_time_keeps_the_microseconds(self):
        # PostgreSQL reads the sample's timestamps as epoch seconds (a double): the
        # figures must be those of the stored timestamps, to the microsecond.
        rep = RepFactory()
        received = datetime(2026, 11, 19, 10, 0, 0, 123457, tzinfo=BERLIN)
        contacted = received + timedelta(minutes=3, seconds=7, microseconds=654321)
        lead(received, contacted - received, owner=rep.user)
        # Inside working hours: business time is clock time. One microsecond lost
        # would be 1.7e-8 minutes; the sum of whole segments differs by rounding only.
        expected = (contacted - received).total_seconds() / 60
        assert report()["business"]["median_minutes"] == pytest.approx(expected, rel=0, abs=1e-12)

    def test_business_sample_is_capped(self, monkeypatch):
        monkeypatch.setattr(metrics, "BUSINESS_SAMPLE_LIMIT", 50)
        at = datetime(2026, 11, 19, 10, 0, tzinfo=BERLIN)
        Lead.objects.bulk_create(
            Lead(name=f"l{i}", received_at=at, first_contacted_at=at + minutes(10))
            for i in range(400)
        )
        r = report()
        business = r["business"]
        assert r["contacted"] == 400
        assert business["sampled"] is True
        assert 10 <= business["measured"] <= 120  # about 50, at random
        assert business["median_minutes"] == business["p90_minutes"] == 10

    def test_percentile_helper(self):
        assert metrics.percentile([], 0.5) is None
        assert metrics.percentile([7.0], 0.9) == 7.0
        assert metrics.percentile([0.0, 10.0], 0.9) == 9.0


class TestPeriod:
    """The period is given in dates of the site time zone (Europe/Berlin in tests)."""

    def test_local_day_edges(self):
        end = date(2026, 11, 22)
        inside = [
            datetime(2026, 11, 22, 23, 30, tzinfo=BERLIN),  # 22:30 UTC, last day: in
            datetime(2026, 11, 1, 0, 0, tzinfo=BERLIN),  # first instant of the period
            datetime(2026, 11, 1, 0, 30, tzinfo=BERLIN),  # 23:30 UTC on Oct 31: in
        ]
        outside = [
            datetime(2026, 11, 23, 0, 0, tzinfo=BERLIN),  # first instant after
            datetime(2026, 10, 31, 23, 59, 59, tzinfo=BERLIN),  # last instant before
        ]
        for at in inside + outside:
            lead(at, minutes(1))
        r = report(start=START, end=end)
        assert r["received"] == 3
        days = {row["day"]: row["received"] for row in r["days"]}
        assert days[date(2026, 11, 1)] == 2  # 00:30 Berlin is Oct 31 in UTC
        assert days[date(2026, 11, 22)] == 1
        assert sum(days.values()) == 3
        assert r["days"][0]["day"] == START and r["days"][-1]["day"] == end

    def test_dst_end_day(self):
        # Berlin leaves summer time on 2026-10-25: that day lasts 25 hours.
        day = date(2026, 10, 25)
        lead(datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN), minutes(1))  # 22:30 UTC on the 24th
        lead(datetime(2026, 10, 25, 23, 30, tzinfo=BERLIN), minutes(1))  # 22:30 UTC on the 25th
        lead(datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN), minutes(1))  # out
        lead(datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN), minutes(1))  # out
        r = report(start=day, end=day)
        assert r["received"] == 2
        assert r["days"] == [
            {
                "day": day,
                "received": 2,
                "decided": 2,
                "within_1h": 2,
                "within_1h_share": 1.0,
                "went_cold": 0,
                "breaches": 0,
            }
        ]

    def test_default_period_is_last_30_local_days(self):
        # 00:30 Berlin on the 23rd is still the 22nd in UTC; "today" is the local day.
        now = datetime(2026, 11, 23, 0, 30, tzinfo=BERLIN)
        assert metrics.default_period(now) == (date(2026, 10, 25), date(2026, 11, 23))
        lead(datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN), minutes(1))
        lead(datetime(2026, 10, 24, 23, 59, tzinfo=BERLIN), minutes(1))
        r = metrics.response_report(now=now)
        assert r["period"]["start"] == date(2026, 10, 25)
        assert r["received"] == 1


class TestDays:
    def test_within_1h_share_went_cold_and_breaches_per_day(self):
        d1 = datetime(2026, 11, 20, 10, 0, tzinfo=BERLIN)
        d2 = datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)
        due = d1 + minutes(60)
        lead(d1, minutes(30), first_response_due=due)  # in time
        late = lead(d1, minutes(90), first_response_due=due)  # went cold, then contacted
        lead(d1, first_response_due=due)  # never: went cold
        lead(d2, minutes(2))  # no deadline: never cold
        lead(NOW - minutes(10), first_response_due=NOW + minutes(5))  # pending, not due
        manager = UserFactory()
        for reason, created, actor in (
            ("sla_breach", d1 + minutes(61), None),
            ("sla_breach", d1 + minutes(65), None),
            ("escalation", d2 + minutes(1), None),  # the sweep escalating: a miss
            ("escalation", d2 + minutes(2), manager),  # a manager's escalation: not a miss
            ("manual", d2 + minutes(3), manager),
        ):
            Assignment.objects.create(lead=late, reason=reason, created_at=created, actor=actor)
        r = report(start=date(2026, 11, 20), end=date(2026, 11, 23))
        rows = [
            (d["day"], d["received"], d["decided"], d["within_1h"], d["within_1h_share"])
            for d in r["days"]
        ]
        assert rows == [
            (date(2026, 11, 20), 3, 3, 1, 1 / 3),
            (date(2026, 11, 21), 1, 1, 1, 1.0),
            (date(2026, 11, 22), 0, 0, 0, None),
            (date(2026, 11, 23), 1, 0, 0, None),
        ]
        assert [d["went_cold"] for d in r["days"]] == [2, 0, 0, 0]
        assert [d["breaches"] for d in r["days"]] == [2, 1, 0, 0]


class TestPerRepAndSource:
    @pytest.fixture
    def team(self):
        ana = RepFactory(user=UserFactory(username="ana", first_name="Ana", last_name="Ames"))
        bob = RepFactory(user=UserFactory(username="bob"))
        at = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
        for delay in (2, 20, 120):
            lead(at, minutes(delay), owner=ana.user, source="ads")
        lead(at, owner=ana.user, source="web")  # never
        lead(at, minutes(30), owner=bob.user, source="web")
        lead(at, timedelta(days=2), owner=bob.user, source="web")
        lead(at, minutes(3), source="web")  # nobody held it
        # Cold right now (received before the period: still counts as overdue).
        for owner in (bob.user, bob.user, ana.user):
            lead(
                datetime(2026, 10, 1, 9, 0, tzinfo=BERLIN),
                owner=owner,
                first_response_due=NOW - minutes(5),
            )
        # Contacted or closed leads are not overdue.
        lead(NOW - minutes(90), minutes(1), owner=ana.user, first_response_due=NOW - minutes(30))
        LeadFactory(
            received_at=NOW - minutes(90),
            owner=ana.user,
            status="qualified",
            first_response_due=NOW - minutes(30),
        )
        # Moves away from ana: two in the period, one before it, one to herself (no move).
        moved = Lead.objects.filter(owner=bob.user).first()
        in_period = datetime(2026, 11, 15, 9, 0, tzinfo=BERLIN)
        for created in (in_period, in_period, datetime(2026, 10, 15, tzinfo=BERLIN)):
            Assignment.objects.create(
                lead=moved,
                from_rep=ana.user,
                to_rep=bob.user,
                reason="sla_breach",
                created_at=created,
            )
        Assignment.objects.create(
            lead=moved, from_rep=ana.user, to_rep=ana.user, reason="manual", created_at=in_period
        )
        Assignment.objects.create(
            lead=moved, from_rep=bob.user, to_rep=None, reason="sla_breach", created_at=in_period
        )
        return ana, bob

    def test_per_rep_table(self, team):
        ana, bob = team
        rows = {row["rep_id"]: row for row in report()["reps"]}
        assert list(rows) == [ana.user.pk, bob.user.pk, None]
        a = rows[ana.user.pk]
        assert a["name"] == "Ana Ames"
        # 4 in the 10th batch + 2 received 90 minutes ago (one contacted, one qualified).
        assert a["received"] == 6
        assert a["counts"] == {
            "5m": 2,
            "1h": 1,
            "24h": 1,
            "later": 0,
            "never": 1,
            "waiting": 0,
            "pending": 1,
        }
        assert a["within_1h"] == 3
        assert a["within_1h_share"] == 3 / 5
        assert a["median_minutes"] == 11  # 1, 2, 20, 120
        assert a["overdue"] == 1
        assert a["reassigned_away"] == 2
        b = rows[bob.user.pk]
        assert b["name"] == "bob"
        assert (b["received"], b["within_1h"], b["overdue"], b["reassigned_away"]) == (2, 1, 2, 1)
        assert b["median_minutes"] == (30 + 2 * 24 * 60) / 2
        nobody = rows[None]
        assert (nobody["received"], nobody["within_1h"], nobody["median_minutes"]) == (1, 1, 3)

    def test_per_source_table(self, team):
        rows = {row["source"]: row for row in report()["sources"]}
        assert list(rows) == ["ads", "web"]
        assert rows["ads"]["received"] == 3
        assert rows["ads"]["within_1h"] == 2
        assert rows["ads"]["counts"]["24h"] == 1
        assert rows["ads"]["median_minutes"] == 20
        assert rows["web"]["received"] == 6
        assert rows["web"]["counts"] == {
            "5m": 2,
            "1h": 1,
            "24h": 0,
            "later": 1,
            "never": 1,
            "waiting": 0,
            "pending": 1,
        }

    def test_filters(self, team):
        ana, bob = team
        r = report(source="ads")
        assert r["received"] == 3
        assert [row["source"] for row in r["sources"]] == ["ads"]
        r = report(rep=bob.user)
        assert r["received"] == 2
        assert [row["rep_id"] for row in r["reps"]] == [bob.user.pk]
        r = report(rep=ana.user)
        assert [(row["rep_id"], row["reassigned_away"]) for row in r["reps"]] == [(ana.user.pk, 2)]
        r = report(rep=ana.user.pk, source="web")
        assert r["received"] == 3
        assert r["counts"]["never"] == 1
        # A narrowed queryset (as visible_to gives a rep) is respected too.
        r = report(leads=Lead.objects.filter(owner=bob.user))
        assert r["received"] == 2


class TestColdLists:
    def test_cold_now_oldest_breach_first(self):
        rep = RepFactory()
        late = lead(NOW - timedelta(hours=3), owner=rep.user, first_response_due=NOW - minutes(60))
        later = lead(NOW - timedelta(hours=3), first_response_due=NOW - minutes(120))
        lead(NOW - timedelta(hours=3), first_response_due=NOW + minutes(10))  # soon
        lead(NOW - timedelta(hours=3), first_response_due=NOW + minutes(15))  # not yet
        lead(NOW - timedelta(hours=3), minutes(1), first_response_due=NOW - minutes(60))
        assert list(metrics.cold_now(now=NOW)) == [later, late]
        assert [x.first_response_due for x in metrics.about_to_breach(now=NOW)] == [
            NOW + minutes(10)
        ]
        assert metrics.cold_summary(now=NOW) == {"cold": 2, "soon": 1}


class TestQueryCount:
    def build(self, reps, leads_per_rep):
        at = datetime(2026, 11, 10, 9, 0, tzinfo=BERLIN)
        for _ in range(reps):
            rep = RepFactory()
            for j in range(leads_per_rep):
                lead(
                    at + minutes(j),
                    minutes(j * 7) if j % 3 else None,
                    owner=rep.user,
                    source=f"s{j % 4}",
                    first_response_due=at + minutes(60),
                )
                Assignment.objects.create(
                    lead_id=Lead.objects.latest("pk").pk,
                    from_rep=rep.user,
                    reason="sla_breach",
                    created_at=at + minutes(90),
                )

    @pytest.mark.parametrize(("reps", "leads_per_rep"), [(1, 2), (12, 15)])
    def test_queries_do_not_grow(self, reps, leads_per_rep, django_assert_max_num_queries):
        self.build(reps, leads_per_rep)
        # Counts (one pass for overall, reps and sources), clock percentiles, per day,
        # business sample and calendars, overdue, moved away, rep names, breaches per
        # day, median time to qualification. On PostgreSQL the days older than 24 h come
        # from the rollup: its sums, the uncontacted leads whose deadline is ahead, and the
        # live days' counts and per-day counts (the rollup's zone is read once a process).
        report()
        with django_assert_max_num_queries(12 if connection.vendor == "postgresql" else 10):
            r = report()
        assert r["received"] == reps * leads_per_rep
        assert len(r["reps"]) == reps

    def test_period_queries_read_only_the_covering_index(self):
        """Every query over the period reads columns of leadfollow_lead_report_idx only,
        so on PostgreSQL they are index-only scans (COUNT(id) would fetch every row)."""
        self.build(2, 6)
        index = next(i for i in Lead._meta.indexes if i.name == "leadfollow_lead_report_idx")
        covered = {Lead._meta.get_field(name).column for name in (*index.fields, *index.include)}
        with CaptureQueriesContext(connection) as ctx:
            report()
        in_period = '"leadfollow_lead"."received_at" >='
        period = [q["sql"] for q in ctx.captured_queries if in_period in q["sql"]]
        assert len(period) >= 4  # counts, percentiles (or delays), days, business sample
        for sql in period:
            assert set(re.findall(r'"leadfollow_lead"\."(\w+)"', sql)) <= covered, sql

    def test_nothing_visible(self):
        self.build(1, 3)
        r = report(leads=Lead.objects.none())
        assert r["received"] == 0 and r["reps"] == [] and r["sources"] == []
        assert r["clock"] == {"median_minutes": None, "p90_minutes": None}
        assert r["business"]["measured"] == 0
