"""Кабинет завуча (issue #23) in a real browser: headless Chromium from the system's packages, driven by
Selenium, against the cabinet served by uvicorn on loopback over a synced and checked school."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from asurso_sync.web.app import create_app, server_options
from cache import open_cache
from cache.cabinet import set_password_hash
from cache.queries import rows
from tests.browser import need_browser
from tests.emu import serve
from tests.passwords import stored_hash
from tests.schools import Schools, Spec

PASSWORD = "Пароль-кабинета-1"
SPEC = Spec(check_at=datetime(2026, 12, 14, 7, 0))
_need_browser = need_browser  # the ``browser`` fixture (one Chromium per worker) is in conftest.py
YEAR = Spec(check_at=SPEC.check_at, check_year=True)  # the same school checked over the school year


def served(tmp_path: Path, schools: Schools, spec: Spec) -> Iterator[tuple[str, Path]]:
    _emu, config = schools.copy(tmp_path / "school", spec)
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
    with serve(create_app(config), **server_options(None)) as base:
        yield base, config.cache.path


@pytest.fixture
def cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[str, Path]]:
    """The cabinet over a school synced for a week and checked, with its password set; yields (URL, cache)."""
    yield from served(tmp_path, schools, SPEC)


@pytest.fixture
def year_cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[str, Path]]:
    """The same school checked over the school year (hundreds of findings, 100 and more of a TML rule)."""
    yield from served(tmp_path, schools, YEAR)


def wait(driver: Any, seconds: float = 10) -> Any:
    """Wait for a page that is still loading: elements of the page being left are stale or gone meanwhile (Chromium
    may also answer «Node with given id does not belong to the document», a plain WebDriverException, for a node
    read while its document is replaced); the condition is asked again until it holds or the time is up."""
    from selenium.common.exceptions import WebDriverException

    return WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,))


def sign_in(driver: Any, base: str, password: str = PASSWORD) -> None:

    driver.delete_all_cookies()
    driver.get(f"{base}/")
    driver.find_element(By.ID, "password").send_keys(password)
    enter = driver.find_element(By.ID, "enter")
    enter.click()
    # the form's page is gone (a condition read from it could hold before the answer comes), then the answer has
    # arrived: the page after the login (with «Выйти») or the login page's message
    wait(driver).until(expected_conditions.staleness_of(enter))
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "header button") or d.find_elements(By.ID, "message"))
    if password == PASSWORD:
        assert driver.find_elements(By.CSS_SELECTOR, "header button"), f"not signed in: {text(driver)[:200]}"


def text(driver: Any) -> str:

    return " ".join(driver.find_element(By.TAG_NAME, "body").text.split())


def audit_actions(cache: Path) -> list[str]:
    with closing(open_cache(cache, create=False)) as db:
        return [r["action"] for r in rows(db, 'SELECT "action" FROM "audit_log" ORDER BY "id"')]


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_finding_shows_its_evidence_and_takes_a_verdict(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Правила").click()
    browser.find_element(By.PARTIAL_LINK_TEXT, "TML002").click()
    browser.find_element(By.CSS_SELECTOR, "#findings a.finding").click()
    page = text(browser)
    assert "Что было видно и когда" in page and "Урок:" in page
    assert "Куда идёт" in page and "Пункт Положения" in page
    browser.find_element(By.CSS_SELECTOR, "input[value=wrong]").click()
    browser.find_element(By.NAME, "comment").send_keys("тема была в КТП")
    browser.find_element(By.ID, "save-verdict").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "verdicts"))
    assert "ошибка программы" in browser.find_element(By.ID, "verdicts").text
    assert "тема была в КТП" in browser.find_element(By.ID, "verdicts").text
    browser.find_element(By.LINK_TEXT, "Точность").click()
    row = browser.find_element(By.ID, "quality").text
    assert "TML002" in row and "0,0 %" in row
    assert "web-verdict" in audit_actions(cache)


@pytest.mark.slow
def test_a_waiver_from_a_finding_and_its_revocation(browser: Any, cabinet: tuple[str, Path]) -> None:

    base, cache = cabinet
    sign_in(browser, base)
    browser.get(f"{base}/rules/TML001")
    browser.find_element(By.CSS_SELECTOR, "#findings a.finding").click()
    browser.find_element(By.NAME, "reason").send_keys("урок перенесён приказом")
    browser.find_element(By.ID, "waive").click()
    wait(browser).until(lambda d: d.current_url == f"{base}/waivers")
    assert "урок перенесён приказом" in browser.find_element(By.ID, "waivers").text
    browser.find_element(By.CSS_SELECTOR, "#waivers button").click()
    wait(browser).until(lambda d: "Исключений нет." in d.find_element(By.ID, "waivers").text)
    assert audit_actions(cache)[-2:] == ["waiver-add", "waiver-remove"]


@pytest.mark.slow
def test_a_form_without_the_csrf_token_is_refused(browser: Any, cabinet: tuple[str, Path]) -> None:
    base, cache = cabinet
    sign_in(browser, base)
    browser.get(f"{base}/rules/TML001")
    # the link is waited for like every element a test reads: ``page_source`` is read at once, without waiting, and
    # on a loaded machine it lacked the links that the same page showed a moment later (the cache held them)
    links = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#findings a.finding"))
    fp = re.search(r"/finding/([0-9a-f]+)", links[0].get_attribute("href") or "")
    assert fp
    # a page of another site would post like this: the browser sends the cookie, but there is no token
    browser.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        f"f.action = '/finding/{fp.group(1)}/verdict';"
        "const v = document.createElement('input'); v.name = 'verdict'; v.value = 'wrong'; f.appendChild(v);"
        "document.body.appendChild(f); f.submit();"
    )
    wait(browser).until(lambda d: "Форма устарела" in text(d))
    with closing(open_cache(cache, create=False)) as db:
        assert rows(db, 'SELECT COUNT(*) AS "n" FROM "adjudication"')[0]["n"] == 0


@pytest.mark.slow
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


@pytest.mark.slow
def test_screenshots_of_the_main_pages(browser: Any, year_cabinet: tuple[str, Path], tmp_path: Path) -> None:
    """The pictures in README (the school checked over its year); CABINET_SCREENSHOTS=docs/img refreshes them."""

    base, _ = year_cabinet
    folder = Path(os.environ.get("CABINET_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    sign_in(browser, base)
    shots = {
        "cabinet-overview.png": "/",
        "cabinet-teachers.png": "/teachers",
        "cabinet-review.png": "/review/rules/ATT003",
        "cabinet-rule.png": "/rules/ATT003?state=new",
    }
    for name, path in shots.items():
        browser.get(f"{base}{path}")
        browser.save_screenshot(str(folder / name))
        if path == "/teachers":
            assert browser.find_element(By.CSS_SELECTOR, "#listing th").text == "Учитель"
            trend = browser.find_element(By.CSS_SELECTOR, "#listing td.trend").text
            assert trend and set(trend) <= set("▁▂▃▄▅▆▇█") and "█" in trend  # the busiest week is full height
    browser.get(f"{base}/rules/TML002")
    browser.find_element(By.CSS_SELECTOR, "#findings a.finding").click()
    browser.save_screenshot(str(folder / "cabinet-finding.png"))
    for name in (*shots, "cabinet-finding.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def shadow_cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[str, Any]]:
    """The cabinet of a school in shadow start (nothing released); yields (URL, config)."""
    _emu, config = schools.copy(tmp_path / "school", SPEC)
    config.rules.shadow = True
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
    with serve(create_app(config), **server_options(None)) as base:
        yield base, config


def teacher_rules(config: Any) -> set[str]:
    """The rules of every remark in this week's teacher lists, as the weekly send would build them."""
    from asurso_sync.remarks import Week, build_week

    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, Week.parse("2026-W50"))
    parts = [p for tl in wl.lists for p in (tl.part, tl.chief)]
    remarks = [r for part in parts for r in [*part.new, *part.records, *part.still_open]]
    return {code for r in remarks for code in r.rule.split(", ")}  # late entries of one lesson come merged


def test_shadow_start_release_a_rule_then_only_it_reaches_teachers(
    browser: Any, shadow_cabinet: tuple[str, Any]
) -> None:
    base, config = shadow_cabinet
    assert teacher_rules(config) == set()  # in the shadow nothing goes to teachers
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Списки недели").click()
    assert "Теневой режим: учителя эти списки пока не получают" in text(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#lists a")  # the lists are built and shown all the same
    browser.find_element(By.LINK_TEXT, "Точность").click()
    row = browser.find_element(By.ID, "rule-TML002")
    row.find_element(By.CSS_SELECTOR, "button.release").click()  # no verdicts, no reason: refused
    wait(browser).until(lambda d: "Правило не выпущено" in text(d))
    browser.get(f"{base}/quality")
    row = browser.find_element(By.ID, "rule-TML002")
    row.find_element(By.NAME, "reason").send_keys("проверено на двух классах вручную")
    row.find_element(By.CSS_SELECTOR, "button.release").click()
    wait(browser).until(lambda d: "выпущено" in d.find_element(By.ID, "rule-TML002").text)
    assert teacher_rules(config) == {"TML002"}
    assert audit_actions(config.cache.path)[-1] == "rule-release"
    # twenty verdicts at ≥ 95 %: released without a word, and back into the shadow
    from cache.cabinet import adjudicate

    with closing(open_cache(config.cache.path)) as db:
        for i in range(20):
            adjudicate(db, f"fp{i}", "TML001", "right", "", "тест")
    browser.get(f"{base}/quality")
    row = browser.find_element(By.ID, "rule-TML001")
    assert not row.find_elements(By.NAME, "reason")
    row.find_element(By.CSS_SELECTOR, "button.release").click()
    wait(browser).until(lambda d: "выпущено" in d.find_element(By.ID, "rule-TML001").text)
    assert teacher_rules(config) == {"TML001", "TML002"}
    browser.find_element(By.ID, "rule-TML002").find_element(By.CSS_SELECTOR, "button.withdraw").click()
    wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rule-TML002 button.release"))
    assert teacher_rules(config) == {"TML001"}


def test_shadow_state_in_check_and_status(shadow_cabinet: tuple[str, Any], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from asurso_sync.cli import app

    _base, config = shadow_cabinet
    path = config.source
    path.write_text(path.read_text(encoding="utf-8").replace("[rules]\n", "[rules]\nshadow = true\n"), "utf-8")
    runner = CliRunner()
    for args in (["status"], ["check", "--stale-ok", "--format", "json", "--output", str(tmp_path / "f.json")]):
        result = runner.invoke(app, ["--config", str(path), *args])
        assert "Теневой запуск ([rules] shadow)" in " ".join(result.output.split()), result.output


@pytest.mark.slow
def test_the_sample_and_a_lesson_review(browser: Any, cabinet: tuple[str, Path]) -> None:
    base, cache = cabinet
    sign_in(browser, base)
    browser.get(f"{base}/sample?n=2&m=3&seed=1")
    rows_ = browser.find_elements(By.CSS_SELECTOR, "#sample-findings tr")[1:]
    rules_ = [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows_]
    assert rules_ and all(rules_.count(code) <= 2 for code in rules_)
    lessons = browser.find_elements(By.CSS_SELECTOR, "#sample-lessons a")
    assert len(lessons) == 3
    same = [a.get_attribute("href") for a in lessons]
    browser.get(f"{base}/sample?n=2&m=3&seed=1")
    assert [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#sample-lessons a")] == same
    browser.find_elements(By.CSS_SELECTOR, "#sample-lessons a")[0].click()
    assert "Программа замечаний по этому уроку не нашла" in text(browser)
    browser.find_element(By.CSS_SELECTOR, "input[value=missed]").click()
    browser.find_element(By.ID, "save-review").click()
    wait(browser).until(lambda d: d.find_elements(By.ID, "review"))
    browser.get(f"{base}/sample?n=2&m=3&seed=1")
    assert "Проверено уроков: 1, пропущенных нарушений: 1" in text(browser)
    assert "web-lesson-review" in audit_actions(cache)


@pytest.mark.slow
def test_a_check_started_from_the_page(browser: Any, cabinet: tuple[str, Path]) -> None:
    base, cache = cabinet
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Запуск").click()
    browser.find_element(By.ID, "run-check").click()
    wait(browser, 60).until(lambda d: d.find_elements(By.ID, "result"))
    assert "Проверка выполнена" in browser.find_element(By.ID, "result").text
    assert "web-run" in audit_actions(cache)


def test_one_run_at_a_time() -> None:
    import threading

    from asurso_sync.web.jobs import Jobs

    gate = threading.Event()
    jobs = Jobs(config=None, run=lambda job: "готово" if gate.wait(10) else "")  # type: ignore[arg-type]
    first = jobs.start("sync")
    assert first is not None and jobs.start("check") is None  # refused while the first runs
    gate.set()
    for _ in range(100):
        if first.state != "running":
            break
        threading.Event().wait(0.02)
    assert first.state == "ok" and first.message == "готово"
    assert jobs.start("check") is not None


def test_sparkline() -> None:
    from asurso_sync.web.cabinet import sparkline

    assert sparkline([0, 2, 4, 8]) == "▁▃▅█"
    assert sparkline([0, 0]) == "▁▁" and sparkline([]) == ""


@pytest.mark.slow  # «asurso-sync web» in its own process; in process: test_web_pages.py::test_set_password_then_sign_in
def test_set_password_and_serve_as_a_user_does(tmp_path: Path, schools: Schools) -> None:
    """«asurso-sync web set-password» (typed twice, hidden), then «asurso-sync web» in its own process."""

    from typer.testing import CliRunner

    from asurso_sync.cli import app
    from cache.cabinet import password_hash
    from tests.emu import free_port, serve_command

    _emu, config = schools.copy(tmp_path / "school", SPEC)
    cfg = str(config.source)
    runner = CliRunner()
    result = runner.invoke(app, ["--config", cfg, "web"])
    assert result.exit_code == 2 and "web set-password" in result.output  # no password yet: nothing served
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input="корот\n" * 3)
    assert result.exit_code == 2 and "короче 8 знаков" in result.output and "пароль не изменён" in result.output
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input=f"{PASSWORD}\nдругой-пароль\n" * 3)
    assert result.exit_code == 2 and "не совпали" in result.output
    with closing(open_cache(config.cache.path, create=False)) as db:
        assert password_hash(db) is None  # nothing changed
    # a short one, then two that differ: asked again each time, and the third try is kept
    typed = f"корот\n{PASSWORD}\nдругой-пароль\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input=typed)
    assert result.exit_code == 0, result.output
    assert "Пароль короче 8 знаков" in result.output and "Пароли не совпали — введите ещё раз" in result.output
    with closing(open_cache(config.cache.path, create=False)) as db:
        stored = password_hash(db)
    assert stored and stored.startswith("scrypt$") and PASSWORD not in stored
    port = free_port()
    served = serve_command(["--config", cfg, "web", "--port", str(port)], port, "/login")
    with served as base, httpx.Client(base_url=base) as client:
        assert client.post("/login", data={"password": PASSWORD}).status_code == 303
        assert "Открытых замечаний" in client.get("/").text


def current_finding(driver: Any) -> str:
    return str(driver.find_element(By.ID, "review-fp").get_attribute("value"))


def next_finding(driver: Any, before: str) -> str:
    """Wait for the review queue to show another finding than ``before`` (or to be empty); return it. Polled every
    20 ms without the implicit wait (it would hold each look for an absent element two seconds)."""
    from selenium.common.exceptions import WebDriverException

    def moved(d: Any) -> str | bool:
        shown = d.find_elements(By.ID, "review-fp")
        value = shown[0].get_attribute("value") if shown else None
        if value and value != before:
            return str(value)
        return "—" if d.find_elements(By.ID, "queue-empty") else False

    driver.implicitly_wait(0)
    try:
        waiting = WebDriverWait(driver, 10, poll_frequency=0.02, ignored_exceptions=(WebDriverException,))
        return str(waiting.until(moved))
    finally:
        driver.implicitly_wait(2)


@pytest.mark.slow
def test_the_review_queue_twenty_verdicts_one_key_each(
    browser: Any, year_cabinet: tuple[str, Path], record_property: Any
) -> None:
    """«Проверить замечания»: 20 verdicts on one rule, one key each, timed in the browser; the release threshold's
    progress; a skip key; one verdict by a click."""
    import time

    from selenium.webdriver.common.action_chains import ActionChains

    from cache.cabinet import verdicts

    base, cache = year_cabinet
    sign_in(browser, base)
    browser.find_element(By.LINK_TEXT, "Проверить замечания").click()
    browser.find_element(By.CSS_SELECTOR, "#queues a[href='/review/rules/TML001']").click()
    assert browser.find_element(By.ID, "decided").text == "0 из 20"
    assert not browser.find_elements(By.CSS_SELECTOR, "#review-form input[type=radio]")  # nothing to preset
    keys = "1" * 19 + "2"  # 19 «верно» and one «ошибка программы»: precision 95 %, the threshold
    seen: list[str] = []
    started = time.monotonic()
    for key in keys:
        shown = current_finding(browser)
        seen.append(shown)
        ActionChains(browser).send_keys(key).perform()  # one key per verdict, nothing else
        next_finding(browser, shown)
    seconds = time.monotonic() - started
    record_property("review_20_verdicts_seconds", round(seconds, 2))
    print(f"\nочередь проверки: 20 оценок, 1 клавиша на оценку, {seconds:.1f} с в браузере")
    assert len(set(seen)) == 20
    assert browser.find_element(By.ID, "decided").text == "20 из 20"
    assert "можно выпускать" in browser.find_element(By.ID, "progress").text
    assert "Предыдущее сохранено: ошибка программы" in browser.find_element(By.ID, "saved").text
    with closing(open_cache(cache, create=False)) as db:
        stored = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}
    assert stored == {fp: {"1": "right", "2": "wrong"}[k] for fp, k in zip(seen, keys, strict=True)}
    skipped = current_finding(browser)
    ActionChains(browser).send_keys("0").perform()  # skip: the next one, no verdict
    clicked = next_finding(browser, skipped)
    browser.find_element(By.ID, "v-disputed").click()  # or one click
    after = next_finding(browser, clicked)
    assert after not in (skipped, clicked)
    with closing(open_cache(cache, create=False)) as db:
        stored = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}
    assert skipped not in stored and stored[clicked] == "disputed" and len(stored) == 21
    assert audit_actions(cache).count("web-verdict") == 21


@pytest.mark.slow
def test_names_filters_and_the_neutral_verdict_form(browser: Any, year_cabinet: tuple[str, Path]) -> None:
    from selenium.webdriver.support.ui import Select
    from typer.testing import CliRunner

    from asurso_sync.check import undecided_by_rule
    from asurso_sync.cli import app

    base, cache = year_cabinet
    sign_in(browser, base)
    assert int(browser.find_element(By.ID, "undecided").text) > 0  # equal to check's: at the end
    assert "Тема урока не внесена до 16:00" in browser.find_element(By.ID, "by-rule").text
    assert "ночная" in browser.find_element(By.ID, "runs").text
    browser.get(f"{base}/rules/ATT003")
    names = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#findings b.student")]
    assert names and len(names) == len(browser.find_elements(By.CSS_SELECTOR, "#findings a.finding"))
    browser.find_element(By.LINK_TEXT, "Учителя").click()
    browser.find_element(By.CSS_SELECTOR, "#listing a").click()
    every = len(browser.find_elements(By.CSS_SELECTOR, "#findings a.finding"))
    Select(browser.find_element(By.NAME, "rule")).select_by_value("TML001")
    Select(browser.find_element(By.NAME, "state")).select_by_value("new")
    browser.find_element(By.ID, "apply").click()
    wait(browser).until(lambda d: "rule=TML001" in d.current_url)
    rules_ = [s.text for s in browser.find_elements(By.CSS_SELECTOR, "#findings td > span")]
    assert rules_ and set(rules_) == {"TML001"} and len(rules_) < every
    assert browser.find_element(By.CSS_SELECTOR, "h2.week").text.startswith("Неделя ")
    # R22: only what nothing can fix any more («исправлять нечего»), then only tasks — each with its count
    Select(browser.find_element(By.NAME, "rule")).select_by_value("")
    Select(browser.find_element(By.NAME, "state")).select_by_value("")
    Select(browser.find_element(By.NAME, "kind")).select_by_value("record")
    records = int(re.findall(r"\((\d+)\)", Select(browser.find_element(By.NAME, "kind")).first_selected_option.text)[0])
    browser.find_element(By.ID, "apply").click()
    wait(browser).until(lambda d: "kind=record" in d.current_url and "rule=&" in d.current_url)
    lines = browser.find_elements(By.CSS_SELECTOR, "#findings a.finding")
    assert lines and len(browser.find_elements(By.CSS_SELECTOR, "#findings em.kind")) == len(lines)
    assert browser.find_element(By.ID, "shown").text.startswith(f"Открытых замечаний: {records} из ")
    Select(browser.find_element(By.NAME, "kind")).select_by_value("task")
    browser.find_element(By.ID, "apply").click()
    wait(browser).until(lambda d: "kind=task" in d.current_url)
    assert browser.find_elements(By.CSS_SELECTOR, "#findings a.finding")
    assert not browser.find_elements(By.CSS_SELECTOR, "#findings em.kind")
    browser.find_element(By.CSS_SELECTOR, "#findings a.finding").click()
    radios = browser.find_elements(By.CSS_SELECTOR, "#verdict-form input[name=verdict]")
    assert len(radios) == 3 and not any(r.is_selected() for r in radios)
    here = browser.current_url
    browser.find_element(By.ID, "save-verdict").click()  # nothing chosen: the browser asks, nothing is stored
    assert browser.current_url == here and not browser.find_elements(By.ID, "verdicts")
    assert "web-verdict" not in audit_actions(cache)
    # «asurso-sync check» on the same cache, as the deputy would run it (the in-process twin: test_web_daily)
    at = (SPEC.check_at or datetime.now()).isoformat()
    config = cache.parent / "config.toml"
    result = CliRunner().invoke(app, ["--config", str(config), "check", "--as-of", at, "--format", "json"])
    undecided = sum(undecided_by_rule(json.loads(result.stdout)["undecided"]).values())
    browser.get(f"{base}/")
    assert undecided > 0 and int(browser.find_element(By.ID, "undecided").text) == undecided
