"""A teacher's personal page from the link in her letter (issue #34): access rules in-process (Starlette's
TestClient over the cabinet's app), the letter's link and answers, objections in the deputy's review and in the
rules' precision; and the whole path in headless Chromium (slow lane)."""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from asurso_sync.config import Config
from asurso_sync.remarks.outbox import build_week, enqueue_week
from asurso_sync.remarks.week import Week
from asurso_sync.routing import finding_route, rule_routes
from asurso_sync.web.app import create_app
from asurso_sync.web.precision import precision_by_rule
from cache import open_cache, outbox_rows
from cache.cabinet import open_findings, released_rules, set_password_hash, teacher_names
from cache.queries import rows
from cache.teacher_links import (
    add_objection,
    answer_objection,
    issue_link,
    objections,
    previous_issue,
    revoke_links,
)
from rules.catalogue import load_catalogue
from tests.passwords import stored_hash
from tests.schools import Schools, Spec

with warnings.catch_warnings():  # Starlette suggests httpx's successor; the suite pins httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "Пароль-кабинета-1"
SPEC = Spec(check_at=datetime(2026, 12, 14, 7, 0))  # the cabinet tests' school: built once per run
BASE = "https://ezh.school.example"
REFUSED = "Откройте ссылку из самого нового письма"


@pytest.fixture
def school(tmp_path: Path, schools: Schools) -> Config:
    _emu, config = schools.copy(tmp_path / "school", SPEC)
    config.teacher_page.base_url = BASE
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
    return config


def items_of(config: Config) -> dict[int, list[dict[str, Any]]]:
    """Each teacher's open findings that reach her list, the most first."""
    with closing(open_cache(config.cache.path, create=False)) as db:
        routes = rule_routes(load_catalogue(), config, released_rules(db))
        found = [f for f in open_findings(db) if finding_route(f, routes) == "teacher" and not f["settled"]]
    per: dict[int, list[dict[str, Any]]] = {}
    for f in found:
        per.setdefault(int(f["teacher_id"]), []).append(f)
    order = Counter({t: len(v) for t, v in per.items()})
    return {t: per[t] for t, _ in order.most_common()}


def link(config: Config, teacher: int, **kw: Any) -> str:
    with closing(open_cache(config.cache.path)) as db:
        return issue_link(db, teacher, "2026-W50", max_days=14, **kw)


@pytest.fixture
def client(school: Config) -> Iterator[TestClient]:
    with TestClient(create_app(school), follow_redirects=False) as c:
        yield c


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([\w-]+)"', page)
    assert found, "the page has a form"
    return found.group(1)


def objections_count(config: Config) -> int:
    with closing(open_cache(config.cache.path, create=False)) as db:
        return int(rows(db, 'SELECT COUNT(*) AS "n" FROM "teacher_objection"')[0]["n"])


def test_her_link_shows_her_items_and_nothing_of_other_teachers(school: Config, client: TestClient) -> None:
    per = items_of(school)
    assert len(per) >= 2
    (her, mine), (_, theirs) = list(per.items())[:2]
    with closing(open_cache(school.cache.path, create=False)) as db:
        names = teacher_names(db)
    page = client.get(f"/t/{link(school, her)}")
    assert page.status_code == 200
    assert names[her] in page.text
    assert {f["fingerprint"] for f in mine} <= set(re.findall(r'data-fp="([0-9a-f]+)"', page.text))
    assert "Пункт" not in page.text and "п. " in page.text  # the clause in words, with its number
    for f in theirs:
        assert f["fingerprint"] not in page.text
    for ident, name in names.items():
        if ident != her:
            assert name not in page.text  # no other teacher by name, not even in the access report's rows
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    with closing(open_cache(school.cache.path, create=False)) as db:
        audit = rows(db, 'SELECT "action", "details" FROM "audit_log" WHERE "action" LIKE \'teacher-%\'')
    assert audit[-1]["action"] == "teacher-page" and str(her) in audit[-1]["details"]


def test_wrong_old_tampered_expired_and_revoked_tokens_are_refused(school: Config, client: TestClient) -> None:
    her, other = list(items_of(school))[:2]
    old = link(school, her)
    assert client.get(f"/t/{old}").status_code == 200
    new = link(school, her)  # her next letter: the old link ends
    tampered = new[:-1] + ("A" if new[-1] != "A" else "B")
    expired = link(school, other, now=datetime.now(UTC) - timedelta(days=15))  # 14 days: ended yesterday
    for token in (old, tampered, expired, "x" * 43):
        page = client.get(f"/t/{token}")
        assert page.status_code == 403 and REFUSED in page.text
    assert client.get(f"/t/{new}").status_code == 200
    with closing(open_cache(school.cache.path)) as db:
        assert revoke_links(db, her) == 1
    assert REFUSED in client.get(f"/t/{new}").text
    with closing(open_cache(school.cache.path, create=False)) as db:
        stored = [r["token_hash"] for r in rows(db, 'SELECT "token_hash" FROM "teacher_link"')]
        audit = " ".join(r["details"] for r in rows(db, 'SELECT "details" FROM "audit_log"'))
    assert new not in stored and len(stored[0]) == 64  # only hashes are kept …
    assert new not in audit and old not in audit  # … and no token is ever logged


def test_a_previous_link_may_stay_valid_for_a_while_when_configured(school: Config, client: TestClient) -> None:
    her = next(iter(items_of(school)))
    old = link(school, her)
    link(school, her, keep_previous_days=2)
    assert client.get(f"/t/{old}").status_code == 200
    with closing(open_cache(school.cache.path)) as db:  # a link not issued with a week's letter opens too
        other = issue_link(db, her, "", max_days=1, keep_previous_days=2)
    assert client.get(f"/t/{other}").status_code == 200


def test_the_link_does_not_open_the_deputys_pages(school: Config, client: TestClient) -> None:
    her = next(iter(items_of(school)))
    token = link(school, her)
    assert client.get(f"/t/{token}").status_code == 200
    for path in ("/", "/teachers", f"/teachers/{her}", "/objections", "/lists", "/quality"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_wrong_tokens_are_limited_per_address(school: Config, client: TestClient) -> None:
    her = next(iter(items_of(school)))
    good = link(school, her)
    for _ in range(10):
        assert client.get("/t/угадываю-ссылку").status_code == 403
    limited = client.get(f"/t/{good}")
    assert limited.status_code == 429 and "Слишком много попыток" in limited.text


def test_a_form_without_its_csrf_token_or_with_another_links_is_refused(school: Config, client: TestClient) -> None:
    (her, mine), (other, _) = list(items_of(school).items())[:2]
    token, others = link(school, her), link(school, other)
    fp = mine[0]["fingerprint"]
    refused = client.post(f"/t/{token}/dispute", data={"fp": fp, "reason": "тема была"})
    assert refused.status_code == 403 and "Форма устарела" in refused.text
    foreign = csrf(client.get(f"/t/{others}").text)
    refused = client.post(f"/t/{token}/dispute", data={"fp": fp, "reason": "тема была", "csrf": foreign})
    assert refused.status_code == 403
    assert objections_count(school) == 0


def test_she_cannot_answer_for_another_teachers_remark(school: Config, client: TestClient) -> None:
    (her, _), (_, theirs) = list(items_of(school).items())[:2]
    token = link(school, her)
    form = {"fp": theirs[0]["fingerprint"], "reason": "не моё", "csrf": csrf(client.get(f"/t/{token}").text)}
    assert client.post(f"/t/{token}/dispute", data=form).status_code == 404
    assert objections_count(school) == 0


def test_childrens_names_only_on_her_own_lessons(school: Config, client: TestClient) -> None:
    with closing(open_cache(school.cache.path, create=False)) as db:
        students = {str(r["id"]): r["full_name"] for r in rows(db, 'SELECT "id", "full_name" FROM "student"')}
    about_a_child = [
        (t, f, students[m.group(1)])
        for t, found in items_of(school).items()
        for f in found
        if '"cm"' in f["entity"] and (m := re.search(r'"student": ?(\d+)', f["entity"])) and m.group(1) in students
    ]
    assert about_a_child, "the school has a remark naming a child on a lesson"
    her, target, child = about_a_child[0]
    cm = int(re.search(r'"cm": ?(\d+)', target["entity"]).group(1))  # type: ignore[union-attr]
    token = link(school, her)
    surname = child.split()[0]
    assert surname in client.get(f"/t/{token}").text
    with closing(open_cache(school.cache.path)) as db:  # the server now records another teacher for that lesson
        other = next(i for i in teacher_names(db) if i != her)
        db.execute('UPDATE "class_meeting" SET "teacher_id" = ? WHERE "id" = ?', [other, cm])
    page = client.get(f"/t/{token}").text
    group = page[page.index(f'id="cm-{cm}"') :]
    group = group[: group.index("</section>")]
    assert target["fingerprint"] in group and surname not in group


def test_a_long_list_is_paged_newest_lessons_first(
    school: Config, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asurso_sync.web.routes import teacher

    monkeypatch.setattr(teacher, "GROUPS_PER_PAGE", 1)
    her = next(iter(items_of(school)))
    token = link(school, her)
    first, second = client.get(f"/t/{token}").text, client.get(f"/t/{token}?p=2").text
    on_first, on_second = (set(re.findall(r'data-fp="([0-9a-f]+)"', p)) for p in (first, second))
    assert on_first and on_second and not on_first & on_second
    assert 'id="older"' in first and "Страница 2 из" in second
    dispute(client, token, sorted(on_second)[0])  # an answer from a later page is hers too


def sign_in(client: TestClient) -> str:
    """The deputy signs in to the cabinet; returns her session's CSRF token."""
    assert client.post("/login", data={"password": PASSWORD}).status_code == 303
    return csrf(client.get("/objections").text)


def dispute(client: TestClient, token: str, fp: str, reason: str = "тема была внесена вовремя") -> None:
    form = {"fp": fp, "reason": reason, "csrf": csrf(client.get(f"/t/{token}").text)}
    answer = client.post(f"/t/{token}/dispute", data=form)
    assert answer.status_code == 303, answer.text


def pending_ids(client: TestClient) -> list[int]:
    return [int(x) for x in re.findall(r'id="objection-(\d+)"', client.get("/objections").text)]


def test_objections_go_to_the_deputy_and_her_answer_comes_back(school: Config, client: TestClient) -> None:
    her, mine = next(iter(items_of(school).items()))
    token = link(school, her)
    dispute(client, token, mine[0]["fingerprint"])
    lessons = [int(m.group(1)) for f in mine if (m := re.search(r'"cm": ?(\d+)', f["entity"]))]
    cm = next(c for c in lessons if f'"cm": {c}' not in mine[0]["entity"] and f'"cm":{c}' not in mine[0]["entity"])
    page = client.get(f"/t/{token}").text
    assert "оспорено — ждёт решения завуча" in page
    not_held = client.post(f"/t/{token}/not-held", data={"cm": cm, "reason": "экскурсия", "csrf": csrf(page)})
    assert not_held.status_code == 303
    deputy = sign_in(client)
    queue = client.get("/objections").text
    assert "тема была внесена вовремя" in queue and "урок не состоялся" in queue
    first, second = sorted(pending_ids(client))
    on_finding = client.get(f"/finding/{mine[0]['fingerprint']}").text  # marked on the finding's own page too
    assert "учитель (возражение)" in on_finding and "тема была внесена вовремя" in on_finding
    with closing(open_cache(school.cache.path, create=False)) as db:
        marked = rows(db, 'SELECT "verdict", "author", "objection_id" FROM "adjudication" ORDER BY "id"')
    assert {(m["verdict"], m["objection_id"]) for m in marked} >= {("disputed", first), ("disputed", second)}
    assert all(m["author"] == "учитель (возражение)" for m in marked)
    form = {"csrf": deputy, "answer": "uphold", "comment": "тема внесена в 17:40"}
    assert client.post(f"/objections/{first}/answer", data=form).status_code == 303
    assert client.post(f"/objections/{second}/answer", data={"csrf": deputy, "answer": "agree"}).status_code == 303
    assert pending_ids(client) == []
    page = client.get(f"/t/{token}").text
    assert "оспорено — завуч не согласна, замечание остаётся: «тема внесена в 17:40»" in page
    assert "Урок не состоялся: оспорено — завуч согласна" in page
    with closing(open_cache(school.cache.path, create=False)) as db:
        waived = rows(db, 'SELECT "reason" FROM "waiver"')
    assert waived and all(w["reason"].startswith("возражение учителя принято: экскурсия") for w in waived)


def test_objections_move_precision_exactly_as_the_deputys_own_verdicts(
    tmp_path: Path, schools: Schools, school: Config
) -> None:
    per = items_of(school)
    her, mine = next(iter(per.items()))
    upheld, rejected = mine[0], mine[1]
    # the same school twice: there the deputy judges on the findings' pages, here she answers the teacher
    _emu, own = schools.copy(tmp_path / "own", SPEC)
    with closing(open_cache(own.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
        before = precision_by_rule(db)
    with TestClient(create_app(own), follow_redirects=False) as c:
        token = sign_in(c)
        for f, verdict in ((upheld, "right"), (rejected, "wrong")):
            c.post(f"/finding/{f['fingerprint']}/verdict", data={"csrf": token, "verdict": verdict})
    with TestClient(create_app(school), follow_redirects=False) as c:
        teacher = link(school, her)
        dispute(c, teacher, upheld["fingerprint"])
        dispute(c, teacher, rejected["fingerprint"])
        with closing(open_cache(school.cache.path, create=False)) as db:
            waiting = precision_by_rule(db)  # «спорно»: in the review, not yet in the precision
        assert before == {} and all(v["decided"] == 0 and v["precision"] is None for v in waiting.values())
        deputy = sign_in(c)
        ids = sorted(pending_ids(c))
        c.post(f"/objections/{ids[0]}/answer", data={"csrf": deputy, "answer": "uphold"})
        c.post(f"/objections/{ids[1]}/answer", data={"csrf": deputy, "answer": "agree"})
    with closing(open_cache(own.cache.path, create=False)) as a, closing(open_cache(school.cache.path)) as b:
        theirs, ours = precision_by_rule(a), precision_by_rule(b)
    assert ours == theirs
    counted = Counter[tuple[str, str]]()
    for f, verdict in ((upheld, "right"), (rejected, "wrong")):
        counted[f["rule"], verdict] += 1
    for (rule, verdict), n in counted.items():
        assert ours[rule][verdict] == n  # the upheld one counts as right, the rejected one as a false remark
    assert sum(v["decided"] for v in ours.values()) == 2


def sent(config: Config, week: str, recipient: str) -> Message:
    with closing(open_cache(config.cache.path, create=False)) as db:
        found = [r for r in outbox_rows(db, period=week) if r.recipient == recipient and r.kind == "teacher"]
    assert len(found) == 1
    return message_from_bytes(found[0].message)


def parts(msg: Message) -> tuple[str, str]:
    text = html = ""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
    return text, html


def test_the_letter_carries_her_link_and_the_next_one_the_deputys_answers(school: Config, client: TestClient) -> None:
    week = Week.parse("2026-W50")
    with closing(open_cache(school.cache.path)) as db:
        wl = build_week(db, school, week)
        enqueue_week(db, school, wl)
    tl = next(t for t in wl.recipients(school) if t.email and not t.part.empty)
    text, html = parts(sent(school, week.label, str(tl.email)))
    token = re.search(rf"{re.escape(BASE)}/t/([\w-]+)", text).group(1)  # type: ignore[union-attr]
    assert f'href="{BASE}/t/{token}"' in html and "до следующего письма" in text
    page = client.get(f"/t/{token}")
    assert page.status_code == 200 and tl.name in page.text
    fp = re.findall(r'data-fp="([0-9a-f]+)"', page.text)[0]
    dispute(client, token, fp)
    deputy = sign_in(client)
    client.post(f"/objections/{pending_ids(client)[0]}/answer", data={"csrf": deputy, "answer": "uphold"})
    nxt = week.shift(1)
    with closing(open_cache(school.cache.path)) as db:
        enqueue_week(db, school, build_week(db, school, nxt))
    text, html = parts(sent(school, nxt.label, str(tl.email)))
    assert "ОТВЕТЫ НА ВАШИ ВОЗРАЖЕНИЯ" in text and "оспорено — завуч не согласна" in text
    assert "оспорено — завуч не согласна" in html
    assert REFUSED in client.get(f"/t/{token}").text  # the newest letter's link replaced it


def test_an_answer_is_told_once_whatever_the_clock_says(school: Config) -> None:
    """The next letter tells the answers given after the previous letter — by the order of the verdicts, not by the
    clock: an answer in the same second as the letter (or with the clock set back) is told once, not lost."""
    her, mine = next(iter(items_of(school).items()))
    ahead = datetime.now(UTC) + timedelta(hours=1)  # the letter's moment is later than the answer's on the clock
    with closing(open_cache(school.cache.path)) as db:
        issue_link(db, her, "2026-W50", max_days=14, now=ahead)
        link_id = int(rows(db, 'SELECT MAX("id") AS "id" FROM "teacher_link"')[0]["id"])
        oid = add_objection(
            db,
            teacher_id=her,
            link_id=link_id,
            kind="dispute",
            findings=[(mine[0]["fingerprint"], mine[0]["rule"])],
            reason="тема была",
        )
        answer_objection(db, oid, agree=False, comment="", author="завуч")
        told = objections(db, teacher_id=her, since=previous_issue(db, her))
        assert [o["id"] for o in told] == [oid] and told[0]["state"] == "rejected"
        issue_link(db, her, "2026-W51", max_days=14, now=ahead)  # that letter told it; the next one does not
        assert objections(db, teacher_id=her, since=previous_issue(db, her)) == []


def test_without_the_pages_address_no_link_is_sent(school: Config) -> None:
    school.teacher_page.base_url = ""
    week = Week.parse("2026-W50")
    with closing(open_cache(school.cache.path)) as db:
        wl = build_week(db, school, week)
        enqueue_week(db, school, wl)
        assert rows(db, 'SELECT COUNT(*) AS "n" FROM "teacher_link"')[0]["n"] == 0
        messages = [message_from_bytes(bytes(r.message)) for r in outbox_rows(db, period=week.label)]
    # the decoded text and HTML parts, not the raw bytes: their base64 may hold «/t/» by chance (it did, once)
    parts = [
        part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for m in messages
        for part in m.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    ]
    assert messages and parts and not any("/t/" in text for text in parts)


def test_the_deputy_revokes_links_from_the_command_line(school: Config, client: TestClient) -> None:
    from typer.testing import CliRunner

    from asurso_sync.cli import app

    her, other = list(items_of(school))[:2]
    hers, theirs = link(school, her), link(school, other)
    cfg = str(school.source)
    runner = CliRunner()
    assert runner.invoke(app, ["--config", cfg, "web", "revoke-links"]).exit_code == 2  # whom?
    assert runner.invoke(app, ["--config", cfg, "web", "revoke-links", "нет-такого-учителя"]).exit_code == 2
    result = runner.invoke(app, ["--config", cfg, "web", "revoke-links", str(her)])
    assert result.exit_code == 0 and "отозвано ссылок — 1" in result.output
    assert REFUSED in client.get(f"/t/{hers}").text
    assert client.get(f"/t/{theirs}").status_code == 200  # hers only
    assert runner.invoke(app, ["--config", cfg, "web", "revoke-links", "--all"]).exit_code == 0
    assert REFUSED in client.get(f"/t/{theirs}").text


# --- in a real browser (slow lane) -----------------------------------------------------------------------------


@pytest.fixture
def served(school: Config) -> Iterator[tuple[str, Config]]:
    from tests.emu import serve

    with serve(create_app(school)) as base:
        yield base, school


@pytest.fixture
def chromium(browser: Any) -> Any:
    """conftest's ``browser`` (one Chromium per worker; a test using it is in the slow lane)."""
    return browser


def browser_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(driver.find_element(By.TAG_NAME, "body").text.split())


@pytest.mark.slow
def test_in_the_browser_a_teacher_disputes_the_deputy_rejects_the_teacher_sees_it(
    chromium: Any,
    served: tuple[str, Config],
) -> None:
    from selenium.webdriver.common.by import By

    from tests.test_web import sign_in as deputy_signs_in
    from tests.test_web import wait

    base, config = served
    (her, mine), (_, theirs) = list(items_of(config).items())[:2]
    token = link(config, her)
    chromium.delete_all_cookies()
    chromium.set_window_size(390, 844)  # a phone
    try:
        chromium.get(f"{base}/t/{token}")
        shown = {e.get_attribute("data-fp") for e in chromium.find_elements(By.CSS_SELECTOR, ".item")}
        assert {f["fingerprint"] for f in mine} <= shown
        assert not shown & {f["fingerprint"] for f in theirs}
        assert chromium.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        if folder := os.environ.get("CABINET_SCREENSHOTS"):  # README's picture of the page on a phone
            chromium.save_screenshot(str(Path(folder) / "teacher-page.png"))
        first = chromium.find_element(By.CSS_SELECTOR, f'.item[data-fp="{mine[0]["fingerprint"]}"]')
        first.find_element(By.CSS_SELECTOR, "details.dispute summary").click()
        first.find_element(By.NAME, "reason").send_keys("тема была внесена до 16:00")
        first.find_element(By.CSS_SELECTOR, "details.dispute button").click()
        wait(chromium).until(lambda d: d.find_elements(By.ID, "done"))
        assert "ждёт решения завуча" in browser_text(chromium)
    finally:
        chromium.set_window_size(1200, 900)
    deputy_signs_in(chromium, base, PASSWORD)
    chromium.get(f"{base}/objections")
    queue = chromium.find_element(By.ID, "queue")
    assert "тема была внесена до 16:00" in queue.text and mine[0]["rule"] in queue.text
    queue.find_element(By.NAME, "comment").send_keys("тема появилась в 18:20")
    queue.find_element(By.CSS_SELECTOR, "button[value=uphold]").click()
    wait(chromium).until(lambda d: "Новых возражений нет" in browser_text(d))
    assert "замечание верно" in chromium.find_element(By.ID, "answered").text
    chromium.delete_all_cookies()
    chromium.get(f"{base}/t/{token}")
    item = chromium.find_element(By.CSS_SELECTOR, f'.item[data-fp="{mine[0]["fingerprint"]}"]')
    assert "оспорено — завуч не согласна" in item.text and "тема появилась в 18:20" in item.text


@pytest.mark.slow
def test_in_the_browser_foreign_old_and_tampered_tokens_and_a_form_without_csrf_are_refused(
    chromium: Any,
    served: tuple[str, Config],
) -> None:

    from selenium.webdriver.common.by import By

    from tests.test_web import wait

    base, config = served
    (her, mine), (other, _) = list(items_of(config).items())[:2]
    old = link(config, her)
    token, foreign = link(config, her), link(config, other)
    chromium.delete_all_cookies()
    for refused in (old, token[:-2] + ("xy" if token[-2:] != "xy" else "yz")):
        chromium.get(f"{base}/t/{refused}")
        assert REFUSED in browser_text(chromium)
    # another teacher's link opens her own page only: her colleague's remark cannot be answered through it
    chromium.get(f"{base}/t/{foreign}")
    # her page's form is there before the page is read (``page_source`` does not wait: read too early, the page
    # being left would pass the assertion without it being checked)
    wait(chromium).until(lambda d: d.find_elements(By.CSS_SELECTOR, "details.dispute form"))
    assert mine[0]["fingerprint"] not in chromium.page_source
    chromium.execute_script(
        "const f = document.querySelector('details.dispute form');"
        f"f.querySelector('[name=fp]').value = '{mine[0]['fingerprint']}';"
        "f.querySelector('[name=reason]').value = 'чужое'; f.submit();"
    )
    wait(chromium).until(lambda d: "Замечание уже закрыто" in browser_text(d))
    # a form of another site: her link, but no CSRF token
    chromium.get(f"{base}/t/{token}")
    chromium.execute_script(
        "const f = document.createElement('form'); f.method = 'post';"
        f"f.action = '/t/{token}/dispute';"
        f"for (const [k, v] of [['fp', '{mine[0]['fingerprint']}'], ['reason', 'подделка']]) {{"
        "const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }"
        "document.body.appendChild(f); f.submit();"
    )
    wait(chromium).until(lambda d: "Форма устарела" in browser_text(d))
    assert objections_count(config) == 0
