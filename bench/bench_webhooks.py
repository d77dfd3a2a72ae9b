"""Benchmark: lead arrival → webhook received, with a running qcluster, Redis and ORM broker.

    .venv/bin/python bench/bench_webhooks.py [--leads 200] [--interval 0.05]
        [--brokers redis,orm] [--server postgres://postgres@127.0.0.1:5432]
        [--redis redis://127.0.0.1:6379/0] [--poll 0.2]

For each broker: drops and recreates the PostgreSQL database ``lf_bench_webhooks`` (or
``LF_BENCH_DB``), migrates it, starts ``manage.py qcluster`` (2 workers;
bench/webhook_settings.py), starts a receiver on 127.0.0.1 and configures one endpoint for
it, then creates ``--leads`` leads through ``leadfollow.intake.create_lead`` one every
``--interval`` seconds. Each lead's latency is from just before ``create_lead`` to the
receiver's arrival time of its ``lead.created`` delivery. Prints p50, p95 and max per
broker, and the load average.

Each broker runs in its own child process (django-q2 reads Q_CLUSTER at import time).
Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = os.environ.get("LF_BENCH_DB", "lf_bench_webhooks")  # one per concurrent run
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def recreate_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def run_one(args) -> dict:
    """In the child: set up, measure, return the figures."""
    recreate_database(args.server)
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.server}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "bench.webhook_settings",
        "LF_BENCH_BROKER": args.broker,
        "LF_BENCH_POLL": str(args.poll),
        "PYTHONPATH": str(ROOT),
    }
    if args.broker == "redis":
        env["REDIS_URL"] = args.redis
    else:
        env.pop("REDIS_URL", None)
    os.environ.update(env)
    if args.broker != "redis":
        os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.broker == "redis":
        import redis

        redis.from_url(args.redis).flushdb()

    from leadfollow.intake import create_lead
    from leadfollow.models import WebhookEndpoint
    from tests.factories import RepFactory
    from tests.webhook_receiver import Receiver

    for i in range(5):
        RepFactory(user__username=f"rep{i}", working_hours=ALWAYS)
    receiver = Receiver()
    WebhookEndpoint.objects.create(name="bench", url=receiver.url, events=["lead.created"])
    log = open(f"/tmp/lf_bench_webhooks_{args.broker}.log", "wb")  # noqa: SIM115
    cluster = subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while b"running" not in Path(log.name).read_bytes():
            if time.monotonic() > deadline or cluster.poll() is not None:
                raise SystemExit(f"qcluster did not start: see {log.name}")
            time.sleep(0.2)
        warmup = 5
        for i in range(warmup):  # first connections, imports in the workers
            create_lead({"name": f"Warm {i}", "email": f"warm{i}@example.org"})
        receiver.wait_for(warmup, 30)
        arrived: dict[int, float] = {}
        started = time.monotonic()
        for i in range(args.leads):
            t0 = time.time()
            lead = create_lead({"name": f"Lead {i}", "email": f"lead{i}@example.org"}).lead
            arrived[lead.pk] = t0
            time.sleep(args.interval)
        complete = receiver.wait_for(warmup + args.leads, 120)
        elapsed = time.monotonic() - started
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)
        receiver.close()
    latencies = []
    for request in receiver.requests:
        lead_id = json.loads(request.body)["data"]["lead"]["id"]
        if lead_id in arrived:
            latencies.append(request.at - arrived[lead_id])
    return {
        "broker": args.broker,
        "received": len(latencies),
        "leads": args.leads,
        "complete": complete,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies),
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--brokers", default="redis,orm")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--poll", type=float, default=0.2, help="ORM broker poll interval")
    parser.add_argument("--broker", help=argparse.SUPPRESS)  # the child's broker
    args = parser.parse_args()
    if args.broker:
        print(json.dumps(run_one(args)))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for broker in args.brokers.split(","):
        child = [sys.executable, __file__, "--broker", broker]
        for name in ("leads", "interval", "server", "redis", "poll"):
            child += [f"--{name}", str(getattr(args, name))]
        output = subprocess.run(child, capture_output=True, text=True, check=False)
        if output.returncode:
            print(f"{broker}: failed\n{output.stderr[-3000:]}")
            continue
        result = json.loads(output.stdout.strip().splitlines()[-1])
        note = f" (ORM poll {args.poll} s)" if broker == "orm" else ""
        print(
            f"{broker:5s}{note}: {result['received']}/{result['leads']} received, "
            f"arrival→received p50 {result['p50'] * 1000:.0f} ms, "
            f"p95 {result['p95'] * 1000:.0f} ms, max {result['max'] * 1000:.0f} ms "
            f"({result['seconds']:.1f} s for the run)"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
