"""Кабинет завуча (issue #23) in a real browser: headless Chromium from the system's packages, driven by
Selenium, against the cabinet served by uvicorn on loopback over a synced and checked school."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from asurso_sync.web.app import create_app
from asurso_sync.web.auth import hash_password
from cache import open_cache
from cache.cabinet import set_password_hash
from cache.queries import rows
from tests.emu import serve
from tests.schools import Schools, Spec

PASSWORD = "Пароль-кабинета-1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SPEC = Spec(check_at=datetime(2026, 12, 14, 7, 0))


def _need_browser() -> None:
    if CHROMIUM and DRIVER:
        return
    message = "нужны chromium и chromedriver (Debian: apt install chromium chromium-driver; .ci/run ставит их сам)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


@pytest.fixture
def cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[str, Path]]:
    """The cabinet over a school synced for a week and checked, with its password set; yields (URL, cache)."""
    _emu, config = schools.copy(tmp_path / "school", SPEC)
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, hash_password(PASSWORD))
    with serve(create_app(config)) as base:
        yield base, config.cache.path


def sign_in(driver: Any, base: str, password: str = PASSWORD) -> None:

    driver.delete_all_cookies()
    driver.get(f"{base}/")
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "enter").click()
    # the answer has arrived: the page after the login (with «Выйти») or the login page's message
    WebDriverWait(driver, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "header button") or d.find_elements(By.ID, "message")
    )


def text(driver: Any) -> str:

    return " ".join(driver.find_element(By.TAG_NAME, "body").text.split())


def audit_actions(cache: Path) -> list[str]:
    with closing(open_cache(cache, create=False)) as db:
        return [r["action"] for r in rows(db, 'SELECT "action" FROM "audit_log" ORDER BY "id"')]


def test_wrong_password_then_the_overview(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base, "не тот пароль")
    assert "Неверный пароль." in text(browser)
    sign_in(browser, base)
    assert browser.current_url == f"{base}/"
    assert int(browser.find_element(By.ID, "open-count").text) > 0
    assert "Уроки, заполненные вовремя, по неделям" in text(browser)
    cookie = browser.get_cookie("asurso_cabinet")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert audit_actions(cache)[-2:] == ["web-login-failed", "web-login"]


def test_a_finding_shows_its_evidence_and_takes_a_verdict(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Правила").click()
    browser.find_element(By.PARTIAL_LINK_TEXT, "TML002").click()
    browser.find_element(By.CSS_SELECTOR, "#findings a").click()
    page = text(browser)
    assert "Что было видно и когда" in page and "Урок:" in page
    assert "Куда идёт" in page and "Пункт Положения" in page
    browser.find_element(By.CSS_SELECTOR, "input[value=wrong]").click()
    browser.find_element(By.NAME, "comment").send_keys("тема была в КТП")
    browser.find_element(By.ID, "save-verdict").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "verdicts"))
    assert "ошибка программы" in browser.find_element(By.ID, "verdicts").text
    assert "тема была в КТП" in browser.find_element(By.ID, "verdicts").text
    browser.find_element(By.LINK_TEXT, "Точность").click()
    row = browser.find_element(By.ID, "quality").text
    assert "TML002" in row and "0,0 %" in row
    assert "web-verdict" in audit_actions(cache)


def test_a_waiver_from_a_finding_and_its_revocation(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base)
    browser.get(f"{base}/rules/TML001")
    browser.find_element(By.CSS_SELECTOR, "#findings a").click()
    browser.find_element(By.NAME, "reason").send_keys("урок перенесён приказом")
    browser.find_element(By.ID, "waive").click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url == f"{base}/waivers")
    assert "урок перенесён приказом" in browser.find_element(By.ID, "waivers").text
    browser.find_element(By.CSS_SELECTOR, "#waivers button").click()
    WebDriverWait(browser, 10).until(lambda d: "Исключений нет." in d.find_element(By.ID, "waivers").text)
    assert audit_actions(cache)[-2:] == ["waiver-add", "waiver-remove"]


def test_a_form_without_the_csrf_token_is_refused(browser: Any, cabinet: tuple[str, Path]) -> None:
    base, cache = cabinet
    sign_in(browser, base)
    browser.get(f"{base}/rules/TML001")
    fp = re.search(r"/finding/([0-9a-f]+)", browser.page_source)
    assert fp
    # a page of another site would post like this: the browser sends the cookie, but there is no token
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        f"f.action = '/finding/{fp.group(1)}/verdict';"
        "const v = document.createElement('input'); v.name = 'verdict'; v.value = 'wrong'; f.appendChild(v);"
        "document.body.appendChild(f); f.submit();"
    )
    WebDriverWait(browser, 10).until(lambda d: "Форма устарела" in text(d))
    with closing(open_cache(cache, create=False)) as db:
        assert rows(db, 'SELECT COUNT(*) AS "n" FROM "adjudication"')[0]["n"] == 0


def test_a_teachers_list_shows_nothing_of_other_teachers(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Списки недели").click()
    links = browser.find_elements(By.CSS_SELECTOR, "#lists a")
    assert len(links) >= 2
    name, href = links[0].text, links[0].get_attribute("href")
    teacher_id = int(href.rsplit("/", 1)[1])
    browser.get(href)
    letter = text(browser)
    assert name.split()[0] in letter
    with closing(open_cache(cache, create=False)) as db:
        others = rows(
            db,
            'SELECT f."message", s."name" FROM "finding" f JOIN "staff" s ON s."id" = f."teacher_id" '
            'WHERE f."teacher_id" != ?',
            [teacher_id],
        )
    assert others
    for other in others:
        assert other["message"] not in letter
        assert other["name"] not in letter


def test_pages_need_the_password_and_failures_are_limited(cabinet: tuple[str, Path]) -> None:
    base, _ = cabinet
    with httpx.Client(base_url=base) as client:
        page = client.get("/teachers", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/teachers"
        for _ in range(5):
            assert client.post("/login", data={"password": "нет"}).status_code == 401
        refused = client.post("/login", data={"password": PASSWORD})
        assert refused.status_code == 429 and "Слишком много неудачных попыток" in refused.text
        assert refused.headers["x-frame-options"] == "SAMEORIGIN"


def test_screenshots_of_the_main_pages(browser: Any, cabinet: tuple[str, Path], tmp_path: Path) -> None:
    """The pictures in README; CABINET_SCREENSHOTS=docs/img refreshes them."""

    base, _ = cabinet
    folder = Path(os.environ.get("CABINET_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    sign_in(browser, base)
    shots = {"cabinet-overview.png": "/", "cabinet-teachers.png": "/teachers"}
    for name, path in shots.items():
        browser.get(f"{base}{path}")
        browser.save_screenshot(str(folder / name))
        if path == "/teachers":
            assert browser.find_element(By.CSS_SELECTOR, "#listing th").text == "Учитель"
    browser.get(f"{base}/rules/TML002")
    browser.find_element(By.CSS_SELECTOR, "#findings a").click()
    browser.save_screenshot(str(folder / "cabinet-finding.png"))
    for name in (*shots, "cabinet-finding.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
