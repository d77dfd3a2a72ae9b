"""Headless Chromium for the browser tests (Debian's chromium + chromium-driver)."""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium not installed: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    # An explicit driver path keeps Selenium Manager from downloading anything.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def click_and_wait(driver, element, timeout: float = 10) -> None:
    """Click something that loads a new page, and return once that page has replaced the old
    one and finished loading. ``current_url``, ``title`` and element lookups read right after
    a bare ``.click()`` may still see the old page; ``implicitly_wait`` never waits for that.

    The old page is marked with a flag on its ``window``; a new page has a new ``window``
    without it. (Waiting for an old element to go stale raced: mid-navigation ChromeDriver
    may answer "Node … does not belong to the document" instead of a stale-element error.)"""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.__lfLeaving = true;")
    element.click()

    def arrived(d) -> bool:
        return d.execute_script("return !window.__lfLeaving && document.readyState === 'complete'")

    # Scripts can fail while the browser is between two documents: try again, until timeout.
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(arrived)


def queue_names(driver) -> list[str]:
    """The names in the rep's queue, read in one script: the live queue replaces its rows
    while it polls, so elements found first and read one by one can go stale in between."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('tr.lf-lead-row th a'),"
        " a => a.innerText.trim())"
    )


def row_countdown(driver, name: str) -> str | None:
    """The deadline countdown shown on the queue row of the lead called ``name``."""
    return driver.execute_script(
        "const link = Array.from(document.querySelectorAll('tr.lf-lead-row th a'))"
        "  .find(a => a.innerText.trim() === arguments[0]);"
        "const time = link && link.closest('tr').querySelector('time[data-lf-countdown]');"
        "return time ? time.innerText.trim() : null;",
        name,
    )


def screenshot(driver, name: str, width: int | None = None) -> Path:
    """Save the whole page (not just the viewport), optionally at a phone's width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if width:
        driver.set_window_size(width, 844)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width or 1280, max(height, 600))
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 900)
    return path
