from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings

from leadfollow.models import Lead, LeadStatus
from leadfollow.ownership import record_attempt
from leadfollow.signals import lead_contacted
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(monday_10):
    """Monday noon, whatever the wall clock: the attempts below, that morning, are past."""
    with time_machine.travel(monday_10 + timedelta(hours=2), tick=False) as traveller:
        yield traveller


@pytest.fixture
def lead(rep, monday_10):
    return LeadFactory(
        owner=rep.user, received_at=monday_10, first_response_due=monday_10 + timedelta(hours=1)
    )


def test_first_human_attempt_stops_the_clock(lead, rep, monday_10):
    at = monday_10 + timedelta(minutes=20)
    record_attempt(lead, rep=rep.user, channel="call", outcome="no_answer", attempted_at=at)
    lead.refresh_from_db()
    assert lead.first_contacted_at == lead.last_contacted_at == at
    assert lead.status == LeadStatus.WORKING
    assert not Lead.objects.cold(monday_10 + timedelta(hours=2)).exists()


def test_later_attempts_move_last_contact_only_and_late_logged_earlier_one_wins(
    lead, rep, monday_10
):
    t1, t2, t0 = (monday_10 + timedelta(minutes=m) for m in (30, 90, 10))
    for at in (t1, t2, t0):
        record_attempt(lead, rep=rep.user, channel="email", outcome="sent", attempted_at=at)
    lead.refresh_from_db()
    assert (lead.first_contacted_at, lead.last_contacted_at) == (t0, t2)
    assert lead.attempts.count() == 3


def test_automated_email_does_not_stop_the_clock(lead, monday_10):
    record_attempt(
        lead, rep=None, channel="email", outcome="sent", automated=True, attempted_at=monday_10
    )
    lead.refresh_from_db()
    assert lead.first_contacted_at is None
    assert lead.last_contacted_at == monday_10
    assert lead.status == LeadStatus.NEW
    assert Lead.objects.cold(monday_10 + timedelta(hours=2)).get() == lead


@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "AUTOMATED_ATTEMPTS_STOP_CLOCK": True})
def test_automated_attempts_can_be_configured_to_stop_the_clock(lead, monday_10):
    record_attempt(
        lead, rep=None, channel="email", outcome="sent", automated=True, attempted_at=monday_10
    )
    lead.refresh_from_db()
    assert lead.first_contacted_at == monday_10


def test_follow_up_is_scheduled_and_closed_status_is_kept(lead, rep, monday_10):
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.QUALIFIED)
    follow_up = monday_10 + timedelta(days=2)
    record_attempt(
        lead,
        rep=rep.user,
        channel="meeting",
        outcome="connected",
        attempted_at=monday_10,
        next_follow_up_at=follow_up,
    )
    lead.refresh_from_db()
    assert lead.next_follow_up_at == follow_up
    assert lead.status == LeadStatus.QUALIFIED


def test_contacted_signal_says_whether_it_stopped_the_clock(lead, rep, monday_10):
    seen = []
    lead_contacted.connect(lambda **kw: seen.append(kw["first"]), weak=False, dispatch_uid="t")
    try:
        record_attempt(
            lead, rep=rep.user, channel="call", outcome="voicemail", attempted_at=monday_10
        )
        record_attempt(
            lead, rep=rep.user, channel="call", outcome="connected", attempted_at=monday_10
        )
    finally:
        lead_contacted.disconnect(dispatch_uid="t")
    assert seen == [True, False]
