"""A manager sets a rep's working hours day by day in the admin, in a real browser: the zone
shown follows the rep's, "+" adds a range, a half range is refused, nothing leaves 127.0.0.1."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from selenium.webdriver.common.by import By

from leadfollow.models import RepProfile
from tests.browser import PASSWORD, click_and_wait, screenshot
from tests.factories import RepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name)"


def type_time(driver, element, hhmm: str) -> None:
    """Type a time as a user does into Chromium's time input (12-hour clock in en-US)."""
    hour, minute = map(int, hhmm.split(":"))
    element.click()
    element.send_keys(f"{(hour % 12) or 12:02d}{minute:02d}{'AM' if hour < 12 else 'PM'}")
    assert element.get_attribute("value") == hhmm


def test_manager_edits_working_hours_day_by_day(live_server, browser):
    get_user_model().objects.create_superuser("morgan", "morgan@example.com", PASSWORD)
    rep = RepFactory(timezone="America/New_York", working_hours={})
    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys("morgan")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))

    browser.get(live_server.url + reverse("admin:leadfollow_repprofile_change", args=[rep.pk]))
    zone = browser.find_element(By.CSS_SELECTOR, "[data-lf-zone]")
    assert zone.text == "America/New_York"
    timezone_input = browser.find_element(By.ID, "id_timezone")
    timezone_input.clear()
    timezone_input.send_keys("Asia/Tokyo")
    assert zone.text == "Asia/Tokyo"  # the label follows the rep's zone as it is typed

    monday = browser.find_element(By.CSS_SELECTOR, "tr[data-day=mon]")
    start, end = monday.find_elements(By.CSS_SELECTOR, "input[type=time]")
    type_time(browser, start, "09:00")
    type_time(browser, end, "12:00")
    monday.find_element(By.CSS_SELECTOR, "button.lf-add-row").click()
    inputs = monday.find_elements(By.CSS_SELECTOR, "input[type=time]")
    assert len(inputs) == 4 and inputs[2].get_attribute("value") == ""
    type_time(browser, inputs[2], "13:00")
    type_time(browser, inputs[3], "17:00")
    screenshot(browser, "working-hours-editor.png")
    click_and_wait(browser, browser.find_element(By.NAME, "_continue"))

    rep.refresh_from_db()
    assert rep.timezone == "Asia/Tokyo"
    assert rep.working_hours == {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    monday = browser.find_element(By.CSS_SELECTOR, "tr[data-day=mon]")
    shown = [i.get_attribute("value") for i in monday.find_elements(By.TAG_NAME, "input")]
    assert shown == ["09:00", "12:00", "13:00", "17:00", "", ""]

    # Tuesday with a start and no end: refused, said in words, nothing saved.
    tuesday = browser.find_element(By.CSS_SELECTOR, "tr[data-day=tue]")
    type_time(browser, tuesday.find_element(By.CSS_SELECTOR, "input[type=time]"), "08:00")
    click_and_wait(browser, browser.find_element(By.NAME, "_continue"))
    errors = browser.find_element(By.CSS_SELECTOR, ".errorlist").text
    assert "Tuesday: give both a start and an end time." in errors
    assert RepProfile.objects.get(pk=rep.pk).working_hours == rep.working_hours

    fetched = browser.execute_script(RESOURCES)
    assert any("admin-widgets.js" in u for u in fetched), fetched
    assert [u for u in fetched if not u.startswith(live_server.url + "/")] == []
