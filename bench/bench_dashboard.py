"""Benchmark: the managers' dashboard and the lead changelists over 1,000,000 leads.

    .venv/bin/python bench/bench_dashboard.py [--leads 1000000] [--reps 60] [--runs 5]
        [--reload] [--explain] [--server postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the PostgreSQL database ``lf_bench_dashboard`` (``LF_BENCH_DB`` names
another), migrates it, loads
the leads with ``INSERT … SELECT generate_series`` (a minute or so, once), then prints
the server time of each page through Django's test client (median of ``--runs``
warm runs) and its query count, plus the slowest queries. Figures only; nothing here is
asserted. Target: dashboard under 300 ms.

A reused database whose visibility map is mostly unset (e.g. loaded before migration
0006, the covering index) is vacuumed first, so the report's queries can be index-only
scans as they are on a table autovacuum keeps up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("LF_BENCH_DB", "lf_bench_dashboard")

# The lead mix follows the seeds' audit: 37% within 1 h (15% within 5 min), 16% within
# 1–24 h, 24% later, 23% never. Leads are spread evenly over the last 365 days; the
# 3,000 newest uncontacted, open ones are past their deadline (cold). The 20,000 newest
# are open; older ones are decided, qualified the more often the faster they were first
# contacted (45% within 5 min, 35% within 1 h, 15% within 24 h, 5% later, 1% never), a day
# to a fortnight after receipt (decided_at).
LOAD_LEADS = """
INSERT INTO leadfollow_lead (
    name, email, phone, company, message, source, external_id, attributes, status,
    owner_id, received_at, assigned_at, first_response_due, first_contacted_at,
    last_contacted_at, next_follow_up_at, score, reassignment_count, escalated_at, updated_at,
    decided_at, consent_purpose, consent_text, engagement_score, phone_unparsed
)
SELECT
    'Lead ' || g, 'lead' || g || '@example.org', '', 'Company ' || mod(g, 5000), '',
    (ARRAY['web', 'ads', 'referral', 'partner', 'chat'])[1 + mod(g, 5)], NULL, '{}'::jsonb,
    CASE WHEN contacted IS NULL AND g > %(n)s - 3500 THEN 'new'
         WHEN g > %(n)s - 20000 THEN 'working'
         WHEN mod(g * 7919::bigint, 100) < CASE WHEN r < 0.15 THEN 45 WHEN r < 0.37 THEN 35
                                      WHEN r < 0.53 THEN 15 WHEN r < 0.77 THEN 5 ELSE 1 END
             THEN 'qualified'
         ELSE 'disqualified' END,
    %(first_rep)s + mod(g, %(reps)s),
    received, received,
    CASE WHEN g > %(n)s - 500 THEN now() + make_interval(mins => mod(%(n)s - g, 60))
         ELSE received + interval '1 hour' END,
    contacted, contacted, NULL, mod(g * 37, 100), (mod(g, 7) = 0)::int, NULL, now(),
    CASE WHEN g <= %(n)s - 20000 AND NOT (contacted IS NULL AND g > %(n)s - 3500)
         THEN LEAST(now(),
                    received + make_interval(secs => 86400 + mod(g * 104729::bigint, 1209600)))
    END,
    '', '', 0, false
FROM (
    SELECT g, received, r,
        CASE WHEN r < 0.15 THEN received + make_interval(secs => 10 + r * 1500)
             WHEN r < 0.37 THEN received + make_interval(secs => 300 + (r - 0.15) * 14000)
             WHEN r < 0.53 THEN received + make_interval(secs => 3600 + (r - 0.37) * 500000)
             WHEN r < 0.77 THEN received + make_interval(secs => 86400 + (r - 0.53) * 800000)
        END AS planned
    FROM (
        SELECT g,
            now() - make_interval(secs => (%(n)s - g) * (365.0 * 86400 / %(n)s)) AS received,
            mod(g * 2654435761::bigint, 1000) / 1000.0 AS r
        FROM generate_series(1, %(n)s) AS g
    ) AS numbered
) AS base,
LATERAL (SELECT CASE WHEN planned < now() THEN planned END AS contacted) AS c
"""

INTAKE_COLUMNS = {
    "lead_id": "id",
    "to_rep_id": "owner_id",
    "reason": "'intake'",
    "created_at": "received_at",
    "first_response_due": "received_at + interval '1 hour'",
}
ASSIGNMENT_COLUMNS = {
    "lead_id": "id",
    "from_rep_id": "owner_id",
    "to_rep_id": "owner_id + 1",
    "reason": "'sla_breach'",
    "created_at": "received_at + interval '1 hour'",
    "first_response_due": "received_at + interval '90 minutes'",
}


def insert_select(model, known: dict[str, str], source_sql: str) -> tuple[str, list]:
    """``INSERT INTO table (cols) SELECT exprs FROM …``; columns not in ``known`` get
    their model default as a parameter, so fields added later don't break the bench."""
    from django.db.models import JSONField

    columns, exprs, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.column in known:
            exprs.append(known[field.column])
        else:
            default = field.get_default() if field.has_default() or not field.null else None
            if isinstance(field, JSONField) and default is not None:
                import json

                default = json.dumps(default)
            exprs.append("%s")
            params.append(default)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
    return sql + source_sql, params


def server_url(args) -> str:
    return args.server.rstrip("/")


def ensure_database(args) -> None:
    import psycopg

    with psycopg.connect(f"{server_url(args)}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and args.reload:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django(args) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server_url(args)}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def load(args) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from leadfollow import rollups
    from leadfollow.models import Lead, RepProfile

    call_command("migrate", verbosity=0)
    if Lead.objects.exists():
        print(f"reusing {DB_NAME} ({Lead.objects.count():,} leads); --reload to rebuild")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relallvisible, relpages FROM pg_class WHERE relname = 'leadfollow_lead'"
            )
            visible, pages = cursor.fetchone()
            if visible < pages / 2:  # e.g. loaded before the covering index's migration
                print("VACUUM ANALYZE leadfollow_lead (visibility map for index-only scans)")
                cursor.execute("VACUUM ANALYZE leadfollow_lead")
        return
    User = get_user_model()
    started = time.perf_counter()
    users = User.objects.bulk_create(
        User(username=f"rep{i:03d}", first_name="Rep", last_name=f"{i:03d}", is_active=True)
        for i in range(args.reps + 1)  # +1: from rep+1 in the assignment rows stays valid
    )
    RepProfile.objects.bulk_create(RepProfile(user=u, timezone="Europe/Berlin") for u in users)
    first = min(u.pk for u in users)
    with connection.cursor() as cursor:
        cursor.execute(LOAD_LEADS, {"n": args.leads, "first_rep": first, "reps": args.reps})
        from leadfollow.models import Assignment

        # Every lead has its intake row (as intake writes one), a seventh also a breach.
        cursor.execute(*insert_select(Assignment, INTAKE_COLUMNS, "FROM leadfollow_lead"))
        cursor.execute(
            *insert_select(
                Assignment,
                ASSIGNMENT_COLUMNS,
                "FROM leadfollow_lead WHERE reassignment_count > 0",
            )
        )
    print(f"loaded {Lead.objects.count():,} leads in {time.perf_counter() - started:.1f} s")
    # The load's INSERT fired the rollup trigger once per lead: fold the differences as the
    # leadfollow.rollups schedule would, then rebuild as the README asks after a bulk import
    # (compaction leaves the differences' dead rows behind in the table).
    started = time.perf_counter()
    keys = rollups.compact()
    print(f"compacted the rollup ({keys:,} keys) in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    rollups.rebuild()
    print(f"rebuilt the rollup in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        # VACUUM, not just ANALYZE: the visibility map is what lets the report's queries be
        # index-only scans of leadfollow_lead_report_idx (no heap fetch per lead).
        cursor.execute("VACUUM ANALYZE")


def manager():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def time_page(client, url: str, runs: int):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm: caches, templates, plans
    timings, captured = [], None
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        captured = ctx.captured_queries
    return statistics.median(timings), min(timings), captured


def report(name, median, best, queries, top=4) -> None:
    db_ms = sum(float(q["time"]) for q in queries) * 1000
    print(
        f"{name:<34} median {median:7.1f} ms  best {best:7.1f} ms  queries {len(queries):3d}"
        f"  (SQL {db_ms:6.1f} ms)"
    )
    for q in sorted(queries, key=lambda q: -float(q["time"]))[:top]:
        print(f"    {float(q['time']) * 1000:7.1f} ms  {q['sql'][:150]}")


def explain(queries, top=2) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for q in sorted(queries, key=lambda q: -float(q["time"]))[:top]:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
            print("\n".join(row[0] for row in cursor.fetchall()))
            print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reload", action="store_true", help="drop and reload the database")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest queries")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    ensure_database(args)
    setup_django(args)
    load(args)

    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(manager())
    pages = [
        ("dashboard (default 30 days)", reverse("admin:leadfollow_dashboard")),
        (
            "dashboard (365 days)",
            reverse("admin:leadfollow_dashboard")
            + "?start="
            + _days_ago(364)
            + "&end="
            + _days_ago(0),
        ),
        ("dashboard, one source", reverse("admin:leadfollow_dashboard") + "?source=ads"),
        ("report CSV", reverse("admin:leadfollow_dashboard_report_csv")),
        ("cold list CSV", reverse("admin:leadfollow_dashboard_cold_csv")),
        ("cold-lead changelist", reverse("admin:leadfollow_coldlead_changelist")),
        ("lead changelist", reverse("admin:leadfollow_lead_changelist")),
        ("lead changelist, page 200", reverse("admin:leadfollow_lead_changelist") + "?p=200"),
        ("lead changelist, search", reverse("admin:leadfollow_lead_changelist") + "?q=lead77"),
    ]
    from leadfollow.models import Lead

    print(f"{Lead.objects.count():,} leads, {Lead.objects.cold().count():,} cold now")
    print(
        f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores"
    )
    slowest = None
    for name, url in pages:
        median, best, queries = time_page(client, url, args.runs)
        report(name, median, best, queries)
        if slowest is None and name.startswith("dashboard"):
            slowest = queries
    median, best, queries = time_plain_changelist(args.runs)
    report("plain ModelAdmin changelist", median, best, queries)
    if args.explain and slowest:
        explain(slowest)


def time_plain_changelist(runs: int):
    """What Django's admin gives out of the box: ``admin.ModelAdmin`` for Lead, no
    tuning (two full COUNT(*)s, the default paginator): the yardstick for "fast enough"."""
    from django.contrib import admin
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from leadfollow.models import Lead

    site = admin.AdminSite(name="plain")
    model_admin = admin.ModelAdmin(Lead, site)
    user = manager()

    def once():
        request = RequestFactory().get("/plain/leadfollow/lead/")
        request.user = user
        response = model_admin.changelist_view(request)
        response.render()
        return response

    once()
    timings, captured = [], None
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = once()
            timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        captured = ctx.captured_queries
    return statistics.median(timings), min(timings), captured


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


if __name__ == "__main__":
    main()
