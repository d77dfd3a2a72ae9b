"""Benchmark: engagement event ingest (POST /api/events/, batches of 500) against a bare
``bulk_create`` of the same rows, and the hourly decay pass.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lf_bench_engagement \\
        .venv/bin/python bench/bench_engagement.py [--leads 1000000] [--rounds 7] [--batches 4]

PostgreSQL (a throw-away ``test_…`` database is created and dropped, its leads and three
events per lead seeded in SQL: ~3.5 min for a million), in-process with the Django test
client (no HTTP server). Each round posts ``--batches`` batches of 500 events
(spread over 250 leads, named by id, e-mail and external id; a few duplicates, unknown
leads and invalid items) through the API — authentication, validation, lead lookup,
idempotency, the INSERT, rescoring every touched lead under row locks — and then inserts
the same rows with a bare ``EngagementEvent.objects.bulk_create`` (one transaction per
batch). Rounds are interleaved; medians are printed with their ratio. Also: queries per
batch at 10 and 500 events, and the decay pass over the table (all rows once, then a
second pass that must write nothing). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
if "postgres" not in os.environ.get("DATABASE_URL", ""):
    sys.exit("Set DATABASE_URL=postgres://… (the benchmark is for PostgreSQL).")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_databases,
    setup_test_environment,
    teardown_databases,
)
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from leadfollow.engagement import decay_engagement  # noqa: E402
from leadfollow.models import EngagementEvent, EngagementRule, EventType, Lead  # noqa: E402
from tests.factories import make_api_key  # noqa: E402

SETTINGS = {
    "LEADFOLLOW": {
        "TIME_ZONE": "Europe/Berlin",
        "API_INTAKE_THROTTLE_RATE": None,
        "NOTIFY_ON_ASSIGNMENT": False,
        "HOT_SCORE_THRESHOLD": None,  # heat-ups are rare; their moves are not ingest's cost
    },
}
BATCH = 500
TYPES = [t for t in EventType.values if t != "form_repeat"]
counter = iter(range(10**9))


LEADS_SQL = """
INSERT INTO leadfollow_lead (name, email, phone, company, message, source, external_id,
    attributes, status, owner_id, received_at, assigned_at, first_response_due,
    first_contacted_at, last_contacted_at, next_follow_up_at, score, reassignment_count,
    escalated_at, updated_at, consent_purpose, consent_text, consent_at, erased_at,
    engagement_score, phone_unparsed)
SELECT 'Lead ' || i, 'lead' || i || '@example.org', '', '', '', 'ads', 'x' || i, '{}'::jsonb,
    'new', NULL, now() - interval '30 days', NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, now(),
    '', '', NULL, NULL, 0, false
FROM generate_series(1, %(count)s) AS i
"""
# Three events per lead over the last month, of the types the batches send.
EVENTS_SQL = """
INSERT INTO leadfollow_engagementevent (lead_id, type, occurred_at, recorded_at, source,
    idempotency_id, properties)
SELECT l.id, (%(types)s::text[])[1 + floor(random() * %(n_types)s)::int],
    now() - random() * interval '30 days', now(), 'seed', NULL, '{}'::jsonb
FROM leadfollow_lead l CROSS JOIN generate_series(1, 3)
"""


def seed(leads: int) -> list[tuple[int, str, str]]:
    """Leads with e-mails and external ids, 3 engagement rules, a month of history; in SQL
    (``INSERT … SELECT generate_series``: a million leads in about a minute)."""
    # The rules first: saving one queues a decay pass (run inline here), cheap on no leads.
    for event_type, n, days, points in (("pricing_view", 3, 7, 15), ("email_click", 2, 14, 5),
                                        ("meeting_booked", 1, 30, 30)):  # fmt: skip
        EngagementRule.objects.create(name=f"{n} {event_type}", event_type=event_type,
                                      min_events=n, within_days=days, points=points)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(LEADS_SQL, {"count": leads})
        cursor.execute(EVENTS_SQL, {"types": TYPES, "n_types": len(TYPES)})
        cursor.execute("ANALYZE leadfollow_lead")
        cursor.execute("ANALYZE leadfollow_engagementevent")
    return list(Lead.objects.values_list("pk", "email", "external_id"))


def batch(rows, size: int = BATCH) -> list[dict]:
    """``size`` events over 250 leads: by id mostly, some by e-mail or external id; ~1%
    duplicates, unknown leads and invalid items."""
    chosen = random.sample(rows, 250)
    now = timezone.now()
    events = []
    for i in range(size):
        pk, email, external = chosen[i % len(chosen)]
        event = {"type": random.choice(TYPES), "id": f"e{next(counter)}",
                 "occurred_at": (now - timedelta(seconds=random.randint(0, 3600))).isoformat(),
                 "properties": {"path": "/pricing/", "utm": "newsletter"}}  # fmt: skip
        roll = random.random()
        if roll < 0.1:
            event["email"] = email
        elif roll < 0.2:
            event["external_id"] = external
        else:
            event["lead_id"] = pk
        if roll > 0.997:
            event.pop("email", None), event.pop("external_id", None)
            event["lead_id"] = 10**12
        elif roll > 0.994:
            event["type"] = "nope"
        elif roll > 0.99 and events:
            event["id"] = events[-1]["id"]
        events.append(event)
    return events


def bare_rows(events: list[dict], by_email: dict, by_external: dict) -> list[EngagementEvent]:
    """The rows the API stored for ``events`` (same leads, types, times, properties)."""
    rows, seen = [], set()
    for event in events:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        lead_id = (
            event.get("lead_id")
            or by_email.get(event.get("email"))
            or by_external.get(event.get("external_id"))
        )
        if not lead_id or lead_id == 10**12 or event["type"] == "nope":
            continue
        rows.append(EngagementEvent(
            lead_id=lead_id, type=event["type"], source="bare", idempotency_id=f"b{next(counter)}",
            occurred_at=event["occurred_at"], properties=event["properties"],
        ))  # fmt: skip
    return rows


def hot_updates() -> tuple[int, int]:
    """(updates, HOT updates) of the lead table so far (PostgreSQL's statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.6)  # the statistics are flushed at most once per 500 ms
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
            [Lead._meta.db_table],
        )
        return cursor.fetchone()


def post(client: APIClient, events: list[dict]):
    return client.post(
        "/api/events/", json.dumps({"events": events}), content_type="application/json"
    )


def main() -> None:  # noqa: PLR0915 - one script
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()
    random.seed(16)

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        with override_settings(**SETTINGS):
            cache.clear()
            _, raw_key = make_api_key("ads", events_any_source=True)
            client = APIClient()
            client.credentials(HTTP_X_API_KEY=raw_key)
            started = time.perf_counter()
            rows = seed(args.leads)
            by_email = {email: pk for pk, email, _x in rows}
            by_external = {external: pk for pk, _e, external in rows}
            print(f"PostgreSQL {connection.pg_version}, Django test client, in-process")
            print(f"seeded {len(rows)} leads, {EngagementEvent.objects.count()} events, "
                  f"3 engagement rules in {time.perf_counter() - started:.1f} s")  # fmt: skip

            post(client, batch(rows, 10))  # warm caches
            print("queries per POST /api/events/:")
            for size in (10, BATCH):
                with CaptureQueriesContext(connection) as captured:
                    response = post(client, batch(rows, size))
                assert response.status_code == 200, response.content
                print(f"  {size:>3} events: {len(captured)} queries")

            hot_before = hot_updates()
            api_rates, bare_rates = [], []
            for _round in range(args.rounds):
                batches = [batch(rows) for _ in range(args.batches)]
                start, stored = time.perf_counter(), 0
                for events in batches:
                    response = post(client, events)
                    assert response.status_code == 200, response.content
                    stored += response.json()["created"]
                api_rates.append(stored / (time.perf_counter() - start))
                bare = [bare_rows(events, by_email, by_external) for events in batches]
                start, inserted = time.perf_counter(), 0
                for objs in bare:
                    with transaction.atomic():
                        inserted += len(EngagementEvent.objects.bulk_create(objs))
                bare_rates.append(inserted / (time.perf_counter() - start))
            api, floor = statistics.median(api_rates), statistics.median(bare_rates)
            print(f"ingest, {args.rounds} interleaved rounds of {args.batches} × {BATCH} events:")
            print(f"  POST /api/events/ (validate, resolve, store, rescore): {api:8.0f} events/s"
                  f"  (rounds {min(api_rates):.0f}–{max(api_rates):.0f})")  # fmt: skip
            print(f"  bare bulk_create of the same rows:                     {floor:8.0f} events/s"
                  f"  (rounds {min(bare_rates):.0f}–{max(bare_rates):.0f})")  # fmt: skip
            print(f"  ratio API / bare: {api / floor:.2f}")
            now_updated, now_hot = hot_updates()
            updated, hot = now_updated - hot_before[0], now_hot - hot_before[1]
            print(f"  lead rows updated in the rounds: {updated}, HOT {hot / max(updated, 1):.0%}")

            total = EngagementEvent.objects.count()
            start = time.perf_counter()
            changed = decay_engagement(timezone.now() + timedelta(hours=1))
            first = time.perf_counter() - start
            start = time.perf_counter()
            again = decay_engagement(timezone.now() + timedelta(hours=1, seconds=1))
            second = time.perf_counter() - start
            print(f"decay pass over {len(rows)} leads / {total} events: {changed} rows written "
                  f"in {first:.2f} s; next pass {again} rows in {second:.2f} s")  # fmt: skip
            print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
                  f"{os.getloadavg()[2]:.2f} (1/5/15 min)")  # fmt: skip
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
