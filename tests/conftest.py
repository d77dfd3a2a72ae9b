import os
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.browser import browser  # noqa: F401  (the headless Chromium fixture)
from tests.factories import RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
ON_POSTGRES = "postgres" in os.environ.get("DATABASE_URL", "")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip)


@pytest.fixture
def monday_10() -> datetime:
    """Monday 2026-11-23 10:00 in Berlin: inside default business hours."""
    return datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def rep(db):
    return RepFactory()
