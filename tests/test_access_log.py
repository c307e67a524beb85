"""«Отчёт о доступе к классному журналу»: the hub protocol, the report HTML, the ASP fallback, and exact evidence
end to end with nightly syncs only."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adapters.emulator.faults import Faults
from adapters.emulator.reports import RS
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.emulator.truth import ground_truth
from adapters.netschool.client import ClientSettings, NetSchoolClient
from adapters.netschool.errors import ParseError, ReportError
from adapters.netschool.reports import fetch_access_report, parse_access_html
from asurso_sync import accuracy
from asurso_sync.check import CheckOptions, run_check
from asurso_sync.demo import prepare
from asurso_sync.sync import SyncOptions, sync_once
from cache import open_cache, rows
from cache.runs import ACCESS_SINCE
from rules.facts import report_spans
from tests.conftest import edit_config
from tests.emu import serve

CLOCK = datetime(2026, 12, 14, 7, 0)
WEEK = (date(2026, 12, 7), date(2026, 12, 13))


def _emu(**faults: Any) -> Emulator:
    return Emulator(EmulatorSettings(size="tiny", control=True, clock=CLOCK, faults=Faults(**faults)))


def _client(base: str, transport: Any = None) -> NetSchoolClient:
    settings = ClientSettings(
        base_url=base, login="zavuch", password="Сота-2026", scid=1, school_name="АНОО СОШ «Сота»", min_interval=0,
        timeout=5,
    )  # fmt: skip
    return NetSchoolClient(settings, transport=transport)


def _class(emu: Emulator, name: str = "8а") -> int:
    return next(c.id for c in emu.school.classes.values() if c.name == name)


# --- the hub --------------------------------------------------------------------------------------


def test_hub_protocol_frames() -> None:
    """Handshake with the record separator, then startTaskAsync → completion, progress, complete(file id)."""
    emu = _emu()

    async def run(base: str) -> list[dict[str, Any]]:
        async with _client(base) as c:
            queued = await c.post_read_json(
                "/webapi/v2/reports/journalaccess/queue",
                {
                    "selectedData": [
                        {"filterId": "PCLID_IUP", "filterValue": f"{_class(emu)}_0"},
                        {"filterId": "period", "filterValue": "2026-12-07T00:00:00.000Z - 2026-12-13T00:00:00.000Z"},
                    ],
                    "params": [],
                },
            )
            assert set(queued) == {"taskId", "queueKey"}
            url = f"{base.replace('http', 'ws')}/webapi/signalr/queueHub?at={c.http.headers['at']}"
            cookie = "; ".join(f"{k.name}={k.value}" for k in c.http.cookies.jar)
            frames: list[dict[str, Any]] = []
            async with connect(url, additional_headers={"Cookie": cookie}) as ws:
                await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
                assert await ws.recv() == "{}" + RS
                invocation = {
                    "arguments": [queued["taskId"], queued["queueKey"]],
                    "invocationId": "0",
                    "target": "startTaskAsync",
                    "type": 1,
                }
                await ws.send(json.dumps(invocation) + RS)
                while not frames or frames[-1].get("target") != "complete":
                    raw = str(await ws.recv())
                    assert raw.endswith(RS)
                    frames += [json.loads(x) for x in raw.split(RS) if x]
            html = await c.get_html(f"/webapi/files/{frames[-1]['arguments'][0]['data']}")
            assert 'class="table-print"' in html and "Дата и время изменений" in html  # the evidence's header
            return frames

    with serve(emu) as base:
        frames = asyncio.run(run(base))
    assert frames[0] == {"type": 3, "invocationId": "0", "result": {"success": True}}
    assert frames[1]["target"] == "progress" and frames[-1]["target"] == "complete"
    assert emu.write_attempts == []


def test_hub_refuses_a_stranger_and_wrong_protocol() -> None:
    emu = _emu()

    async def run(base: str) -> None:
        with pytest.raises(InvalidStatus, match=r"403"):  # refused before the WebSocket is accepted
            async with connect(f"{base.replace('http', 'ws')}/webapi/signalr/queueHub?at=nope") as ws:
                await ws.recv()
        async with _client(base) as c:
            url = f"{base.replace('http', 'ws')}/webapi/signalr/queueHub?at={c.http.headers['at']}"
            cookie = "; ".join(f"{k.name}={k.value}" for k in c.http.cookies.jar)
            async with connect(url, additional_headers={"Cookie": cookie}) as ws:
                await ws.send(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
                assert "error" in json.loads(str(await ws.recv()).rstrip(RS))
            with pytest.raises(ReportError, match="не найдено"):
                await c.hub_run_task(999, "q-unknown", timeout=5)

    with serve(emu) as base:
        asyncio.run(run(base))


def test_error_completion_falls_back_to_asp() -> None:
    """A report that fails on the hub (fault) is a ReportError with method="hub"; "auto" takes the ASP pages."""
    emu = _emu(report_error=1.0)

    async def run(base: str) -> None:
        async with _client(base) as c:
            with pytest.raises(ReportError, match="Ошибка построения отчёта"):
                await fetch_access_report(c, _class(emu), *WEEK, method="hub", timeout=10)
            entries = (await fetch_access_report(c, _class(emu), *WEEK, method="auto", timeout=10)).entries
            assert entries and all(WEEK[0] <= e.at.date() <= WEEK[1] for e in entries)
            assert ("POST", "/asp/reports/journalaccess.asp") in c.stats.calls

    with serve(emu) as base:
        asyncio.run(run(base))


def test_older_server_version_takes_the_asp_pages() -> None:
    emu = _emu()

    async def run(base: str) -> None:
        async with _client(base) as c:
            c.server_version = "5.25.1"  # SignalR 2 on the server: the JSON hub is not there
            entries = (await fetch_access_report(c, _class(emu), *WEEK, timeout=10)).entries
            assert entries
            assert ("POST", "/asp/reports/journalaccess.asp") in c.stats.calls
            assert not any(method == "WS" for method, _path in c.stats.calls)

    with serve(emu) as base:
        asyncio.run(run(base))


def test_asp_pages_in_process_and_same_rows_as_the_hub() -> None:
    emu = _emu()

    async def hub(base: str) -> list[Any]:
        async with _client(base) as c:
            return (await fetch_access_report(c, _class(emu), *WEEK, method="hub", timeout=10)).entries

    async def asp() -> list[Any]:
        async with _client("http://emu.test", EmulatorTransport(emu)) as c:
            return (await fetch_access_report(c, _class(emu), *WEEK, hub_available=False)).entries

    with serve(emu) as base:
        via_hub = asyncio.run(hub(base))
    via_asp = asyncio.run(asp())
    assert via_hub == via_asp and len(via_hub) > 20
    kinds = {e.action.split(":")[0].split(" «")[0] for e in via_hub}
    assert kinds >= {"Тема урока", "Домашнее задание", "Задание", "Отметка", "Посещаемость"}


# --- the HTML ---------------------------------------------------------------------------------------


def test_parse_header_variants_and_empty_report() -> None:
    html = """<html><body><table class="table-print">
      <tr><th>Действие</th><th>Сотрудник</th><th>Дата действия</th><th>Урок</th><th>Класс</th><th>Предмет</th></tr>
      <tr><td>Тема урока: добавлена</td><td>Иванова М. П.</td><td>23.11.26 18:40</td>
          <td>3 урок, 23.11.2026</td><td>8б</td><td>Алгебра</td></tr>
    </table></body></html>"""
    (row,) = parse_access_html(html)
    assert row.at == datetime(2026, 11, 23, 18, 40) and row.lesson_day == date(2026, 11, 23)
    assert (row.lesson_number, row.class_name, row.subject, row.user) == (3, "8б", "Алгебра", "Иванова М. П.")
    assert row.period == ""
    empty = '<table class="table-print"><tr><th>Дата и время действия</th><th>Действие</th></tr></table>'
    assert parse_access_html(empty) == []
    assert parse_access_html("<html><body>Нет данных</body></html>") == []
    with pytest.raises(ParseError, match="Дата и время изменений"):
        parse_access_html(empty.replace("</tr></table>", "</tr><tr><td>вчера</td><td>x</td></tr></table>"))
    with pytest.raises(ParseError):
        parse_access_html("<table><tr><th>Что-то</th></tr><tr><td>1</td></tr></table>")


# --- end to end -------------------------------------------------------------------------------------


def test_nightly_syncs_with_the_access_log_decide_everything(tmp_path: Path) -> None:
    """`sync` against `emulator serve` fills access_log over the hub; with nightly syncs only (no 16:05
    snapshots) the check matches the ground truth with nothing undecided — the report's times decide."""
    emu = Emulator(EmulatorSettings(size="tiny", seed=1, control=True, clock=datetime(2026, 12, 7, 1, 0)))
    emu.reports.build_seconds = 0  # 24 reports built: 0.05 s of pretended work each was 1.2 s of waiting
    config = prepare(tmp_path, emu, 25)
    start = date(2026, 12, 7)
    with serve(emu) as base:
        edit_config(tmp_path / "config.toml", 'base_url = "http://emulator.invalid"', f'base_url = "{base}"')
        from asurso_sync.config import load_config

        config = load_config(tmp_path / "config.toml", environ={})

        def sync(mode: str, at: datetime, access: str | None = "hub") -> None:
            emu.clock = at
            report = asyncio.run(sync_once(config, SyncOptions(mode=mode, access_log=access)))  # type: ignore[arg-type]
            assert report.status == "ok", report.error

        sync("all", datetime(2026, 12, 7, 1, 0))
        day = start
        while day < start + timedelta(days=8):
            day += timedelta(days=1)
            sync("incremental", datetime.combine(day, datetime.min.time()).replace(hour=1))
    with closing(open_cache(config.cache.path)) as db:
        logged = rows(db, 'SELECT "kind", count(*) AS n, count("cm_id") AS resolved FROM "access_log" GROUP BY 1')
        hub_calls = rows(db, 'SELECT count(*) AS n FROM "observation" WHERE "resource" = \'access_log\'')[0]["n"]
        covered = report_spans(db)
        past = report_spans(db, date(2026, 12, 10))  # a check of a past moment sees the report only through it
        older = sqlite3.connect(tmp_path / "older.db")  # a cache from before the sync recorded where reading began
        db.conn.backup(older)
    older.execute('DELETE FROM "sync_state" WHERE "resource" = ?', [ACCESS_SINCE])
    from_changes = report_spans(Database(older))
    older.close()
    # R6: each class's report is known to cover the year from its start through the last night's date
    assert covered == {("class", c): (date(2026, 9, 1), date(2026, 12, 15)) for c in emu.school.classes}
    assert past == {("class", c): (date(2026, 9, 1), date(2026, 12, 10)) for c in emu.school.classes}
    # without the record, from the earliest change the report holds: never earlier than the truth (R0)
    assert set(from_changes) == set(covered)
    assert all(
        date(2026, 9, 1) <= since <= date(2026, 9, 30) and through == date(2026, 12, 15)
        for since, through in from_changes.values()
        if since is not None
    )
    kinds = {r["kind"]: r for r in logged}
    assert {"topic", "homework", "task", "mark", "attendance"} <= set(kinds)
    assert all(r["resolved"] == r["n"] for r in logged)  # every row resolved to a lesson of the mirror
    assert hub_calls == 2 * (4 + 8)  # two classes: --all reads Sep 1 – Dec 7 month by month (4), then 8 nights
    assert emu.write_attempts == []
    outcome = run_check(config, CheckOptions(start=start, as_of=emu.clock))
    assert sum(outcome.result.undecided.values()) == 0
    truth = ground_truth(emu.school, emu.journal, start, emu.clock)
    scores = accuracy.score(outcome.findings, truth, outcome.result.undecided)
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores), [s for s in scores if s.recall < 1]
    assert sum(s.planted for s in scores if s.rule.startswith("TML")) > 10
    assert any(f["evidence"] == "exact" for f in outcome.findings)


def test_a_changed_mark_is_a_correction_not_an_entry() -> None:
    """Ruling R17: the report's rows about a mark changed or deleted later are not entries of the mark."""
    from cache import classify

    assert classify("Отметка «Ответ на уроке»: выставлена") == ("mark", "Ответ на уроке")
    assert classify("Отметка «Ответ на уроке»: изменена")[0] == "mark-change"
    assert classify("Отметка «Контрольная работа»: удалена")[0] == "mark-change"


# --- issue #20: the shapes IRTech sends ------------------------------------------------------------


def test_legend_codes_and_rows_without_a_user_read_like_whole_texts() -> None:
    """The real report: short action codes explained by a legend table, and «-» rows of lessons the schedule
    created. Through the real client over loopback (hub and ASP), it reads as the old whole-text shape (the
    ``report_texts`` drift) does: the same rows, every action classified, the «-» rows counted, not fatal."""
    from adapters.netschool.reports import fetch_access_report_hub, parse_access_report
    from cache.access import classify

    async def read(emu: Emulator, base: str) -> tuple[Any, Any]:
        async with _client(base) as c:
            html = await fetch_access_report_hub(c, _class(emu), *WEEK, timeout=10)
            asp = (await fetch_access_report(c, _class(emu), *WEEK, method="asp")).entries
        return parse_access_report(html), asp

    real = _emu()
    with serve(real) as base:
        report, via_asp = asyncio.run(read(real, base))
    old = _emu(drifts=frozenset({"report_texts"}))
    with serve(old) as base:
        old_report, _ = asyncio.run(read(old, base))
    assert report.without_user > 0 and report.unreadable == 0 and old_report.without_user == 0
    assert report.entries == old_report.entries == via_asp and len(report.entries) > 20
    assert {classify(e.action)[0] for e in report.entries} >= {"topic", "homework", "task", "mark", "attendance"}
    assert "other" not in {classify(e.action)[0] for e in report.entries}


def test_a_row_that_cannot_be_read_costs_only_itself() -> None:
    from adapters.netschool.reports import parse_access_report

    html = """<table class="table-print">
      <tr><th>Дата и время действия</th><th>Пользователь</th><th>Действие</th></tr>
      <tr><td>23.11.2026 18:40</td><td>Иванова М. П.</td><td>ТУ</td></tr>
      <tr><td>-</td><td></td><td>УР</td></tr>
      <tr><td>вчера</td><td>Иванова М. П.</td><td>ДЗ («§3»)</td></tr>
    </table><p>Условные обозначения</p>
    <table><tr><td>ТУ</td><td>Тема урока: добавлена</td></tr><tr><td>ДЗ</td><td>Домашнее задание: добавлено</td></tr>
    </table>"""
    report = parse_access_report(html)
    assert [e.action for e in report.entries] == ["Тема урока: добавлена"]
    assert (report.without_user, report.unreadable) == (1, 1)


def test_the_hub_is_connected_before_the_report_is_queued_with_the_forms_parameters() -> None:
    """Current clients: ``earlyaccess``, then the hub, then ``reports/{id}/queue`` with SCHOOLYEARID,
    SERVERTIMEZONE, DATEFORMAT; a server answering the queue with a bare task id (older) works too."""
    from adapters.netschool.reports import fetch_access_report_hub

    for drifts in (frozenset(), frozenset({"queue_bare_id"})):
        emu = _emu(drifts=drifts)

        async def read(base: str, emu: Emulator = emu) -> str:
            async with _client(base) as c:
                return await fetch_access_report_hub(c, _class(emu), *WEEK, timeout=10)

        with serve(emu) as base:
            html = asyncio.run(read(base))
        assert "table-print" in html
        order = [event for event, *_ in emu.reports.events]
        assert order == ["earlyaccess", "hub", "queue"], order
        _, _, path, params = emu.reports.events[-1]
        assert path == "/webapi/reports/journalaccess/queue"
        sent = {p["name"]: p["value"] for p in params}
        assert sent["SCHOOLYEARID"] and sent["SERVERTIMEZONE"] == 4 and "DATEFORMAT" in sent


def test_the_asp_report_gets_its_period_under_irtechs_names() -> None:
    """JournalAccess.asp reads DATE_START/DATE_END (a period under other names is silently ignored: this
    week); servers that read ADT/DDT (the ``asp_adt`` drift) get the same rows."""
    rows: dict[str, list[Any]] = {}
    for name, drifts in (("real", frozenset()), ("adt", frozenset({"asp_adt"}))):
        emu = _emu(drifts=drifts)

        async def asp(emu: Emulator = emu) -> list[Any]:
            async with _client("http://emu.test", EmulatorTransport(emu)) as c:
                return (await fetch_access_report(c, _class(emu), *WEEK, method="asp")).entries

        rows[name] = asyncio.run(asp())
        form = emu.reports.asp_forms[-1]
        assert form["DATE_START"] == "07.12.2026" and form["DATE_END"] == "13.12.2026"
    assert rows["real"] == rows["adt"] and rows["real"]
    assert {e.at.date() for e in rows["real"]} <= {WEEK[0] + timedelta(days=i) for i in range(7)}
