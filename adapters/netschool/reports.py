"""«Отчёт о доступе к классному журналу» (docs/server-api.md §4): request, wait, download, parse.

Modern pipeline: ``POST v2/reports/journalaccess/queue`` → ``{taskId, queueKey}`` (a bare task id on older
servers) → the task runs on the SignalR hub → ``GET files/{id}`` → HTML. Legacy: two form POSTs of the ASP pages
(``ReportJournalAccess.asp`` → ``JournalAccess.asp``) return the same table. ``method="auto"`` tries the hub and
falls back to ASP when the hub cannot be used (no WebSocket, an in-process transport, a hub error, a server
older than 5.29 whose hub speaks the old SignalR 2 protocol).

The HTML is read in one pass into its tables (``tables.read_tables``: the standard tokenizer, no tree) and into typed
rows; columns are found by their header words, so their order
and wording may vary («Дата и время изменений» — the evidence's header — / «Дата и время действия», «Пользователь» /
«Сотрудник», …). An action cell is read for what it proves: a code with details (work type, text, student), the
code alone, or several codes in one cell (one entry per code, the legend's words alone). The three-column «last
change» table of a 2013 version of the page is recognised and named (``AccessReport.layout``); it holds no log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from adapters.netschool.client import NetSchoolClient
from adapters.netschool.errors import HTTPStatusError, ParseError, ReportError
from adapters.netschool.tables import Page, Table, read_tables

log = logging.getLogger("adapters.netschool.reports")

Method = Literal["auto", "hub", "asp"]
REPORT = "journalaccess"


@dataclass(frozen=True)
class AccessEntry:
    class_name: str
    subject: str
    at: datetime
    user: str
    lesson_day: date | None
    lesson_number: int | None
    period: str
    action: str


_COLUMNS: dict[str, tuple[str, ...]] = {
    "at": ("дата и время", "время изменени", "время действия", "дата действия", "дата изменения", "время"),
    "lesson": ("дата урока", "урок"),
    "class_name": ("класс",),
    "subject": ("предмет", "учебная группа", "группа"),
    "user": ("пользователь", "сотрудник", "кто", "учитель"),
    "period": ("период", "четверть", "полугодие"),
    "action": ("действие", "операция", "что сделано", "изменение"),
}
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{2,4})(?:\D+(\d{1,2}):(\d{2}))?")
_LESSON_NO = re.compile(r"урок\D*(\d+)|(\d+)\s*урок", re.IGNORECASE)


def _when(text: str) -> tuple[date, tuple[int, int] | None] | None:
    m = _DATE.search(text)
    if not m:
        return None
    year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
    d = date(year, int(m[2]), int(m[1]))
    return d, ((int(m[4]), int(m[5])) if m[4] else None)


@dataclass
class AccessReport:
    """A parsed report: its rows, and what was left out — rows with no user and «-» for a time (the lessons the
    schedule created: nobody entered anything) and rows whose time could not be read (counted, logged, never
    allowed to cost the rows that were read)."""

    entries: list[AccessEntry]
    without_user: int = 0
    unreadable: int = 0
    headers: tuple[str, ...] = ()  # the table's column headers, as printed
    legend: Mapping[str, str] | None = None  # the «Условные обозначения» (code → words), if the page has them
    # "log" (a row per action), "last_change_2013" (each group's last change only: no log), "empty"
    layout: str = "log"
    # how the action cells read: a code with details after it, a code alone, several codes in one cell, words
    cells: dict[str, int] = field(default_factory=lambda: {"detailed": 0, "bare": 0, "joined": 0, "words": 0})


def legend_of(page: Page, main: Table) -> dict[str, str]:
    """The report's «Условные обозначения»: code → text, from any other table of two-cell rows whose first cell
    is a short code (docs/server-api.md §4 «legend»)."""
    legend: dict[str, str] = {}
    for table in page.tables:
        if table is main:
            continue
        for cells in table.rows:
            if len(cells) == 2 and 0 < len(cells[0]) <= 6 and " " not in cells[0] and len(cells[1]) > len(cells[0]):
                legend[cells[0]] = cells[1]
    return legend


_CODE = re.compile(r"^(\S{1,6}?)(?=$|[\s:(«])")


def _explained(action: str, legend: Mapping[str, str]) -> str:
    """An action cell with its leading code replaced by the legend's words («ОТ «Ответ»: выставлена» →
    «Отметка «Ответ»: выставлена»); a cell that starts with no known code is kept as it is."""
    m = _CODE.match(action)
    if m and m[1] in legend:
        return legend[m[1]] + action[len(m[1]) :]
    return action


_SEPARATORS = re.compile(r"[,;\s]+")


def read_cell(action: str, legend: Mapping[str, str]) -> tuple[str, list[str]]:
    """What an action cell proves: (how it reads, the actions in words). ``joined`` — several codes in one cell,
    each its legend's words alone; ``bare`` — one code and nothing after it; ``detailed`` — a code, then the work
    type, text or student; ``words`` — no code at all (the whole text)."""
    tokens = [t for t in _SEPARATORS.split(action.strip()) if t]
    if legend and len(tokens) > 1 and all(t in legend for t in tokens):
        return "joined", [legend[t] for t in dict.fromkeys(tokens)]
    if legend and len(tokens) == 1 and tokens[0] in legend:
        return "bare", [legend[tokens[0]]]
    m = _CODE.match(action)
    if m and m[1] in legend:
        return "detailed", [legend[m[1]] + action[len(m[1]) :]]
    return "words", [action]


def parse_access_html(html: str) -> list[AccessEntry]:
    """Rows of the report's ``table.table-print`` (or the first table with the expected headers)."""
    return parse_access_report(html).entries


def parse_access_report(html: str) -> AccessReport:
    """The report's ``table.table-print`` (or the first table with the expected headers), actions explained by
    the legend table when there is one; rows without a user and unreadable rows are skipped and counted."""
    page = read_tables(html)
    tables = [t for t in page.tables if "table-print" in t.classes] or page.tables
    for table in tables:
        rows = table.rows
        if not rows:
            continue
        headers = [h.lower() for h in rows[0]]
        index: dict[str, int] = {}
        for key, words in _COLUMNS.items():
            for i, h in enumerate(headers):
                if i not in index.values() and any(h.startswith(w) or w in h for w in words):
                    index[key] = i
                    break
        if "at" in index and "action" not in index and "user" in index and len(headers) <= 4:
            # the 2013 page's three columns: each group's last change and its author — no log of actions
            log.warning("Отчёт о доступе: таблица последних изменений (вид 2013 года) — журнала действий в ней нет")
            return AccessReport([], headers=tuple(headers), layout="last_change_2013")
        if "at" not in index or "action" not in index:
            continue
        legend = legend_of(page, table)
        report = AccessReport([], headers=tuple(headers), legend=legend)
        for cells in rows[1:]:
            if len(cells) < len(headers):
                continue

            def cell(key: str, cells: list[str] = cells, index: dict[str, int] = index) -> str:
                return cells[index[key]] if key in index else ""

            if cell("at") in ("-", "—", "") and cell("user") in ("", "-", "—"):
                report.without_user += 1
                continue
            when = _when(cell("at"))
            if when is None or when[1] is None:
                report.unreadable += 1
                log.warning("Отчёт о доступе: строка с временем «%s» не распознана и пропущена", cell("at"))
                continue
            lesson = _when(cell("lesson")) if "lesson" in index else None
            number = _LESSON_NO.search(cell("lesson"))
            how, actions = read_cell(cell("action"), legend)
            report.cells[how] += 1
            report.entries += [
                AccessEntry(
                    class_name=cell("class_name"),
                    subject=cell("subject"),
                    at=datetime.combine(when[0], datetime.min.time()).replace(hour=when[1][0], minute=when[1][1]),
                    user=cell("user"),
                    lesson_day=lesson[0] if lesson else None,
                    lesson_number=int(number[1] or number[2]) if number else None,
                    period=cell("period"),
                    action=action,
                )
                for action in actions
            ]
        if report.unreadable and not report.entries:
            raise ParseError("journalaccess", "Дата и время изменений", "ни одно время изменения не распознано")
        return report
    if "нет данных" in page.text.lower() or not tables:
        return AccessReport([], layout="empty")
    raise ParseError(
        "journalaccess", "table.table-print", "нет таблицы с колонками «Дата и время изменений» и «Действие»"
    )


Target = int | str


def class_filter(target: Target) -> str:
    """The report's class filter (``PCLID_IUP``): a class id → "<id>_0"; a text is sent as it is — "<grade>_1" for
    the ИУП groups of a grade, "-1" for every class (IRTech's journal page and report form)."""
    return f"{target}_0" if isinstance(target, int) else target


def iup_filter(grade: int) -> str:
    return f"{grade}_1"


def _filters(target: Target, start: date, end: date) -> list[dict[str, str]]:
    return [
        {"filterId": "PCLID_IUP", "filterValue": class_filter(target), "filterText": ""},
        {
            "filterId": "period",
            "filterValue": f"{start.isoformat()}T00:00:00.000Z - {end.isoformat()}T00:00:00.000Z",
            "filterText": f"{start:%d.%m.%Y} - {end:%d.%m.%Y}",
        },
    ]


# The date pattern public clients send as the reports' DATEFORMAT (lentryd): the default when the context has none
DEFAULT_DATE_FORMAT = "d\u0001mm\u0001yy\u0001."


def date_format(client: NetSchoolClient) -> str:
    """The reports' ``DATEFORMAT``: the session's own ``context.dateFormat`` (the front-end takes it from there,
    issue #32), else the value public clients send."""
    ctx = client.context
    return ctx.dateFormat if ctx is not None and ctx.dateFormat else DEFAULT_DATE_FORMAT


def _params(client: NetSchoolClient) -> list[dict[str, Any]]:
    """The report form's own parameters, as IRTech's front-end sends them with every queued report."""
    ctx = client.context
    offset = datetime.now(ZoneInfo(client.settings.school_timezone)).utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 4
    params: list[dict[str, Any]] = [
        {"name": "SCHOOLYEARID", "value": str(ctx.schoolYearId) if ctx and ctx.schoolYearId else ""},
        {"name": "SERVERTIMEZONE", "value": hours},
        {"name": "DATEFORMAT", "value": date_format(client)},
    ]
    if ctx and ctx.organizationName:
        params.append({"name": "FULLSCHOOLNAME", "value": ctx.organizationName})
    return params


async def fetch_access_report_hub(
    client: NetSchoolClient, class_id: Target, start: date, end: date, *, timeout: float
) -> str:
    """The current clients' order (docs/server-api.md §4): ``earlyaccess``, connect the hub, queue
    ``reports/{id}/queue`` with the form's parameters (``v2/…`` where the first is missing), start the task."""
    await client.probe("/webapi/earlyaccess", {"accessKey": "irtechsignalr"})
    body = {"selectedData": _filters(class_id, start, end), "params": _params(client)}

    async def queue() -> tuple[int, str | None]:
        try:
            answer = await client.post_read_json(f"/webapi/reports/{REPORT}/queue", body)
        except HTTPStatusError as exc:
            if exc.status not in (404, 405):
                raise
            answer = await client.post_read_json(f"/webapi/v2/reports/{REPORT}/queue", body)
        if isinstance(answer, dict):
            client.stats.shapes["report_queue"] = "{taskId, queueKey}"
            return int(answer["taskId"]), str(answer.get("queueKey") or "") or None
        client.stats.shapes["report_queue"] = "номер задачи (сервер до 2026 года)"
        return int(answer), None

    file_id = await client.hub_run(queue, timeout=timeout)
    return await client.get_html(f"/webapi/files/{file_id}")


async def fetch_access_report_asp(client: NetSchoolClient, class_id: Target, start: date, end: date) -> str:
    """The legacy pages, with the period under the names the report form itself posts (``DATE_START``/``DATE_END``),
    ``ViewType=1`` (by classes; 2 is by teachers) and ``LastAccess=0`` (the whole log, not only the last change —
    the switch's values are inferred; a server that answers the last-change table is named by the parser);
    ``SGID``/``TID`` are left out (every group, every teacher). ``ADT``/``DDT`` (this client's earlier guess) ride
    along for servers that read those."""
    await client.post_read_form_html(
        "/asp/Reports/ReportJournalAccess.asp",
        {"RPNAME": "Отчёт о доступе к классному журналу", "RPTID": "JournalAccess"},
    )
    return await client.post_read_form_html(
        "/asp/Reports/JournalAccess.asp",
        {
            "RPTID": "JournalAccess",
            "PCLID_IUP": class_filter(class_id),
            "ViewType": "1",
            "LastAccess": "0",
            "DATE_START": f"{start:%d.%m.%Y}",
            "DATE_END": f"{end:%d.%m.%Y}",
            "ADT": f"{start:%d.%m.%Y}",
            "DDT": f"{end:%d.%m.%Y}",
        },
    )


async def fetch_access_report(
    client: NetSchoolClient,
    class_id: Target,
    start: date,
    end: date,
    *,
    method: Method = "auto",
    timeout: float = 120.0,
    hub_available: bool = True,
) -> AccessReport:
    """The access report for the class filter ``class_id`` (a class id, "<grade>_1", "-1") and actions done from
    ``start`` to ``end``, parsed; what its layout and cells were like is kept in ``client.stats.variants``."""
    if method == "auto" and not client.has_core_hub:
        log.info("сервер %s: хаб отчётов старого образца — отчёт через страницы ASP", client.server_version)
        hub_available = False
    html: str | None = None
    if method in ("auto", "hub") and hub_available:
        try:
            html = await fetch_access_report_hub(client, class_id, start, end, timeout=timeout)
        except ReportError as exc:
            if method == "hub":
                raise
            log.info("хаб отчётов недоступен (%s) — отчёт через страницы ASP", exc)
    elif method == "hub":
        raise ReportError("хаб отчётов недоступен при этом подключении")
    if html is None:
        html = await fetch_access_report_asp(client, class_id, start, end)
    report = parse_access_report(html)
    _note(client, report)
    return report


def _note(client: NetSchoolClient, report: AccessReport) -> None:
    """The report's layout and its cells' reading, for ``survey`` (the first that says anything is kept)."""
    variants = client.stats.variants
    if report.layout != "empty":
        variants.setdefault("report_layout", report.layout)
    seen = [k for k, n in report.cells.items() if n]
    if seen and "report_cells" not in variants:
        variants["report_cells"] = "+".join(seen)
