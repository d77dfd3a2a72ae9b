"""The demo site: seed_demo's data has the promised shape, and `make demo --check` runs."""

import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from demo_project import seed
from leadfollow.models import Absence, ContactAttempt, Lead, LeadStatus, RepProfile
from leadfollow.ownership import OUTCOME_STATUS

ROOT = Path(__file__).resolve().parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
# Shares of decided leads (uncontacted ones under 24 h old are still pending).
RESEARCH = {"1h": 0.37, "24h": 0.16, "later": 0.24, "never": 0.23}
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def demo_app():
    """The command lives in demo_project, which the test settings don't install."""
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "demo_project"]):
        yield


def seed_command(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def first_contact_bucket(lead: Lead, now: datetime) -> str:
    if lead.first_contacted_at is None:
        return "pending" if now - lead.received_at < DAY else "never"
    waited = lead.first_contacted_at - lead.received_at
    return "1h" if waited <= HOUR else "24h" if waited <= DAY else "later"


def snapshot() -> list[tuple]:
    return list(
        Lead.objects.order_by("received_at").values_list(
            "name", "email", "source", "received_at", "owner__username", "status", "score",
            "first_contacted_at", "first_response_due",
        )
    )  # fmt: skip


# The demo is seeded relative to "now", so its shape depends on the hour and the weekday:
# the command runs on a pinned clock, at moments that have broken looser bounds before.
SEED_CLOCKS = {
    "wednesday-afternoon": datetime(2026, 11, 25, 15, 10, tzinfo=BERLIN),
    "saturday-night": datetime(2026, 11, 21, 1, 49, tzinfo=BERLIN),
    "monday-early": datetime(2026, 11, 23, 6, 55, tzinfo=BERLIN),
    "friday-evening": datetime(2026, 11, 27, 18, 5, tzinfo=BERLIN),
}


@pytest.mark.parametrize("clock", SEED_CLOCKS.values(), ids=SEED_CLOCKS.keys())
def test_seed_demo_builds_a_believable_month(
    db, demo_app, django_capture_on_commit_callbacks, clock
):
    with time_machine.travel(clock, tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            output = seed_command()
        now = timezone.now()
    assert now == clock

    assert "300 leads" in output
    from leadfollow import rulecache

    # The routing rule it creates refreshes the rule cache after commit; nothing else.
    queued = [c for c in callbacks if getattr(c, "func", None) is not rulecache._new_token]
    assert queued == [], "seeding must not queue notification tasks"
    assert mail.outbox == []

    reps = RepProfile.objects.select_related("user")
    assert reps.count() == 7
    assert {r.timezone for r in reps} == {"Europe/Berlin", "America/New_York", "Europe/London"}
    office = reps.exclude(user__username=seed.ON_CALL_REP)
    assert all(set(r.working_hours) == {"mon", "tue", "wed", "thu", "fri"} for r in office)
    assert len(reps.get(user__username=seed.ON_CALL_REP).working_hours) == 7
    absent = reps.exclude(pk__in=reps.present(now).values("pk"))
    assert [r.user.username for r in absent] == [seed.ABSENT_REP]
    assert [r.user.username for r in reps.filter(accepting_leads=False)] == [seed.PAUSED_REP]
    assert all(not r.user.is_staff and r.user.check_password("demo") for r in reps)
    manager = get_user_model().objects.get(username=seed.MANAGER_USERNAME)
    assert manager.is_staff and manager.has_perm("leadfollow.manage_leads")

    leads = list(Lead.objects.select_related("owner"))
    assert len(leads) == 300
    assert {lead.source for lead in leads} == {"web", "ads", "partner", "chat"}
    assert all(now - 30 * DAY < lead.received_at < now for lead in leads)
    assert len({lead.score for lead in leads}) > 3
    assert not Lead.objects.filter(assignments__isnull=True).exists()
    assert all(lead.owner is not None for lead in leads)

    per_rep = Counter(lead.owner.username for lead in leads)
    assert set(per_rep) == {r.username for r in seed.REPS}
    assert all(count >= 15 for count in per_rep.values()), per_rep
    paused_since = now - seed.PAUSED_SINCE
    assert not Lead.objects.filter(
        owner__username=seed.PAUSED_REP, received_at__gt=paused_since + timedelta(minutes=1)
    ).exists()
    holiday = Absence.objects.get(rep__user__username=seed.ABSENT_REP)
    assert not Lead.objects.filter(
        owner__username=seed.ABSENT_REP, received_at__range=(holiday.starts_at, now)
    ).exists()

    buckets = Counter(first_contact_bucket(lead, now) for lead in leads)
    decided = len(leads) - buckets["pending"]
    for bucket, share in RESEARCH.items():
        assert abs(buckets[bucket] / decided - share) <= 0.06, (bucket, buckets)

    assert 8 <= Lead.objects.cold(now).count() <= 15
    waiting = Lead.objects.open().uncontacted().filter(first_response_due__gt=now)
    assert waiting.count() >= 3
    # A few missed follow-ups, not a flood of reminder mails when the demo's sweep starts.
    assert 0 < Lead.objects.follow_up_due(now).count() <= 50  # of 300

    attempts = dict(Lead.objects.annotate(n=Count("attempts")).values_list("pk", "n"))
    for lead in leads:
        expected = range(1, 4) if lead.first_contacted_at else range(0, 1)
        assert attempts[lead.pk] in expected, lead
    assert {lead.status for lead in leads} == set(LeadStatus.values)
    # Outcomes that qualify or disqualify a lead closed it, as they do on the rep pages.
    for lead in Lead.objects.open().filter(attempts__isnull=False).distinct():
        last = lead.attempts.filter(automated=False).order_by("-attempted_at").first()
        assert last is None or last.outcome not in OUTCOME_STATUS, (lead, last.outcome)
    assert ContactAttempt.objects.values("channel").distinct().count() >= 3
    assert ContactAttempt.objects.values("outcome").distinct().count() >= 5

    def row_counts():
        return [m.objects.count() for m in (Lead, ContactAttempt, Absence, get_user_model())]

    before = row_counts()
    assert "already present" in seed_command()
    assert row_counts() == before


def test_seed_demo_options_reset_and_size(db, demo_app):
    seed_command("--leads", "40", "--seed", "3")
    first = snapshot()
    assert len(first) == 40

    assert "already present" in seed_command("--leads", "60")
    assert len(snapshot()) == 40

    seed_command("--reset", "--leads", "60", "--seed", "4")
    assert len(snapshot()) == 60
    assert RepProfile.objects.count() == 7


def test_seed_is_deterministic(db):
    now = datetime(2026, 11, 18, 15, 30, tzinfo=BERLIN)
    seed.seed_demo(leads=40, seed=11, now=now)
    first = snapshot()
    seed.seed_demo(leads=40, seed=11, now=now, reset=True)
    assert snapshot() == first
    seed.seed_demo(leads=40, seed=12, now=now, reset=True)
    assert snapshot() != first


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 21, 12, 0, tzinfo=BERLIN),  # Saturday: nobody works
        datetime(2026, 11, 23, 7, 30, tzinfo=BERLIN),  # Monday before anyone starts
        datetime(2026, 11, 25, 14, 0, tzinfo=BERLIN),  # Wednesday, both offices open
    ],
    ids=["saturday", "monday-early", "wednesday"],
)
def test_cold_and_waiting_leads_exist_whenever_seeded(db, now):
    # The wall clock at ``now`` too: the seed's attempts up to ``now`` are not "in the future".
    with time_machine.travel(now, tick=False):
        seed.seed_demo(leads=100, now=now)  # 5 planned cold leads at this size

    assert Lead.objects.cold(now).count() >= 5
    assert Lead.objects.open().uncontacted().filter(first_response_due__gt=now).exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_demo_check_starts_and_stops_both_processes(tmp_path):
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "DJANGO_SETTINGS_MODULE": "demo_project.settings",
        "DEMO_DB_PATH": str(tmp_path / "demo.sqlite3"),
        "DEMO_LEADS": "40",
        "DEMO_ADMIN_PASSWORD": "check-password",
        "PORT": str(port),
    }

    def run_check() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "demo_project/run.py", "--check"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
        )  # fmt: skip

    done = run_check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo OK" in done.stdout
    assert "password check-password" in done.stdout
    assert "has stopped" in done.stderr  # qcluster shut down cleanly, not killed
    with socket.socket() as probe:
        # Reuse the address as runserver does: closed connections may linger in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # fails if the web server still listens
        probe.listen()
        # Now the port is taken: runserver fails, and the demo must stop and fail too.
        busy = run_check()
    assert busy.returncode != 0
    assert "already present" in busy.stdout
    assert "web server exited" in busy.stderr


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 11, 21, 2, 30, tzinfo=BERLIN),  # Saturday night: only the desk works
        datetime(2026, 11, 25, 23, 40, tzinfo=BERLIN),  # a weekday night
        datetime(2026, 11, 22, 15, 0, tzinfo=BERLIN),  # Sunday afternoon
    ],
    ids=["saturday-night", "weekday-night", "sunday"],
)
def test_something_is_cold_and_about_to_breach_at_any_hour_while_the_demo_runs(db, start):
    """What a visitor sees over two hours of the running demo: the sweep every few minutes,
    a lead arriving every ARRIVAL_EVERY_MINUTES; each look (between two sweeps) finds leads
    gone cold to try the bulk actions on, and leads about to breach."""
    from django.test import override_settings

    from demo_project import settings as demo_settings
    from leadfollow.sweep import reassign_overdue

    step = timedelta(minutes=seed.ARRIVAL_EVERY_MINUTES)
    demo = override_settings(LEADFOLLOW=demo_settings.LEADFOLLOW)
    with demo, time_machine.travel(start, tick=False) as clock:
        seed.seed_demo(leads=100)
        seen = []
        for _ in range(24):  # two hours
            now = timezone.now()
            seen.append((now, Lead.objects.cold(now).count(),
                         Lead.objects.about_to_breach(now).count()))  # fmt: skip
            reassign_overdue(now)
            clock.shift(step - timedelta(minutes=2))
            seed.simulate_arrival()
            clock.shift(timedelta(minutes=2))
    assert all(cold and due_soon for _, cold, due_soon in seen), seen
