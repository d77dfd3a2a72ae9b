#!/usr/bin/env python
"""Load test: intake under gunicorn, two qclusters sweeping, reps logging attempts.

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python bench/load_test.py [--intakes 20000] [--clients 50] [--time-limit 900]

What runs, all on 127.0.0.1 (settings ``bench.load_settings``: the demo's, on PostgreSQL
``LF_LOAD_DATABASE_URL`` (default database ``lf_load``, DROPPED AND RECREATED) and Redis
``LF_LOAD_REDIS_URL`` (default db 4, FLUSHED)):

* gunicorn (``--workers`` processes × ``--threads`` threads) serving the demo site;
* two ``manage.py qcluster`` processes on the Redis broker, both running the every-minute
  ``leadfollow.sweep`` schedule;
* a thread playing the reps: every second it logs contact attempts on some open leads;
* ``--clients`` asyncio/httpx clients posting ``--intakes`` leads to ``/api/leads/`` with an
  API key, ``--dup-share`` of them duplicate deliveries (same body, ``external_id`` and
  ``Idempotency-Key``, some racing the original). A ``409`` (twin in flight) is retried.

Reps work around the clock with a two-minute SLA, so deadlines pass during the run. After
the intakes (and ``--settle`` seconds for the sweeps), everything is stopped and the
invariants are checked and printed. Exit status 1 if any invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_URL = os.environ.get("LF_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lf_load")
REDIS_URL = os.environ.get("LF_LOAD_REDIS_URL", "redis://127.0.0.1:6379/4")
REPS = 12
CAPACITY = 300


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "DJANGO_DEBUG": "0",
        "PYTHONPATH": str(ROOT),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- set-up ------------------------------------------------------------------------------


def reset_stores() -> None:
    import psycopg
    import redis

    base, _, name = DB_URL.rpartition("/")
    if name != "lf_load" and os.environ.get("LF_LOAD_I_MEAN_IT") != "1":
        sys.exit(f"Refusing to drop database {name!r} (set LF_LOAD_I_MEAN_IT=1).")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()


def prepare() -> str:
    """Migrate, create reps and a source key, schedule the sweep; returns the raw key."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    from leadfollow.models import ApiKey, RepProfile
    from leadfollow.schedules import ensure_schedules

    call_command("migrate", interactive=False, verbosity=0)
    install_load_probe()
    User = get_user_model()
    for i in range(REPS):
        user = User.objects.create(username=f"rep{i:02d}", email=f"rep{i:02d}@example.org")
        RepProfile.objects.create(user=user, timezone="Europe/Berlin", capacity=CAPACITY)
    _, raw_key = ApiKey.objects.create_key(source="ads", name="load test")
    ensure_schedules()
    connections.close_all()
    return raw_key


LOAD_PROBE = """
CREATE TABLE bench_assignment_load (
    assignment_id bigint, lead_id bigint, to_rep_id integer, reason text,
    load integer, capacity integer, free_reps integer, at timestamptz
);
CREATE FUNCTION bench_record_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Runs inside the assigning transaction, after its rep locks: what it counts is the
    -- load the capacity check had to respect (its own writes plus everything committed).
    INSERT INTO bench_assignment_load VALUES (
        NEW.id, NEW.lead_id, NEW.to_rep_id, NEW.reason,
        (SELECT count(*) FROM leadfollow_lead l WHERE l.owner_id = NEW.to_rep_id
            AND l.status IN ('new', 'working') AND l.first_contacted_at IS NULL),
        (SELECT r.capacity FROM leadfollow_repprofile r WHERE r.user_id = NEW.to_rep_id),
        CASE WHEN NEW.to_rep_id IS NULL THEN (
            SELECT count(*) FROM leadfollow_repprofile r WHERE r.accepting_leads AND (
                SELECT count(*) FROM leadfollow_lead l WHERE l.owner_id = r.user_id
                    AND l.status IN ('new', 'working') AND l.first_contacted_at IS NULL
            ) < r.capacity) END,
        clock_timestamp());
    RETURN NULL;
END $$;
CREATE TRIGGER bench_assignment_load AFTER INSERT ON leadfollow_assignment
    FOR EACH ROW EXECUTE FUNCTION bench_record_load();
"""


def install_load_probe() -> None:
    """A trigger (in the throw-away load database only) recording each assignment's load."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(LOAD_PROBE)


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=child_env(),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_http(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


# --- the reps ----------------------------------------------------------------------------


class Reps(threading.Thread):
    """Every second, the owners of a few open uncontacted leads log an attempt."""

    def __init__(self, per_second: int):
        super().__init__(daemon=True)
        self.per_second = per_second
        self.stopping = threading.Event()
        self.logged = 0
        self.errors = 0

    def run(self) -> None:
        from django.db import connection

        from leadfollow import ownership
        from leadfollow.models import Lead

        outcomes = ["connected", "no_answer", "voicemail", "call_back", "meeting_booked"]
        while not self.stopping.wait(1.0):
            leads = (
                Lead.objects.open()
                .uncontacted()
                .filter(owner__isnull=False)
                .select_related("owner")
                .order_by("?")[: self.per_second]
            )
            for lead in leads:
                try:
                    ownership.log_attempt(
                        lead, rep=lead.owner, channel="call", outcome=random.choice(outcomes)
                    )
                    self.logged += 1
                except Exception:  # noqa: BLE001 - counted and reported
                    self.errors += 1
        connection.close()


# --- the senders -------------------------------------------------------------------------


def deliveries(total: int, dup_share: float, seed: int) -> list[dict]:
    """``total`` deliveries of which ``dup_share`` repeat an earlier (or concurrent) one."""
    rng = random.Random(seed)
    duplicates = int(total * dup_share)
    distinct = total - duplicates
    run = uuid.uuid4().hex[:8]
    leads = [
        {
            "body": {
                "name": f"Load Lead {i}",
                "email": f"lead{i}.{run}@example.org",
                "phone": f"+4930{i:07d}",
                "company": f"Company {i % 997}",
                "external_id": f"{run}-{i}",
                "utm_source": rng.choice(["google", "meta", "linkedin"]),
            },
            "key": str(uuid.UUID(int=rng.getrandbits(128))),
        }
        for i in range(distinct)
    ]
    order = list(leads)
    for _ in range(duplicates):
        # Mostly soon after the original (a sender's retry), sometimes racing it.
        original = rng.randrange(distinct)
        position = min(len(order), original + rng.randint(0, 60))
        order.insert(position, leads[original])
    return order


async def send_all(
    url: str, raw_key: str, plan: list[dict], clients: int, stop_at: float
) -> tuple[list[tuple[int, float]], Counter]:
    import httpx

    results: list[tuple[int, float]] = []
    retries: Counter = Counter()
    cursor = iter(plan)
    headers = {"Authorization": f"Api-Key {raw_key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def worker(client: httpx.AsyncClient) -> None:
        for item in cursor:
            if time.monotonic() > stop_at:
                return
            for attempt in range(20):
                started = time.perf_counter()
                try:
                    response = await client.post(
                        url, json=item["body"], headers={"Idempotency-Key": item["key"]}
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0  # connection error: counted, and retried like a sender would
                results.append((status, time.perf_counter() - started))
                if status in (409, 0) or status >= 500:
                    retries[status] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                    continue
                break

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(clients)))
    return results, retries


# --- the checks --------------------------------------------------------------------------


def check_invariants(plan: list[dict], sweep_started: list) -> dict[str, tuple[bool, str]]:
    from django.db.models import Count, Q

    from leadfollow.models import Assignment, AssignmentReason, Lead

    checks: dict[str, tuple[bool, str]] = {}
    sent_ids = {item["body"]["external_id"] for item in plan}
    per_id = Counter(Lead.objects.values_list("external_id", flat=True))
    stored = {eid for eid in per_id if eid in sent_ids}
    doubled = [eid for eid, n in per_id.items() if n > 1]
    missing = sent_ids - stored
    checks["every distinct lead exists exactly once"] = (
        not doubled and not missing,
        f"{len(stored)} of {len(sent_ids)} distinct leads stored; {len(doubled)} doubled, "
        f"{len(missing)} missing (a missing one is only fine if the run stopped before it)",
    )
    orphans = Lead.objects.filter(assignments__isnull=True).count()
    checks["every lead has an Assignment row"] = (orphans == 0, f"{orphans} without")

    from django.db import connection

    moves = ("intake", "sla_breach", "rep_unavailable", "manual")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE load > capacity), coalesce(max(load - capacity), 0),"
            " count(*) FILTER (WHERE to_rep_id IS NULL AND free_reps > 0),"
            # ... unless a contact freed the slot just before (after the pick, before the row)
            " count(*) FILTER (WHERE to_rep_id IS NULL AND free_reps > 0 AND NOT EXISTS ("
            "   SELECT 1 FROM leadfollow_lead l WHERE l.first_contacted_at"
            "   BETWEEN bench_assignment_load.at - interval '1 second'"
            "   AND bench_assignment_load.at)),"
            " count(*) FILTER (WHERE to_rep_id IS NULL), count(*)"
            " FROM bench_assignment_load WHERE reason = ANY(%s)",
            [list(moves)],
        )
        over, over_max, raced, unowned_while_free, unowned, probed = cursor.fetchone()
    checks["no rep over capacity when given a lead (load counted at each assignment)"] = (
        over == 0,
        f"{probed} assignments probed; {over} left a rep above capacity "
        f"(worst +{max(over_max, 0)})",
    )
    final_loads = (
        Lead.objects.open()
        .uncontacted()
        .filter(owner__isnull=False)
        .values("owner_id")
        .annotate(n=Count("pk"))
    )
    worst = max((row["n"] for row in final_loads), default=0)
    checks["no rep over capacity at the end"] = (worst <= CAPACITY, f"fullest rep holds {worst}")
    checks["unowned only when nobody was free (counted at each assignment)"] = (
        unowned_while_free == 0,
        f"{unowned} moves left a lead unowned; {unowned_while_free} while a rep had room "
        f"({raced} more where a contact freed a slot < 1 s before the row, i.e. after the "
        "pick: that race is expected)",
    )

    open_uncontacted = Lead.objects.open().uncontacted()
    unowned_open = open_uncontacted.filter(owner__isnull=True, escalated_at__isnull=True)
    checks["open uncontacted leads: owned, escalated, or waiting for a free rep"] = (
        True,
        f"{open_uncontacted.filter(owner__isnull=False).count()} owned, "
        f"{open_uncontacted.filter(escalated_at__isnull=False).count()} escalated, "
        f"{unowned_open.count()} unowned (nobody had room)",
    )

    # Breaches: one sla_breach row per missed deadline, never two for the same miss.
    # reassignment_count counts moves away from an owner (a breach or a hand-over).
    away = Q(
        assignments__reason__in=[AssignmentReason.SLA_BREACH, AssignmentReason.REP_UNAVAILABLE],
        assignments__from_rep__isnull=False,
    )
    breach_counts = Lead.objects.annotate(moves_away=Count("assignments", filter=away))
    mismatched = breach_counts.exclude(moves_away=models_f("reassignment_count")).count()
    rows = Assignment.objects.values_list(
        "pk", "lead_id", "from_rep_id", "to_rep_id", "reason", "created_at"
    )
    by_lead: dict[int, list] = defaultdict(list)
    for row in rows:
        by_lead[row[1]].append(row)
    doubled_breaches, unbreached = 0, 0
    deadlines = dict(
        Assignment.objects.values_list("pk", "first_response_due"),
    )
    for history in by_lead.values():
        history.sort(key=lambda r: r[0])
        for previous, row in zip(history, history[1:], strict=False):
            if row[4] != AssignmentReason.SLA_BREACH:
                continue
            if previous[4] == AssignmentReason.SLA_BREACH and previous[5] == row[5]:
                doubled_breaches += 1
            due = deadlines[previous[0]]
            if due is None or due >= row[5]:
                unbreached += 1
    checks["every breach produced exactly one sla_breach reassignment"] = (
        mismatched == 0 and doubled_breaches == 0 and unbreached == 0,
        f"{Assignment.objects.filter(reason=AssignmentReason.SLA_BREACH).count()} sla_breach "
        f"rows; {mismatched} leads whose reassignment_count differs from their moves away, "
        f"{doubled_breaches} doubled, {unbreached} moved before their deadline",
    )
    if sweep_started:
        last = max(sweep_started)
        missed = Lead.objects.cold(last).filter(escalated_at__isnull=True).count() if last else 0
        checks["no breach left unhandled by the last finished sweep"] = (
            missed == 0,
            f"{missed} leads cold before {last:%H:%M:%S} and neither moved nor escalated",
        )
    return checks


def models_f(name: str):
    from django.db.models import F

    return F(name)


def finished_sweeps() -> list:
    from django_q.models import Task

    return list(
        Task.objects.filter(func="leadfollow.tasks.sweep", success=True).values_list(
            "started", flat=True
        )
    )


# --- main --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intakes", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--dup-share", type=float, default=0.10)
    parser.add_argument("--time-limit", type=float, default=900, help="seconds, hard limit")
    parser.add_argument("--settle", type=float, default=75, help="seconds of sweeping after")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--attempts-per-second", type=int, default=15)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--check-only", action="store_true", help="only check the last run's database again"
    )
    args = parser.parse_args()
    began = time.monotonic()
    hard_stop = began + args.time_limit

    os.environ.update(child_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    logs = ROOT / "artifacts" / "load_test"
    logs.mkdir(parents=True, exist_ok=True)
    plan_file = logs / "external_ids.json"
    if args.check_only:
        sent = [{"body": {"external_id": eid}} for eid in json.loads(plan_file.read_text())]
        return report_invariants(check_invariants(sent, finished_sweeps()))
    reset_stores()
    raw_key = prepare()
    port = free_port()
    web = start(
        [sys.executable, "-m", "gunicorn", "demo_project.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", str(args.threads), "--worker-class", "gthread",
         "--backlog", "2048", "--timeout", "60"],
        logs / "gunicorn.log",
    )  # fmt: skip
    clusters = [
        start([sys.executable, "-m", "django", "qcluster"], logs / f"qcluster{i}.log")
        for i in (1, 2)
    ]
    reps = Reps(args.attempts_per_second)
    processes = [web, *clusters]
    try:
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/")
        reps.start()
        plan = deliveries(args.intakes, args.dup_share, args.seed)
        plan_file.write_text(json.dumps(sorted({p["body"]["external_id"] for p in plan})))
        print(
            f"posting {len(plan)} deliveries ({len(plan) - len({p['key'] for p in plan})} "
            f"duplicates) from {args.clients} clients to gunicorn "
            f"({args.workers}×{args.threads}) with 2 qclusters …",
            flush=True,
        )
        t0 = time.perf_counter()
        results, retries = asyncio.run(
            send_all(
                f"http://127.0.0.1:{port}/api/leads/",
                raw_key,
                plan,
                args.clients,
                hard_stop - args.settle - 30,
            )
        )
        elapsed = time.perf_counter() - t0
        settle_until = min(time.monotonic() + args.settle, hard_stop - 30)
        print(f"intake done in {elapsed:.1f} s; letting the sweeps run …", flush=True)
        while time.monotonic() < settle_until:
            time.sleep(1)
        reps.stopping.set()
        reps.join(timeout=30)
    finally:
        reps.stopping.set()
        for process in processes:
            stop(process)

    statuses = Counter(status for status, _ in results)
    latencies = [seconds * 1000 for status, seconds in results if 200 <= status < 300]
    completed = sum(1 for status, _ in results if status in (200, 201))
    print()
    print("== load")
    print(f"deliveries planned    {len(plan)}  (completed {completed})")
    print(f"HTTP status counts    {dict(sorted(statuses.items()))}")
    print(f"retried               {dict(retries)}  (409: twin in flight; 0: connection error)")
    print(f"throughput            {completed / elapsed:.1f} intakes/s over {elapsed:.1f} s")
    if latencies:
        print(
            f"latency (2xx)         p50 {percentile(latencies, 0.5):.0f} ms · "
            f"p90 {percentile(latencies, 0.9):.0f} ms · p99 {percentile(latencies, 0.99):.0f} ms"
            f" · max {max(latencies):.0f} ms · mean {statistics.fmean(latencies):.0f} ms"
        )
    print(f"contact attempts      {reps.logged} logged ({reps.errors} errors)")

    from leadfollow.models import Assignment, Lead

    sweeps = finished_sweeps()
    print(f"sweeps finished       {len(sweeps)}")
    print(
        f"rows                  {Lead.objects.count()} leads, "
        f"{Assignment.objects.count()} assignments by reason "
        f"{dict(Counter(Assignment.objects.values_list('reason', flat=True)))}"
    )
    print()
    print("== invariants")
    checks = check_invariants(plan, sweeps)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    checks["no 5xx"] = (server_errors == 0, f"{server_errors} responses ≥ 500")
    status = report_invariants(checks)
    print(f"\ntotal wall time {time.monotonic() - began:.0f} s; logs in {logs}")
    return status


def report_invariants(checks: dict[str, tuple[bool, str]]) -> int:
    ok = True
    for name, (passed, detail) in checks.items():
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
