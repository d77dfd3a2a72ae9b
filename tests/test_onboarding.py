"""A newcomer's first steps: making reps (command and admin action), the checks that catch
a half-done install, the API docs page and the W040 silence on SQLite."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import modify_settings, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from leadfollow.checks import check_api
from leadfollow.models import ApiKey, RepProfile
from tests.factories import RepFactory, UserFactory

User = get_user_model()


@pytest.mark.django_db
def test_make_rep_command_makes_users_reps_and_leads_reach_them():
    UserFactory(username="alice")
    UserFactory(username="bob")
    RepFactory(user=UserFactory(username="carol"), capacity=3)
    out = StringIO()
    call_command(
        "leadfollow_make_rep", "alice", "bob", "carol", "--timezone", "America/New_York",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().splitlines() == [
        "alice: now a rep",
        "bob: now a rep",
        "carol: already a rep",
    ]
    alice = RepProfile.objects.get(user__username="alice")
    assert alice.accepting_leads and alice.timezone == "America/New_York"
    # carol's profile was left as it was
    assert RepProfile.objects.get(user__username="carol").capacity == 3

    _, key = ApiKey.objects.create_key(source="web")
    response = APIClient().post(
        "/api/leads/", {"name": "Jo", "email": "jo@example.com"}, format="json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["owner_username"] in {"alice", "bob", "carol"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No such user: nobody"),
        (["alice", "--timezone", "Mars/Olympus"], "not a known IANA time zone"),
        (["alice", "--capacity", "0"], "--capacity must be a positive number"),
    ],
)
def test_make_rep_command_refuses_bad_input_without_writing(args, message):
    UserFactory(username="alice")
    with pytest.raises(CommandError, match=message):
        call_command("leadfollow_make_rep", *args)
    assert not RepProfile.objects.exists()


@pytest.mark.django_db
def test_api_key_command_prints_a_working_key():
    out = StringIO()
    call_command("leadfollow_api_key", "web", "--name", "contact form", stdout=out)
    key = out.getvalue().split("key: ", 1)[1].split()[0]
    assert ApiKey.objects.get().matches(key)
    assert ApiKey.objects.get().events_any_source is False
    call_command("leadfollow_api_key", "esp", "--events-any-source", stdout=StringIO())
    assert ApiKey.objects.get(source="esp").events_any_source is True
    with pytest.raises(CommandError, match="letters, digits"):
        call_command("leadfollow_api_key", "not a slug")


@pytest.mark.django_db
def test_admin_action_on_the_user_list_makes_reps(client):
    admin_user = User.objects.create_superuser("root", "root@example.com", "pw")
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    client.force_login(admin_user)
    url = reverse("admin:auth_user_changelist")
    page = client.get(url)
    assert b"Make the selected users reps" in page.content
    response = client.post(
        url,
        {"action": "make_users_reps", "_selected_action": [alice.pk, bob.pk]},
        follow=True,
    )
    assert "2 users are now reps." in response.content.decode()
    assert set(RepProfile.objects.values_list("user__username", flat=True)) == {"alice", "bob"}


def test_schema_class_missing_is_an_error():
    with override_settings(REST_FRAMEWORK={}):
        assert [e.id for e in check_api()] == ["leadfollow.E090"]
    with override_settings(
        REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema"}
    ):  # noqa: E501
        assert [e.id for e in check_api()] == ["leadfollow.E090"]
    with override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "leadfollow.nothing.Here"}):
        assert [e.id for e in check_api()] == ["leadfollow.E090"]
    assert check_api() == []


def test_sidecar_missing_is_a_warning():
    with modify_settings(INSTALLED_APPS={"remove": ["drf_spectacular_sidecar"]}):
        assert [e.id for e in check_api()] == ["leadfollow.W091"]


@pytest.mark.django_db
def test_api_root_redirects_to_a_docs_page_served_from_the_package(client):
    response = client.get("/api/")
    assert response.status_code == 302 and response["Location"] == "/api/docs/"
    page = client.get("/api/docs/").content.decode()
    assert 'data-schema-url="/api/schema/"' in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "/static/leadfollow/api-docs.js" in page
    assert "//cdn" not in page and "https://" not in page


@pytest.mark.django_db
def test_no_w040_for_leadfollow_models_on_sqlite():
    from django.db import connection, models

    from leadfollow.models import Lead

    # What Django itself reports about the covering index, on SQLite…
    unfiltered = [m.id for m in models.Model.check.__func__(Lead, databases=["default"])]
    if connection.vendor == "sqlite":
        assert "models.W040" in unfiltered
    # …and what manage.py says: nothing.
    assert "models.W040" not in [m.id for m in run_checks(databases=["default"])]


@pytest.mark.django_db
def test_rep_login_page_names_the_product_and_pages_have_an_icon(client):
    page = client.get("/accounts/login/").content.decode()
    assert "leadfollow" in page and "Log in to your lead queue" in page
    assert 'rel="icon" href="/static/leadfollow/favicon.svg"' in page


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="demo_project.urls")
def test_demo_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/leadfollow/favicon.svg"


def test_the_changelog_names_migrations_and_check_ids_that_exist():
    """Branches renumber migrations and checks when they merge; the CHANGELOG must follow."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    changelog = (root / "CHANGELOG.md").read_text()
    migrations = {path.stem for path in (root / "leadfollow" / "migrations").glob("0*.py")}
    named = set(re.findall(r"`(\d{4}_\w+)`", changelog))
    assert named and named <= migrations, named - migrations
    check_ids = set(
        re.findall(r'id="leadfollow\.([EW]\d{3})"', (root / "leadfollow" / "checks.py").read_text())
    )
    mentioned = set(re.findall(r"(?<!models\.)\b([EW]\d{3})\b", changelog))  # not Django's
    assert mentioned and mentioned <= check_ids, mentioned - check_ids
