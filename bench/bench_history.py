"""Benchmark: does intake or a sweep batch slow down as the lead table's history grows?

    PG_URL_BASE=postgres://postgres@127.0.0.1:5432 .venv/bin/python bench/bench_history.py \\
        [--big 1000000] [--small 1000] [--rounds 7] [--intakes 20]

Two throw-away PostgreSQL databases, one seeded with ``--small`` leads and one with
``--big`` (in SQL: ``INSERT … SELECT generate_series``), both realistic: almost every
lead closed or contacted, a few thousand open and uncontacted, one Assignment row each,
20 reps. A worker process per database; the rounds alternate between them (small, big,
small, big, …) so machine load hits both alike. Each round times ``--intakes`` calls of
``create_lead()`` (p50 of the calls) and one sweep pass moving 100 freshly overdue leads
(one batch). Prints the medians and the ratio big / small; the target is ≤ 1.5.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPS = 20

# Leads in one statement, then one intake Assignment row each; %% is SQL's modulo.
LEADS_SQL = """
INSERT INTO leadfollow_lead (name, email, phone, company, message, source, external_id,
    attributes, status, owner_id, received_at, assigned_at, first_response_due,
    first_contacted_at, last_contacted_at, next_follow_up_at, score, reassignment_count,
    escalated_at, updated_at, consent_purpose, consent_text, engagement_score, phone_unparsed)
SELECT 'Lead ' || i, 'lead' || i || '@example.org', '', '', '',
    (ARRAY['web','ads','partner'])[1 + i %% 3], NULL, '{"pages": 3}'::jsonb,
    CASE WHEN %(overdue)s THEN 'new'
         WHEN i %% 1000 < 3 THEN 'new'            -- 0.3 %%: open, not contacted yet
         WHEN i %% 1000 < 40 THEN 'working'       -- open, contacted
         WHEN i %% 3 = 0 THEN 'qualified' ELSE 'disqualified' END,
    %(first_user)s + i %% %(reps)s,
    now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval,
    CASE WHEN %(overdue)s THEN now() - interval '1 minute'
         WHEN i %% 1000 < 3 THEN now() + interval '2 hours'  -- open ones are still in time
         ELSE now() - (i || ' minutes')::interval + interval '1 hour' END,
    CASE WHEN %(overdue)s OR i %% 1000 < 3 THEN NULL
         ELSE now() - (i || ' minutes')::interval + interval '20 minutes' END,
    NULL, NULL, i %% 50, 0, NULL, now(), '', '', 0, false
FROM generate_series(1, %(count)s) AS i
"""
ASSIGNMENTS_SQL = """
INSERT INTO leadfollow_assignment (lead_id, from_rep_id, to_rep_id, reason, actor_id,
    created_at, first_response_due, note, notified_at)
SELECT id, NULL, owner_id, 'intake', NULL, received_at, first_response_due, '', received_at
FROM leadfollow_lead WHERE id >= %(first_id)s
"""


def seed(connection, *, count: int, first_user: int, overdue: bool = False) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM leadfollow_lead")
        first_id = cursor.fetchone()[0]
        params = {"first_user": first_user, "reps": REPS, "count": count, "overdue": overdue}
        cursor.execute(LEADS_SQL, params)
        cursor.execute(ASSIGNMENTS_SQL, {"first_id": first_id})


def worker(database: str, count: int, intakes: int) -> None:
    """Serve rounds for one database: read a line, run a round, print JSON timings."""
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    from leadfollow.intake import create_lead
    from leadfollow.sweep import reassign_overdue
    from tests.factories import RepFactory

    call_command("migrate", verbosity=0)
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    reps = [RepFactory(working_hours=always, capacity=1_000_000) for _ in range(REPS)]
    first_user = min(r.user_id for r in reps)
    seed(connection, count=count, first_user=first_user)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    lf = {**settings.LEADFOLLOW, "NOTIFY_ON_ASSIGNMENT": False, "PAUSE_AFTER_MISSES": None}
    print(json.dumps({"ready": Lead_count(connection)}), flush=True)
    n = 0
    with override_settings(LEADFOLLOW=lf):
        for _line in sys.stdin:
            times = []
            for _ in range(intakes):
                n += 1
                started = time.perf_counter()
                create_lead({"name": f"Bench {n}", "email": f"bench{n}@example.com"})
                times.append(time.perf_counter() - started)
            # 100 leads that are overdue now, the same in both databases: one sweep batch.
            seed(connection, count=100, first_user=first_user, overdue=True)
            started = time.perf_counter()
            report = reassign_overdue(timezone.now())
            sweep = time.perf_counter() - started
            print(
                json.dumps(
                    {
                        "intake_p50": statistics.median(times),
                        "sweep": sweep,
                        "moved": report.reassigned + report.handed_over + report.escalated,
                    }
                ),
                flush=True,
            )


def Lead_count(connection) -> int:  # noqa: N802
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM leadfollow_lead")
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--intakes", type=int, default=20)
    parser.add_argument("--worker", nargs=2, metavar=("DATABASE_URL", "COUNT"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.intakes)
        return
    base = os.environ.get("PG_URL_BASE", "postgres://postgres@127.0.0.1:5432")
    prefix = os.environ.get("LF_BENCH_DB", "lf_bench_history")
    names = {"small": f"{prefix}_small", "big": f"{prefix}_big"}
    for name in names.values():
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"])
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    workers = {}
    try:
        for size, name in names.items():
            count = getattr(args, size)
            workers[size] = subprocess.Popen(
                [sys.executable, __file__, "--worker", f"{base}/{name}", str(count),
                 "--intakes", str(args.intakes)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            )  # fmt: skip
        for size, proc in workers.items():
            ready = json.loads(proc.stdout.readline())
            print(f"{size}: {ready['ready']:,} leads seeded", flush=True)
        results: dict[str, list[dict]] = {"small": [], "big": []}
        for _round in range(args.rounds):
            for size in ("small", "big"):  # interleaved: small, big, small, big, …
                workers[size].stdin.write("round\n")
                workers[size].stdin.flush()
                results[size].append(json.loads(workers[size].stdout.readline()))
        print(f"load average: {os.getloadavg()}, rounds: {args.rounds}, intakes/round: "
              f"{args.intakes}")  # fmt: skip
        for metric, label in (("intake_p50", "intake p50"), ("sweep", "sweep pass, 100 leads")):
            small = statistics.median(r[metric] for r in results["small"])
            big = statistics.median(r[metric] for r in results["big"])
            print(
                f"{label:24} {args.small:>9,} leads: {small * 1000:8.2f} ms   "
                f"{args.big:>9,} leads: {big * 1000:8.2f} ms   ratio big/small {big / small:.2f}"
            )
        moved = [r["moved"] for size in results for r in results[size]]
        print(f"leads moved per sweep pass: min {min(moved)}, max {max(moved)}")
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait(timeout=60)
        for name in names.values():
            subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"])


if __name__ == "__main__":
    main()
