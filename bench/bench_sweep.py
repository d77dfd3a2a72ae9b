"""Benchmark: the sweep's throughput against a set-based baseline, on a 1M-lead table.

    PG_URL_BASE=postgres://postgres@127.0.0.1:5432 .venv/bin/python bench/bench_sweep.py \\
        [--history 1000000] [--overdue 2000] [--reps 20] [--rounds 5] [--batch 100] [--profile]

One throw-away PostgreSQL database (``lf_bench_sweep``; ``LF_BENCH_DB`` names another),
seeded in SQL with ``--history`` realistic leads (almost all closed or contacted, a few
thousand open; one Assignment row each; see ``bench_history.seed``) and 20 reps working
around the clock with room for everything.
Each round seeds ``--overdue`` leads past their deadline twice and moves them twice,
interleaved:

* **leadfollow**: one ``reassign_overdue()`` pass (batches of ``--batch``: lock, route
  through the pool, one UPDATE of leads, one INSERT of Assignment rows, one UPDATE of reps,
  signals per lead);
* **baseline**: the same batches moved set-based by hand — ``SELECT … FOR UPDATE SKIP
  LOCKED``, one ``UPDATE … FROM (VALUES …)`` giving each lead the next rep round-robin and a
  fixed deadline, one bulk INSERT of Assignment rows. No routing, no business hours, no
  signals: the floor a sweep cannot beat.

Before each pass the lead table is vacuumed, untimed, as autovacuum would on a live site.
Prints leads/s of each (median of rounds) and the ratio leadfollow / baseline (target
≥ 0.33), with the machine's load average. ``--profile`` profiles the last leadfollow pass.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("LF_BENCH_DB", "lf_bench_sweep")

from bench.bench_history import REPS, seed  # noqa: E402


def setup_django(base: str) -> None:
    os.environ["DATABASE_URL"] = f"{base}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def baseline_pass(batch: int, rep_ids: list[int]) -> int:
    """Move every overdue lead set-based, ``batch`` per transaction. Returns leads moved."""
    from django.db import connection, transaction

    moved, turn = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, owner_id FROM leadfollow_lead WHERE status = 'new' "
                "AND first_contacted_at IS NULL AND escalated_at IS NULL "
                "AND first_response_due < now() ORDER BY first_response_due, id "
                "LIMIT %s FOR UPDATE SKIP LOCKED",
                [batch],
            )
            rows = cursor.fetchall()
            if not rows:
                return moved
            values, params = [], []
            for lead_id, _owner in rows:
                values.append("(%s::integer, %s::integer)")
                params += [lead_id, rep_ids[turn % len(rep_ids)]]
                turn += 1
            cursor.execute(
                "UPDATE leadfollow_lead SET owner_id = v.owner, assigned_at = now(), "
                "first_response_due = now() + interval '30 minutes', "
                "reassignment_count = reassignment_count + 1, updated_at = now() "
                f"FROM (VALUES {', '.join(values)}) AS v(id, owner) "
                "WHERE leadfollow_lead.id = v.id",
                params,
            )
            cursor.execute(
                "INSERT INTO leadfollow_assignment (lead_id, from_rep_id, to_rep_id, reason, "
                "created_at, first_response_due, note) "
                "SELECT l.id, v.old, l.owner_id, 'sla_breach', now(), l.first_response_due, '' "
                f"FROM (VALUES {', '.join(['(%s::integer, %s::integer)'] * len(rows))}) "
                "AS v(id, old) JOIN leadfollow_lead l ON l.id = v.id",
                [x for row in rows for x in row],
            )
            moved += len(rows)
        if len(rows) < batch:
            return moved


def contact_moved(connection) -> None:
    """The reps call the leads the last pass gave them: open uncontacted work stays at the
    realistic few thousand instead of growing by ``--overdue`` every pass."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE leadfollow_lead SET first_contacted_at = now(), status = 'working' "
            "WHERE reassignment_count > 0 AND first_contacted_at IS NULL"
        )


def vacuum(connection) -> None:
    """What autovacuum does on a live site between sweeps (it is off on some machines, this
    one's CI included): without it the moved leads' dead entries pile up in the partial
    indexes of open leads, round after round, and slow both sides alike. Not timed."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) leadfollow_lead, leadfollow_repprofile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--overdue", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100, help="SWEEP_BATCH_SIZE")
    parser.add_argument(
        "--profile", action="store_true", help="profile the last pass (env SORT, TOP)"
    )
    args = parser.parse_args()
    base = os.environ.get("PG_URL_BASE", "postgres://postgres@127.0.0.1:5432")
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"])
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)
    setup_django(base)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    from leadfollow.sweep import reassign_overdue
    from tests.factories import RepFactory

    call_command("migrate", verbosity=0)
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    reps = [RepFactory(working_hours=always, capacity=10_000_000) for _ in range(REPS)]
    first_user = min(r.user_id for r in reps)
    started = time.perf_counter()
    seed(connection, count=args.history, first_user=first_user)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded {args.history:,} leads in {time.perf_counter() - started:.1f} s", flush=True)

    lf = {
        **settings.LEADFOLLOW,
        "SWEEP_BATCH_SIZE": args.batch,
        "NOTIFY_ON_ASSIGNMENT": False,
        "PAUSE_AFTER_MISSES": None,
    }
    ours, floor = [], []
    with override_settings(LEADFOLLOW=lf):
        for round_ in range(args.rounds):
            contact_moved(connection)
            seed(connection, count=args.overdue, first_user=first_user, overdue=True)
            vacuum(connection)
            started = time.perf_counter()
            if args.profile and round_ == args.rounds - 1:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                report = profiler.runcall(reassign_overdue, timezone.now())
                stats = pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative"))
                stats.print_stats(int(os.environ.get("TOP", 30)))
            else:
                report = reassign_overdue(timezone.now())
            elapsed = time.perf_counter() - started
            assert report.reassigned == args.overdue, report.as_dict()
            ours.append(args.overdue / elapsed)

            contact_moved(connection)
            seed(connection, count=args.overdue, first_user=first_user, overdue=True)
            vacuum(connection)
            started = time.perf_counter()
            moved = baseline_pass(args.batch, [r.user_id for r in reps])
            elapsed = time.perf_counter() - started
            assert moved == args.overdue, moved
            floor.append(args.overdue / elapsed)
            print(f"round {round_ + 1}: leadfollow {ours[-1]:,.0f} leads/s, "
                  f"baseline {floor[-1]:,.0f} leads/s", flush=True)  # fmt: skip
    print(
        f"load average: {os.getloadavg()}; history {args.history:,} leads, "
        f"{args.overdue:,} overdue per pass, batch {args.batch}, {args.rounds} rounds"
    )
    a, b = statistics.median(ours), statistics.median(floor)
    print(f"sweep    leadfollow {a:8,.0f} leads/s   set-based baseline {b:8,.0f} leads/s   "
          f"ratio {a / b:.2f} (target ≥ 0.33)")  # fmt: skip
    connection.close()
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"])


if __name__ == "__main__":
    main()
