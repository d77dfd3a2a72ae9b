"""The manager's morning in a real browser: log in to the admin, read the dashboard, check
its figures against the database, reassign cold leads in bulk. Headless Chromium from
Debian (apt-get install chromium chromium-driver); skipped only when it is missing."""

import os
import shutil
from pathlib import Path

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


def seed(leads: int = 160) -> str:
    """The demo data when the demo project provides it, else a small factory-built team."""
    try:
        from demo_project.seed import seed_demo
    except ImportError:
        seed_demo = None
    if seed_demo is not None:
        return seed_demo(leads=leads)
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
    assert len(charts) == 6
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


# --- readable in the admin's light and dark themes (issue 14) ------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: WCAG relative luminance and contrast, from "rgb(r, g, b)" / "rgba(...)" strings.
_LUMINANCE_JS = """
function parse(c) { const m = c.match(/[\\d.]+/g).map(Number); return m; }
function lum(c) {
  const [r, g, b] = parse(c).slice(0, 3).map(v => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function background(el) {
  for (; el; el = el.parentElement) {
    const c = getComputedStyle(el).backgroundColor;
    const p = parse(c);
    if (p.length < 4 || p[3] > 0) return c;
  }
  return getComputedStyle(document.documentElement).backgroundColor;
}
const out = [];
for (const t of document.querySelectorAll('svg.lf-chart text')) {
  if (!t.textContent.trim()) continue;
  const fg = getComputedStyle(t).fill, bg = background(t.closest('svg'));
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  out.push({text: t.textContent, quiet: t.classList.contains('lf-c-quiet'), fg: fg, bg: bg,
            stroke: getComputedStyle(t).stroke,
            contrast: (a + 0.05) / (b + 0.05), bgLum: lum(bg)});
}
return out;
"""


@pytest.mark.parametrize(
    ("theme", "media", "dark"),
    [("light", "light", False), ("auto", "dark", True), ("dark", "light", True)],
    ids=["light", "auto-in-dark-mode", "dark"],
)
def test_chart_text_is_readable_in_light_and_dark_themes(live_server, browser, theme, media, dark):
    from selenium.webdriver.common.by import By

    # Enough leads for the outcome report to compare buckets (20 decided in each).
    seed(leads=500)
    make_manager()
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": media}]},
    )
    browser.get(live_server.url + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys("morgan")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    # The admin's theme toggle keeps its choice in localStorage ("auto" by default).
    browser.execute_script("localStorage.setItem('theme', arguments[0]);", theme)
    browser.get(live_server.url + reverse("admin:leadfollow_dashboard"))
    assert browser.find_element(By.ID, "lf-outcomes")
    texts = browser.execute_script(_LUMINANCE_JS)
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.lf-chart")
    assert len(charts) == 6
    assert len(texts) > 30, texts
    backgrounds = {t["bg"] for t in texts}
    assert len(backgrounds) == 1, backgrounds
    # The theme took effect: a dark page in the dark themes, a light one otherwise.
    assert (texts[0]["bgLum"] < 0.1) is dark, texts[0]
    for t in texts:
        assert t["fg"] != t["bg"], t
        assert t["stroke"] == "none", t  # no outline blurring the letters
        # WCAG AA: 4.5:1 for text; the quieter labels (axis, research) at least 3:1.
        assert t["contrast"] >= (3 if t["quiet"] else 4.5), t
    path = screenshot(browser, f"dashboard-{theme}-{media}.png")
    assert path.stat().st_size > 10_000
    # LEADFOLLOW_UPDATE_SCREENSHOTS=1: refresh the screenshots in docs/ (shown in README).
    if os.environ.get("LEADFOLLOW_UPDATE_SCREENSHOTS") and theme != "dark":
        name = "dashboard-dark.png" if dark else "dashboard-light.png"
        section = browser.find_element(By.ID, "lf-outcomes")
        browser.execute_script("arguments[0].scrollIntoView();", section)
        if not dark:
            shutil.copy(path, DOCS / "dashboard-light-full.png")
        section.screenshot(str(DOCS / name))
