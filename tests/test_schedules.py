from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_q.models import Schedule

from leadfollow.schedules import ensure_schedules

pytestmark = pytest.mark.django_db


def test_ensure_schedules_creates_the_sweep_every_minute_and_the_daily_purge():
    assert [(e.name, e.created) for e in ensure_schedules()] == [
        ("leadfollow.sweep", True),
        ("leadfollow.purge", True),
        ("leadfollow.engagement_decay", True),
    ]
    schedule = Schedule.objects.get(name="leadfollow.sweep")
    assert schedule.func == "leadfollow.tasks.sweep"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    assert schedule.next_run is not None
    purge = Schedule.objects.get(name="leadfollow.purge")
    assert purge.func == "leadfollow.tasks.purge_expired"
    assert (purge.schedule_type, purge.repeats) == (Schedule.DAILY, -1)
    assert purge.next_run is not None


def test_ensure_schedules_is_idempotent_and_repairs_edits():
    ensure_schedules()
    Schedule.objects.filter(name="leadfollow.sweep").update(minutes=15, func="old.path")
    assert [e.created for e in ensure_schedules()] == [False, False, False]
    assert [e.created for e in ensure_schedules()] == [False, False, False]
    schedule = Schedule.objects.get(name="leadfollow.sweep")
    assert (schedule.minutes, schedule.func) == (1, "leadfollow.tasks.sweep")


def test_duplicate_schedules_by_name_collapse_to_one():
    for _ in range(3):
        Schedule.objects.create(name="leadfollow.sweep", func="leadfollow.tasks.sweep")
    ensure_schedules()
    assert Schedule.objects.filter(name="leadfollow.sweep").count() == 1


def test_management_command_prints_what_it_did(capsys):
    call_command("leadfollow_schedules")
    call_command("leadfollow_schedules")
    assert capsys.readouterr().out.splitlines() == [
        "created schedule leadfollow.sweep",
        "created schedule leadfollow.purge",
        "created schedule leadfollow.engagement_decay",
        "updated schedule leadfollow.sweep",
        "updated schedule leadfollow.purge",
        "updated schedule leadfollow.engagement_decay",
    ]


def test_sweep_task_returns_a_report():
    from leadfollow.tasks import sweep

    assert sweep() == {
        "handed_over": 0,
        "reassigned": 0,
        "escalated": 0,
        "paused": 0,
        "warned": 0,
        "reminded": 0,
        "renotified": 0,
    }


def test_purge_task_deletes_idempotency_records_past_their_ttl():
    from leadfollow.models import IdempotencyRecord
    from leadfollow.tasks import purge_expired

    now = timezone.now()

    def record(key, age):
        IdempotencyRecord.objects.create(
            source="ads", key=key, request_hash="x", created_at=now - age
        )

    record("fresh", timedelta(hours=1))
    record("day-old", timedelta(hours=25))
    record("week-old", timedelta(days=7))
    assert purge_expired() == 2
    assert purge_expired() == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    with override_settings(LEADFOLLOW={"API_IDEMPOTENCY_TTL_SECONDS": 60}):
        assert purge_expired() == 1
    assert not IdempotencyRecord.objects.exists()


def test_q_cluster_recommendations_are_checked():
    from django.test import override_settings

    from leadfollow.checks import check_routing_and_sweep

    risky = {"name": "x", "orm": "default", "timeout": 90, "retry": 60}
    with override_settings(Q_CLUSTER=risky):
        messages = check_routing_and_sweep()
    assert [m.id for m in messages] == ["leadfollow.W002"]
    assert "catch_up" in messages[0].msg and "max_attempts" in messages[0].msg
    good = {**risky, "timeout": 50, "retry": 120, "catch_up": False, "max_attempts": 3}
    with override_settings(Q_CLUSTER=good):
        assert check_routing_and_sweep() == []


def test_routing_and_sweep_settings_are_checked():
    from django.test import override_settings

    from leadfollow.checks import check_routing_and_sweep

    bad = {
        "ROUTING_STRATEGY": "nowhere.Strategy",
        "MAX_MISSES": 0,
        "EARLY_WARNING_SHARE": 1.5,
    }
    with override_settings(LEADFOLLOW=bad):
        ids = [m.id for m in check_routing_and_sweep()]
    assert ids == ["leadfollow.E009", "leadfollow.E010", "leadfollow.E011"]
