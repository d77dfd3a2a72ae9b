"""Public holidays by country and subdivision (optional ``holidays``), per rep and for the
site, merged with the explicit dates; E.164 phone numbers (optional ``phonenumbers``)."""

import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings

from leadfollow.calendars import rep_calendar, site_calendar
from leadfollow.checks import check_settings
from leadfollow.intake import create_lead
from leadfollow.models import Lead, RepProfile
from tests.factories import RepFactory

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
pytest.importorskip("holidays")


def ids(messages) -> list[str]:
    return sorted(m.id for m in messages if m.id.startswith("leadfollow."))


@override_settings(
    LEADFOLLOW={
        "TIME_ZONE": "Europe/Berlin",
        "HOLIDAY_COUNTRY": "DE",
        "HOLIDAY_SUBDIVISION": "BE",
        "HOLIDAYS": ["2026-12-24"],
    }
)
@time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))
def test_site_calendar_has_the_regions_holidays_and_the_explicit_dates():
    holidays = site_calendar().holidays
    assert date(2026, 3, 8) in holidays  # International Women's Day: Berlin only
    assert date(2026, 12, 25) in holidays and date(2026, 12, 24) in holidays
    assert date(2027, 10, 3) in holidays and date(2025, 10, 3) in holidays  # years around now


@pytest.mark.django_db
@override_settings(
    LEADFOLLOW={
        "TIME_ZONE": "Europe/Berlin",
        "HOLIDAY_COUNTRY": "DE",
        "HOLIDAY_SUBDIVISION": "BE",
        "HOLIDAYS": ["2026-12-24"],
    }
)
def test_a_new_york_rep_gets_new_yorks_holidays_not_berlins():
    berlin = RepFactory(timezone="Europe/Berlin")
    ny = RepFactory(timezone="America/New_York", holiday_country="US", holiday_subdivision="NY")
    assert date(2026, 11, 26) in rep_calendar(ny).holidays  # Thanksgiving
    assert date(2026, 11, 26) not in rep_calendar(berlin).holidays
    assert date(2026, 3, 8) not in rep_calendar(ny).holidays  # Berlin's
    assert date(2026, 12, 24) in rep_calendar(ny).holidays  # explicit dates apply to all


@pytest.mark.django_db
@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "FIRST_RESPONSE_SLA_MINUTES": 60})
def test_a_lead_on_a_reps_public_holiday_is_due_the_next_working_day():
    """Thanksgiving 2026 (Thursday) in New York: a lead at 10:00 is due Friday 10:00."""
    RepFactory(timezone="America/New_York", holiday_country="US", holiday_subdivision="NY",
               working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu",
                                                                 "fri")})  # fmt: skip
    received = datetime(2026, 11, 26, 10, 0, tzinfo=NEW_YORK)
    lead = create_lead({"name": "Jo", "email": "jo@example.com"}, now=received).lead
    assert lead.first_response_due == datetime(2026, 11, 27, 10, 0, tzinfo=NEW_YORK)


@pytest.mark.django_db
def test_the_list_does_not_run_out_next_year():
    site = {"TIME_ZONE": "Europe/Berlin", "HOLIDAY_COUNTRY": "DE"}
    in_2031 = time_machine.travel(datetime(2031, 6, 1, tzinfo=BERLIN), tick=False)
    with override_settings(LEADFOLLOW=site), in_2031:
        assert date(2034, 12, 25) in site_calendar().holidays


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("country", "subdivision", "field"),
    [("XX", "", "holiday_country"), ("DE", "ZZ", "holiday_subdivision"),
     ("", "BE", "holiday_country")],
)  # fmt: skip
def test_rep_profile_refuses_unknown_regions(country, subdivision, field):
    rep = RepFactory.build(user=RepFactory().user, holiday_country=country,
                           holiday_subdivision=subdivision)  # fmt: skip
    with pytest.raises(ValidationError) as error:
        rep.full_clean(exclude=["user"])
    assert field in error.value.message_dict


def test_checks_for_the_site_region(monkeypatch):
    base = {"TIME_ZONE": "Europe/Berlin"}
    with override_settings(
        LEADFOLLOW={**base, "HOLIDAY_COUNTRY": "DE", "HOLIDAY_SUBDIVISION": "BE"}
    ):
        assert ids(check_settings()) == []
    with override_settings(LEADFOLLOW={**base, "HOLIDAY_COUNTRY": "XX"}):
        assert ids(check_settings()) == ["leadfollow.E093"]
    with override_settings(LEADFOLLOW={**base, "HOLIDAY_SUBDIVISION": "BE"}):
        assert ids(check_settings()) == ["leadfollow.E093"]
    monkeypatch.setitem(sys.modules, "holidays", None)  # the package is not installed
    with override_settings(LEADFOLLOW={**base, "HOLIDAY_COUNTRY": "DE"}):
        assert ids(check_settings()) == ["leadfollow.E092"]
    with override_settings(LEADFOLLOW=base):
        assert ids(check_settings()) == []


@pytest.mark.django_db
def test_reps_with_a_holiday_country_need_the_package(monkeypatch, capsys):
    """Saved while the package was installed, then it went: migrate and check --database
    say so (E092) instead of every deadline of those reps failing."""
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    RepFactory(holiday_country="US", holiday_subdivision="NY")
    call_command("check", "--database", "default")  # with the package: fine
    monkeypatch.setitem(sys.modules, "holidays", None)  # the package is not installed
    with pytest.raises(SystemCheckError, match=r"leadfollow\.E092.*1 rep\(s\)"):
        call_command("check", "--database", "default")
    RepProfile.objects.update(holiday_country="", holiday_subdivision="")
    call_command("check", "--database", "default")


# --- phone numbers ---------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "PHONE_REGION": "DE"})
@pytest.mark.parametrize(
    ("given", "stored", "flagged"),
    [
        ("030 1234567", "+49301234567", False),
        ("+1 (212) 555-0123", "+12125550123", False),
        ("0049 30 1234567", "+49301234567", False),
        ("call me after 6", "call me after 6", True),
        ("12", "12", True),
    ],
)
def test_phone_numbers_become_e164_and_odd_ones_are_kept_and_flagged(given, stored, flagged):
    pytest.importorskip("phonenumbers")
    lead = create_lead({"name": "Jo", "phone": given}).lead
    lead.refresh_from_db()
    assert (lead.phone, lead.phone_unparsed) == (stored, flagged)


@pytest.mark.django_db
def test_without_a_region_phone_numbers_are_checked_as_before():
    with pytest.raises(ValidationError):
        create_lead({"name": "Jo", "phone": "call me after 6"})
    assert not Lead.objects.exists()


def test_checks_for_the_phone_region(monkeypatch):
    pytest.importorskip("phonenumbers")
    base = {"TIME_ZONE": "Europe/Berlin"}
    with override_settings(LEADFOLLOW={**base, "PHONE_REGION": "de"}):
        assert ids(check_settings()) == ["leadfollow.E095"]
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    with override_settings(LEADFOLLOW={**base, "PHONE_REGION": "DE"}):
        assert ids(check_settings()) == ["leadfollow.E094"]
