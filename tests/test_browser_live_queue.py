"""The live queue in a real browser: a rep's open queue page shows a new lead without a
reload, with the count in the tab title and, once opted in, a desktop notification."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from leadfollow.intake import create_lead
from tests.browser import PASSWORD, click_and_wait, queue_names, row_countdown
from tests.factories import LeadFactory, RepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@override_settings(LEADFOLLOW={"TIME_ZONE": "Europe/Berlin", "LIVE_QUEUE_POLL_SECONDS": 0.5})
def test_a_new_lead_appears_in_the_open_queue_without_a_reload(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    rep = RepFactory(user__username="rita", working_hours=ALWAYS)
    user = get_user_model().objects.get(pk=rep.user_id)
    user.set_password(PASSWORD)
    user.save()
    LeadFactory(name="Early Erik", owner=user)

    queue_url = live_server.url + reverse("leadfollow:queue")
    browser.get(queue_url)
    browser.find_element(By.ID, "id_username").send_keys("rita")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form.lf-form button"))
    assert queue_names(browser) == ["Early Erik"]
    assert browser.title == "(1) My queue"

    # Opt in to desktop notifications; the browser's own prompt is answered by CDP, the
    # Notification constructor recorded so the test can see what would pop up.
    browser.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": live_server.url, "permissions": ["notifications"]}
    )
    button = browser.find_element(By.ID, "lf-notify")
    assert button.is_displayed()
    button.click()
    WebDriverWait(browser, 5).until(lambda d: not button.is_enabled())
    assert button.text == "Desktop notifications on"
    browser.execute_script(
        "window.__lfNotes = [];"
        "var Real = window.Notification;"
        "window.Notification = function (title, options) {"
        "  window.__lfNotes.push([title, options.body]); };"
        "window.Notification.permission = Real.permission;"
        "window.__lfSamePage = true;"  # gone if the page reloads
    )

    create_lead({"name": "Fresh Frida", "email": "frida@example.org", "source": "ads"})

    WebDriverWait(browser, 10).until(lambda d: "Fresh Frida" in queue_names(d))
    assert browser.execute_script("return window.__lfSamePage === true")  # no reload
    assert set(queue_names(browser)) == {"Early Erik", "Fresh Frida"}
    WebDriverWait(browser, 5).until(lambda d: d.title == "(2) My queue")
    assert browser.execute_script("return window.__lfNotes") == [["New lead", "Fresh Frida"]]
    # The new row's deadline is live too (countdown.js picks up swapped-in rows).
    WebDriverWait(browser, 5).until(
        lambda d: (row_countdown(d, "Fresh Frida") or "").startswith("due in")
    )

    # A lead stamped before the last poll but committed after it (a slow intake transaction)
    # is still named, once; the leads already named are not named again.
    polled = browser.execute_script("return performance.now()")
    WebDriverWait(browser, 5).until(
        lambda d: d.execute_script("return performance.now()") > polled + 1500
    )
    LeadFactory(name="Late Lena", owner=user, assigned_at=timezone.now() - timedelta(seconds=30))
    WebDriverWait(browser, 10).until(lambda d: "Late Lena" in queue_names(d))
    WebDriverWait(browser, 5).until(lambda d: len(d.execute_script("return window.__lfNotes")) > 1)
    assert browser.execute_script("return window.__lfNotes") == [
        ["New lead", "Fresh Frida"],
        ["New lead", "Late Lena"],
    ]
