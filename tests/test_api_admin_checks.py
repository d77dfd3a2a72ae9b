"""API keys in the admin, and the system checks for the API settings."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from leadfollow.models import ApiKey
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def test_adding_a_key_shows_it_once_and_stores_its_hash(admin_client):
    response = admin_client.post(
        "/admin/leadfollow/apikey/add/", {"source": "ads", "name": "Landing pages"}
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get()
    page = response.content.decode()
    raw_key = page.split("<code>")[1].split("</code>")[0]
    assert raw_key.startswith(f"lf_{api_key.prefix}.")
    assert api_key.matches(raw_key) and api_key.signing_secret in page
    assert (
        raw_key
        not in admin_client.get(f"/admin/leadfollow/apikey/{api_key.pk}/change/").content.decode()
    )


def test_revoke_action(admin_client):
    api_key, _ = make_api_key()
    admin_client.post(
        "/admin/leadfollow/apikey/",
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def _ids(**leadfollow) -> set[str]:
    with override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", **leadfollow}):
        return {e.id for e in run_checks() if e.id.startswith("leadfollow.")}


def test_api_settings_are_checked():
    assert not _ids() & {"leadfollow.E020", "leadfollow.E021"}
    assert "leadfollow.E020" in _ids(API_SIGNATURE_MAX_AGE_SECONDS=0)
    assert "leadfollow.E020" in _ids(API_IDEMPOTENCY_TTL_SECONDS="1d")
    assert "leadfollow.E021" in _ids(API_INTAKE_THROTTLE_RATE="fast")
    assert "leadfollow.E021" not in _ids(API_INTAKE_THROTTLE_RATE=None)
    assert "leadfollow.E021" not in _ids(API_INTAKE_THROTTLE_RATE="10/hour")
