"""Faults: Redis down during intake, PostgreSQL connections killed mid-request, and a
qcluster killed with SIGKILL in the middle of a sweep. Nothing is lost or doubled.

Nothing here stops the shared servers: "Redis down" is a client pointed at a closed port,
"PostgreSQL restarts" is ``pg_terminate_backend`` on this test's own connections, and the
killed cluster is one this test started.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Q
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf
from rest_framework.test import APIClient

from leadfollow import signals
from leadfollow.models import Assignment, AssignmentReason, Lead
from leadfollow.sweep import reassign_overdue
from tests.factories import LeadFactory, RepFactory, make_api_key

ROOT = Path(__file__).resolve().parent.parent
CLOSED_PORT = "redis://127.0.0.1:6390/0"  # nothing listens here: Redis is "down"
JO = {"name": "Jo Meyer", "email": "jo@example.com"}


def leads_without_assignment() -> int:
    """The invariant: every lead has at least one Assignment row."""
    return Lead.objects.filter(assignments__isnull=True).count()


@pytest.fixture
def broker_down(monkeypatch):
    """django-q2 enqueues to a Redis broker that refuses connections."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", CLOSED_PORT)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)


def key_client() -> APIClient:
    _, raw = make_api_key("ads")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


# --- Redis down --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_broker_down_intake_still_stores_and_answers(broker_down, caplog):
    rep = RepFactory()
    with caplog.at_level(logging.ERROR):
        response = key_client().post("/api/leads/", JO, "json")
    assert response.status_code == 201, response.content
    lead = Lead.objects.get()
    assert lead.owner == rep.user
    assignment = lead.assignments.get()
    assert assignment.notified_at is None  # the e-mail task never reached the broker
    # The failure was logged (on_commit robust=True), not raised into the response.
    assert any("on_commit" in r.getMessage() for r in caplog.records), caplog.text
    assert leads_without_assignment() == 0


@pytest.mark.django_db(transaction=True)
def test_broker_down_during_intake_then_the_sweep_still_moves_the_breached_lead(
    broker_down, monkeypatch
):
    """Self-healing of the SLA: the rep never heard of the lead, so it goes cold; the first
    sweep after the outage moves it (and that notification goes out)."""
    first, second = RepFactory(), RepFactory()
    response = key_client().post("/api/leads/", JO, "json")
    assert response.status_code == 201
    lead = Lead.objects.get()
    missed_by = lead.owner
    monkeypatch.setattr(Conf, "SYNC", True)  # Redis is back (tasks run inline again)
    monkeypatch.setattr(Conf, "ORM", "default")
    later = lead.first_response_due + timedelta(minutes=1)
    report = reassign_overdue(later)
    assert report.reassigned == 1
    lead.refresh_from_db()
    assert lead.owner in {first.user, second.user} - {missed_by}
    breach = lead.assignments.get(reason=AssignmentReason.SLA_BREACH)
    assert breach.notified_at is not None
    assert reassign_overdue(later).reassigned == 0  # and only once


@pytest.mark.django_db(transaction=True)
def test_a_lost_assignment_notification_is_resent_after_the_outage(broker_down, monkeypatch):
    RepFactory()
    assert key_client().post("/api/leads/", JO, "json").status_code == 201
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(Conf, "ORM", "default")
    reassign_overdue(timezone.now() + timedelta(minutes=5))  # before the deadline
    assert Assignment.objects.get().notified_at is not None


@pytest.mark.django_db(transaction=True)
def test_cache_down_intake_still_stores_and_answers(broker_down):
    RepFactory()
    client = key_client()
    redis_down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                              "LOCATION": CLOSED_PORT}}  # fmt: skip
    with override_settings(CACHES=redis_down):
        response = client.post("/api/leads/", JO, "json")
    assert response.status_code == 201, response.status_code
    assert Lead.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_cache_down_intake_without_throttle_stores_and_answers(broker_down):
    """The intake itself needs no cache: only the throttle and signature replays do."""
    RepFactory()
    client = key_client()
    redis_down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                              "LOCATION": CLOSED_PORT}}  # fmt: skip
    settings = {"TIME_ZONE": "Europe/Berlin", "API_INTAKE_THROTTLE_RATE": None}
    with override_settings(CACHES=redis_down, LEADFOLLOW=settings):
        response = client.post("/api/leads/", JO, "json")
    assert response.status_code == 201, response.content
    assert leads_without_assignment() == 0


# --- PostgreSQL connections killed -------------------------------------------------------


def _terminate(pid: int) -> None:
    """What a PostgreSQL restart looks like to one client: its backend goes away."""
    params = connection.get_connection_params()
    dsn = {k: params[k] for k in ("host", "port", "user", "password") if params.get(k)}
    psycopg = pytest.importorskip("psycopg")  # PostgreSQL-only; the test extra lacks it
    with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.05)


def _post(url: str, body: dict, raw_key: str) -> tuple[int, dict | None]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {raw_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_connection_killed_between_lead_and_assignment_leaves_nothing_half_written(
    live_server,
):
    RepFactory()
    _, raw = make_api_key("ads")
    killed = []

    def kill_my_backend(sender, lead, created, **kwargs):
        # Fired after the lead's INSERT, before the rep is picked and the Assignment written.
        if created and not killed:
            from django.db import connection as server_connection

            killed.append(server_connection.connection.info.backend_pid)
            _terminate(killed[0])

    signals.lead_received.connect(kill_my_backend, dispatch_uid="reliability-kill")
    try:
        status, _ = _post(f"{live_server.url}/api/leads/", JO, raw)
    finally:
        signals.lead_received.disconnect(dispatch_uid="reliability-kill")
    assert killed, "the hook never ran"
    assert status >= 500  # the request failed (it could not know whether it committed)
    assert Lead.objects.count() == 0  # rolled back with the connection: no orphan lead
    # The next request reconnects by itself and succeeds; the retry creates the lead once.
    status, body = _post(f"{live_server.url}/api/leads/", {**JO, "external_id": "x-1"}, raw)
    assert status == 201, status
    status, again = _post(f"{live_server.url}/api/leads/", {**JO, "external_id": "x-1"}, raw)
    assert status == 200 and again["id"] == body["id"]
    assert leads_without_assignment() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_all_connections_killed_under_concurrent_intake_then_recovery(live_server):
    """Many clients post while every server connection is terminated twice; afterwards
    each lead has its Assignment row, nothing is doubled, and intake works again."""
    from concurrent.futures import ThreadPoolExecutor

    RepFactory(capacity=10_000)
    RepFactory(capacity=10_000)
    _, raw = make_api_key("ads")
    db_name = connection.settings_dict["NAME"]

    def kill_all() -> None:
        params = connection.get_connection_params()
        dsn = {k: params[k] for k in ("host", "port", "user", "password") if params.get(k)}
        psycopg = pytest.importorskip("psycopg")
        with psycopg.connect(dbname="postgres", autocommit=True, **dsn) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [db_name],
            )

    def deliver(i: int) -> int:
        body = {"name": f"Lead {i}", "email": f"l{i}@example.org", "external_id": f"e-{i}"}
        status, _ = _post(f"{live_server.url}/api/leads/", body, raw)
        return status

    with (
        override_settings(
            LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "API_INTAKE_THROTTLE_RATE": None}
        ),
        ThreadPoolExecutor(8) as pool,
    ):
        futures = [pool.submit(deliver, i) for i in range(120)]
        time.sleep(0.3)
        kill_all()
        time.sleep(0.3)
        kill_all()
        statuses = [f.result() for f in futures]
        # Every sender retries what failed (as a webhook sender would).
        retried = [deliver(i) for i, s in enumerate(statuses) if s >= 500]
    connection.close()  # the test's own connection may have been killed too
    assert set(statuses) <= {200, 201, 500}, set(statuses)
    assert set(retried) <= {200, 201}, retried
    assert Lead.objects.count() == 120
    assert leads_without_assignment() == 0
    assert not Lead.objects.values("external_id").annotate(n=Count("pk")).filter(n__gt=1)


# --- kill -9 of a qcluster in the middle of a sweep ----------------------------------------


def _cluster_env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    return {**env, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings_reliability"}


def _start_cluster() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        cwd=ROOT,
        env=_cluster_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: SIGKILL reaches the workers
    )


def _enqueue_sweep() -> None:
    code = "from django_q.tasks import async_task; async_task('leadfollow.tasks.sweep')"
    subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", code],
        cwd=ROOT, env=_cluster_env(), check=True, timeout=60,
    )  # fmt: skip


def _breaches() -> int:
    return Assignment.objects.filter(reason=AssignmentReason.SLA_BREACH).count()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_a_cluster_mid_sweep_then_restart_moves_each_lead_exactly_once():
    total = 600
    now = timezone.now()
    missed = RepFactory(capacity=100_000)
    RepFactory(capacity=100_000)
    RepFactory(capacity=100_000)
    Lead.objects.bulk_create(
        Lead(
            name=f"Cold {i}",
            email=f"cold{i}@example.org",
            owner=missed.user,
            received_at=now - timedelta(hours=3),
            assigned_at=now - timedelta(hours=3),
            first_response_due=now - timedelta(hours=1),
        )
        for i in range(total)
    )
    cluster = _start_cluster()
    try:
        _enqueue_sweep()
        deadline = time.monotonic() + 90
        while _breaches() < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        moved_before_kill = _breaches()
        os.killpg(cluster.pid, signal.SIGKILL)  # the sweep dies between two batches
        cluster.wait(timeout=10)
        assert 0 < moved_before_kill < total, moved_before_kill

        cluster = _start_cluster()  # "restart": the next scheduled run
        _enqueue_sweep()
        deadline = time.monotonic() + 120
        while Lead.objects.cold(timezone.now()).exists() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        if cluster.poll() is None:
            os.killpg(cluster.pid, signal.SIGTERM)
            try:
                cluster.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(cluster.pid, signal.SIGKILL)
                cluster.wait(timeout=10)
    assert not Lead.objects.cold(timezone.now()).exists()
    per_lead = Lead.objects.annotate(
        breaches=Count("assignments", filter=Q(assignments__reason=AssignmentReason.SLA_BREACH))
    )
    assert set(per_lead.values_list("breaches", flat=True)) == {1}
    assert not per_lead.exclude(reassignment_count=1).exists()
    assert not Lead.objects.filter(owner=missed.user).exists()
    assert leads_without_assignment() == 0


@pytest.mark.django_db
def test_invariant_helper_finds_a_lead_without_assignment():
    LeadFactory()
    assert leads_without_assignment() == 1


@pytest.mark.django_db(transaction=True)
def test_cache_down_signed_intake_stores_once_and_refuses_the_replay(broker_down):
    """Replay records live in the database (issue 13): Redis being down neither fails a
    signed intake nor lets its replay in."""
    from leadfollow.models import UsedSignature
    from tests.test_api_intake import signed_headers

    RepFactory()
    api_key, _ = make_api_key("ads")
    body = json.dumps(JO).encode()
    headers = signed_headers(api_key, body)
    redis_down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                              "LOCATION": CLOSED_PORT}}  # fmt: skip
    client = APIClient(raise_request_exception=False)
    with override_settings(CACHES=redis_down):
        first = client.post("/api/leads/", body, content_type="application/json", **headers)
        replay = client.post("/api/leads/", body, content_type="application/json", **headers)
    assert first.status_code == 201, first.content
    assert replay.status_code == 401
    assert Lead.objects.count() == 1 and UsedSignature.objects.count() == 1
