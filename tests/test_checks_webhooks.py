"""System checks of the webhook, alert-channel and live-queue settings (leadfollow.E050…)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from leadfollow.checks import check_webhooks_and_alerts


def ids(**options) -> list[str]:
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **options}):
        return sorted(e.id for e in check_webhooks_and_alerts())


def test_defaults_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_TIMEOUT_SECONDS", 0),
        ("WEBHOOK_MAX_ATTEMPTS", "8"),
        ("WEBHOOK_RETRY_BASE_SECONDS", True),
        ("WEBHOOK_DISABLE_AFTER_FAILURES", -1),
        ("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "yes"),
    ],
)
def test_e050_bad_webhook_settings(name, value):
    assert ids(**{name: value}) == ["leadfollow.E050"]


@pytest.mark.parametrize("channels", [{"chat": "leadfollow.alerts.ChatWebhookChannel"}, ["email"]])
def test_e051_email_must_stay(channels):
    assert ids(ALERT_CHANNELS=channels) == ["leadfollow.E051"]


def test_e052_a_channel_that_does_not_import():
    channels = {"email": "leadfollow.alerts.EmailChannel", "sms": "nowhere.Sms"}
    assert ids(ALERT_CHANNELS=channels) == ["leadfollow.E052"]


@pytest.mark.parametrize("poll", [0, -1, "5", None])
def test_e053_bad_poll_interval(poll):
    assert ids(LIVE_QUEUE_POLL_SECONDS=poll) == ["leadfollow.E053"]


def test_manage_py_check_fails():
    with override_settings(LEADFOLLOW={"ALERT_CHANNELS": {}}), pytest.raises(SystemCheckError):
        call_command("check")
