"""Кабинет завуча in process: every behaviour tests/test_web.py checks in headless Chromium, checked here through the
ASGI app itself (Starlette's TestClient, no server, no browser) — the fast lane's level of the cabinet. The pages
are read with BeautifulSoup and their forms submitted as a browser would: the form's hidden fields (the CSRF token)
and its checked choices, plus what the user types."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from starlette.testclient import TestClient

from asurso_sync.web.app import create_app
from asurso_sync.web.cabinet import COOKIE
from cache import open_cache
from cache.cabinet import adjudicate, set_password_hash
from cache.queries import rows
from tests.passwords import stored_hash
from tests.schools import Schools
from tests.test_web import PASSWORD, SPEC, audit_actions, teacher_rules


class Visitor:
    """One person's tab: the cookie jar, the page shown, and its forms."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.page = BeautifulSoup("", "html.parser")
        self.status = 0
        self.url = ""

    def _show(self, response: Any) -> BeautifulSoup:
        self.status = response.status_code
        self.url = response.url.path
        self.page = BeautifulSoup(response.text, "html.parser")
        return self.page

    def get(self, path: str) -> BeautifulSoup:
        return self._show(self.client.get(path))

    def text(self, selector: str = "body") -> str:
        found = self.page.select_one(selector)
        assert found is not None, (selector, self.url)
        return " ".join(found.get_text(" ").split())

    def follow(self, selector: str) -> BeautifulSoup:
        link = self.page.select_one(selector)
        assert isinstance(link, Tag), (selector, self.url)
        return self.get(str(link["href"]))

    def submit(self, form: Tag | str, **typed: str) -> BeautifulSoup:
        """Post a form of the page: its hidden fields, its checked radios, then what was typed."""
        found = self.page.select_one(form) if isinstance(form, str) else form
        assert isinstance(found, Tag), (form, self.url)
        data: dict[str, str] = {}
        for field in found.find_all("input"):
            name, kind = field.get("name"), field.get("type", "text")
            if not name:
                continue
            if kind == "hidden" or (kind == "radio" and field.has_attr("checked")):
                data[str(name)] = str(field.get("value", ""))
        data.update(typed)
        return self._show(self.client.post(str(found.get("action") or self.url), data=data))

    def sign_in(self, password: str = PASSWORD) -> None:
        self.get("/login")
        self.submit("form", password=password)


def _cabinet(tmp_path: Path, schools: Schools, *, shadow: bool = False) -> Iterator[tuple[Visitor, Any]]:
    _emu, config = schools.copy(tmp_path / "school", SPEC)
    config.rules.shadow = shadow
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
    with TestClient(create_app(config)) as client:
        yield Visitor(client), config


@pytest.fixture
def cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[Visitor, Any]]:
    """The cabinet over a school synced for a week and checked (test_web's school), its password set."""
    yield from _cabinet(tmp_path, schools)


@pytest.fixture
def shadow_cabinet(tmp_path: Path, schools: Schools) -> Iterator[tuple[Visitor, Any]]:
    yield from _cabinet(tmp_path, schools, shadow=True)


def test_wrong_password_then_the_overview(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in("не тот пароль")
    assert tab.status == 401 and "Неверный пароль." in tab.text()
    tab.get("/login")
    form = tab.page.select_one("form")
    assert form is not None
    answer = tab.client.post(str(form.get("action") or "/login"), data={"password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie and "samesite=strict" in cookie
    tab.get("/")
    assert tab.url == "/" and int(tab.text("#open-count")) > 0
    assert "Уроки, заполненные вовремя, по неделям" in tab.text()
    assert audit_actions(config.cache.path)[-2:] == ["web-login-failed", "web-login"]


def test_a_finding_shows_its_evidence_and_takes_a_verdict(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/rules/TML002")
    tab.follow("#findings a.finding")
    page = tab.text()
    assert "Что было видно и когда" in page and "Урок:" in page
    assert "Куда идёт" in page and "Пункт Положения" in page
    tab.submit("#verdict-form", verdict="wrong", comment="тема была в КТП")
    assert tab.url.startswith("/finding/")
    assert "ошибка программы" in tab.text("#verdicts") and "тема была в КТП" in tab.text("#verdicts")
    tab.get("/quality")
    row = tab.text("#quality")
    assert "TML002" in row and "0,0 %" in row
    assert "web-verdict" in audit_actions(config.cache.path)


def test_a_waiver_from_a_finding_and_its_revocation(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/rules/TML001")
    tab.follow("#findings a.finding")
    tab.submit("#waive-form", reason="урок перенесён приказом")
    assert tab.url == "/waivers" and "урок перенесён приказом" in tab.text("#waivers")
    tab.submit("#waivers form")
    assert "Исключений нет." in tab.text("#waivers")
    assert audit_actions(config.cache.path)[-2:] == ["waiver-add", "waiver-remove"]


def test_a_form_without_the_csrf_token_is_refused(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/rules/TML001")
    link = tab.page.select_one("#findings a.finding")
    assert link is not None
    # a page of another site posts with the cookie (the client's jar sends it) but without the token
    refused = tab.client.post(f"{link['href']}/verdict", data={"verdict": "wrong"})
    assert refused.status_code == 403 and "Форма устарела" in refused.text
    with closing(open_cache(config.cache.path, create=False)) as db:
        assert rows(db, 'SELECT COUNT(*) AS "n" FROM "adjudication"')[0]["n"] == 0


def test_a_teachers_list_shows_nothing_of_other_teachers(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/lists")
    links = tab.page.select("#lists a")
    assert len(links) >= 2
    name, href = links[0].get_text(strip=True), str(links[0]["href"])
    teacher_id = int(href.rsplit("/", 1)[1])
    letter = " ".join(tab.get(href).get_text(" ").split())
    assert name.split()[0] in letter
    with closing(open_cache(config.cache.path, create=False)) as db:
        others = rows(
            db,
            'SELECT f."message", s."name" FROM "finding" f JOIN "staff" s ON s."id" = f."teacher_id" '
            'WHERE f."teacher_id" != ?',
            [teacher_id],
        )
    assert others
    for other in others:
        assert other["message"] not in letter and other["name"] not in letter


def test_the_teachers_listing_shows_a_trend(cabinet: tuple[Visitor, Any]) -> None:
    """What the README's screenshot of «Учителя» shows: a trend per teacher, the busiest week at full height."""
    tab, _config = cabinet
    tab.sign_in()
    tab.get("/teachers")
    header = tab.page.select_one("#listing th")
    assert header is not None and header.get_text(strip=True) == "Учитель"
    trend = tab.text("#listing td.trend")
    assert trend and set(trend) <= set("▁▂▃▄▅▆▇█") and "█" in trend


def test_shadow_start_release_a_rule_then_only_it_reaches_teachers(shadow_cabinet: tuple[Visitor, Any]) -> None:
    tab, config = shadow_cabinet
    assert teacher_rules(config) == set()  # in the shadow nothing goes to teachers
    tab.sign_in()
    tab.get("/lists")
    assert "Теневой режим: учителя эти списки пока не получают" in tab.text()
    assert tab.page.select("#lists a")  # the lists are built and shown all the same
    tab.get("/quality")
    tab.submit("#rule-TML002 form:has(button.release)")  # no verdicts, no reason: refused
    assert tab.status == 400 and "Правило не выпущено" in tab.text()
    tab.get("/quality")
    tab.submit("#rule-TML002 form:has(button.release)", reason="проверено на двух классах вручную")
    assert "выпущено" in tab.text("#rule-TML002")
    assert teacher_rules(config) == {"TML002"}
    assert audit_actions(config.cache.path)[-1] == "rule-release"
    # twenty verdicts at ≥ 95 %: released without a word, and back into the shadow
    with closing(open_cache(config.cache.path)) as db:
        for i in range(20):
            adjudicate(db, f"fp{i}", "TML001", "right", "", "тест")
    tab.get("/quality")
    assert not tab.page.select("#rule-TML001 input[name=reason]")
    tab.submit("#rule-TML001 form:has(button.release)")
    assert "выпущено" in tab.text("#rule-TML001")
    assert teacher_rules(config) == {"TML001", "TML002"}
    tab.submit("#rule-TML002 form:has(button.withdraw)")
    assert tab.page.select("#rule-TML002 button.release")
    assert teacher_rules(config) == {"TML001"}


def test_the_sample_and_a_lesson_review(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/sample?n=2&m=3&seed=1")
    codes = [tr.find_all("td")[0].get_text(strip=True) for tr in tab.page.select("#sample-findings tr")[1:]]
    assert codes and all(codes.count(code) <= 2 for code in codes)
    same = [str(a["href"]) for a in tab.page.select("#sample-lessons a")]
    assert len(same) == 3
    tab.get("/sample?n=2&m=3&seed=1")
    assert [str(a["href"]) for a in tab.page.select("#sample-lessons a")] == same
    tab.get(same[0])
    assert "Программа замечаний по этому уроку не нашла" in tab.text()
    tab.submit("#review-form", verdict="missed")
    assert tab.page.select("#review")
    tab.get("/sample?n=2&m=3&seed=1")
    assert "Проверено уроков: 1, пропущенных нарушений: 1" in tab.text()
    assert "web-lesson-review" in audit_actions(config.cache.path)


def test_a_check_started_from_the_page(cabinet: tuple[Visitor, Any]) -> None:
    tab, config = cabinet
    tab.sign_in()
    tab.get("/run")
    tab.submit(tab.page.select_one("form:has(#run-check)") or "#run-check")
    assert tab.url == "/run"
    deadline = time.monotonic() + 120
    while not tab.page.select("#result"):  # the check runs in the cabinet's worker thread: poll its page
        assert time.monotonic() < deadline, tab.text()
        time.sleep(0.05)
        tab.get("/run")
    assert "Проверка выполнена" in tab.text("#result")
    assert "web-run" in audit_actions(config.cache.path)


def test_set_password_then_sign_in(tmp_path: Path, schools: Schools) -> None:
    """«asurso-sync web set-password» (typed twice, hidden), then the cabinet of that config takes the password
    (test_web.py::test_set_password_and_serve_as_a_user_does serves it from its own process)."""
    from typer.testing import CliRunner

    from asurso_sync.cli import app
    from cache.cabinet import password_hash

    _emu, config = schools.copy(tmp_path / "school", SPEC)
    cfg = str(config.source)
    runner = CliRunner()
    result = runner.invoke(app, ["--config", cfg, "web"])
    assert result.exit_code == 2 and "web set-password" in result.output  # no password yet: nothing served
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input="корот\n" * 3)  # asked three times
    assert result.exit_code == 2 and "короче 8 знаков" in result.output
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input=f"{PASSWORD}\nдругой-пароль\n" * 3)
    assert result.exit_code == 2 and "не совпали" in result.output
    with closing(open_cache(config.cache.path, create=False)) as db:
        assert password_hash(db) is None  # nothing changed
    result = runner.invoke(app, ["--config", cfg, "web", "set-password"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with closing(open_cache(config.cache.path, create=False)) as db:
        stored = password_hash(db)
    # production's scrypt parameters (2**15 × 8 × 1): the cabinet fixtures store cheaper ones (tests/passwords.py)
    assert stored and stored.startswith("scrypt$32768$8$1$") and PASSWORD not in stored
    with TestClient(create_app(config)) as client:
        assert client.post("/login", data={"password": PASSWORD}, follow_redirects=False).status_code == 303
        assert "Открытых замечаний" in client.get("/").text
