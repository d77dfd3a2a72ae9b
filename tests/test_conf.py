import pytest
from django.conf import settings
from django.test import override_settings

from leadfollow.conf import DEFAULTS, lf_settings


def test_defaults_apply_for_keys_the_project_does_not_set():
    # tests/settings.py sets only TIME_ZONE.
    assert "FIRST_RESPONSE_SLA_MINUTES" not in settings.LEADFOLLOW
    assert DEFAULTS["FIRST_RESPONSE_SLA_MINUTES"] == lf_settings.FIRST_RESPONSE_SLA_MINUTES
    assert DEFAULTS["BUSINESS_HOURS"] == lf_settings.BUSINESS_HOURS
    assert lf_settings.HOLIDAYS == []
    assert lf_settings.DEDUPLICATE_BY_EMAIL is True


def test_project_value_wins_over_default():
    assert lf_settings.TIME_ZONE == settings.LEADFOLLOW["TIME_ZONE"] == "Europe/Berlin"


@pytest.mark.parametrize("missing", [None, {}])
def test_no_leadfollow_setting_means_all_defaults(missing):
    with override_settings(LEADFOLLOW=missing):
        assert DEFAULTS["DEFAULT_REP_CAPACITY"] == lf_settings.DEFAULT_REP_CAPACITY
        assert DEFAULTS["MAX_ATTRIBUTES_BYTES"] == lf_settings.MAX_ATTRIBUTES_BYTES


def test_settings_are_read_on_access_not_at_import():
    # Read (and cache) the value first, then change the setting: the new value must show.
    before = lf_settings.FIRST_RESPONSE_SLA_MINUTES
    with override_settings(LEADFOLLOW={"FIRST_RESPONSE_SLA_MINUTES": before + 15}):
        assert before + 15 == lf_settings.FIRST_RESPONSE_SLA_MINUTES
    assert before == lf_settings.FIRST_RESPONSE_SLA_MINUTES


def test_override_settings_reverts_every_key_it_touched():
    with override_settings(
        LEADFOLLOW={"SLA_MINUTES_BY_SOURCE": {"ads": 15}, "DEFAULT_REP_CAPACITY": 3}
    ):
        assert lf_settings.SLA_MINUTES_BY_SOURCE == {"ads": 15}
        assert lf_settings.DEFAULT_REP_CAPACITY == 3
        # Keys the override leaves out fall back to the defaults, not to the outer dict.
        assert lf_settings.TIME_ZONE == settings.TIME_ZONE
    assert lf_settings.SLA_MINUTES_BY_SOURCE == {}
    assert DEFAULTS["DEFAULT_REP_CAPACITY"] == lf_settings.DEFAULT_REP_CAPACITY


def test_pytest_django_settings_fixture_is_seen_too(settings):
    settings.LEADFOLLOW = {"HOLIDAYS": ["2026-12-25"]}
    assert lf_settings.HOLIDAYS == ["2026-12-25"]


@override_settings(TIME_ZONE="America/New_York", LEADFOLLOW={"TIME_ZONE": None})
def test_time_zone_none_falls_back_to_django_time_zone():
    assert lf_settings.TIME_ZONE == "America/New_York"


@override_settings(TIME_ZONE="America/New_York", LEADFOLLOW={})
def test_time_zone_absent_falls_back_to_django_time_zone():
    assert lf_settings.TIME_ZONE == "America/New_York"


def test_changing_only_django_time_zone_updates_the_fallback():
    with override_settings(LEADFOLLOW={}):
        assert lf_settings.TIME_ZONE == settings.TIME_ZONE
        with override_settings(TIME_ZONE="Asia/Tokyo"):
            assert lf_settings.TIME_ZONE == "Asia/Tokyo"
        assert lf_settings.TIME_ZONE == settings.TIME_ZONE != "Asia/Tokyo"


@override_settings(LEADFOLLOW={"TIME_ZONE": "America/Chicago"}, TIME_ZONE="Asia/Tokyo")
def test_explicit_time_zone_ignores_django_time_zone():
    assert lf_settings.TIME_ZONE == "America/Chicago"


def test_from_email_falls_back_to_default_from_email():
    with override_settings(DEFAULT_FROM_EMAIL="sales@example.com", LEADFOLLOW={}):
        assert lf_settings.FROM_EMAIL == "sales@example.com"
    with override_settings(
        DEFAULT_FROM_EMAIL="sales@example.com", LEADFOLLOW={"FROM_EMAIL": "leads@example.com"}
    ):
        assert lf_settings.FROM_EMAIL == "leads@example.com"


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="FIRST_RESPONSE_SLA"):
        lf_settings.FIRST_RESPONSE_SLA  # noqa: B018
    # getattr with a default works, as for any object.
    assert getattr(lf_settings, "NOT_A_SETTING", "fallback") == "fallback"


def test_unknown_key_in_project_settings_is_not_an_attribute():
    with override_settings(LEADFOLLOW={"FIRST_RESPONSE_SLA": 5}), pytest.raises(AttributeError):
        lf_settings.FIRST_RESPONSE_SLA  # noqa: B018
