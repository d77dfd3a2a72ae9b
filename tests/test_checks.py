from datetime import date, datetime

import pytest
from django.core.checks import Error
from django.core.checks import Warning as CheckWarning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import modify_settings, override_settings

from leadfollow.checks import check_settings, check_shared_cache


def leadfollow_ids(messages) -> list[str]:
    return sorted(m.id for m in messages if m.id.startswith("leadfollow."))


def test_test_settings_pass():
    assert check_settings() == []


GOOD = {
    "TIME_ZONE": "America/New_York",
    "BUSINESS_HOURS": {
        "mon": [["08:00", "12:00"], ["13:00", "17:00"]],
        "fri": [["08:00", "14:00"]],
        "sun": [["22:00", "02:00"]],  # a night shift into Monday, before Monday's window
    },
    "HOLIDAYS": ["2026-12-25", date(2027, 1, 1)],
    "FIRST_RESPONSE_SLA_MINUTES": 30,
    "SLA_MINUTES_BY_SOURCE": {"ads": 15, "partner": 240},
    "DEFAULT_REP_CAPACITY": 10,
    "MANAGER_GROUP": "Sales managers",
    "AUTOMATED_ATTEMPTS_STOP_CLOCK": True,
    "DEDUPLICATE_BY_EMAIL": False,
    "MAX_ATTRIBUTES_BYTES": 4096,
    "NOTIFY_ON_ASSIGNMENT": False,
    "FROM_EMAIL": "leads@example.com",
}


@override_settings(LEADFOLLOW=GOOD)
def test_fully_customised_valid_config_passes():
    assert check_settings() == []


@pytest.mark.parametrize("value", [["TIME_ZONE", "UTC"], "Europe/Berlin", [], 0])
def test_e000_leadfollow_not_a_dict(value):
    with override_settings(LEADFOLLOW=value):
        errors = check_settings()
    assert [e.id for e in errors] == ["leadfollow.E000"]
    assert isinstance(errors[0], Error)


def test_e001_unknown_key_names_it_and_lists_known_ones():
    with override_settings(LEADFOLLOW={"FIRST_RESPONSE_SLA": 30, "TIME_ZONE": "UTC"}):
        errors = check_settings()
    assert leadfollow_ids(errors) == ["leadfollow.E001"]
    assert "FIRST_RESPONSE_SLA" in errors[0].msg
    assert "FIRST_RESPONSE_SLA_MINUTES" in errors[0].hint


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["09:00", "25:00"]]},  # no such time
        {"monday": [["09:00", "17:00"]]},  # unknown day
        {"mon": [["09:00", "17:00"], ["12:00", "18:00"]]},  # overlap
        {"mon": [["09:00", "09:00"]]},  # empty window
        {"mon": ["09:00-17:00"]},  # not a pair
        {"mon": "09:00-17:00"},
        [["09:00", "17:00"]],  # not a mapping
        None,
        {},  # valid shape, but never open
        {"mon": [], "tue": []},
    ],
)
def test_e002_bad_or_empty_business_hours(hours):
    with override_settings(LEADFOLLOW={"BUSINESS_HOURS": hours}):
        assert leadfollow_ids(check_settings()) == ["leadfollow.E002"]


def test_e002_message_says_what_is_wrong():
    with override_settings(LEADFOLLOW={"BUSINESS_HOURS": {"mon": [["09:00", "25:00"]]}}):
        (error,) = check_settings()
    assert "mon" in error.msg
    assert "25:00" in error.msg


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "CEST", "", 1, ["Europe/Berlin"]])
def test_e003_bad_time_zone(tz):
    with override_settings(LEADFOLLOW={"TIME_ZONE": tz}):
        assert leadfollow_ids(check_settings()) == ["leadfollow.E003"]


@override_settings(TIME_ZONE="Mars/Olympus_Mons", LEADFOLLOW={})
def test_e003_checks_the_django_time_zone_it_falls_back_to():
    assert leadfollow_ids(check_settings()) == ["leadfollow.E003"]


@pytest.mark.parametrize(
    "holidays",
    [
        ["2026-13-01"],
        ["25.12.2026"],
        ["2026-12-25", "tomorrow"],
        [datetime(2026, 12, 25, 0, 0)],  # an instant, not a day
        "2026-12-25",  # a string, not a list of them
        None,
        [20261225],
    ],
)
def test_e004_bad_holidays(holidays):
    with override_settings(LEADFOLLOW={"HOLIDAYS": holidays}):
        errors = check_settings()
    assert leadfollow_ids(errors) == ["leadfollow.E004"]


@pytest.mark.parametrize(
    "name", ["FIRST_RESPONSE_SLA_MINUTES", "DEFAULT_REP_CAPACITY", "MAX_ATTRIBUTES_BYTES"]
)
@pytest.mark.parametrize("value", [0, -5, "60", 1.5, True, None])
def test_e005_non_positive_integers(name, value):
    with override_settings(LEADFOLLOW={name: value}):
        errors = check_settings()
    assert leadfollow_ids(errors) == ["leadfollow.E005"]
    assert name in errors[0].msg


def test_e005_reports_each_bad_setting():
    with override_settings(LEADFOLLOW={"FIRST_RESPONSE_SLA_MINUTES": 0, "DEFAULT_REP_CAPACITY": 0}):
        errors = check_settings()
    assert leadfollow_ids(errors) == ["leadfollow.E005", "leadfollow.E005"]


@pytest.mark.parametrize(
    "by_source", [{"ads": 0}, {"ads": "15"}, {"ads": 15, "web": -1}, ["ads"], None]
)
def test_e006_bad_sla_minutes_by_source(by_source):
    with override_settings(LEADFOLLOW={"SLA_MINUTES_BY_SOURCE": by_source}):
        assert leadfollow_ids(check_settings()) == ["leadfollow.E006"]


@override_settings(USE_TZ=False)
def test_e007_use_tz_false():
    assert leadfollow_ids(check_settings()) == ["leadfollow.E007"]


@modify_settings(INSTALLED_APPS={"remove": ["django_q"]})
def test_e008_django_q_not_installed():
    errors = check_settings()
    # E008 and not W001: without django_q, Q_CLUSTER is beside the point.
    assert leadfollow_ids(errors) == ["leadfollow.E008"]


@pytest.mark.parametrize("delete", [True, False])
def test_w001_q_cluster_missing(settings, delete):
    if delete:
        del settings.Q_CLUSTER
    else:
        settings.Q_CLUSTER = {}
    messages = check_settings()
    assert leadfollow_ids(messages) == ["leadfollow.W001"]
    assert isinstance(messages[0], CheckWarning)
    assert not isinstance(messages[0], Error)


def test_several_problems_are_reported_together():
    config = {"TIME_ZONE": "Nowhere/City", "HOLIDAYS": ["xmas"], "DEFAULT_REP_CAPACITY": 0}
    with override_settings(LEADFOLLOW=config):
        assert leadfollow_ids(check_settings()) == [
            "leadfollow.E003",
            "leadfollow.E004",
            "leadfollow.E005",
        ]


def test_manage_py_check_fails_on_bad_business_hours():
    with (
        override_settings(LEADFOLLOW={"BUSINESS_HOURS": {"mon": [["9am", "5pm"]]}}),
        pytest.raises(SystemCheckError, match=r"leadfollow\.E002"),
    ):
        call_command("check")


def test_manage_py_check_passes_with_test_settings(capsys):
    call_command("check")
    assert "leadfollow." not in capsys.readouterr().err


# --- E022: rate limits need a cache shared between processes (issue 13) -------------------

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                     "LOCATION": "redis://127.0.0.1:6379/5"}}  # fmt: skip


@pytest.mark.parametrize("caches", [LOCMEM, DUMMY])
def test_e022_a_per_process_cache_with_throttling_on_is_an_error(caches):
    with override_settings(CACHES=caches, DEBUG=False):
        errors = check_shared_cache()
    assert [e.id for e in errors] == ["leadfollow.E022"]
    assert isinstance(errors[0], Error)
    assert "API_INTAKE_THROTTLE_RATE" in errors[0].msg


def test_e022_fires_through_manage_py_check_when_not_silenced():
    with (
        override_settings(CACHES=LOCMEM, DEBUG=False, SILENCED_SYSTEM_CHECKS=[]),
        pytest.raises(SystemCheckError, match="leadfollow.E022"),
    ):
        call_command("check")


def test_e022_not_in_debug_with_a_shared_cache_or_without_limits():
    with override_settings(CACHES=LOCMEM, DEBUG=True):
        assert check_shared_cache() == []
    with override_settings(CACHES=REDIS, DEBUG=False):
        assert check_shared_cache() == []
    off = dict.fromkeys(
        ("API_INTAKE_THROTTLE_RATE", "API_AUTH_FAILURE_RATE", "CONTACT_FORM_RATE"), None
    )
    with override_settings(CACHES=LOCMEM, DEBUG=False, LEADFOLLOW=off):
        assert check_shared_cache() == []


@pytest.mark.parametrize("name", ["API_AUTH_FAILURE_RATE", "CONTACT_FORM_RATE"])
def test_e021_bad_new_rates(name):
    with override_settings(LEADFOLLOW={name: "ten a minute"}):
        assert leadfollow_ids(check_settings()) == ["leadfollow.E021"]


@pytest.mark.parametrize("depth", [0, -1, 2.5, True, None])
def test_e005_bad_max_json_depth(depth):
    with override_settings(LEADFOLLOW={"MAX_JSON_DEPTH": depth}):
        assert leadfollow_ids(check_settings()) == ["leadfollow.E005"]


def test_engagement_settings_pass_by_default():
    from leadfollow.checks import check_engagement

    assert check_engagement() == []


@pytest.mark.parametrize(
    "changes, error_id",
    [
        ({"ENGAGEMENT_POINTS": {"page_view": -1}}, "leadfollow.E080"),
        ({"ENGAGEMENT_POINTS": {"teleport": 1}}, "leadfollow.E080"),
        ({"ENGAGEMENT_HALF_LIFE_DAYS": 0}, "leadfollow.E081"),
        ({"MAX_EVENT_BATCH": 0}, "leadfollow.E082"),
        ({"ENGAGEMENT_WINDOW_DAYS": "90"}, "leadfollow.E082"),
        ({"HEATING_UP_JUMP": -5}, "leadfollow.E083"),
        ({"TRACKING_PAGES": {"pricing": "pricing_view"}}, "leadfollow.E084"),
        ({"TRACKING_COOKIE_NAME": ""}, "leadfollow.E085"),
        ({"TRACKING_CONSENT_COOKIE": 1}, "leadfollow.E085"),
        ({"TRACKING_EXCLUDE_PREFIXES": "/admin/"}, "leadfollow.E085"),
        ({"FIRST_TOUCH_LINK": "example.com/pricing/"}, "leadfollow.E085"),
    ],
)
def test_e080_e085_bad_engagement_settings(changes, error_id):
    from leadfollow.checks import check_engagement

    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **changes}):
        assert leadfollow_ids(check_engagement()) == [error_id]


def test_w080_tracking_on_without_the_middleware():
    from leadfollow.checks import check_engagement

    with (
        override_settings(LEADFOLLOW={"TRACKING_ENABLED": True}),
        modify_settings(MIDDLEWARE={"remove": ["leadfollow.tracking.TrackingMiddleware"]}),
    ):
        assert leadfollow_ids(check_engagement()) == ["leadfollow.W080"]
