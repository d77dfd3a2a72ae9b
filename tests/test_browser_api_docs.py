"""The API docs page in a real browser: Swagger UI renders leadfollow's operations from the
package's own static files, and no request leaves 127.0.0.1."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every URL the page fetched (scripts, styles, the schema, images), from Resource Timing.
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name)"


def test_api_docs_page_renders_the_operations_offline(live_server, browser):
    browser.get(live_server.url + "/api/")  # redirects to /api/docs/
    WebDriverWait(browser, 20).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
    )
    assert browser.current_url == live_server.url + "/api/docs/"
    paths = {e.text.replace("\u200b", "") for e in browser.find_elements(
        By.CSS_SELECTOR, ".opblock-summary-path")}  # fmt: skip
    assert {"/api/leads/", "/api/leads/{id}/attempts/", "/api/metrics/"} <= paths
    assert "leadfollow API" in browser.find_element(By.CSS_SELECTOR, ".info .title").text
    screenshot(browser, "api-docs.png")

    fetched = browser.execute_script(RESOURCES)
    assert any(u.endswith("/api/schema/") for u in fetched), fetched
    assert any("swagger-ui-bundle.js" in u for u in fetched), fetched
    outside = [u for u in fetched if not u.startswith(live_server.url + "/")]
    assert outside == [], f"requests left 127.0.0.1: {outside}"
