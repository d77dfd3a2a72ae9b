"""The site's own contact form: CSRF, honeypot, and the same create_lead as the API."""

import pytest
from django.test import Client

from leadfollow.models import Lead

pytestmark = pytest.mark.django_db

URL = "/contact/"


def test_the_form_renders_with_a_csrf_token_and_a_hidden_honeypot():
    page = Client().get(URL).content.decode()
    assert "csrfmiddlewaretoken" in page
    assert 'name="website"' in page and 'aria-hidden="true"' in page


def test_a_person_posts_a_lead_and_sees_thanks(rep):
    client = Client()
    response = client.post(URL, {"name": "Jo", "email": "JO@example.com", "message": "Hi"})
    assert response.status_code == 302 and response["Location"] == f"{URL}?sent=1"
    lead = Lead.objects.get()
    assert (lead.email, lead.source, lead.owner) == ("jo@example.com", "web", rep.user)
    assert "Thank you" in client.get(response["Location"]).content.decode()


def test_a_bot_filling_the_honeypot_gets_the_same_answer_and_no_lead():
    response = Client().post(URL, {"name": "Bot", "email": "bot@example.com", "website": "x"})
    assert response.status_code == 302 and response["Location"] == f"{URL}?sent=1"
    assert not Lead.objects.exists()


def test_errors_from_create_lead_are_shown_on_the_form():
    response = Client().post(URL, {"name": "Jo"})
    assert response.status_code == 200
    assert "e-mail address or a phone number" in response.content.decode()
    assert not Lead.objects.exists()


def test_posting_without_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    assert client.post(URL, {"name": "Jo", "email": "jo@example.com"}).status_code == 403
    assert not Lead.objects.exists()
