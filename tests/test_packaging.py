import shutil
import subprocess
import sys
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_models_and_migrations_do_not_drift():
    out = StringIO()
    try:
        call_command("makemigrations", "leadfollow", check_changes=True, dry_run=True, stdout=out)
    except SystemExit:  # makemigrations --check exits 1 when a migration is missing
        pytest.fail("Models changed without a migration:\n" + out.getvalue())


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    """Build the wheel from a clean copy of the checkout and list what it contains.

    A copy, so setuptools' build/ and *.egg-info never land in (or leak stale files from)
    the working tree. The copy keeps tests/ and demo_project/, and gets a stand-in .venv,
    so the exclusions below are really exercised.
    """
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.sqlite3*"
        ),
    )
    fake_site = src / ".venv" / "lib" / "python3.11" / "site-packages" / "leadfollow_vendored"
    fake_site.mkdir(parents=True)
    (fake_site / "__init__.py").write_text("")
    out = tmp / "dist"
    # --no-isolation: build with the setuptools/wheel from the test extra, offline.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("django_leadfollow-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "leadfollow/__init__.py",
        "leadfollow/py.typed",
        "leadfollow/migrations/__init__.py",
        "leadfollow/migrations/0001_initial.py",
        "leadfollow/templates/leadfollow/email/lead_assigned.txt",
        "leadfollow/templates/leadfollow/email/lead_assigned_subject.txt",
        "leadfollow/static/leadfollow/leadfollow.css",
        "leadfollow/locale/de/LC_MESSAGES/django.po",
        "leadfollow/locale/de/LC_MESSAGES/django.mo",
    ],
)
def test_wheel_contains(wheel_names, path):
    assert path in wheel_names


@pytest.mark.slow
def test_wheel_ships_every_migration_template_static_and_locale_file(wheel_names):
    package = ROOT / "leadfollow"
    expected = {
        p.relative_to(ROOT).as_posix()
        for pattern in ("migrations/*.py", "templates/**/*", "static/**/*", "locale/**/*")
        for p in package.glob(pattern)
        if p.is_file()
    }
    assert expected - set(wheel_names) == set()


@pytest.mark.slow
def test_wheel_contains_only_the_package(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names}
    assert {"leadfollow"} == {t for t in top_level if not t.endswith(".dist-info")}
    for unwanted in ("tests/", "demo_project/", ".venv/", "bench/", "site-packages"):
        assert not [name for name in wheel_names if unwanted in name], unwanted
    assert not [name for name in wheel_names if name.endswith((".pyc", ".sqlite3"))]


def test_german_translations_load():
    from django.utils import translation

    from leadfollow.intake import LeadIntakeForm
    from leadfollow.models import Lead, LeadStatus

    with translation.override("de"):
        assert str(LeadStatus.NEW.label) == "Neu"
        assert str(LeadStatus.DISQUALIFIED.label) == "Disqualifiziert"
        assert str(Lead._meta.verbose_name_plural) == "Leads"
        assert str(Lead._meta.get_field("first_response_due").verbose_name) == (
            "Erstreaktion fällig"
        )
        form = LeadIntakeForm(data={"name": "Ada"})
        assert not form.is_valid()
        assert form.non_field_errors() == [
            "Geben Sie eine E-Mail-Adresse oder Telefonnummer an, damit ein "
            "Vertriebsmitarbeiter antworten kann."
        ]
    assert str(LeadStatus.NEW.label) == "New"


def test_lead_status_working_is_not_shadowed_by_other_apps():
    from django.utils import translation

    from leadfollow.models import LeadStatus

    with translation.override("de"):
        assert str(LeadStatus.WORKING.label) == "In Bearbeitung"
