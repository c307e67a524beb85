"""«Отчёт о доступе к классному журналу» (docs/server-api.md §4): request, wait, download, parse.

Modern pipeline: ``POST v2/reports/journalaccess/queue`` → ``{taskId, queueKey}`` (a bare task id on older
servers) → the task runs on the SignalR hub → ``GET files/{id}`` → HTML. Legacy: two form POSTs of the ASP pages
(``ReportJournalAccess.asp`` → ``JournalAccess.asp``) return the same table. ``method="auto"`` tries the hub and
falls back to ASP when the hub cannot be used (no WebSocket, an in-process transport, a hub error, a server
older than 5.29 whose hub speaks the old SignalR 2 protocol).

The HTML is parsed with BeautifulSoup into typed rows; columns are found by their header words, so their order
and wording may vary («Дата и время действия» / «Дата действия», «Пользователь» / «Сотрудник», …).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bs4 import BeautifulSoup

from adapters.netschool.client import NetSchoolClient
from adapters.netschool.errors import ParseError, ReportError

log = logging.getLogger("adapters.netschool.reports")

Method = Literal["auto", "hub", "asp"]
# lxml, when the machine has it, parses a year's report several times faster; html.parser (stdlib) otherwise
_PARSER = "lxml" if importlib.util.find_spec("lxml") else "html.parser"
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
    "at": ("дата и время", "время действия", "дата действия", "дата изменения", "время"),
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


def parse_access_html(html: str) -> list[AccessEntry]:
    """Rows of the report's ``table.table-print`` (or the first table with the expected headers)."""
    soup = BeautifulSoup(html, _PARSER)
    tables = soup.select("table.table-print") or soup.find_all("table")
    for table in tables:
        rows = table.find_all("tr")
        if not rows:
            continue
        headers = [" ".join(c.get_text(" ", strip=True).lower().split()) for c in rows[0].find_all(["th", "td"])]
        index: dict[str, int] = {}
        for key, words in _COLUMNS.items():
            for i, h in enumerate(headers):
                if i not in index.values() and any(h.startswith(w) or w in h for w in words):
                    index[key] = i
                    break
        if "at" not in index or "action" not in index:
            continue
        out = []
        for tr in rows[1:]:
            cells = [" ".join(c.get_text(" ", strip=True).split()) for c in tr.find_all(["td", "th"])]
            if len(cells) < len(headers):
                continue

            def cell(key: str, cells: list[str] = cells, index: dict[str, int] = index) -> str:
                return cells[index[key]] if key in index else ""

            when = _when(cell("at"))
            if when is None or when[1] is None:
                raise ParseError("journalaccess", "Дата и время действия", f"«{cell('at')}» не распознано")
            lesson = _when(cell("lesson")) if "lesson" in index else None
            number = _LESSON_NO.search(cell("lesson"))
            out.append(
                AccessEntry(
                    class_name=cell("class_name"),
                    subject=cell("subject"),
                    at=datetime.combine(when[0], datetime.min.time()).replace(hour=when[1][0], minute=when[1][1]),
                    user=cell("user"),
                    lesson_day=lesson[0] if lesson else None,
                    lesson_number=int(number[1] or number[2]) if number else None,
                    period=cell("period"),
                    action=cell("action"),
                )
            )
        return out
    if "нет данных" in soup.get_text(" ", strip=True).lower() or not tables:
        return []
    raise ParseError(
        "journalaccess", "table.table-print", "нет таблицы с колонками «Дата и время действия» и «Действие»"
    )


def _filters(class_id: int, start: date, end: date) -> list[dict[str, str]]:
    return [
        {"filterId": "PCLID_IUP", "filterValue": f"{class_id}_0", "filterText": ""},
        {
            "filterId": "period",
            "filterValue": f"{start.isoformat()}T00:00:00.000Z - {end.isoformat()}T00:00:00.000Z",
            "filterText": f"{start:%d.%m.%Y} - {end:%d.%m.%Y}",
        },
    ]


async def fetch_access_report_hub(
    client: NetSchoolClient, class_id: int, start: date, end: date, *, timeout: float
) -> str:
    answer = await client.post_read_json(
        f"/webapi/v2/reports/{REPORT}/queue", {"selectedData": _filters(class_id, start, end), "params": []}
    )
    if isinstance(answer, dict):
        task_id, key = int(answer["taskId"]), str(answer.get("queueKey") or "") or None
    else:
        task_id, key = int(answer), None
    file_id = await client.hub_run_task(task_id, key, timeout=timeout)
    return await client.get_html(f"/webapi/files/{file_id}")


async def fetch_access_report_asp(client: NetSchoolClient, class_id: int, start: date, end: date) -> str:
    await client.post_read_form_html(
        "/asp/Reports/ReportJournalAccess.asp",
        {"RPNAME": "Отчёт о доступе к классному журналу", "RPTID": "JournalAccess"},
    )
    return await client.post_read_form_html(
        "/asp/Reports/JournalAccess.asp",
        {
            "RPTID": "JournalAccess",
            "PCLID_IUP": f"{class_id}_0",
            "ADT": f"{start:%d.%m.%Y}",
            "DDT": f"{end:%d.%m.%Y}",
        },
    )


async def fetch_access_log(
    client: NetSchoolClient,
    class_id: int,
    start: date,
    end: date,
    *,
    method: Method = "auto",
    timeout: float = 120.0,
    hub_available: bool = True,
) -> list[AccessEntry]:
    """The access report of one class for lesson dates ``start``..``end``, parsed."""
    if method == "auto" and not client.has_core_hub:
        log.info("сервер %s: хаб отчётов старого образца — отчёт через страницы ASP", client.server_version)
        hub_available = False
    if method in ("auto", "hub") and hub_available:
        try:
            return parse_access_html(await fetch_access_report_hub(client, class_id, start, end, timeout=timeout))
        except ReportError as exc:
            if method == "hub":
                raise
            log.info("хаб отчётов недоступен (%s) — отчёт через страницы ASP", exc)
    elif method == "hub":
        raise ReportError("хаб отчётов недоступен при этом подключении")
    return parse_access_html(await fetch_access_report_asp(client, class_id, start, end))
