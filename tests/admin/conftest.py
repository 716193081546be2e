"""Admin test fixtures, browser harness included.

Browser tests (``@pytest.mark.browser``) drive Debian's headless Chromium through selenium 4
against pytest-django's ``live_server``. Reusable by every screen's tests:

    @pytest.mark.browser
    def test_something(browser, login, screenshot, finops):
        login(browser, "finops", PASSWORD)
        browser.get(browser.live_url("/admin/"))
        screenshot("home")

A screenshot of the final page is saved after every browser test (pass or fail) under
``$ARTIFACTS_DIR/admin-browser/`` (default ``/tmp/controlplane-artifacts/admin-browser/``),
outside the repository.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from controlplane.core.roles import AUDITOR, FINANCE_REVIEWER
from tests.observability.factories import staff_user

PASSWORD = "pw-for-tests-only"
CHROMIUM = os.environ.get("CHROMIUM_BINARY") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_S = 15


def artifacts_dir() -> Path:
    root = Path(os.environ.get("ARTIFACTS_DIR") or "/tmp/controlplane-artifacts")
    path = root / "admin-browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:150]


@pytest.fixture
def finops(db):
    """A finance-operations user (the finance reviewer role)."""
    return staff_user(FINANCE_REVIEWER, "finops", PASSWORD)


@pytest.fixture
def auditor(db):
    return staff_user(AUDITOR, "auditor", PASSWORD)


@pytest.fixture
def browser(live_server, tmp_path, request):
    """Headless Chromium on the live server; ``browser.live_url(path)`` builds absolute URLs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.live_url = lambda path: live_server.url + path
    try:
        yield driver
    finally:
        try:
            driver.save_screenshot(str(artifacts_dir() / f"{_safe(request.node.name)}--final.png"))
        finally:
            driver.quit()


@pytest.fixture
def screenshot(browser, request):
    """``screenshot(name)`` saves the current page as ``<test>--<name>.png`` in the artifacts folder."""

    def take(name: str) -> Path:
        path = artifacts_dir() / f"{_safe(request.node.name)}--{_safe(name)}.png"
        browser.save_screenshot(str(path))
        return path

    return take


@pytest.fixture
def wait(browser):
    """``wait(condition)``: selenium's explicit wait (no sleeping, no timing assertions)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return lambda condition: WebDriverWait(browser, WAIT_S).until(condition)


@pytest.fixture
def login(wait):
    """``login(browser, username, password)`` through the admin login page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    def do(browser, username: str, password: str = PASSWORD) -> None:
        browser.get(browser.live_url("/admin/login/?next=/admin/"))
        browser.find_element(By.ID, "id_username").send_keys(username)
        browser.find_element(By.ID, "id_password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
        wait(ec.presence_of_element_located((By.ID, "user-tools")))

    return do
