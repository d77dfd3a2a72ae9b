"""Benchmark: API intake (POST /api/leads/) against a bare DRF CreateAPIView on Lead.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lf_bench_intake \\
        .venv/bin/python bench/bench_intake.py [--requests 300]

PostgreSQL (a throw-away ``test_…`` database is created and dropped), in-process with the
Django test client (no HTTP server: the figures are the application's own cost). Prints
requests/s, p50/p99 latency, the ratio against the bare view measured in the same run, and
the queries per intake with 2 vs 50 scoring rules and 2 vs 20 reps. Asserts nothing.
Notifications are off (they are queued on commit and are not part of intake).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
if "postgres" not in os.environ.get("DATABASE_URL", ""):
    sys.exit("Set DATABASE_URL=postgres://… (the benchmark is for PostgreSQL).")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    setup_databases,
    setup_test_environment,
    teardown_databases,
)
from django.urls import include, path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from leadfollow.models import Lead, RepProfile, ScoringRule  # noqa: E402
from tests.factories import RepFactory, make_api_key  # noqa: E402


class BareLeadSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lead
        fields = ["id", "name", "email", "phone", "source", "owner", "first_response_due"]
        read_only_fields = ["id", "owner", "first_response_due"]


class BareCreate(generics.CreateAPIView):
    """The floor: DRF parsing, validation and one INSERT; no auth, scoring or routing."""

    authentication_classes: list = []
    permission_classes: list = []
    serializer_class = BareLeadSerializer


urlpatterns = [
    path("api/", include("leadfollow.api.urls")),
    path("bare/leads/", BareCreate.as_view()),
]

SETTINGS = {
    "ROOT_URLCONF": __name__,
    "LEADFOLLOW": {
        "TIME_ZONE": "Europe/Berlin",
        "API_INTAKE_THROTTLE_RATE": None,
        "NOTIFY_ON_ASSIGNMENT": False,
        "DEDUPLICATE_BY_EMAIL": True,
    },
}
counter = iter(range(10**9))


def body() -> dict:
    n = next(counter)
    return {
        "name": f"Lead {n}",
        "email": f"lead{n}@example.org",
        "phone": f"+4930{n:08d}",
        "company": "ACME",
        "utm_source": "bench",
        "pages": ["/pricing", "/demo"],
    }


def setup_data(rules: int, reps: int) -> None:
    Lead.objects.all().delete()
    ScoringRule.objects.all().delete()
    RepProfile.objects.all().delete()
    for i in range(rules):
        ScoringRule.objects.create(
            name=f"r{i}", field_path="attributes.utm_source", operator="eq", value="bench", points=1
        )
    for _ in range(reps):
        RepFactory(capacity=1_000_000, working_hours={d: [["00:00", "24:00"]] for d in DAYS})


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def run(client: APIClient, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(url, body(), format="json")
        times.append(time.perf_counter() - start)
        assert response.status_code == 201, response.content
    return times


def summary(label: str, times: list[float]) -> tuple[float, str]:
    times = sorted(times)
    rps = len(times) / sum(times)
    p50 = statistics.median(times) * 1000
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    return rps, f"{label:<28} {rps:8.1f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


def queries_per_intake(client: APIClient) -> int:
    client.post("/api/leads/", body(), format="json")  # warm caches (calendars, content types)
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/leads/", body(), format="json")
    assert response.status_code == 201, response.content
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False)
    try:
        with override_settings(**SETTINGS):
            cache.clear()
            _, raw_key = make_api_key("ads")
            intake = APIClient()
            intake.credentials(HTTP_X_API_KEY=raw_key)
            bare = APIClient()

            print(f"PostgreSQL {connection.pg_version}, Django test client, in-process")
            print("queries per intake (one POST /api/leads/, new lead, assigned):")
            for rules, reps in ((2, 2), (50, 2), (2, 20), (50, 20)):
                setup_data(rules, reps)
                print(f"  {rules:>2} rules, {reps:>2} reps: {queries_per_intake(intake)}")

            setup_data(10, 5)
            run(intake, "/api/leads/", 20)  # warm-up
            run(bare, "/bare/leads/", 20)
            n = args.requests
            print(f"throughput, {n} sequential requests each (10 rules, 5 reps):")
            intake_rps, line = summary("POST /api/leads/ (intake)", run(intake, "/api/leads/", n))
            print("  " + line)
            bare_rps, line = summary("bare CreateAPIView", run(bare, "/bare/leads/", n))
            print("  " + line)
            print(f"  intake / bare throughput: {intake_rps / bare_rps:.2f}")
    finally:
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
