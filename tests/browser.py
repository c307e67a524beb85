"""Headless Chromium for the cabinet's browser tests: the distribution's chromium and chromedriver, one browser per
pytest worker (the ``browser`` fixture in conftest.py; a test that uses it is in the slow lane)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def need_browser() -> None:
    if CHROMIUM and DRIVER:
        return
    message = "нужны chromium и chromedriver (Debian: apt install chromium chromium-driver; .ci/run ставит их сам)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium() -> Iterator[Any]:
    """A headless Chromium driven by Selenium, quit at the end."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()
