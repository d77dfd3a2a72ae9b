"""Benchmark: erasure, export and retention on a big lead table (PostgreSQL).

    [BENCH_DATABASE=lf_bench_privacy] PG_URL_BASE=postgres://postgres@127.0.0.1:5432 \\
        .venv/bin/python bench/bench_privacy.py \\
        [--leads 1000000] [--rounds 15] [--due 2000]

A throw-away database seeded in SQL with ``--leads`` leads (almost all closed, one contact
attempt with a note each) and ``--due`` disqualified leads unchanged for a year. Times, as
medians over ``--rounds`` different people: finding and erasing one person by e-mail
(``privacy.erase`` with the audit row), the same by lead id, and the subject-access export;
then one retention pass over the due leads (``RETENTION_DAYS = {"disqualified": 180}``) and
its dry run. Prints the figures and the load. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LEADS_SQL = """
INSERT INTO leadfollow_lead (name, email, phone, company, message, source, external_id,
    attributes, status, owner_id, received_at, assigned_at, first_response_due,
    first_contacted_at, last_contacted_at, next_follow_up_at, score, reassignment_count,
    escalated_at, updated_at, consent_purpose, consent_text, consent_at, erased_at,
    engagement_score, phone_unparsed)
SELECT 'Lead ' || i, 'lead' || i || '@example.org', '+49301234' || i, 'Company ' || i,
    'Message of lead ' || i, (ARRAY['web','ads','partner'])[1 + i %% 3], 'ext-' || i,
    '{"pages": 3}'::jsonb,
    CASE WHEN i %% 1000 < 3 THEN 'new' WHEN i %% 3 = 0 THEN 'qualified'
         ELSE 'disqualified' END,
    NULL, now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval,
    now() - (i || ' minutes')::interval + interval '1 hour',
    now() - (i || ' minutes')::interval + interval '20 minutes', NULL, NULL, i %% 50, 0, NULL,
    now() - interval '1 day', 'Quote', 'You may contact me.', now(), NULL, 0, false
FROM generate_series(1, %(count)s) AS i
"""
ATTEMPTS_SQL = """
INSERT INTO leadfollow_contactattempt (lead_id, rep_id, channel, outcome, attempted_at, note,
    automated, created_at)
SELECT id, NULL, 'call', 'connected', first_contacted_at, 'Called ' || name, false, now()
FROM leadfollow_lead
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--due", type=int, default=2000)
    args = parser.parse_args()
    base = os.environ.get("PG_URL_BASE", "postgres://postgres@127.0.0.1:5432")
    name = os.environ.get("BENCH_DATABASE", "lf_bench_privacy")  # dropped and re-created
    import psycopg

    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = f"{base}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    from leadfollow import privacy

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(LEADS_SQL, {"count": args.leads})
        cursor.execute(ATTEMPTS_SQL)
        cursor.execute(
            "UPDATE leadfollow_lead SET updated_at = now() - interval '365 days' WHERE id IN "
            "(SELECT id FROM leadfollow_lead WHERE status = 'disqualified' ORDER BY id DESC "
            "LIMIT %s)",
            [args.due],
        )
        cursor.execute("ANALYZE")
    print(f"seeded {args.leads} leads + attempts in {time.perf_counter() - started:.1f} s")

    def timed(function) -> float:
        start = time.perf_counter()
        function()
        return (time.perf_counter() - start) * 1000

    # Closed people spread over the table (qualified: i % 3 == 0).
    people = [3 * (k * (args.leads // (3 * args.rounds)) + 1) for k in range(args.rounds)]
    by_email = [
        timed(
            lambda i=i: privacy.erase(privacy.find_leads(email=f"lead{i}@example.org"), force=True)
        )
        for i in people
    ]
    export = [
        timed(lambda i=i: privacy.export_leads(privacy.find_leads(lead_id=i + 3))) for i in people
    ]
    by_id = [
        timed(lambda i=i: privacy.erase(privacy.find_leads(lead_id=i + 3), force=True))
        for i in people
    ]
    print(f"erase one person by e-mail: p50 {statistics.median(by_email):.1f} ms")
    print(f"erase one lead by id:       p50 {statistics.median(by_id):.1f} ms")
    print(f"export one lead:            p50 {statistics.median(export):.1f} ms")
    with override_settings(LEADFOLLOW={"RETENTION_DAYS": {"disqualified": 180}}):
        dry = timed(lambda: privacy.apply_retention(dry_run=True))
        result = None

        def run():
            nonlocal result
            result = privacy.apply_retention()

        wet = timed(run)
    print(f"retention dry run over {args.due} due leads: {dry:.0f} ms")
    print(f"retention pass: {len(result.lead_ids)} leads, {result.records} rows in {wet:.0f} ms")
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")
    connection.close()
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")


if __name__ == "__main__":
    main()
