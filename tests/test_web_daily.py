"""The cabinet's pages for daily work (issue #33), in process (httpx's ASGI transport, the real app over a real
cache checked over the school year): names beside codes, the undecided figure equal to ``check``'s, the chart's
weeks, the grouped and filtered findings, the review queue and the verdict forms without a preset."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup

from asurso_sync import exitcodes
from asurso_sync.check import undecided_by_rule
from asurso_sync.config import Config
from asurso_sync.routing import shadowed
from asurso_sync.web.app import create_app
from cache import last_check, open_cache
from cache.cabinet import set_password_hash, set_release, verdicts
from cache.queries import rows
from rules.catalogue import load_catalogue
from tests.passwords import stored_hash
from tests.schools import Schools
from tests.test_web import PASSWORD, SPEC, YEAR
from tests.test_web_attack import client

Year = tuple[Config, list[dict[str, Any]], dict[str, int]]


@pytest.fixture
def year(tmp_path: Path, schools: Schools) -> Iterator[Year]:
    """The week's school checked over the whole school year (hundreds of findings, some about a student); yields the
    config, the findings and the check's undecided items per rule (as ``check`` prints them)."""
    _emu, config = schools.copy(tmp_path / "school", YEAR)
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
        findings = [{**f, "entity": json.loads(f["entity"])} for f in rows(db, 'SELECT * FROM "finding"')]
        check = last_check(db)
    assert check is not None
    yield config, findings, check["counts"]["undecided"]


def pages(config: Config, *paths: str) -> dict[str, httpx.Response]:
    async def go() -> dict[str, httpx.Response]:
        async with client(create_app(config)) as c:
            assert (await c.post("/login", data={"password": PASSWORD})).status_code == 303
            return {p: await c.get(p) for p in paths}

    return asyncio.run(go())


def soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def test_the_overview_names_rules_and_runs_and_agrees_with_check(year: Year) -> None:
    """«Не определено» on the overview is the figure «asurso-sync check» reports on the same cache."""
    from typer.testing import CliRunner

    from asurso_sync.cli import app

    config, _, _ = year
    at = SPEC.check_at.isoformat() if SPEC.check_at else ""
    result = CliRunner().invoke(app, ["--config", str(config.source), "check", "--as-of", at, "--format", "json"])
    assert result.exit_code == exitcodes.VIOLATIONS, result.output
    undecided = json.loads(result.stdout)["undecided"]
    page = soup(pages(config, "/")["/"])
    total = sum(undecided_by_rule(undecided).values())
    assert total > 0 and page.select_one("#undecided").text.strip() == str(total)
    rows_ = {r.select("td")[0].text: r.select("td") for r in page.select("#by-rule tr")[1:]}
    assert rows_["TML001"][1].text == "Тема урока не внесена до 16:00"
    for code, n in undecided_by_rule(undecided).items():
        assert rows_[code][3].text == str(n)
    runs = page.select_one("#runs").text
    assert "ночная" in runs and "успешно" in runs and "nightly" not in runs and "ok" not in runs
    labels = [d.text[:5] for d in page.select("#chart .barlabel")]
    assert len(labels) == 12
    mondays = [date(2026, int(x[3:5]), int(x[:2])) for x in labels]
    assert all(d.weekday() == 0 for d in mondays)
    assert all((b - a).days % 7 == 0 and b > a for a, b in itertools.pairwise(mondays))  # holidays: no bar
    assert "по 13.12.2026" in page.select_one("#chart").text  # the last whole week before the check's day


def test_a_rules_page_names_the_child_groups_by_week_and_lesson_and_filters(year: Year) -> None:
    config, _, _ = year
    with closing(open_cache(config.cache.path, create=False)) as db:
        teacher = rows(db, 'SELECT "teacher_id" FROM "finding" GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1')[0]
        students = {r["full_name"] for r in rows(db, 'SELECT "full_name" FROM "student"')}
    tid = teacher["teacher_id"]
    got = pages(config, "/rules/ATT003", f"/teachers/{tid}", f"/teachers/{tid}?rule=TML001&state=new&evidence=exact")
    rule_page = soup(got["/rules/ATT003"])
    named = [b.text for b in rule_page.select("#findings b.student")]
    lines = rule_page.select("#findings a.finding")
    assert lines and len(named) == len(lines) and set(named) <= students
    weeks = [h.text for h in rule_page.select("h2.week")]
    starts = [date(2026, int(w[10:12]), int(w[7:9])) for w in weeks]
    assert starts == sorted(starts, reverse=True) and all(d.weekday() == 0 for d in starts)
    counts = [int(h.select_one(".tag").text) for h in rule_page.select("h2.week")]
    assert sum(counts) == len(lines)
    teacher_page = soup(got[f"/teachers/{tid}"])
    total = len(teacher_page.select("#findings a.finding"))
    options = {o["value"]: o.text for o in teacher_page.select("#filters select[name=rule] option") if o["value"]}
    assert options["TML001"].startswith("TML001 — Тема урока не внесена до 16:00 (")
    filtered = soup(got[f"/teachers/{tid}?rule=TML001&state=new&evidence=exact"])
    shown = filtered.select("#findings a.finding")
    assert 0 < len(shown) < total
    assert {a.find_parent("tr").select_one("td span").text for a in shown} == {"TML001"}
    with closing(open_cache(config.cache.path, create=False)) as db:
        expected = rows(
            db,
            'SELECT COUNT(*) AS n FROM "finding" WHERE "teacher_id" = ? AND "rule" = \'TML001\' AND "state" = \'new\' '
            "AND \"evidence\" = 'exact'",
            [tid],
        )[0]["n"]
    assert len(shown) == expected
    assert filtered.select_one("select[name=rule] option[selected]")["value"] == "TML001"


def test_the_verdict_forms_have_no_preset(year: Year) -> None:
    config, findings, _ = year
    fp = findings[0]["fingerprint"]
    cm = next(f["entity"]["cm"] for f in findings if "cm" in f["entity"])
    got = pages(config, f"/finding/{fp}", f"/lesson/{cm}", "/review/rules/TML001")
    for path, response in got.items():
        html = response.text
        assert response.status_code == 200 and "checked" not in html, path
    radios = soup(got[f"/finding/{fp}"]).select("input[name=verdict]")
    assert len(radios) == 3 and all(r.has_attr("required") for r in radios)


def test_the_review_queue_takes_a_verdict_and_shows_the_next_one(year: Year) -> None:
    config, findings, _ = year

    async def go() -> list[str]:
        seen: list[str] = []
        async with client(create_app(config)) as c:
            assert (await c.post("/login", data={"password": PASSWORD})).status_code == 303
            page = soup(await c.get("/review"))
            assert "TML001" in page.select_one("#queues").text
            csrf = page.select_one("input[name=csrf]")
            for verdict in ("right", "wrong", "skip", "disputed", "right"):
                page = soup(await c.get("/review/rules/TML001"))
                fp = page.select_one("#review-fp")["value"]
                assert fp not in seen
                seen.append(fp)
                csrf = page.select_one("input[name=csrf]")["value"]
                answer = await c.post(
                    "/review/verdict",
                    data={"csrf": csrf, "fp": fp, "verdict": verdict, "back": "/review/rules/TML001"},
                )
                assert answer.status_code == 303 and answer.headers["location"].startswith("/review/rules/TML001")
            page = soup(await c.get("/review/rules/TML001"))
            assert page.select_one("#decided").text == "3 из 20"
            refused = await c.post("/review/verdict", data={"csrf": csrf, "fp": seen[0], "back": "//evil"})
            assert refused.status_code == 400
            return seen

    seen = asyncio.run(go())
    with closing(open_cache(config.cache.path, create=False)) as db:
        stored = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}
    assert stored == {seen[0]: "right", seen[1]: "wrong", seen[3]: "disputed", seen[4]: "right"}
    tml001 = sorted(f["fingerprint"] for f in findings if f["rule"] == "TML001")
    assert seen == tml001[:5]  # the queue's order: by fingerprint (a hash: unrelated to date, teacher or class)


def test_the_sample_queue_is_the_sample_pages_findings(year: Year) -> None:
    config, _, _ = year
    got = pages(config, "/sample?n=1&m=0&seed=7", "/review/sample?n=1&seed=7")
    sample = {a["href"].rsplit("/", 1)[1] for a in soup(got["/sample?n=1&m=0&seed=7"]).select("#sample-findings a")}
    first = soup(got["/review/sample?n=1&seed=7"]).select_one("#review-fp")["value"]
    assert first in sample


def shown_count(page: BeautifulSoup) -> tuple[int, int]:
    """«Открытых замечаний: N из M (с фильтром)» → (N, M); without a filter M = N."""
    text = page.select_one("#shown").text
    found = [int(n) for n in re.findall(r"\d+", text.split(";")[0])]
    return found[0], found[1] if len(found) > 1 else found[0]


def test_the_task_record_and_shadow_filters_count_and_filter(year: Year) -> None:
    """R22 on a teacher's page: «можно исправить» (a task) and «исправлять нечего» (a record) as a filter with the
    counts of the scope; R23: the shadow start's «учителям пока не отправляется» as a filter too."""
    config, findings, _ = year
    open_ = [f for f in findings if f["state"] != "resolved"]
    per = Counter((f["teacher_id"], bool(f["record"])) for f in open_ if f["teacher_id"])
    tid = max({t for t, _ in per}, key=lambda t: min(per[(t, False)], per[(t, True)]))
    tasks, records = per[(tid, False)], per[(tid, True)]
    assert tasks and records  # the year's school has both for its teacher
    base = f"/teachers/{tid}"
    got = pages(config, base, f"{base}?kind=task", f"{base}?kind=record", f"{base}?kind=record&state=new")
    options = {o["value"]: o.text for o in soup(got[base]).select("#filters select[name=kind] option") if o["value"]}
    assert options == {"task": f"задача ({tasks})", "record": f"исправлять нечего ({records})"}
    assert not soup(got[base]).select("#filters select[name=shadow]")  # no rule waits in the shadow here
    task_page, record_page = soup(got[f"{base}?kind=task"]), soup(got[f"{base}?kind=record"])
    assert shown_count(task_page) == (tasks, tasks + records)
    assert shown_count(record_page) == (records, tasks + records)
    assert task_page.select("#findings a.finding") and not task_page.select("#findings em.kind")
    lines = record_page.select("#findings a.finding")
    assert lines and len(record_page.select("#findings em.kind")) == len(lines)
    assert record_page.select_one("select[name=kind] option[selected]")["value"] == "record"
    new_records = sum(1 for f in open_ if f["teacher_id"] == tid and f["record"] and f["state"] == "new")
    assert shown_count(soup(got[f"{base}?kind=record&state=new"]))[0] == new_records
    # shadow start with one rule released: the filter splits the page by what reaches teachers
    shadowed_config = config.model_copy(deep=True)
    shadowed_config.rules.shadow = True
    with closing(open_cache(config.cache.path)) as db:
        set_release(db, "TML001", released=True, author="тест", adjudicated=20, precision=1.0, reason="")
    got = pages(shadowed_config, base, f"{base}?shadow=yes", f"{base}?shadow=no")
    mine = [f for f in open_ if f["teacher_id"] == tid]
    waits = set(shadowed(load_catalogue(), shadowed_config, {"TML001"}))
    in_shadow = sum(1 for f in mine if f["rule"] in waits)
    assert 0 < in_shadow < len(mine)
    options = {o["value"]: o.text for o in soup(got[base]).select("select[name=shadow] option") if o["value"]}
    assert options == {
        "yes": f"в тени: учителям пока не отправляется ({in_shadow})",
        "no": f"не в тени ({len(mine) - in_shadow})",
    }
    waiting, sent = soup(got[f"{base}?shadow=yes"]), soup(got[f"{base}?shadow=no"])
    assert shown_count(waiting)[0] == in_shadow and shown_count(sent)[0] == len(mine) - in_shadow
    rules_sent = {a.find_parent("tr").select_one("td span").text for a in sent.select("#findings a.finding")}
    assert "TML001" in rules_sent and not rules_sent & waits
    assert not sent.select_one("#findings").find(string=re.compile("учителям пока не отправляется"))
    rules_waiting = {a.find_parent("tr").select_one("td span").text for a in waiting.select("#findings a.finding")}
    assert rules_waiting and rules_waiting <= waits
