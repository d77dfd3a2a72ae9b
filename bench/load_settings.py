"""The demo settings (PostgreSQL + Redis from DATABASE_URL/REDIS_URL) tuned for bench/load_test.py.

Only what the load test needs to see deadlines pass while it runs: reps work around the
clock, the SLA is two minutes, intake is not throttled (the test posts ~100/s from one
source), notifications are queued but their e-mails go nowhere.
"""

from demo_project.mail import mail_backend
from demo_project.settings import *  # noqa: F403

DEBUG = False
# Keep every task result (django-q2 prunes successes to 250 by default): the checks read
# when each sweep started.
Q_CLUSTER = {**Q_CLUSTER, "save_limit": 0}  # noqa: F405
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
globals().update(mail_backend("django.core.mail.backends.dummy.EmailBackend"))
ALL_DAY = [["00:00", "24:00"]]
LEADFOLLOW = {
    "TIME_ZONE": "Europe/Berlin",
    "BUSINESS_HOURS": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ALL_DAY),
    "FIRST_RESPONSE_SLA_MINUTES": 2,
    "REASSIGNMENT_SLA_MINUTES": 2,
    "MAX_MISSES": 3,
    "DEDUPLICATE_BY_EMAIL": True,
    "API_INTAKE_THROTTLE_RATE": None,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
