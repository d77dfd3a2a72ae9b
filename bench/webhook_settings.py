"""Settings for bench/bench_webhooks.py and its qcluster: tests.settings on PostgreSQL
(DATABASE_URL), a real cluster on the broker named by LF_BENCH_BROKER (orm or redis)."""

import os

from tests.settings import *  # noqa: F403

BROKER = os.environ.get("LF_BENCH_BROKER", "orm")
Q_CLUSTER = {
    "name": "leadfollow-bench-webhooks",
    "sync": False,
    "workers": 2,
    "timeout": 30,
    "retry": 60,
    "max_attempts": 3,
    "catch_up": False,
    "poll": float(os.environ.get("LF_BENCH_POLL", "0.2")),  # ORM broker: idle poll interval
    "save_limit": 0,
    **(
        {"redis": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}
        if BROKER == "redis"
        else {"orm": "default"}
    ),
}
LEADFOLLOW = {
    "TIME_ZONE": "Europe/Berlin",
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True,  # the receiver is on 127.0.0.1
    "NOTIFY_ON_ASSIGNMENT": False,  # measure the webhook alone
    "DEDUPLICATE_BY_EMAIL": False,
}
