"""leadfollow/tracking.py: the host site's own page views of known leads, opt-in only."""

from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.http import HttpResponse
from django.template import Context, Template
from django.test import Client, override_settings

from leadfollow import privacy, tracking
from leadfollow.models import EngagementEvent, Lead
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

PAGE = "/contact/"  # any HTML page of the site
COOKIE = "leadfollow_lead"
ON = {"TIME_ZONE": "Europe/Berlin", "TRACKING_ENABLED": True}


def signed_cookie(lead_id) -> str:
    """The cookie as Django signs it (its scheme differs between Django versions)."""
    response = HttpResponse()
    response.set_signed_cookie(COOKIE, str(lead_id), salt=tracking.COOKIE_SALT)
    return response.cookies[COOKIE].value


def visitor(lead=None, *, consent=True, **headers) -> Client:
    client = Client(**headers)
    if lead is not None:
        client.cookies[COOKIE] = signed_cookie(lead.pk)
    if consent:
        client.cookies["leadfollow_consent"] = "1"
    return client


def test_tracking_is_off_by_default():
    lead = LeadFactory()
    assert visitor(lead).get(PAGE).status_code == 200
    assert not EngagementEvent.objects.exists()


@override_settings(LEADFOLLOW={**ON, "TRACKING_PAGES": {"/contact/": "pricing_view"}})
@time_machine.travel("2026-11-23T09:10:00+00:00", tick=False)  # not at a window's edge
def test_a_known_lead_with_consent_is_recorded_once_per_reload_window():
    lead = LeadFactory()
    client = visitor(lead)
    client.get(PAGE)
    client.get(PAGE)  # a reload: the same event
    event = EngagementEvent.objects.get()
    assert (event.lead, event.type, event.source) == (lead, "pricing_view", "site")
    assert event.properties == {"path": PAGE}
    assert Lead.objects.get(pk=lead.pk).engagement_score == 5


@override_settings(LEADFOLLOW=ON)
@pytest.mark.parametrize(
    "consent, headers",
    [(False, {}), (True, {"HTTP_DNT": "1"}), (True, {"HTTP_SEC_GPC": "1"})],
    ids=["no consent", "do not track", "global privacy control"],
)
def test_no_consent_or_a_do_not_track_browser_is_never_recorded(consent, headers):
    lead = LeadFactory()
    visitor(lead, consent=consent, **headers).get(PAGE)
    assert not EngagementEvent.objects.exists()


@override_settings(LEADFOLLOW={**ON, "TRACKING_CONSENT_COOKIE": None})
def test_a_site_that_asks_for_consent_elsewhere_may_drop_the_consent_cookie():
    lead = LeadFactory()
    visitor(lead, consent=False).get(PAGE)
    assert EngagementEvent.objects.filter(lead=lead).count() == 1


@override_settings(LEADFOLLOW=ON)
def test_forged_or_unknown_cookies_record_nothing():
    lead = LeadFactory()
    forged = visitor()
    forged.cookies[COOKIE] = str(lead.pk)  # unsigned
    assert forged.get(PAGE).status_code == 200
    unknown = visitor()
    unknown.cookies[COOKIE] = signed_cookie(10**9)
    assert unknown.get(PAGE).status_code == 200
    assert not EngagementEvent.objects.exists()


@pytest.mark.parametrize("settings_, consent, sets_cookie", [
    ({}, True, False),  # off by default: no cookie
    (ON, False, False),  # no consent: no cookie
    (ON, True, True),
])  # fmt: skip
def test_the_contact_form_sets_the_signed_cookie_only_when_opted_in(
    rep, settings_, consent, sets_cookie
):
    with override_settings(LEADFOLLOW=settings_ or {"TIME_ZONE": "Europe/Berlin"}):
        client = visitor(consent=consent)
        response = client.post(PAGE, {"name": "Jo", "email": "jo@example.com"})
        assert response.status_code == 302
        assert (COOKIE in response.cookies) is sets_cookie
        if sets_cookie:
            lead = Lead.objects.get()
            assert response.cookies[COOKIE]["httponly"]
            client.get(PAGE)
            assert EngagementEvent.objects.get().lead == lead


@override_settings(LEADFOLLOW=ON)
def test_a_tracked_link_in_an_email_records_the_click_and_remembers_the_lead():
    lead = LeadFactory()
    # As leadfollow renders e-mails: plain text, no HTML escaping of "&".
    url = Template("{% load leadfollow_tracking %}{{ url|tracked_for:lead }}").render(
        Context({"url": f"https://example.com{PAGE}?utm=mail", "lead": lead}, autoescape=False)
    )
    query = parse_qs(urlsplit(url).query)
    assert query["utm"] == ["mail"]
    client = visitor()
    response = client.get(PAGE, {"lf_t": query["lf_t"][0]})
    assert COOKIE in response.cookies
    assert sorted(EngagementEvent.objects.values_list("type", flat=True)) == [
        "email_click", "page_view",
    ]  # fmt: skip
    tampered = visitor()
    tampered.get(PAGE, {"lf_t": query["lf_t"][0][:-2] + "xx"})
    assert EngagementEvent.objects.count() == 2


@override_settings(LEADFOLLOW=ON)
def test_a_failure_to_record_never_breaks_the_page(monkeypatch):
    lead = LeadFactory()

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr("leadfollow.engagement.record_events", broken)
    assert visitor(lead).get(PAGE).status_code == 200


@override_settings(LEADFOLLOW=ON)
def test_only_successful_html_gets_count():
    lead = LeadFactory()
    client = visitor(lead)
    client.get("/admin/login/")  # excluded prefix
    client.get("/api/schema/")  # not HTML
    client.get("/no-such-page/")  # 404
    client.post(PAGE, {})  # not a GET
    assert not EngagementEvent.objects.exists()


@override_settings(
    LEADFOLLOW={**ON, "HOT_SCORE_THRESHOLD": 50, "TRACKING_PAGES": {"/pricing/": "pricing_view"}}
)
def test_the_readme_example_a_pricing_page_view_makes_a_lead_hot_and_pages_its_rep(
    rep, django_capture_on_commit_callbacks
):
    from django.core import mail

    from tests.factories import ScoringRuleFactory

    ScoringRuleFactory(field_path="company", operator="eq", value="ACME", points=46)
    jo = visitor()  # her browser has the site's consent cookie
    with django_capture_on_commit_callbacks(execute=True):
        jo.post(PAGE, {"name": "Jo", "email": "jo@example.com", "company": "ACME"})
    lead = Lead.objects.get()
    assert (lead.score, lead.owner) == (46, rep.user)
    mail.outbox.clear()  # the assignment e-mail
    with django_capture_on_commit_callbacks(execute=True):
        assert jo.get("/pricing/").status_code == 200
    lead.refresh_from_db()
    assert lead.score == 51 and lead.heated_up_at is not None
    assert [m.subject for m in mail.outbox] == ["Heating up: Jo is showing interest now"]
    assert mail.outbox[0].to == [rep.user.email]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_first_touch_email_link_carries_the_token_only_when_tracking_is_on(
    rep, enabled, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail

    from leadfollow.intake import create_lead

    config = {**ON, "TRACKING_ENABLED": enabled, "FIRST_TOUCH_EMAIL": True,
              "FIRST_TOUCH_LINK": "http://testserver/pricing/"}  # fmt: skip
    with override_settings(LEADFOLLOW=config):
        with django_capture_on_commit_callbacks(execute=True):
            lead = create_lead({"name": "Jo", "email": "jo@example.com"}).lead
        (message,) = [m for m in mail.outbox if m.to == ["jo@example.com"]]
        link = re.search(r"http://testserver/pricing/\S*", message.body).group()
        assert ("lf_t=" in link) is enabled
        visitor().get(link)
    events = list(EngagementEvent.objects.filter(lead=lead).values_list("type", flat=True))
    assert sorted(events) == (["email_click", "page_view"] if enabled else [])


@override_settings(LEADFOLLOW=ON)
def test_an_erased_lead_is_no_longer_tracked():
    """After an erasure the person's browser still holds the signed cookie (and old e-mails
    their tokens): nothing new is recorded about them."""
    lead = LeadFactory(status="disqualified")
    client = visitor(lead)
    client.get(PAGE)
    assert EngagementEvent.objects.count() == 1
    privacy.erase([lead.pk])
    assert client.get("/pricing/").status_code == 200  # a page not seen before
    token_url = tracking.tracked_url("https://example.com/pricing/", lead.pk)
    client.get("/accounts/login/?" + urlsplit(token_url).query)
    assert EngagementEvent.objects.get().properties == {}  # the one before, erased
