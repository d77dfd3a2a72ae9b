import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from tests.browser import browser  # noqa: F401  (the headless Chromium fixture)
from tests.factories import RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
ON_POSTGRES = "postgres" in os.environ.get("DATABASE_URL", "")


def pytest_addoption(parser):
    parser.addoption(
        "--clock",
        metavar="ISO-DATETIME",
        help="run the whole suite as if the wall clock started at this moment (it keeps "
        "ticking), e.g. --clock 2026-11-21T01:49+01:00 to replay a failure seen on a Saturday "
        "night; browser tests are skipped, since Chromium keeps the real clock",
    )


def pytest_configure(config):
    if at := config.getoption("--clock"):
        import time_machine

        config._lf_clock = time_machine.travel(datetime.fromisoformat(at), tick=True)
        config._lf_clock.start()


def pytest_unconfigure(config):
    if clock := getattr(config, "_lf_clock", None):
        clock.stop()


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    real_clock = pytest.mark.skip(reason="--clock is set: Chromium keeps the real clock")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)
        if "browser" in item.keywords and config.getoption("--clock"):
            item.add_marker(real_clock)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache (throttle counters, replay records, API-key
    lookups), whatever ran before it and in whichever order."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def monday_10() -> datetime:
    """Monday 2026-11-23 10:00 in Berlin: inside default business hours."""
    return datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def rep(db):
    return RepFactory()
