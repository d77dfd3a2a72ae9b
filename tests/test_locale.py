"""The German catalogue: a site run in German shows its pages in German, every message has
a translation, and the shipped .mo says what the .po says."""

import ast
import gettext
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import LeadFactory, UserFactory

LOCALE = Path(__file__).resolve().parent.parent / "leadfollow" / "locale" / "de" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"


def po_entries(path: Path) -> list[dict]:
    """The catalogue's live entries (obsolete ones dropped), each as its fields and flags.

    Enough of the PO format for a check: comments, msgctxt/msgid/msgid_plural/msgstr[n] with
    continuation lines."""
    entries, entry, field = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = line.strip()
        if not line:  # a blank line ends an entry
            if entry and "msgid" in entry:
                entries.append(entry)
            entry = field = None
        elif line.startswith("#~"):  # obsolete: never gets a msgid, so it is dropped
            continue
        elif line.startswith("#,"):
            entry = entry or {"flags": set()}
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            entry = entry or {"flags": set()}
        elif line.startswith('"'):
            entry[field] += ast.literal_eval(line)
        else:
            entry = entry or {"flags": set()}
            field, _, value = line.partition(" ")
            entry[field] = ast.literal_eval(value)
    return entries


@pytest.fixture
def german_site(settings):
    settings.LANGUAGE_CODE = "de"


@pytest.fixture
def lead(rep):
    now = timezone.now()
    return LeadFactory(
        name="Greta Gruber",
        owner=rep.user,
        received_at=now - timedelta(minutes=10),
        assigned_at=now - timedelta(minutes=10),
        first_response_due=now + timedelta(minutes=50),
    )


def test_a_german_site_shows_the_rep_queue_and_lead_page_in_german(german_site, client, rep, lead):
    client.force_login(rep.user)

    queue = client.get(reverse("leadfollow:queue")).content.decode()
    assert "<h1>Meine Warteschlange</h1>" in queue
    assert "Nächste Frist" in queue
    assert "Abmelden" in queue
    assert "Greta Gruber" in queue
    assert "My queue" not in queue

    page = client.get(reverse("leadfollow:lead", args=[lead.pk])).content.decode()
    for german in (
        "Kontaktversuch erfassen",
        "Erstreaktion fällig",
        "Wiedervorlage planen",
        "An den Pool zurückgeben",
        "In Bearbeitung",  # the "working" status in the status picker
    ):
        assert german in page, german
    assert "Log a contact attempt" not in page


def test_a_german_site_shows_the_admin_dashboard_in_german(german_site, client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:leadfollow_dashboard")).content.decode()
    assert "Kalte Leads und Reaktionszeiten" in page
    assert "Reaktionszeiten" in page
    assert "Keine kalten Leads. Gut gemacht." in page
    assert "Cold leads and response times" not in page


def test_the_german_catalogue_has_no_untranslated_or_fuzzy_entry():
    entries = po_entries(PO)
    header = next(e for e in entries if e["msgid"] == "")
    assert "Language: de\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header["msgstr"]
    messages = [e for e in entries if e["msgid"] != ""]
    assert len(messages) > 800  # the whole catalogue was read, not a fragment of it
    fuzzy = [e["msgid"] for e in messages if "fuzzy" in e["flags"]]
    untranslated = [
        e["msgid"]
        for e in messages
        if not all(value for key, value in e.items() if key.startswith("msgstr"))
    ]
    assert fuzzy == []
    assert untranslated == []
    plurals = [e for e in messages if "msgid_plural" in e]
    assert plurals and all("msgstr[0]" in e and "msgstr[1]" in e for e in plurals)


def test_the_committed_mo_is_compiled_from_the_current_po(tmp_path):
    """Run `django-admin compilemessages -l de` (in leadfollow/) after editing the .po."""
    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (GNU gettext) is not installed")
    fresh = tmp_path / "django.mo"
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(fresh), str(PO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    if fresh.read_bytes() == MO.read_bytes():
        return
    # Another gettext version may lay the file out differently: then the messages must agree.
    with fresh.open("rb") as f:
        expected = gettext.GNUTranslations(f)._catalog
    with MO.open("rb") as f:
        committed = gettext.GNUTranslations(f)._catalog
    stale = sorted(
        str(k) for k in set(expected) | set(committed) if expected.get(k) != committed.get(k)
    )
    assert not stale, (
        f"{MO.name} is older than {PO.name}: {len(stale)} message(s) differ, e.g. {stale[:3]}; "
        "run compilemessages -l de in leadfollow/"
    )
