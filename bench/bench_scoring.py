"""Benchmark: rescoring leads with 50 rules in SQL, against a Python loop + bulk_update.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lf_bench_scoring \\
        .venv/bin/python bench/bench_scoring.py [--leads 1000000] [--open 3000]
        [--all-open 100000] [--rules 50] [--rounds 3] [--sample 20000] [--batch 5000] [--reload]

Two PostgreSQL databases, created (or reused; ``--reload`` rebuilds them), migrated and
loaded with ``INSERT … SELECT generate_series``:

* ``<name>``: a realistic table of ``--leads`` leads — almost all closed or contacted long
  ago, the newest ``--open`` (plus one in 1,000 older ones still being worked) open, with
  owners, deadlines and varied ``attributes`` (numbers, numeric texts, booleans, nested
  objects, lists, missing keys). Rescoring applies to open leads
  (``leadfollow.scoring.rescore_open_leads``), so this measures what the product does;
* ``<name>_open``: ``--all-open`` leads, all open — the case the performance issue measured.

Each case, in ``--rounds`` interleaved rounds (medians printed):

* **full rescore**: every open lead's score is wrong (set to -1 first);
  ``rescore_leads(Lead.objects.open())``, against the Python baseline: fetch the open
  leads, ``score_lead()`` each, ``bulk_update`` the scores (timed on ``--sample`` leads and
  extrapolated linearly when there are more);
* **one rule edited**: scores current, then one rule's threshold changes; SQL rescoring
  writes only the leads whose score moves; the Python baseline fetches and scores every
  open lead and ``bulk_update``\\ s only the changed ones (the fair comparison), its ratio
  against the full Python baseline is printed too;
* **nothing changed**: a second rescore (writes nothing).

How the SQL statement runs (``leadfollow.scoring.PostgreSQLRescore``): three derived tables,
each behind ``OFFSET 0`` so PostgreSQL cannot flatten it into the next — (a) reads the
batch's rows and extracts each distinct JSON path once (``attributes #> '{path}'``), (b)
derives per path what the rules read (folded text, number, kind), (c) computes the score
once; the UPDATE joins (c) on the primary key, restricted to the batch's key range, and
writes only ``WHERE old_score IS DISTINCT FROM new_score``. Django's plain
``.filter(~Q(score=<expr>)).update(score=<expr>)`` (what SQLite runs) computes the expression
twice per row and repeats each path lookup in every rule; the bench prints both plans'
count of JSON path lookups and where the score is computed (``EXPLAIN (ANALYZE, VERBOSE)``).

Also printed: machine load (``os.getloadavg()``) before and after, table and index sizes,
fillfactor, the share of HOT updates, and whether the Python and SQL evaluators agree
(they must: 0 differences). Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lf_bench_scoring"

ATTRIBUTES = """jsonb_strip_nulls(jsonb_build_object(
    'company_size', CASE WHEN mod(g, 10) < 7 THEN to_jsonb(mod(g * 13, 3000))
                         WHEN mod(g, 10) < 9 THEN to_jsonb(mod(g * 13, 3000)::text) END,
    'budget', CASE WHEN mod(g, 3) = 0 THEN to_jsonb(mod(g * 31, 60000) / 2.0) END,
    'country', (ARRAY['DE', 'de', 'AT', 'US', 'ch', NULL])[1 + mod(g * 3, 6)],
    'pages_viewed', mod(g * 17, 41),
    'newsletter', CASE WHEN mod(g, 4) = 0 THEN to_jsonb(mod(g, 8) = 0) END,
    'industry', (ARRAY['software', 'retail', 'Manufacturing', NULL])[1 + mod(g * 11, 4)],
    'tags', CASE WHEN mod(g, 5) = 0 THEN jsonb_build_array('demo', mod(g, 7)) END,
    'utm', CASE WHEN mod(g, 2) = 0 THEN jsonb_build_object(
        'source', (ARRAY['google', 'linkedin', 'Newsletter', 'bing'])[1 + mod(g, 4)],
        'campaign', (ARRAY['spring-offer', 'brand', 'Spring-Sale', 'retargeting'])
                    [1 + mod(g * 5, 4)]) END
))"""

# %(n)s: leads; %(open)s: how many of the newest are open; %(owners)s: an ARRAY of user ids.
# Open: new (uncontacted, deadline) or working (contacted, follow-up due); closed leads were
# contacted and qualified or disqualified.
IS_OPEN = "(g > %(n)s - %(open)s OR mod(g, 1000) = 0)"
KNOWN_COLUMNS = {
    "name": "'Lead ' || g",
    "email": "'lead' || g || '@' || (ARRAY['example.org', 'gmail.com', 'acme.de', 'Yahoo.com'])"
    "[1 + mod(g, 4)]",
    "phone": "'+49 30 ' || g",
    "company": "(ARRAY['Acme GmbH', 'acme inc', 'Globex', '', 'Initech AG'])[1 + mod(g, 5)]",
    "message": "'Please call me back about offer ' || mod(g, 97)",
    "source": "(ARRAY['web', 'ads', 'partner', 'chat', 'referral'])[1 + mod(g * 7, 5)]",
    "external_id": "'ext-' || g",
    "attributes": ATTRIBUTES,
    "status": f"CASE WHEN {IS_OPEN} THEN (ARRAY['new', 'working'])[1 + mod(g, 2)] "
    "ELSE (ARRAY['qualified', 'disqualified', 'disqualified'])[1 + mod(g, 3)] END",
    "owner_id": "(%(owners)s)[1 + mod(g, cardinality(%(owners)s))]",
    "received_at": "now() - make_interval(secs => (%(n)s - g) * 30)",
    "assigned_at": "now() - make_interval(secs => (%(n)s - g) * 30 - 5)",
    "first_response_due": "now() - make_interval(secs => (%(n)s - g) * 30 - 1800)",
    "first_contacted_at": f"CASE WHEN {IS_OPEN} AND mod(g, 2) = 0 THEN NULL "
    "ELSE now() - make_interval(secs => (%(n)s - g) * 30 - 600) END",
    "last_contacted_at": f"CASE WHEN {IS_OPEN} AND mod(g, 2) = 0 THEN NULL "
    "ELSE now() - make_interval(secs => (%(n)s - g) * 30 - 900) END",
    "next_follow_up_at": f"CASE WHEN {IS_OPEN} AND mod(g, 2) = 1 THEN now() + "
    "make_interval(secs => mod(g, 86400)) END",
    "score": "0",
    "reassignment_count": "0",
    "escalated_at": "NULL",
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
    for number, rule in enumerate(rules, 1):
        rule.full_clean()
        rule.pk = number  # unsaved: saving would queue the rescore task
    return rules


def edited(rules):
    """The rules after a manager edits one: "company_size ≥ 500" becomes "≥ 400"."""
    from copy import copy

    changed = [copy(rule) for rule in rules]
    target = next(
        r for r in changed if r.field_path == "attributes.company_size" and r.value == 500
    )
    target.value = 400
    return changed


def split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="")), parts.path.lstrip("/")


def ensure_database(server: str, name: str, reload: bool) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reload:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(server: str, names: dict[str, str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{names['default']}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)
    import django
    from django.conf import settings

    settings.DATABASES["open"] = {**settings.DATABASES["default"], "NAME": names["open"]}
    django.setup()


def load(alias: str, leads: int, open_leads: int) -> None:
    import json

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import JSONField

    from leadfollow.models import Lead

    call_command("migrate", database=alias, verbosity=0)
    if Lead.objects.using(alias).exists():
        print(f"reusing {alias} ({Lead.objects.using(alias).count():,} leads); --reload rebuilds")
        return
    users = get_user_model().objects.db_manager(alias)
    owners = [users.create_user(f"rep{n}", f"rep{n}@example.com").pk for n in range(12)]
    values = {"n": int(leads), "open": int(open_leads), "owners": f"ARRAY{owners}::bigint[]"}
    columns, exprs, params = [], [], []
    for field in Lead._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        if field.column in KNOWN_COLUMNS:
            exprs.append(KNOWN_COLUMNS[field.column] % values)
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
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute("VACUUM ANALYZE leadfollow_lead")
    print(f"loaded {leads:,} leads into {alias} in {time.perf_counter() - started:.1f} s")


def sizes(alias: str) -> str:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_table_size('leadfollow_lead')), "
            "pg_size_pretty(pg_indexes_size('leadfollow_lead')), "
            "(SELECT count(*) FROM pg_index WHERE indrelid = 'leadfollow_lead'::regclass), "
            "(SELECT reloptions FROM pg_class WHERE oid = 'leadfollow_lead'::regclass)"
        )
        table, indexes, count, options = cursor.fetchone()
    return f"table {table}, {count} indexes {indexes}, options {options or 'default'}"


def hot_counts(alias: str) -> tuple[int, int]:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = 'leadfollow_lead'"
        )
        return cursor.fetchone()


def plan_summary(alias: str, sql: str, params, copies_of_first_rule: int) -> tuple:
    """(JSON path lookups, places the score's first rule appears, ms) in one batch's plan,
    rolled back."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
        cursor.execute("ROLLBACK")
    plan = plan[0] if isinstance(plan, list) else plan

    texts = []

    def walk(node):
        texts.extend(node.get("Output", []))
        texts.extend(v for k, v in node.items() if isinstance(v, str) and k != "Node Type")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    text = "\n".join(texts)
    # "#>" with a non-empty path is a lookup; "#>> '{}'" only turns the value into text.
    lookups = len(re.findall(r"#>>? '\{[^}]", text))
    # "company_size ≥ 50" (the rule set repeats it: 50 rules from 45 templates).
    marker = "'50'::double precision"
    return lookups, text.count(marker) / copies_of_first_rule, plan["Execution Time"]


def show_plans(alias: str, rules, batch: int) -> None:
    from django.db.models import Q
    from django.db.models.sql import UpdateQuery

    from leadfollow.models import Lead
    from leadfollow.scoring import PostgreSQLRescore, score_expression

    first = Lead.objects.using(alias).open().order_by("pk").values_list("pk", flat=True)
    lower = first[0] - 1
    upper = first[batch - 1] if first.count() >= batch else first.last()
    window = Lead.objects.using(alias).open().filter(pk__gt=lower, pk__lte=upper)
    sql, params = PostgreSQLRescore(alias, rules).statement(window, lower, upper)
    copies = sum(1 for r in rules if r.field_path == "attributes.company_size" and r.value == 50)
    ours = plan_summary(alias, sql, params, copies)
    score = score_expression(rules)
    naive = window.filter(~Q(score=score)).query.chain(UpdateQuery)
    naive.add_update_values({"score": score})
    naive_sql, naive_params = naive.get_compiler(alias).as_sql()
    plain = plan_summary(alias, naive_sql, naive_params, copies)
    rows = window.count()
    print(f"EXPLAIN (ANALYZE, VERBOSE) of one batch ({rows:,} leads, scores current):")
    print(f"    {'':<44} {'path lookups':>12} {'score computed':>15} {'time':>9}")
    for label, (lookups, places, ms) in (
        ("PostgreSQLRescore (derived tables, OFFSET 0)", ours),
        ("Django .filter(~Q(score=e)).update(score=e)", plain),
    ):
        print(f"    {label:<44} {lookups:>12} {places:>14.0f}× {ms:>7.0f} ms")
    print("    (path lookups: '#>' operators with a path in the plan, each evaluated once per")
    print("    row; score computed: how often the plan spells out the score expression)")


def python_rescore(alias: str, rules, sample: int, only_changed: bool) -> tuple[float, int, int]:
    """(seconds for fetch + score_lead + bulk_update over ``sample`` open leads, leads,
    leads written)."""
    from leadfollow.models import Lead
    from leadfollow.scoring import score_lead

    # Every column score_lead() reads: a deferred one (engagement_score was) costs a query
    # per lead and made this baseline twice as slow as it is.
    fields = ("id", "email", "company", "source", "status", "name", "phone", "message",
              "attributes", "score", "engagement_score")  # fmt: skip
    opened = Lead.objects.using(alias).open().order_by("pk")
    last = opened.values_list("pk", flat=True)[sample - 1 : sample].first()
    queryset = opened if last is None else opened.filter(pk__lte=last)
    started = time.perf_counter()
    leads = list(queryset.only(*fields))
    changed = []
    for lead in leads:
        score = score_lead(lead, rules)
        if not only_changed or score != lead.score:
            lead.score = score
            changed.append(lead)
    Lead.objects.using(alias).bulk_update(changed, ["score"], batch_size=5000)
    return time.perf_counter() - started, len(leads), len(changed)


def sql_rescore(alias: str, rules, batch: int, changes=None) -> tuple[float, int]:
    """Every open lead (``rescore_open_leads``), or with ``changes`` (the edited rule's
    definitions before and after) what the rule-change task runs."""
    from leadfollow.models import Lead
    from leadfollow.scoring import rescore_leads, rescore_rule_changes

    opened = Lead.objects.using(alias).open()
    started = time.perf_counter()
    if changes is None:
        changed = rescore_leads(opened, rules=rules, batch_size=batch)
    else:
        changed = rescore_rule_changes(changes, rules=rules, queryset=opened, batch_size=batch)
    return time.perf_counter() - started, changed


def run_case(alias: str, label: str, rules, args) -> dict:
    from leadfollow.models import Lead
    from leadfollow.scoring import rescore_leads, rule_definition, score_lead

    opened = Lead.objects.using(alias).open()
    open_count, total = opened.count(), Lead.objects.using(alias).count()
    factor = max(open_count / min(args.sample, open_count), 1.0)
    print(f"\n== {label}: {total:,} leads, {open_count:,} open; {sizes(alias)}")
    show_plans(alias, rules, args.batch)
    after = edited(rules)
    # What the rule-change task receives: the edited rule's definition before and after.
    changes = [
        [rule_definition(old), rule_definition(new)]
        for old, new in zip(rules, after, strict=True)
        if rule_definition(old) != rule_definition(new)
    ]
    times = {k: [] for k in ("sql_full", "py_full", "sql_edit", "sql_all_edit", "py_edit",
                             "sql_none")}  # fmt: skip
    counts, mismatches = {}, 0
    upd0, hot0 = hot_counts(alias)
    for _round in range(args.rounds):
        opened.update(score=-1)
        seconds, leads, written = python_rescore(alias, rules, args.sample, only_changed=False)
        times["py_full"].append(seconds * factor)
        counts["py_full"] = (leads, written)
        opened.update(score=-1)
        seconds, counts["sql_full"] = sql_rescore(alias, rules, args.batch)
        times["sql_full"].append(seconds)
        seconds, counts["sql_edit"] = sql_rescore(alias, after, args.batch, changes)
        times["sql_edit"].append(seconds)
        targeted = dict(opened.values_list("pk", "score"))
        rescore_leads(opened, rules=rules, batch_size=args.batch)  # back to before the edit
        seconds, counts["sql_all_edit"] = sql_rescore(alias, after, args.batch)
        times["sql_all_edit"].append(seconds)
        # The rule-change task must leave every score as rescoring everything does.
        full_scores = dict(opened.values_list("pk", "score"))
        mismatches += sum(1 for pk, score in full_scores.items() if targeted.get(pk) != score)
        seconds, counts["sql_none"] = sql_rescore(alias, after, args.batch)
        times["sql_none"].append(seconds)
        rescore_leads(opened, rules=rules, batch_size=args.batch)  # back to before the edit
        seconds, leads, written = python_rescore(alias, after, args.sample, only_changed=True)
        times["py_edit"].append(seconds * factor)
        counts["py_edit"] = (leads, written)
    upd1, hot1 = hot_counts(alias)
    medians = {k: statistics.median(v) for k, v in times.items()}
    sample = list(opened.order_by("pk")[: min(args.sample, 5000)])
    rescore_leads(opened, rules=rules, batch_size=args.batch)
    stored = dict(opened.values_list("pk", "score"))
    disagree = sum(1 for lead in sample if score_lead(lead, rules) != stored[lead.pk])

    extrapolated = f" (×{factor:.1f} from {counts['py_full'][0]:,})" if factor > 1 else ""
    print(f"medians of {args.rounds} rounds, {len(rules)} rules, batches of {args.batch:,}:")
    rows = [
        ("full rescore, SQL", medians["sql_full"], f"{counts['sql_full']:,} written"),
        ("full rescore, Python loop + bulk_update" + extrapolated, medians["py_full"], ""),
        ("one rule edited, SQL (the rule-change task)", medians["sql_edit"],
         f"{counts['sql_edit']:,} written"),
        ("one rule edited, SQL over every open lead (before)", medians["sql_all_edit"],
         f"{counts['sql_all_edit']:,} written"),
        ("one rule edited, Python, bulk_update of changed" + extrapolated, medians["py_edit"],
         f"{counts['py_edit'][1]:,} of {counts['py_edit'][0]:,} written"),
        ("nothing changed, SQL", medians["sql_none"], f"{counts['sql_none']:,} written"),
    ]  # fmt: skip
    for name, seconds, note in rows:
        print(f"    {name:<62} {seconds:8.3f} s  {note}")
    full = medians["py_full"] / medians["sql_full"]
    edit = medians["py_edit"] / medians["sql_edit"]
    edit_full = medians["py_full"] / medians["sql_edit"]
    print(f"    ratio full rescore: SQL {full:.1f}× faster than Python + bulk_update")
    print(f"    ratio one rule edited: SQL {edit:.1f}× faster than Python writing only changes, "
          f"{edit_full:.1f}× than the full Python baseline")  # fmt: skip
    updates, hot = upd1 - upd0, hot1 - hot0
    print(f"    HOT updates: {hot:,} of {updates:,} ({100 * hot / max(updates, 1):.0f} %)")
    print(f"    Python and SQL disagree on {disagree} of {len(sample):,} sampled leads")
    print(f"    the rule-change task and a full rescore disagree on {mismatches} scores "
          f"({args.rounds} rounds × {open_count:,} open leads)")  # fmt: skip
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=1_000_000, help="realistic table")
    parser.add_argument("--open", type=int, default=3000, help="newest leads still open")
    parser.add_argument("--all-open", type=int, default=100_000, help="all-open table")
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000, help="Python baseline's leads")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    server, name = split_url(os.environ.get("DATABASE_URL", DEFAULT_URL))
    names = {"default": name or "lf_bench_scoring", "open": f"{name or 'lf_bench_scoring'}_open"}
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)} "
          f"({os.cpu_count()} cores)")  # fmt: skip
    for database in names.values():
        ensure_database(server, database, args.reload)
    setup_django(server, names)
    load("default", args.leads, args.open)
    load("open", args.all_open, args.all_open)

    from django.db import connection

    print(f"PostgreSQL {connection.pg_version // 10000}")
    rules = make_rules(args.rules)
    run_case("default", f"realistic ({names['default']})", rules, args)
    run_case("open", f"all open ({names['open']})", rules, args)

    from django.utils import timezone

    from leadfollow.models import Lead
    from leadfollow.scoring import match_counts

    started = time.perf_counter()
    match_counts(rules, Lead.objects.using("open").open())
    print(f"\nadmin column: match counts of {len(rules)} rules over {args.all_open:,} open leads "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    started = time.perf_counter()
    list(Lead.objects.using("open").by_urgency(timezone.now()).values_list("pk", flat=True)[:50])
    print(f"by_urgency: first 50 of {args.all_open:,} open leads "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
