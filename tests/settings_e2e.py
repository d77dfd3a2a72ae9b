"""Settings for the ``qcluster`` subprocess of tests/test_e2e_qcluster.py.

tests.settings, pointed at the database pytest-django created (``LF_E2E_DB_NAME``), with a
real (not sync) django-q2 cluster: the ORM broker on that database, or Redis when
``REDIS_URL`` is set.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, REDIS_URL

DATABASES["default"]["NAME"] = os.environ["LF_E2E_DB_NAME"]
DATABASES["default"]["TEST"] = {"NAME": os.environ["LF_E2E_DB_NAME"]}

Q_CLUSTER = {
    "name": "leadfollow-e2e",
    "sync": False,
    "workers": 2,
    "timeout": 50,
    "retry": 120,
    "max_attempts": 3,
    "catch_up": False,
    "poll": 0.2,  # ORM broker: seconds between queue polls when idle
    **({"redis": REDIS_URL} if REDIS_URL else {"orm": "default"}),
}

# tests/test_e2e_webhooks.py: its receiver listens on 127.0.0.1, and a retry should not
# wait the production backoff.
LEADFOLLOW = {
    **LEADFOLLOW,  # noqa: F405
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True,
    "WEBHOOK_RETRY_BASE_SECONDS": 1,
}
