"""Settings for the qcluster that tests/test_reliability.py starts and kills.

Same as tests.settings (DATABASE_URL names the pytest database), but a real, asynchronous
cluster on the ORM broker with short timeouts, and small sweep batches so a sweep spans
many transactions and can be killed in the middle.
"""

from tests.settings import *  # noqa: F403

Q_CLUSTER = {
    "name": "lf-reliability",
    "orm": "default",
    "workers": 1,
    "timeout": 20,
    "retry": 25,
    "max_attempts": 3,
    "catch_up": False,
    "poll": 0.2,
}
LEADFOLLOW = {
    "TIME_ZONE": "Europe/Berlin",
    "SWEEP_BATCH_SIZE": 10,
    "REASSIGNMENT_SLA_MINUTES": 600,
    "MAX_MISSES": 5,
    "NOTIFY_ON_ASSIGNMENT": False,
    # One rep misses 600 leads: pausing them would move the rest by handover, not by the
    # breach path this suite counts. Pausing is tested in tests/test_ownership.py.
    "PAUSE_AFTER_MISSES": None,
}
