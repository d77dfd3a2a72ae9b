"""The rep's path in a real browser: log in, call the most urgent lead, watch it leave the
overdue list. Headless Chromium from Debian (apt-get install chromium chromium-driver)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from tests.browser import PASSWORD, click_and_wait, queue_names, screenshot
from tests.factories import LeadFactory, RepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rep_calls_the_most_urgent_lead_and_it_leaves_the_overdue_list(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    now = timezone.now()
    rep = RepFactory(user__username="rita", user__first_name="Rita", user__last_name="Rep")
    user = get_user_model().objects.get(pk=rep.user_id)
    user.set_password(PASSWORD)
    user.save()
    LeadFactory(
        name="Later Lars",
        company="Nordwind GmbH",
        owner=user,
        first_response_due=now + timedelta(hours=3),
        score=80,
    )
    cold = LeadFactory(
        name="Cold Carla",
        company="ACME Rockets",
        owner=user,
        first_response_due=now - timedelta(hours=2, minutes=10),
        score=20,
    )
    LeadFactory(
        name="Soon Sami",
        company="Sami & Söhne",
        owner=user,
        first_response_due=now + timedelta(minutes=35),
        score=55,
    )
    LeadFactory(name="Someone else's", first_response_due=now - timedelta(hours=5))

    queue_url = live_server.url + reverse("leadfollow:queue")
    browser.get(queue_url)
    assert "/accounts/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("rita")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_wait(
        browser, browser.find_element(By.CSS_SELECTOR, "form.lf-form button[type=submit]")
    )

    assert browser.current_url == queue_url
    assert queue_names(browser) == ["Cold Carla", "Soon Sami", "Later Lars"]
    first_deadline = browser.find_element(By.CSS_SELECTOR, "tr.lf-lead-row time[data-lf-countdown]")
    assert first_deadline.text.startswith("overdue by 2 h 1")
    assert "lf-overdue" in first_deadline.get_attribute("class")
    # The countdown script loaded (no CDN: served from our static files) and ran.
    assert browser.execute_script("return !!document.getElementById('lf-countdown-strings')")
    screenshot(browser, "queue.png")
    screenshot(browser, "queue-phone.png", width=390)
    assert first_deadline.text.startswith("overdue by 2 h 1")  # same words at phone width
    # The script keeps the text live: move the deadline and let it re-render.
    browser.execute_script(
        "var t = arguments[0];"
        "t.setAttribute('datetime', new Date(Date.now() + 5 * 60000 + 30000).toISOString());"
        "document.dispatchEvent(new Event('visibilitychange'));",
        first_deadline,
    )
    assert first_deadline.text == "due in 6 min"
    assert "lf-due-soon" in first_deadline.get_attribute("class")

    # Keyboard users can skip straight to the content.
    skip = browser.find_element(By.CSS_SELECTOR, "a.lf-skip-link")
    assert skip.get_attribute("href").endswith("#lf-main")

    browser.get(queue_url + "?overdue=true")
    assert queue_names(browser) == ["Cold Carla"]
    screenshot(browser, "queue-filtered.png")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Cold Carla"))
    assert browser.current_url == live_server.url + reverse("leadfollow:lead", args=[cold.pk])

    Select(browser.find_element(By.ID, "id_attempt-channel")).select_by_value("call")
    Select(browser.find_element(By.ID, "id_attempt-outcome")).select_by_value("connected")
    browser.find_element(By.ID, "id_attempt-note").send_keys("Spoke to Carla, sending a quote.")
    click_and_wait(
        browser, browser.find_element(By.CSS_SELECTOR, "#lf-attempt-form button[type=submit]")
    )

    message = browser.find_element(By.CSS_SELECTOR, ".lf-message-success")
    assert message.text == "Contact attempt logged."
    assert (
        "Spoke to Carla"
        in browser.find_element(By.ID, "lf-attempts").find_element(By.XPATH, "..").text
    )
    screenshot(browser, "lead.png")
    screenshot(browser, "lead-phone.png", width=390)

    browser.get(queue_url + "?overdue=true")
    assert queue_names(browser) == []
    browser.get(queue_url)
    assert queue_names(browser) == ["Soon Sami", "Later Lars", "Cold Carla"]


def test_rep_hands_a_lead_back_and_it_appears_in_another_reps_queue(live_server, browser):
    from selenium.webdriver.common.by import By

    always = {
        day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    rita = RepFactory(user__username="rita", working_hours=always)
    otto = RepFactory(user__username="otto", working_hours=always)
    for profile in (rita, otto):
        user = get_user_model().objects.get(pk=profile.user_id)
        user.set_password(PASSWORD)
        user.save()
    lead = LeadFactory(
        name="Wrong Territory Wanda",
        owner=rita.user,
        first_response_due=timezone.now() + timedelta(minutes=40),
    )

    def log_in(username: str) -> None:
        browser.delete_all_cookies()
        browser.get(live_server.url + reverse("leadfollow:queue"))
        browser.find_element(By.ID, "id_username").send_keys(username)
        browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.lf-form button"))

    log_in("rita")
    assert queue_names(browser) == ["Wrong Territory Wanda"]
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Wrong Territory Wanda"))
    browser.find_element(By.ID, "id_hand_back-reason").send_keys("Wrong territory: Bavaria")
    button = browser.find_element(By.CSS_SELECTOR, "#id_hand_back-reason")
    click_and_wait(browser, button.find_element(By.XPATH, "ancestor::form//button"))
    assert "went to otto" in browser.find_element(By.CSS_SELECTOR, ".lf-message-success").text
    assert queue_names(browser) == []

    log_in("otto")
    assert queue_names(browser) == ["Wrong Territory Wanda"]
    lead.refresh_from_db()
    assert lead.owner_id == otto.user_id
