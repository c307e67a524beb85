"""«Отчёт о доступе к классному журналу» (docs/server-api.md §4): rows, HTML, the queue, the SignalR hub.

Rows come from the entry times the journal already keeps: one row per journal action of a class (or an ИУП grade,
or every class) whose action date is in the period (the «Период» filter is about when things were done — inferred,
see CHOICES.md), as of the emulator's clock. Columns: «Класс», «Предмет», «Дата и время изменений» (the evidence's
header), «Пользователь», «Дата урока» («23.11.2026, урок 3»), «Период», «Действие» (see CHOICES.md). Actions:
«Тема урока: добавлена», «Домашнее задание: добавлено («текст»)», «Задание «вид»: добавлено («текст»)»,
«Отметка «вид»: выставлена», «Посещаемость: «код» (Фамилия И. О.)».
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.emulator.journal import HOMEWORK, Journal
from adapters.emulator.protocol import Session
from adapters.emulator.school import School

RS = "\x1e"  # SignalR JSON protocol record separator
# the time column's header as the evidence has it (issue #32: «Дата и время изменений», not «… действия»)
TIME_HEADER = "Дата и время изменений"
HEADERS = ("Класс", "Предмет", TIME_HEADER, "Пользователь", "Дата урока", "Период", "Действие")
# a 2013 version of the page (and, on the emulator, the ``LastAccess`` switch) prints only each group's last change
LAST_CHANGE_HEADERS = ("Предмет", "Дата и время последнего изменения", "Пользователь")


@dataclass(frozen=True)
class AccessRow:
    at: datetime
    class_name: str
    subject: str
    user: str
    lesson_day: date
    lesson_number: int
    period: str
    action: str


def rows_in(rows: list[AccessRow], start: date, end: date, now: datetime) -> list[AccessRow]:
    """The report's rows: actions done on days ``start``..``end``, up to ``now``, on lessons held by then."""
    return [r for r in rows if start <= r.at.date() <= end and r.at <= now and r.lesson_day <= now.date()]


def iup_label(grade: int) -> str:
    """How the report names an ИУП grade in its «Класс» column: as the class filter's own text for it («11 *»,
    IRTech's journal page) [I: the report's column is not seen]."""
    return f"{grade} *"


def target_rows(s: School, j: Journal, target: str) -> list[AccessRow]:
    """Every action ever done in the journals the class filter selects: ``<classId>_0`` a class, ``<grade>_1`` the
    ИУП groups of a grade, ``-1`` every class (IRTech's default; ИУП groups are not in it [I])."""
    value, _, kind = target.partition("_")
    if target.strip() == "-1":
        out = [r for cid in sorted(s.classes) for r in class_rows(s, j, cid)]
        out.sort(key=lambda r: (r.at, r.class_name, r.subject, r.lesson_day, r.action))
        return out
    if kind == "1":
        grade = int(value)
        groups = [g for g in s.groups.values() if g.iup_grade == grade]
        return group_rows(s, j, groups, iup_label(grade), whole_name=True)
    return class_rows(s, j, int(value))


def class_rows(s: School, j: Journal, class_id: int) -> list[AccessRow]:
    """Every action ever done in the class's journal (the journal is generated whole; the clock filters)."""
    groups = [g for g in s.groups.values() if g.class_id == class_id]
    return group_rows(s, j, groups, s.classes[class_id].name)


def group_rows(
    s: School, j: Journal, groups: list[Any], class_label: str, *, whole_name: bool = False
) -> list[AccessRow]:
    """Every action in these groups' journals; «Предмет» is the group's name without the class (an ИУП group,
    which has no class: its whole name)."""
    out: list[AccessRow] = []
    for g in groups:
        subject = g.name if whole_name else (g.name.partition("/")[2] or s.subjects[g.subject_id].name)
        homework_at: dict[int, list[Any]] = {}
        for a in j.assignments_by_sg.get(g.id, []):
            if a.type_id == HOMEWORK:
                homework_at.setdefault(a.issue_cm_id, []).append(a)
        type_names = j.type_names
        for le in s.lessons_by_sg.get(g.id, []):
            term = next(
                (t.name for t in s.terms.values() if t.type_id == g.term_type and t.start <= le.day <= t.end), ""
            )
            teacher = le.teacher_id or g.teacher_on(le.day)  # who entered it, unless the entry says otherwise
            actions: list[tuple[datetime, str, int | None]] = []
            topic = j.topics.get(le.id)
            if topic is not None:
                actions.append((topic.at, "Тема урока: добавлена", topic.by))
            for a in homework_at.get(le.id, []):
                actions.append((a.at, f"Домашнее задание: добавлено («{a.name}»)", a.by))
            for a in j.assignments_by_cm.get(le.id, []):
                kind = type_names.get(a.type_id, "?")
                if a.type_id != HOMEWORK:
                    actions.append((a.at, f"Задание «{kind}»: добавлено («{a.name}»)", a.by))
                for m in j.marks.get(a.id, []):
                    if m.mark is not None:
                        actions.append((m.at, f"Отметка «{kind}»: выставлена", m.by))
                    for at, new, by in m.changes:
                        actions.append((at, f"Отметка «{kind}»: {'изменена' if new is not None else 'удалена'}", by))
            for att in j.attendance.get(le.id, []):
                student = s.students[att.student_id].full_name
                for i, (at, code) in enumerate(att.versions):
                    what = f"«{code}»" if code is not None else "удалена"
                    by = att.by[i] if i < len(att.by) else None
                    actions.append((at, f"Посещаемость: {what} ({student})", by))
            out += [
                AccessRow(at, class_label, subject, s.staff[by or teacher].full_name, le.day, le.number, term, action)
                for at, action, by in actions
            ]
    out.sort(key=lambda r: (r.at, r.subject, r.lesson_day, r.action))
    return out


# The report's action column holds a short code that a second table («Условные обозначения») explains (issue #20's
# review of IRTech's JournalAccess.asp). The codes and their texts are the emulator's guess (CHOICES.md): the code
# stands for the leading words of the action, the rest of the cell (work type, text, student) follows it.
LEGEND: tuple[tuple[str, str], ...] = (
    ("ТУ", "Тема урока: добавлена"),
    ("ДЗ", "Домашнее задание: добавлено"),
    ("ЗД", "Задание"),
    ("ОТ", "Отметка"),
    ("ПС", "Посещаемость:"),
    ("УР", "Урок добавлен по расписанию"),
)


def short_action(action: str) -> str:
    """``action`` with its leading words replaced by their legend code («Отметка «Ответ»: …» → «ОТ «Ответ»: …»)."""
    for code, text in LEGEND:
        if action.startswith(text):
            return code + action[len(text) :]
    return action


def bare_code(action: str) -> str:
    """Only the legend code of an action, nothing after it (the ``report_bare_codes`` drift)."""
    short = short_action(action)
    return next((code for code, _text in LEGEND if short.startswith(code)), short)


def joined(rows: list[AccessRow]) -> list[tuple[AccessRow, str]]:
    """One row per (lesson, user, minute) with its actions' codes joined («ТУ, ОТ»): the ``report_joined_codes``
    drift, a page that logs one saving of the lesson's page as one row [I]."""
    out: dict[tuple[Any, ...], tuple[AccessRow, list[str]]] = {}
    for r in rows:
        key = (r.class_name, r.subject, r.lesson_day, r.lesson_number, r.user, r.at.replace(second=0, microsecond=0))
        codes = out.setdefault(key, (r, []))[1]
        code = bare_code(r.action)
        if code not in codes:
            codes.append(code)
    return [(first, ", ".join(codes)) for first, codes in out.values()]


def render_last_change(title: str, rows: list[AccessRow]) -> str:
    """The three-column table a 2013 version of the page prints: each group's last change and who made it."""
    last: dict[str, AccessRow] = {}
    for r in rows:
        if r.subject not in last or r.at >= last[r.subject].at:
            last[r.subject] = r
    head = "".join(f"<th>{html.escape(h)}</th>" for h in LAST_CHANGE_HEADERS)
    body = "".join(
        f"<tr><td>{html.escape(r.subject)}</td><td>{r.at:%d.%m.%Y %H:%M}</td><td>{html.escape(r.user)}</td></tr>"
        for r in sorted(last.values(), key=lambda r: r.subject)
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Отчёт о доступе к классному журналу</title></head>'
        f"<body><h2>Отчёт о доступе к классному журналу</h2><div>{html.escape(title)}</div>"
        f'<table class="table-print"><tr>{head}</tr>{body}</table></body></html>'
    )


def render_html(
    title: str,
    rows: list[AccessRow],
    *,
    header: tuple[str, ...] = HEADERS,
    legend: bool = True,
    cells_as: str = "detailed",
) -> str:
    """The report as the server's printable HTML (``table.table-print``). With ``legend`` (the real shape) actions
    are short codes explained by a second table, and each lesson the schedule created has a row with no user and
    «-» for its time; without it (the ``report_texts`` drift) whole texts and only users' rows. ``cells_as``:
    ``detailed`` (the code, then work type, text, student), ``bare`` (the code alone) or ``joined`` (one row per
    saving, its codes joined)."""

    def cells(r: AccessRow, action: str | None = None) -> dict[str, str]:
        return {
            "Класс": r.class_name,
            "Предмет": r.subject,
            TIME_HEADER: f"{r.at:%d.%m.%Y %H:%M}",
            "Пользователь": r.user,
            "Дата урока": f"{r.lesson_day:%d.%m.%Y}, урок {r.lesson_number}",
            "Период": r.period,
            "Действие": action
            if action is not None
            else (bare_code(r.action) if cells_as == "bare" else short_action(r.action))
            if legend
            else r.action,
        }

    def row(values: dict[str, str]) -> str:
        return "<tr>" + "".join(f"<td>{html.escape(values[h])}</td>" for h in header) + "</tr>"

    if legend and cells_as == "joined":
        lines = [row(cells(r, codes)) for r, codes in joined(rows)]
    else:
        lines = [row(cells(r)) for r in rows]
    if legend:  # rows without a user: the lessons the schedule created
        for cls, subject, day, number, period in sorted(
            {(r.class_name, r.subject, r.lesson_day, r.lesson_number, r.period) for r in rows}
        ):
            lines.append(
                row(
                    {
                        "Класс": cls,
                        "Предмет": subject,
                        TIME_HEADER: "-",
                        "Пользователь": "",
                        "Дата урока": f"{day:%d.%m.%Y}, урок {number}",
                        "Период": period,
                        "Действие": "УР",
                    }
                )
            )
    body = "\n".join(lines)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    explained = ""
    if legend:
        explained = (
            '<p class="legend-title">Условные обозначения</p><table class="legend">'
            + "".join(f"<tr><td>{html.escape(c)}</td><td>{html.escape(t)}</td></tr>" for c, t in LEGEND)
            + "</table>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Отчёт о доступе к классному журналу</title>'
        '<link rel="stylesheet" href="/static/dist/pages/common/css/export-tables.min.css"></head><body>'
        f'<h2 class="report-title">Отчёт о доступе к классному журналу</h2><div class="filters">{html.escape(title)}'
        f'</div><table class="table-print"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'
        f"{explained}</body></html>"
    )


@dataclass
class Task:
    id: int
    key: str
    target: str  # the class filter's value: "<classId>_0", "<grade>_1" (ИУП) or "-1" (every class)
    start: date
    end: date
    user_id: int


@dataclass
class ReportQueue:
    """Queued report tasks and built files, per emulator."""

    build_seconds: float = 0.05
    tasks: dict[int, Task] = field(default_factory=dict)
    files: dict[int, str] = field(default_factory=dict)
    # what clients did, in order — (event, session, path, detail): earlyaccess, hub, queue (detail: params)
    events: list[tuple[str, str, str, Any]] = field(default_factory=list)
    asp_forms: list[dict[str, Any]] = field(default_factory=list)  # the JournalAccess.asp forms received
    _rows: dict[str, list[AccessRow]] = field(default_factory=dict)

    def rows(self, school: School, journal: Journal, target: str) -> list[AccessRow]:
        """``target_rows``, computed once per value of the class filter."""
        hit = self._rows.get(target)
        if hit is None:
            hit = self._rows[target] = target_rows(school, journal, target)
        return hit

    def forget(self) -> None:
        """Drop the computed rows: the journal has changed (teachers answering their letters enter things later)."""
        self._rows.clear()

    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(301_000_001))

    def add(self, target: str, start: date, end: date, user_id: int) -> Task:
        tid = next(self._ids)
        task = Task(tid, f"q-{tid:x}", target, start, end, user_id)
        self.tasks[tid] = task
        return task

    def store(self, content: str) -> int:
        """Keep a built report as a file; its id is what ``files/{id}`` serves."""
        file_id = next(self._ids)
        self.files[file_id] = content
        return file_id


def class_target(raw: str, school: School) -> str:
    """The class filter's value, checked: "<classId>_0" (or the id alone), "<grade>_1" (an ИУП grade of the school)
    or "-1" (every class — the filter's default; an empty value means it too). ``ValueError`` otherwise."""
    raw = raw.strip() or "-1"
    if raw == "-1":
        return raw
    value, _, kind = raw.partition("_")
    number = int(value.strip().rstrip("*").strip())
    if kind == "1":  # a grade without ИУП groups is a valid choice with nothing in it
        if not 1 <= number <= 11:
            raise ValueError(f"параллель {number} не найдена")
        return f"{number}_1"
    if number not in school.classes:
        raise ValueError(f"класс {number} не найден")
    return f"{number}_0"


def parse_filters(body: dict[str, Any], school: School) -> tuple[str, date, date]:
    """``selectedData`` → (class filter value, period start, period end)."""
    values = {str(x.get("filterId", "")).upper(): str(x.get("filterValue", "")) for x in body.get("selectedData") or []}
    target = class_target(values.get("PCLID_IUP") or values.get("PCLID") or "", school)
    period = values.get("PERIOD", "")
    a, _, b = period.partition(" - ")
    return target, date.fromisoformat(a.strip()[:10]), date.fromisoformat(b.strip()[:10])


async def hub(
    ws: WebSocket,
    *,
    sessions: Mapping[str, Session],
    queue: ReportQueue,
    build: Callable[[Task], int],
    fails: Callable[[], bool],
) -> None:
    """ASP.NET Core SignalR JSON protocol (≥ 5.32 path ``/webapi/signalr/queueHub?at=…``): handshake, then
    ``startTask``/``startTaskAsync`` invocations answered with ``progress`` and ``complete`` (or an error).
    ``build`` makes a task's file and returns its id; ``fails`` says whether this build fails (a fault)."""
    at = ws.query_params.get("at", "")
    sess = sessions.get(at)
    if sess is None or ws.cookies.get("ESRNSec") != sess.esrn:
        await ws.close(code=1008)
        return
    await ws.accept()

    async def send(message: dict[str, Any]) -> None:  # one SignalR JSON frame
        await ws.send_text(json.dumps(message) + RS)

    buffer = ""
    try:
        text = await ws.receive_text()
        buffer += text
        handshake, _, buffer = buffer.partition(RS)
        if json.loads(handshake or "{}").get("protocol") != "json":
            await send({"error": "Requested protocol 'messagepack' is not available."})
            await ws.close()
            return
        await ws.send_text("{}" + RS)
        while True:
            while RS not in buffer:
                buffer += await ws.receive_text()
            frame, _, buffer = buffer.partition(RS)
            msg = json.loads(frame)
            if msg.get("type") == 6:  # ping
                await send({"type": 6})
                continue
            if msg.get("type") == 7:  # close
                break
            if msg.get("type") != 1 or msg.get("target") not in ("startTask", "startTaskAsync"):
                continue
            inv = msg.get("invocationId")
            task = queue.tasks.get(int((msg.get("arguments") or [0])[0]))
            if task is None or task.user_id != sess.user_id:
                await send(
                    {"type": 3, "invocationId": inv, "result": {"success": False, "message": "Задание не найдено"}}
                )
                continue
            await send({"type": 3, "invocationId": inv, "result": {"success": True}})
            await send(
                {"type": 1, "target": "progress", "arguments": [{"taskId": task.id, "status": "В процессе обработки"}]}
            )
            await asyncio.sleep(queue.build_seconds)
            if fails():
                await send(
                    {
                        "type": 1,
                        "target": "error",
                        "arguments": [{"taskId": task.id, "details": "Ошибка построения отчёта"}],
                    }
                )
                continue
            file_id = build(task)
            await send({"type": 1, "target": "complete", "arguments": [{"taskId": task.id, "data": str(file_id)}]})
    except WebSocketDisconnect:
        return
    await ws.close()
