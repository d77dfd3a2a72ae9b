"""The response rollup (PostgreSQL): exact through every door a lead is written by, and the
report read from it equals the report counted from the leads."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from leadfollow import metrics, rollups, tasks
from leadfollow.models import Assignment, Lead, ResponseRollup
from leadfollow.schedules import SCHEDULES
from tests.factories import LeadFactory, RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)
STATUSES = ("new", "working", "qualified", "disqualified")
DELAYS = (None, 0, 3, 5, 6, 59, 60, 61, 600, 1440, 1441, 5000)  # minutes

pytestmark = [pytest.mark.django_db]
postgres = pytest.mark.postgres


def random_lead(rng, owners, sources):
    received = NOW - timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
    delay = rng.choice(DELAYS)
    return Lead(
        name="x",
        email=f"p{rng.randrange(10**9)}@example.org",
        source=rng.choice(sources),
        owner=rng.choice(owners),
        status=rng.choice(STATUSES),
        received_at=received,
        first_contacted_at=None if delay is None else received + timedelta(minutes=delay),
        first_response_due=rng.choice(
            [None, received + timedelta(hours=1), NOW + timedelta(hours=rng.randrange(1, 50))]
        ),
        escalated_at=rng.choice([None, None, received]),
    )


def random_moves(rng, leads, owners, count):
    """Assignment rows of every kind: intake, the sweep's breaches and escalations, a
    manager's escalation (an actor), hand-backs, moves to nobody and to the same rep."""
    reasons = ["intake", "sla_breach", "escalation", "manual", "handed_back", "rep_unavailable"]
    moves = []
    for _ in range(count):
        lead = rng.choice(leads)
        moves.append(
            Assignment(
                lead=lead,
                reason=rng.choice(reasons),
                from_rep=rng.choice([None, *owners]),
                to_rep=rng.choice([None, *owners]),
                actor=rng.choice([None, None, owners[0]]),
                created_at=lead.received_at + timedelta(minutes=rng.randrange(0, 3 * 24 * 60)),
            )
        )
    return Assignment.objects.bulk_create(moves)


def counted(monkeypatch, **kwargs):
    """The report as counted from the leads, not the rollup."""
    with monkeypatch.context() as patch:
        patch.setattr(rollups, "usable", lambda using="default": False)
        return metrics.response_report(**kwargs)


def assert_same_reports(monkeypatch, rng, owners, sources):
    for _ in range(4):
        start = date(2026, 10, 10) + timedelta(days=rng.randrange(0, 40))
        end = start + timedelta(days=rng.randrange(0, 40))
        now = NOW + timedelta(hours=rng.choice([-30, 0, 5, 48]))
        filters = rng.choice([{}, {"source": sources[0]}, {"rep": owners[0].pk}])
        kwargs = {"start": start, "end": end, "now": now, **filters}
        assert metrics._rolled_until(None, start, end, now, "default") is not None or end < start
        assert metrics.response_report(**kwargs) == counted(monkeypatch, **kwargs)


@postgres
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_report_from_the_rollup_equals_counting_the_leads(seed, monkeypatch):
    rng = random.Random(seed)
    owners = [RepFactory().user for _ in range(4)]
    sources = ["web", "ads", "chat"]
    leads = Lead.objects.bulk_create(random_lead(rng, [*owners, None], sources) for _ in range(300))
    moves = random_moves(rng, leads, owners, 200)
    assert rollups.check() == []
    assert_same_reports(monkeypatch, rng, owners, sources)

    # Changes through every door, with compactions in between.
    for lead in rng.sample(leads, 40):
        fresh = random_lead(rng, owners, sources)
        for field in ("status", "first_contacted_at", "first_response_due", "owner", "source"):
            setattr(lead, field, getattr(fresh, field))
    Lead.objects.bulk_update(
        leads, ["status", "first_contacted_at", "first_response_due", "owner", "source"]
    )
    rollups.compact()
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[:30]]).update(status="qualified")
    one = Lead.objects.get(pk=leads[40].pk)
    one.first_contacted_at = one.received_at + timedelta(minutes=2)
    one.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leadfollow_lead SET received_at = received_at - interval '3 days' "
            "WHERE id = ANY(%s)",
            [[lead.pk for lead in leads[50:60]]],
        )
    Assignment.objects.filter(pk__in=[move.pk for move in moves[:20]]).update(actor=None)
    random_moves(rng, leads[100:], owners, 50)
    rollups.compact()
    # A deleted lead takes its moves along (CASCADE); a deleted user leaves leads and moves
    # without that person (SET NULL on owner, from, to and actor).
    Lead.objects.filter(pk__in=[lead.pk for lead in leads[60:70]]).delete()
    get_user_model().objects.filter(pk=owners[3].pk).delete()
    assert rollups.check() == []
    assert_same_reports(monkeypatch, rng, owners[:3], sources)
    rollups.compact()
    assert rollups.check() == []
    assert not ResponseRollup.objects.filter(is_delta=True).exists()
    assert_same_reports(monkeypatch, rng, owners[:3], sources)


@postgres
def test_compaction_collapses_each_key_to_one_row_and_keeps_the_sums():
    owner = RepFactory().user
    lead = LeadFactory(owner=owner, received_at=NOW - timedelta(days=3))
    for status in ("working", "qualified", "disqualified"):
        Lead.objects.filter(pk=lead.pk).update(status=status)
    Lead.objects.filter(pk=lead.pk).update(score=5)  # counts nothing: no difference row
    assert ResponseRollup.objects.count() == 7  # +1, then −1/+1 three times
    before = rollups.read(date(2026, 11, 1), date(2026, 11, 30))
    assert rollups.compact() == 1
    row = ResponseRollup.objects.get()
    assert (row.received, row.n_uncontacted, row.dq_uncontacted, row.is_delta) == (1, 1, 1, False)
    assert rollups.read(date(2026, 11, 1), date(2026, 11, 30)) == before
    Lead.objects.filter(pk=lead.pk).delete()
    rollups.compact()
    assert not ResponseRollup.objects.exists()  # a key without leads goes


@postgres
@pytest.mark.django_db(transaction=True)  # TRUNCATE waits for no pending FK checks
def test_truncate_empties_the_rollup():
    for lead in LeadFactory.create_batch(3, received_at=NOW - timedelta(days=2)):
        Assignment.objects.create(lead=lead, from_rep=RepFactory().user, reason="sla_breach")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE leadfollow_assignment")
        assert rollups.check() == []  # the moves are gone from the rollup, the leads not
        assert ResponseRollup.objects.filter(received__gt=0).exists()
        cursor.execute("TRUNCATE leadfollow_lead CASCADE")
    assert not ResponseRollup.objects.exists()


@postgres
def test_command_checks_compacts_and_rebuilds(capsys):
    LeadFactory.create_batch(5, received_at=NOW - timedelta(days=2), owner=RepFactory().user)
    call_command("leadfollow_rollups", "--check")
    assert "matches the leads" in capsys.readouterr().out
    ResponseRollup.objects.filter(pk=ResponseRollup.objects.first().pk).delete()  # damage
    with pytest.raises(CommandError, match="wrong sum"):
        call_command("leadfollow_rollups", "--check")
    call_command("leadfollow_rollups", "--rebuild")
    assert "Rebuilt for Europe/Berlin" in capsys.readouterr().out
    assert rollups.check() == []
    call_command("leadfollow_rollups", "--compact")
    out = capsys.readouterr().out
    assert "Compacted" in out and "0 not compacted" in out


@postgres
def test_another_site_zone_counts_the_leads_until_rebuilt(monkeypatch):
    owner = RepFactory().user
    # 23:30 in Berlin is 17:30 in New York: the same lead on the same day in both, and one
    # received at 03:00 in Berlin falls on the day before in New York.
    LeadFactory(owner=owner, received_at=datetime(2026, 11, 10, 3, 0, tzinfo=BERLIN))
    LeadFactory(owner=owner, received_at=datetime(2026, 11, 10, 23, 30, tzinfo=BERLIN))
    kwargs = {"start": date(2026, 11, 9), "end": date(2026, 11, 10), "now": NOW}
    with override_settings(LEADFOLLOW={"TIME_ZONE": "America/New_York"}):
        assert not rollups.usable()
        from_leads = metrics.response_report(**kwargs)
        assert [d["received"] for d in from_leads["days"]] == [1, 1]
        call_command("leadfollow_rollups", "--rebuild")
        assert rollups.usable()
        assert metrics.response_report(**kwargs) == from_leads
    assert not rollups.usable()  # built for New York now
    call_command("leadfollow_rollups", "--rebuild")
    assert [d["received"] for d in metrics.response_report(**kwargs)["days"]] == [0, 2]


@postgres
def test_a_zone_postgresql_does_not_know_changes_nothing():
    unknown = override_settings(LEADFOLLOW={"TIME_ZONE": "Mars/Olympus_Mons"})
    with unknown, pytest.raises(CommandError, match="does not know the time zone"):
        call_command("leadfollow_rollups", "--rebuild")
    assert rollups.built_zone() == "Europe/Berlin"
    LeadFactory(received_at=NOW)  # writes still work
    assert rollups.check() == []


@postgres
def test_the_database_check_warns_of_another_zone():
    assert "leadfollow.W073" not in {e.id for e in run_checks(databases=["default"])}
    with override_settings(LEADFOLLOW={"TIME_ZONE": "America/New_York"}):
        found = {e.id for e in run_checks(databases=["default"])}
        assert "leadfollow.W073" in found
        call_command("leadfollow_rollups", "--rebuild")
        assert "leadfollow.W073" not in {e.id for e in run_checks(databases=["default"])}


def test_without_postgres_there_is_no_rollup(capsys):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite behaviour")
    LeadFactory(received_at=NOW - timedelta(days=2))
    assert not rollups.usable()
    assert (rollups.compact(), rollups.rebuild(), rollups.check()) == (0, 0, [])
    call_command("leadfollow_rollups", "--rebuild")
    assert "No rollup on sqlite" in capsys.readouterr().out
    assert not ResponseRollup.objects.exists()


def test_compaction_is_scheduled_and_its_task_compacts():
    assert SCHEDULES["leadfollow.rollups"]["func"] == "leadfollow.tasks.compact_rollups"
    LeadFactory(received_at=NOW - timedelta(days=2))
    collapsed = tasks.compact_rollups()
    if connection.vendor == "postgresql":
        assert collapsed == 1
        assert not ResponseRollup.objects.filter(is_delta=True).exists()
    else:
        assert collapsed == 0
