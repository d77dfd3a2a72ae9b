"""The manager's morning in a real browser: log in to the admin, read the dashboard, check
its figures against the database, reassign cold leads in bulk. Headless Chromium from
Debian (apt-get install chromium chromium-driver); skipped only when it is missing."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leadfollow import metrics
from leadfollow.models import Assignment, Lead
from tests.browser import PASSWORD, click_and_wait, screenshot
from tests.factories import LeadFactory, RepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed() -> str:
    """The demo data when the demo project provides it, else a small factory-built team."""
    try:
        from demo_project.seed import seed_demo
    except ImportError:
        seed_demo = None
    if seed_demo is not None:
        return seed_demo(leads=160)
    now = timezone.now()
    reps = [RepFactory(working_hours={}) for _ in range(3)]
    for i in range(60):
        received = now - timezone.timedelta(days=i % 20, hours=3)
        LeadFactory(
            owner=reps[i % 3].user,
            source=("web", "ads", "referral")[i % 3],
            received_at=received,
            first_contacted_at=received + timezone.timedelta(minutes=4 * i) if i % 4 else None,
            first_response_due=received + timezone.timedelta(hours=1),
            status="new" if i % 4 == 0 and i < 12 else "qualified",
        )
    return "factories"


def make_manager():
    user = get_user_model().objects.create_user(
        "morgan", "morgan@example.com", PASSWORD, is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="manage_leads"))
    return user


def test_manager_reads_the_dashboard_and_reassigns_cold_leads(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    seed()
    manager = make_manager()
    assert Lead.objects.cold().exists(), "the seeded data should hold cold leads"

    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys("morgan")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    browser.find_element(By.ID, "user-tools")  # logged in

    # From the app page to the dashboard, as a manager would click.
    browser.get(live_server.url + reverse("admin:app_list", args=["leadfollow"]))
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#leadfollow-dashboard a"))
    assert "Cold leads and response times" in browser.title

    def shown(element_id: str) -> str:
        return browser.find_element(By.ID, element_id).get_attribute("data-value")

    expected = metrics.response_report(Lead.objects.all(), now=timezone.now())
    assert int(shown("lf-received")) == expected["received"] > 0
    assert int(shown("lf-decided")) == expected["decided"]
    assert int(shown("lf-pending")) == expected["counts"]["pending"]
    within = browser.find_element(By.ID, "lf-within-1h").text
    assert within == f"{expected['within_1h_share'] * 100:.0f}%"
    headline = browser.find_element(By.ID, "lf-headline").text
    assert f"you: {within} within 1 h · research: 37%" in headline
    for key, count in expected["counts"].items():
        cell = browser.find_element(By.CSS_SELECTOR, f'#lf-buckets tr[data-bucket="{key}"] td')
        assert int(cell.get_attribute("data-count")) == count, key
    cold_now = Lead.objects.cold().count()
    assert int(shown("lf-cold-count")) in (cold_now, Lead.objects.cold().count())
    reps_shown = browser.find_elements(By.CSS_SELECTOR, "#lf-reps tbody tr[data-rep]")
    assert len(reps_shown) == len(expected["reps"])
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.lf-chart")
    assert len(charts) == 2
    assert all(c.find_element(By.TAG_NAME, "title").get_attribute("textContent") for c in charts)
    path = screenshot(browser, "dashboard.png")
    assert path.stat().st_size > 10_000

    # Bulk reassign on the cold-lead changelist.
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "All cold leads, with bulk actions"))
    boxes = browser.find_elements(By.CSS_SELECTOR, "input.action-select")
    assert boxes, "the changelist should list the cold leads"
    chosen = [int(box.get_attribute("value")) for box in boxes[:2]]
    owners_before = dict(Lead.objects.filter(pk__in=chosen).values_list("pk", "owner_id"))
    for box in boxes[:2]:
        box.click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("reassign_to_next")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "button[name=index]"))
    message = browser.find_element(By.CSS_SELECTOR, "ul.messagelist li").text
    assert "Reassigned" in message or "left as" in message
    screenshot(browser, "dashboard-cold-list.png")

    rows = Assignment.objects.filter(lead_id__in=chosen, reason="manual", actor=manager)
    moved = {row.lead_id: row for row in rows}
    assert moved, message
    for lead_id, row in moved.items():
        lead = Lead.objects.get(pk=lead_id)
        assert row.from_rep_id == owners_before[lead_id]
        assert row.to_rep_id == lead.owner_id != owners_before[lead_id]
        assert lead.first_response_due > timezone.now()
