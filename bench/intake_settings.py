"""Settings for bench/bench_intake.py: the test settings (DATABASE_URL, REDIS_URL), the
bench's URLconf with a bare DRF view beside leadfollow's API, no throttle, no e-mails."""

from tests.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "bench.intake_urls"
ALL_DAY = [["00:00", "24:00"]]
LEADFOLLOW = {
    "TIME_ZONE": "Europe/Berlin",
    "BUSINESS_HOURS": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), ALL_DAY),
    "API_INTAKE_THROTTLE_RATE": None,
    "NOTIFY_ON_ASSIGNMENT": False,  # queued after commit, not part of intake
    "DEDUPLICATE_BY_EMAIL": True,
    "PAUSE_AFTER_MISSES": None,
}
