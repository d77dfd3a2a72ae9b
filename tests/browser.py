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
