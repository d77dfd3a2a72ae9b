"""Benchmark: bulk rescoring of 1,000,000 leads with 50 rules, against a Python loop.

    .venv/bin/python bench/bench_scoring.py [--leads 1000000] [--rules 50] [--sample 50000]
        [--batch 5000] [--reload] [--server postgres://postgres@127.0.0.1:5432]

Creates (or reuses) the PostgreSQL database ``lf_bench_scoring``, migrates it and loads the
leads with ``INSERT … SELECT generate_series`` (varied attributes: numbers, numeric texts,
booleans, nested objects, missing keys). Then prints:

* the SQL rescoring of every lead (``leadfollow.scoring.rescore_leads``, batches of
  ``--batch`` leads, one ``UPDATE … SET score = CASE … END + …`` each), run twice: once
  when every score changes, once when none does (only the WHERE is evaluated);
* the Python loop (``score_lead`` per lead) timed on ``--sample`` leads and extrapolated
  linearly to all leads — once for scoring alone, once with fetching the rows and writing
  the scores back (``bulk_update``), which is what a Python rescoring would really cost;
* whether both evaluators agree on the sample (they must: 0 differences);
* the admin's "matches N open leads" aggregate for all rules and ``by_urgency`` over
  100,000 open leads (first page).

Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "lf_bench_scoring"

KNOWN_COLUMNS = {
    "name": "'Lead ' || g",
    "email": "'lead' || g || '@' || (ARRAY['example.org', 'gmail.com', 'acme.de', 'Yahoo.com'])"
    "[1 + mod(g, 4)]",
    "phone": "''",
    "company": "(ARRAY['Acme GmbH', 'acme inc', 'Globex', '', 'Initech AG'])[1 + mod(g, 5)]",
    "message": "''",
    "source": "(ARRAY['web', 'ads', 'partner', 'chat', 'referral'])[1 + mod(g * 7, 5)]",
    "external_id": "NULL",
    "attributes": """jsonb_strip_nulls(jsonb_build_object(
        'company_size', CASE WHEN mod(g, 10) < 7 THEN to_jsonb(mod(g * 13, 3000))
                             WHEN mod(g, 10) < 9 THEN to_jsonb(mod(g * 13, 3000)::text) END,
        'budget', CASE WHEN mod(g, 3) = 0 THEN to_jsonb(mod(g * 31, 60000) / 2.0) END,
        'country', (ARRAY['DE', 'de', 'AT', 'US', 'ch', NULL])[1 + mod(g * 3, 6)],
        'pages_viewed', mod(g * 17, 41),
        'newsletter', CASE WHEN mod(g, 4) = 0 THEN to_jsonb(mod(g, 8) = 0) END,
        'utm', CASE WHEN mod(g, 2) = 0 THEN jsonb_build_object(
            'source', (ARRAY['google', 'linkedin', 'Newsletter', 'bing'])[1 + mod(g, 4)],
            'campaign', (ARRAY['spring-offer', 'brand', 'Spring-Sale', 'retargeting'])
                        [1 + mod(g * 5, 4)]) END
    ))""",
    "status": "(ARRAY['new', 'working', 'working', 'qualified', 'disqualified'])[1 + mod(g, 5)]",
    "owner_id": "NULL",
    "received_at": "now() - make_interval(secs => g * 30)",
    "score": "0",
    "reassignment_count": "0",
    "updated_at": "now()",
}

TEMPLATES = [
    ("attributes.company_size", "gte", [50, 200, 500, 1000, 2000], 5),
    ("attributes.company_size", "lt", [10, 20], -5),
    ("attributes.budget", "gte", [5000, 10000, 20000], 5),
    ("attributes.budget", "lte", [1000], -3),
    ("attributes.pages_viewed", "gt", [3, 5, 10, 20, 30], 2),
    ("attributes.country", "in", [["de", "at", "ch"], ["us"], ["DE"]], 4),
    ("attributes.country", "eq", ["DE", "us", "fr"], 3),
    ("attributes.country", "ne", ["de"], -1),
    ("attributes.newsletter", "eq", [True, False], 2),
    ("attributes.utm.source", "eq", ["google", "linkedin", "newsletter"], 3),
    ("attributes.utm.campaign", "startswith", ["spring", "brand"], 4),
    ("attributes.utm.campaign", "contains", ["offer", "sale", "target"], 2),
    ("attributes.utm", "exists", [None], 1),
    ("attributes.budget", "exists", [None], 2),
    ("source", "eq", ["ads", "partner"], 10),
    ("source", "in", [["web", "chat"]], 1),
    ("email_domain", "in", [["gmail.com", "yahoo.com"]], -5),
    ("email_domain", "eq", ["acme.de"], 6),
    ("company", "contains", ["gmbh", "inc", " ag"], 3),
    ("company", "startswith", ["acme"], 4),
    ("company", "exists", [None], 1),
]


def make_rules(count: int):
    from leadfollow.models import ScoringRule

    rules = []
    while len(rules) < count:
        for path, op, values, points in TEMPLATES:
            for value in values:
                if len(rules) < count:
                    rules.append(ScoringRule(
                        name=f"{path} {op} {value}", field_path=path, operator=op, value=value,
                        points=points + len(rules) % 3, active=True,
                    ))  # fmt: skip
    for rule in rules:
        rule.full_clean()
    return rules


def ensure_database(server: str, reload: bool) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and reload:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def setup_django(server: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def load(leads: int) -> None:
    import json

    from django.core.management import call_command
    from django.db import connection
    from django.db.models import JSONField

    from leadfollow.models import Lead

    call_command("migrate", verbosity=0)
    if Lead.objects.exists():
        print(f"reusing {DB_NAME} ({Lead.objects.count():,} leads); --reload to rebuild")
        return
    columns, exprs, params = [], [], []
    for field in Lead._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.column in KNOWN_COLUMNS:
            exprs.append(KNOWN_COLUMNS[field.column])
        else:  # a field added after this script: its default
            default = field.get_default() if field.has_default() or not field.null else None
            if isinstance(field, JSONField) and default is not None:
                default = json.dumps(default)
            exprs.append("%s")
            params.append(default)
    sql = (
        f"INSERT INTO {Lead._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
        f"FROM generate_series(1, {int(leads)}) AS g"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("ANALYZE leadfollow_lead")
    print(f"loaded {leads:,} leads in {time.perf_counter() - started:.1f} s")


def timed(label: str, function):
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    print(f"{label:<58} {elapsed:8.2f} s")
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    server = args.server.rstrip("/")
    ensure_database(server, args.reload)
    setup_django(server)
    load(args.leads)

    from django.db import connection
    from django.utils import timezone

    from leadfollow.models import Lead
    from leadfollow.scoring import match_counts, rescore_leads, score_lead

    rules = make_rules(args.rules)
    for number, rule in enumerate(rules, 1):
        rule.pk = number  # unsaved: saving would queue the rescore task
    total = Lead.objects.count()
    print(f"{total:,} leads, {len(rules)} rules, batches of {args.batch:,}; PostgreSQL "
          f"{connection.pg_version // 10000}")  # fmt: skip
    Lead.objects.update(score=-1)  # every score changes on the first run, whatever was there

    changed, sql_seconds = timed(
        "SQL: rescore all leads (every score changes)",
        lambda: rescore_leads(Lead.objects.all(), rules=rules, batch_size=args.batch),
    )
    print(f"{'':<4}{changed:,} scores written, {total / sql_seconds:,.0f} leads/s")
    timed(
        "SQL: rescore all leads again (nothing changes)",
        lambda: rescore_leads(Lead.objects.all(), rules=rules, batch_size=args.batch),
    )

    sample_ids = list(
        Lead.objects.order_by("pk").values_list("pk", flat=True)[: args.sample]
    )  # the first --sample leads: the attribute mix repeats every 60 rows
    last = sample_ids[-1]
    fields = ("id", "email", "company", "source", "status", "name", "phone", "message",
              "attributes", "score")  # fmt: skip

    def fetch():
        return list(Lead.objects.filter(pk__lte=last).only(*fields).order_by("pk"))

    sample, fetch_seconds = timed(f"Python: fetch {len(sample_ids):,} leads", fetch)
    scores, loop_seconds = timed(
        f"Python: score_lead() on {len(sample):,} leads",
        lambda: [score_lead(lead, rules) for lead in sample],
    )
    for lead, score in zip(sample, scores, strict=True):
        lead.score = score + 1  # a change, so the write is real
    _none, write_seconds = timed(
        f"Python: bulk_update {len(sample):,} scores",
        lambda: Lead.objects.bulk_update(sample, ["score"], batch_size=args.batch),
    )
    rescore_leads(Lead.objects.filter(pk__lte=last), rules=rules, batch_size=args.batch)
    database = dict(Lead.objects.filter(pk__lte=last).values_list("pk", "score"))
    disagree = sum(1 for lead, s in zip(sample, scores, strict=True) if database[lead.pk] != s)

    factor = total / len(sample)
    loop_all = loop_seconds * factor
    full_all = (fetch_seconds + loop_seconds + write_seconds) * factor
    print()
    print(f"Python loop extrapolated ×{factor:.0f} from {len(sample):,} leads to {total:,}:")
    print(f"    scoring alone                      {loop_all:8.1f} s  "
          f"→ SQL is {loop_all / sql_seconds:5.1f}× faster")  # fmt: skip
    print(f"    fetch + score + write back         {full_all:8.1f} s  "
          f"→ SQL is {full_all / sql_seconds:5.1f}× faster")  # fmt: skip
    print(f"Python and SQL disagree on {disagree} of {len(sample):,} sampled leads")
    print()

    open_leads = Lead.objects.open().count()
    timed(f"admin column: match counts of {len(rules)} rules over {open_leads:,} open leads",
          lambda: match_counts(rules))  # fmt: skip
    now = timezone.now()
    hundred_k = Lead.objects.open().filter(pk__lte=Lead.objects.open().order_by("pk")
                                           .values_list("pk", flat=True)[99_999])  # fmt: skip
    timed("by_urgency: first 50 of 100,000 open leads (one query)",
          lambda: list(hundred_k.by_urgency(now).values_list("pk", flat=True)[:50]))  # fmt: skip
    timed("by_urgency: all 100,000 open leads in order (one query)",
          lambda: list(hundred_k.by_urgency(now).values_list("pk", flat=True)))  # fmt: skip


if __name__ == "__main__":
    main()
