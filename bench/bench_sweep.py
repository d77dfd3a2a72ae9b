"""Benchmark: one ``reassign_overdue`` pass over 10,000 cold leads held by 20 reps.

    .venv/bin/python bench/bench_sweep.py [--leads 10000] [--reps 20] [--batch 100]
        [--notify] [--profile] [--server postgres://postgres@127.0.0.1:5432]

Drops and recreates the PostgreSQL database ``lf_bench_sweep`` on every run (the sweep
changes what it measures), migrates it, creates the reps (Mon–Fri 09:00–17:00 Berlin, room
for every lead) and bulk-inserts the leads, every one past its first-response deadline on
Monday 2026-11-23 10:00 Berlin. Then times one pass and prints leads/s.

The rep e-mails are off unless ``--notify``; the test settings run django-q2 in sync mode,
so with ``--notify`` each e-mail is rendered and "sent" (locmem) inline at commit — more
than a real cluster's enqueue costs. ``--profile`` prints the top functions by cumulative
time. Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "lf_bench_sweep"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def recreate_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django(server: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def load(leads: int, reps: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from leadfollow.models import Lead, RepProfile

    call_command("migrate", verbosity=0)
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"rep{i}", email=f"rep{i}@example.com") for i in range(reps)
    )
    RepProfile.objects.bulk_create(
        RepProfile(user=user, timezone="Europe/Berlin", capacity=2 * leads) for user in users
    )
    Lead.objects.bulk_create(
        (
            Lead(
                name=f"Lead {i}",
                email=f"lead{i}@example.org",
                source="web",
                owner=users[i % reps],
                received_at=NOW - timedelta(hours=2),
                assigned_at=NOW - timedelta(hours=2),
                first_response_due=NOW - timedelta(minutes=1 + i % 60),
            )
            for i in range(leads)
        ),
        batch_size=2000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100, help="SWEEP_BATCH_SIZE")
    parser.add_argument("--notify", action="store_true", help="queue the rep e-mails too")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    recreate_database(args.server)
    setup_django(args.server)
    started = time.perf_counter()
    load(args.leads, args.reps)
    print(
        f"loaded {args.leads} cold leads, {args.reps} reps in {time.perf_counter() - started:.1f} s"
    )

    from django.test import override_settings

    from leadfollow.models import Assignment, AssignmentReason, Lead
    from leadfollow.sweep import reassign_overdue

    options = {
        "TIME_ZONE": "Europe/Berlin",
        "SWEEP_BATCH_SIZE": args.batch,
        "NOTIFY_ON_ASSIGNMENT": args.notify,
    }
    with override_settings(LEADFOLLOW=options):
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            started = time.perf_counter()
            report = profiler.runcall(reassign_overdue, NOW)
            elapsed = time.perf_counter() - started
        else:
            started = time.perf_counter()
            report = reassign_overdue(NOW)
            elapsed = time.perf_counter() - started

    moved = Assignment.objects.filter(reason=AssignmentReason.SLA_BREACH).count()
    print(f"sweep report: {report.as_dict()}")
    print(f"sla_breach rows: {moved}; cold leads left: {Lead.objects.cold(NOW).count()}")
    print(
        f"one pass: {elapsed:.2f} s for {args.leads} leads = {args.leads / elapsed:,.0f} leads/s "
        f"({1000 * elapsed / args.leads:.2f} ms/lead, batch {args.batch}, "
        f"notify {'on' if args.notify else 'off'})"
    )
    if args.profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
