"""End to end: a lead arrives, a real ``qcluster`` process delivers the signed webhook to a
receiver on 127.0.0.1, the receiver's error is retried by the scheduled retry pass.

The broker is the ORM (on the test database), or Redis when ``REDIS_URL`` is set; this
process enqueues on the cluster's broker (tests.settings runs tasks inline otherwise).
"""

import json
import os
import time

import pytest
from django.test import override_settings

from leadfollow.intake import create_lead
from leadfollow.models import WebhookDelivery, WebhookEndpoint
from leadfollow.schedules import ensure_schedules
from leadfollow.webhooks import signing
from tests.factories import RepFactory
from tests.test_e2e_qcluster import start_cluster, stop_cluster, wait_until_running
from tests.webhook_receiver import Receiver

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TIMEOUT = 150  # the retry waits for the scheduler's first pass (~30 s after start)


@pytest.fixture
def cluster_broker(monkeypatch):
    """Enqueue from this process onto the qcluster's broker and queue, signed alike."""
    from django_q.conf import Conf

    # As in tests/settings_e2e.py (not imported: it repoints this process's database).
    redis_url = os.environ.get("REDIS_URL")
    conf = {"name": "leadfollow-e2e", **({"redis": redis_url} if redis_url else {"orm": "default"})}
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "PREFIX", conf["name"])
    monkeypatch.setattr(Conf, "CLUSTER_NAME", conf["name"])
    monkeypatch.setattr(Conf, "ORM", conf.get("orm"))
    monkeypatch.setattr(Conf, "REDIS", conf.get("redis", {}))
    return "redis" if conf.get("redis") else "orm"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_qcluster_delivers_a_signed_webhook_and_retries_after_an_error(
    tmp_path, cluster_broker, record_property
):
    receiver = Receiver(statuses=[500])
    log = tmp_path / "qcluster.log"
    process = start_cluster(log)
    try:
        RepFactory(working_hours=ALWAYS)
        with override_settings(
            LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True}
        ):
            endpoint = WebhookEndpoint.objects.create(name="receiver", url=receiver.url)
        wait_until_running(process, log)
        ensure_schedules()
        arrived = time.time()
        lead = create_lead({"name": "Ada Lovelace", "email": "ada@example.org"}).lead
        if not receiver.wait_for(2, TIMEOUT):
            pytest.fail(
                f"{len(receiver.requests)} request(s) after {TIMEOUT} s (qcluster exit code "
                f"{process.poll()}):\n{log.read_text()[-3000:]}"
            )
        row = WebhookDelivery.objects.get()
        for _ in range(50):  # the worker records the answer just after sending it
            if row.status == "delivered":
                break
            time.sleep(0.1)
            row.refresh_from_db()
    finally:
        stop_cluster(process)
        receiver.close()

    first, retry = receiver.requests
    for request in (first, retry):
        signing.verify(endpoint.secret, request.headers, request.body)
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == row.event_id
    body = json.loads(retry.body)
    assert (body["type"], body["data"]["lead"]["id"]) == ("lead.created", lead.pk)
    assert (row.status, row.attempts, row.response_status) == ("delivered", 2, 200)
    first_latency = first.at - arrived
    record_property("broker", cluster_broker)
    record_property("webhook_first_attempt_seconds", round(first_latency, 3))
    record_property("webhook_retry_after_seconds", round(retry.at - first.at, 1))
    print(
        f"\nbroker={cluster_broker} arrival→first attempt {first_latency:.3f}s, "
        f"retry {retry.at - first.at:.1f}s later"
    )
    assert first_latency < 5
