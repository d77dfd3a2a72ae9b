"""Benchmark: API intake (POST /api/leads/) against a bare DRF create of the same model, on
a realistic 1M-lead table, in-process and under gunicorn with 2 sync workers.

    PG_URL_BASE=postgres://postgres@127.0.0.1:5432 .venv/bin/python bench/bench_intake.py \\
        [--history 1000000] [--rounds 5] [--requests 100] [--clients 4] [--no-gunicorn]

A throw-away PostgreSQL database ``lf_bench_intake`` (``LF_BENCH_DB`` names another) is
migrated and seeded in SQL with ``--history`` leads (``bench_history.seed``: almost all
closed or contacted, a few thousand open), 20 reps working around the clock and 10 scoring
rules. Every intake request carries an API key, an ``Idempotency-Key`` and an
``external_id`` (the heaviest path); the bare view (``bench/intake_urls.py``) is DRF
parsing, validation and one INSERT. Rounds alternate between the two (intake, bare, intake,
…) so machine load hits both alike; each prints requests/s, and the medians and their ratio
are printed last (target ≥ 0.35). Also prints the statements of one intake. Notifications
are off (queued after commit, not intake's cost). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("LF_BENCH_DB", "lf_bench_intake")
PORT = 8765
counter = iter(range(10**9))
lock = threading.Lock()


def body() -> dict:
    with lock:
        n = next(counter)
    return {
        "name": f"Bench {n}",
        "email": f"bench{n}@example.org",
        "phone": f"+4930{n:08d}",
        "company": "ACME",
        "external_id": f"ext-{os.getpid()}-{n}",
        "utm_source": "bench",
        "pages": ["/pricing", "/demo"],
    }


def prepare(history: int) -> str:
    from django.core.management import call_command
    from django.db import connection

    from bench.bench_history import REPS, seed
    from leadfollow.models import ScoringRule
    from tests.factories import RepFactory, make_api_key

    call_command("migrate", verbosity=0)
    always = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    reps = [RepFactory(working_hours=always, capacity=10_000_000) for _ in range(REPS)]
    for i in range(10):
        ScoringRule.objects.create(
            name=f"r{i}", field_path="attributes.utm_source", operator="eq", value="bench", points=1
        )
    started = time.perf_counter()
    seed(connection, count=history, first_user=min(r.user_id for r in reps))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"seeded {history:,} leads in {time.perf_counter() - started:.1f} s", flush=True)
    return make_api_key("ads")[1]


def in_process(raw_key: str, rounds: int, requests: int) -> tuple[float, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    intake, bare = APIClient(), APIClient()
    intake.credentials(HTTP_X_API_KEY=raw_key)

    def post_intake():
        response = intake.post(
            "/api/leads/", body(), format="json", HTTP_IDEMPOTENCY_KEY=str(next(counter))
        )
        assert response.status_code == 201, response.content

    def post_bare():
        response = bare.post("/bare/leads/", body(), format="json")
        assert response.status_code == 201, response.content

    for _ in range(10):  # warm: caches, calendars, connections
        post_intake()
        post_bare()
    with CaptureQueriesContext(connection) as captured:
        post_intake()
    print(f"statements of one intake (key, Idempotency-Key, external_id): {len(captured)}")
    return interleave(rounds, requests, post_intake, post_bare, threads=1)


def interleave(rounds: int, requests: int, intake, bare, *, threads: int) -> tuple[float, float]:
    ours, floor = [], []
    for round_ in range(rounds):
        for fn, into in ((intake, ours), (bare, floor)):
            into.append(requests / timed(fn, requests, threads))
        print(f"  round {round_ + 1}: intake {ours[-1]:7.1f} req/s   bare {floor[-1]:7.1f} req/s",
              flush=True)  # fmt: skip
    return statistics.median(ours), statistics.median(floor)


def timed(fn, requests: int, threads: int) -> float:
    """Seconds for ``requests`` calls of ``fn`` spread over ``threads`` threads."""
    if threads == 1:
        started = time.perf_counter()
        for _ in range(requests):
            fn()
        return time.perf_counter() - started
    share = [requests // threads + (i < requests % threads) for i in range(threads)]
    errors: list[Exception] = []

    def work(n: int) -> None:
        try:
            for _ in range(n):
                fn()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in share]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def http_post(path: str, headers: dict) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}",
        data=json.dumps(body()).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201, response.status


def under_gunicorn(raw_key: str, rounds: int, requests: int, clients: int):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.intake_settings"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{PORT}",
         "--log-level", "warning", "django.core.wsgi:get_wsgi_application()"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/bare/leads/", timeout=1)
            except urllib.error.HTTPError:
                break  # 405 for a GET: serving
            except OSError:
                time.sleep(0.2)

        def intake() -> None:
            http_post("/api/leads/", {"X-Api-Key": raw_key, "Idempotency-Key": str(next(counter))})

        def bare() -> None:
            http_post("/bare/leads/", {})

        for _ in range(10):
            intake()
            bare()
        return interleave(rounds, requests, intake, bare, threads=clients)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100, help="per round and side")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--no-gunicorn", action="store_true")
    args = parser.parse_args()
    base = os.environ.get("PG_URL_BASE", "postgres://postgres@127.0.0.1:5432")
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"])
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)
    os.environ["DATABASE_URL"] = f"{base}/{DB_NAME}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.intake_settings"
    import django

    django.setup()
    from django.db import connection

    try:
        raw_key = prepare(args.history)
        print(f"in-process (Django test client), {args.requests} requests per round:")
        ours, floor = in_process(raw_key, args.rounds, args.requests)
        results = [("in-process", ours, floor)]
        if not args.no_gunicorn:
            print(f"gunicorn, 2 sync workers, {args.clients} clients, {args.requests} per round:")
            ours, floor = under_gunicorn(raw_key, args.rounds, args.requests, args.clients)
            results.append(("gunicorn -w 2", ours, floor))
        print(f"load average: {os.getloadavg()}; history {args.history:,} leads; "
              f"{args.rounds} rounds, medians")  # fmt: skip
        for label, a, b in results:
            print(f"{label:14} intake {a:7.1f} req/s   bare DRF create {b:7.1f} req/s   "
                  f"ratio {a / b:.2f} (target ≥ 0.35)")  # fmt: skip
    finally:
        connection.close()
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"])


if __name__ == "__main__":
    main()
