"""Weekly remark lists (списки замечаний): what the teachers and the deputy actually receive.

The lists are built from the findings' lifecycle in the cache (the latest ``check``), never from the network:

* a **teacher list** holds only that teacher's findings (errors, plus warnings when
  ``[rules] warnings_to_teachers``), grouped class → subject → date → rule, in three sections: new this week,
  still open (since when), resolved this week; plus, for a class teacher, the attendance remarks of the classes
  they lead (ATT002 and other rules whose owner is the class teacher — warnings included, or the part would be
  empty by design);
* the **deputy summary** covers every teacher: counts per teacher × rule, the share of lessons filled on time and
  its trend over recent weeks, the oldest open items, the undecided count and the data freshness.

A week is an ISO week (Mon–Sun, school time zone). «New» means not in an earlier list: about a day of this week,
or first found after the check the previous week's lists were sent from (``remark_week``; Monday 00:00 when they
were never sent). «Resolved this week» is measured from the same moment. Findings about days after the week's
Sunday wait for the next list. A finding that is a matter of record (``settled``: the late entry has been made
since) is shown once, as new, and not carried over as «not fixed».
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlite_utils import Database

from asurso_sync import __version__, exitcodes
from asurso_sync.config import Config
from asurso_sync.errors import UsageError
from cache import findings_by_state, last_check, last_successful_run, week_cutoff
from cache.calendar import lessons_per_teacher
from cache.reads import class_chiefs, names
from rules.catalogue import load_catalogue, ruleset_version
from rules.facts import group_label
from rules.registry import Rule

TIMELY = ("TML001", "TML002", "TML003", "TML004")
SETTLED_ADVICE = "исправлять нечего, впредь вносите до срока"
TREND_WEEKS = 4
TOP_OPEN = 15
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class RemarksError(UsageError):
    """A list cannot be built (a bad week, a bad directory file); the message is Russian."""


class NoCheckYet(RemarksError):
    """There is no check to build lists from."""

    exit_code = exitcodes.STALE


# --- weeks ------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Week:
    year: int
    number: int

    @classmethod
    def of(cls, d: date) -> Week:
        iso = d.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str) -> Week:
        """``2026-W48`` (ISO week) or any date inside the week (``2026-11-25``)."""
        text = text.strip()
        m = re.fullmatch(r"(\d{4})-?[Ww](\d{1,2})", text)
        try:
            if m:
                date.fromisocalendar(int(m[1]), int(m[2]), 1)
                return cls(int(m[1]), int(m[2]))
            return cls.of(date.fromisoformat(text))
        except ValueError:
            raise RemarksError(
                f"неделя «{text}» не распознана: укажите ISO-неделю (2026-W48) или дату внутри недели (2026-11-25)"
            ) from None

    @classmethod
    def last_completed(cls, today: date) -> Week:
        """The last full week before ``today`` (on Monday: the week that ended yesterday)."""
        return cls.of(today - timedelta(days=7))

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def span(self) -> str:
        return f"{self.monday:%d.%m}–{self.sunday:%d.%m.%Y}"

    def shift(self, weeks: int) -> Week:
        return Week.of(self.monday + timedelta(weeks=weeks))


# --- remarks ----------------------------------------------------------------------------------------


@dataclass
class Remark:
    fingerprint: str
    rule: str
    title: str
    severity: str
    advice: str
    state: str  # new | open | resolved (in this list's sense)
    owner: str
    teacher_id: int | None
    class_name: str
    subject: str
    day: date | None
    lesson: str  # "урок 3" or ""
    detail: str
    student: str | None
    first_seen: date | None
    resolved_at: date | None
    message: str
    cm: int = 0


@dataclass
class Part:
    """One list's three sections."""

    new: list[Remark] = field(default_factory=list)
    still_open: list[Remark] = field(default_factory=list)
    resolved: list[Remark] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.new or self.still_open)

    @property
    def total(self) -> int:
        return len(self.new) + len(self.still_open)


@dataclass
class Footer:
    school: str
    regulation: str
    ruleset: str
    program: str
    as_of: str
    freshness: str
    contest: str


@dataclass
class TeacherList:
    week: Week
    teacher_id: int
    name: str
    email: str | None
    part: Part
    chief: Part
    chief_classes: list[str]
    footer: Footer

    @property
    def empty(self) -> bool:
        return self.part.empty and self.chief.empty


@dataclass
class TeacherStats:
    teacher_id: int
    name: str
    email: str | None
    lessons: int
    on_time: float | None
    trend: list[float | None]
    by_rule: Counter[str]
    new: int
    still_open: int
    resolved: int


@dataclass
class Summary:
    week: Week
    weeks: list[Week]
    teachers: list[TeacherStats]
    rules: list[str]
    titles: dict[str, str]
    top_open: list[tuple[str, Remark]]
    undecided: int
    undecided_by_rule: dict[str, int]
    info: list[Remark]
    missing_addresses: list[str]
    school_on_time: float | None
    footer: Footer
    lists: list[TeacherList]

    @property
    def totals(self) -> dict[str, int]:
        return {
            "new": sum(t.new for t in self.teachers),
            "still_open": sum(t.still_open for t in self.teachers),
            "resolved": sum(t.resolved for t in self.teachers),
        }


# --- the directory of teacher addresses -------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_ID_COLS = ("id", "teacher_id", "код", "ид")
_NAME_COLS = ("name", "teacher", "фио", "учитель", "сотрудник")
_MAIL_COLS = ("email", "e-mail", "mail", "почта", "адрес", "электронная почта")


def normalize_name(name: str) -> str:
    return " ".join(name.replace("ё", "е").replace("Ё", "Е").split()).casefold()


@dataclass
class Directory:
    by_id: dict[int, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    def find(self, teacher_id: int, name: str, server_email: str | None = None) -> str | None:
        return self.by_id.get(teacher_id) or self.by_name.get(normalize_name(name)) or server_email or None

    def add(self, key: str, email: str, where: str) -> None:
        email = email.strip()
        if not _EMAIL.match(email):
            raise RemarksError(f"{where}: «{email}» — не адрес электронной почты")
        key = key.strip()
        if key.isdigit():
            self.by_id[int(key)] = email
        elif key:
            self.by_name[normalize_name(key)] = email


def load_directory(path: Path | None) -> Directory:
    """Teacher → e-mail from a CSV (columns: id and/or ФИО, e-mail; ``;`` or ``,``) or TOML (``[teachers]``
    table of "ФИО" or "id" = "адрес") file. Errors name the file and the line."""
    directory = Directory()
    if path is None:
        return directory
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RemarksError(f"справочник адресов {path} ([mail] directory) не читается: {exc.strerror}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RemarksError(f"справочник адресов {path}: ошибка TOML: {exc}") from None
        table = data.get("teachers", data)
        if not isinstance(table, dict):
            raise RemarksError(f"справочник адресов {path}: ожидается таблица [teachers] «ФИО или id» = «адрес»")
        for key, value in table.items():
            if not isinstance(value, str):
                raise RemarksError(f"справочник адресов {path}, ключ «{key}»: адрес должен быть строкой")
            directory.add(str(key), value, f"справочник адресов {path}, ключ «{key}»")
        return directory
    delimiter = ";" if text.count(";") >= text.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().casefold() for h in next(reader, [])]
    cols = {
        "id": next((i for i, h in enumerate(header) if h in _ID_COLS), None),
        "name": next((i for i, h in enumerate(header) if h in _NAME_COLS), None),
        "mail": next((i for i, h in enumerate(header) if h in _MAIL_COLS), None),
    }
    if cols["mail"] is None or (cols["id"] is None and cols["name"] is None):
        raise RemarksError(
            f"справочник адресов {path}: в первой строке нужны заголовки столбцов — «ФИО» (или «id») и «email»"
        )
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        mail_col = cols["mail"]
        email = row[mail_col] if len(row) > mail_col else ""
        where = f"справочник адресов {path}, строка {line_no}"
        for col in (cols["id"], cols["name"]):
            if col is not None and len(row) > col and row[col].strip():
                directory.add(row[col], email, where)
    return directory


# --- building ---------------------------------------------------------------------------------------


def _moment(d: date, tz: ZoneInfo) -> str:
    return datetime.combine(d, time()).replace(tzinfo=tz).isoformat(timespec="seconds")


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


class Builder:
    """Reads the findings and names once; builds every list of one week."""

    def __init__(self, db: Database, config: Config, week: Week, *, today: date | None = None) -> None:
        self.db, self.config, self.week = db, config, week
        self.tz = config.school.tz
        check = last_check(db)
        if check is None:
            raise NoCheckYet("проверок ещё не было — сначала выполните «asurso-sync check»")
        self.check = check
        prev = week_cutoff(db, week.shift(-1).label)
        self.since = prev if prev and prev >= _moment(week.monday, self.tz) else _moment(week.monday, self.tz)
        self.catalogue: dict[str, Rule] = load_catalogue()
        enabled = {t.upper() for t in config.rules.select}
        ignored = {t.upper() for t in config.rules.ignore}

        def shown(r: Rule, owner: str) -> bool:
            if r.owner != owner or r.code in ignored or r.family in ignored:
                return False
            if r.preview and r.code not in enabled and r.family not in enabled:
                return False
            if owner == "chief":
                return r.severity in ("error", "warning")
            return r.severity == "error" or (r.severity == "warning" and config.rules.warnings_to_teachers)

        self.teacher_rules = {c for c, r in self.catalogue.items() if shown(r, "teacher")}
        self.chief_rules = {c for c, r in self.catalogue.items() if shown(r, "chief")}
        known = names(db)
        self.staff = {i: (name or f"сотрудник {i}", known.teacher_email[i]) for i, name in known.teacher.items()}
        self.classes = known.class_
        self.subjects = {i: group_label(name, known.group_subject[i]) for i, name in known.group.items()}
        self.students = known.student
        self.chiefs: dict[int, list[str]] = defaultdict(list)
        for class_id, user_id in class_chiefs(db):
            self.chiefs[user_id].append(self.classes.get(class_id, "?"))
        self.findings = [self._remark(f) for f in findings_by_state(db)]
        self._per_week: dict[tuple[str, Week], dict[int, int]] = {}
        self.directory = load_directory(config.mail.directory)
        run = last_successful_run(db)
        self.footer = Footer(
            school=config.school.name,
            regulation=config.school.regulation,
            ruleset=ruleset_version(),
            program=__version__,
            as_of=_human_time(check["as_of"]),
            freshness=(
                f"журнал прочитан {_human_time(run.server_time)} (время сервера)"
                if run and run.server_time
                else "успешных синхронизаций нет"
            ),
            contest=config.mail.contest,
        )

    def _remark(self, f: dict[str, Any]) -> Remark:
        rule = self.catalogue.get(f["rule"])
        where, _, detail = f["message"].partition(": ")
        lesson = re.search(r"урок \d+$", where)
        student = f["entity"].get("student")
        if f["state"] == "resolved":
            state = "resolved" if (f["resolved_at"] or "") > self.since else "resolved-before"
        elif f["first_seen"] > self.since or (f["date"] or "") >= self.week.monday.isoformat():
            state = "new"  # found after the previous list was made, or about a day no earlier list covered
        else:
            state = "settled-before" if f["settled"] else "open"
        return Remark(
            fingerprint=f["fingerprint"],
            rule=f["rule"],
            title=rule.title if rule else f["rule"],
            severity=f["severity"],
            advice=SETTLED_ADVICE if f["settled"] else rule.advice if rule else "",
            state=state,
            owner=rule.owner if rule else "deputy",
            teacher_id=f["teacher_id"],
            class_name=self.classes.get(f["class_id"] or 0, ""),
            subject=self.subjects.get(f["sg_id"] or 0, ""),
            day=_day(f["date"]),
            lesson=lesson.group(0) if lesson else "",
            detail=detail or f["message"],
            student=self.students.get(student) if student else None,
            first_seen=_day(f["first_seen"]),
            resolved_at=_day(f["resolved_at"]),
            message=f["message"],
            cm=int(f["entity"].get("cm", 0)),
        )

    def _in_week(self, r: Remark) -> bool:
        """Open remarks about days up to the week's Sunday; resolved ones only when resolved since the cutoff."""
        if r.day is not None and r.day > self.week.sunday:
            return False
        return r.state in ("new", "open", "resolved")

    def _part(self, teacher_id: int, codes: set[str]) -> Part:
        part = Part()
        for r in self.findings:
            if r.teacher_id != teacher_id or r.rule not in codes or not self._in_week(r):
                continue
            {"new": part.new, "open": part.still_open, "resolved": part.resolved}[r.state].append(r)
        for items in (part.new, part.still_open, part.resolved):
            items.sort(key=_order)
        return part

    def teacher_list(self, teacher_id: int) -> TeacherList:
        name, server_email = self.staff.get(teacher_id, (f"сотрудник {teacher_id}", None))
        return TeacherList(
            week=self.week,
            teacher_id=teacher_id,
            name=name,
            email=self.directory.find(teacher_id, name, server_email),
            part=self._part(teacher_id, self.teacher_rules),
            chief=self._part(teacher_id, self.chief_rules),
            chief_classes=sorted(self.chiefs.get(teacher_id, [])),
            footer=self.footer,
        )

    def teacher_lists(self) -> list[TeacherList]:
        ids = {r.teacher_id for r in self.findings if r.teacher_id} | set(self._lessons(self.week))
        lists = [self.teacher_list(t) for t in ids if t in self.staff or any(r.teacher_id == t for r in self.findings)]
        return sorted(lists, key=lambda x: normalize_name(x.name))

    # -- the deputy's numbers
    def _lessons(self, week: Week) -> dict[int, int]:
        """Held lessons per teacher in the week whose 16:00 deadline had passed at the check (once per week)."""
        hit = self._per_week.get(("lessons", week))
        if hit is None:
            hit = self._per_week[("lessons", week)] = self._lessons_sql(week)
        return hit

    def _lessons_sql(self, week: Week) -> dict[int, int]:
        return lessons_per_teacher(self.db, week.monday, week.sunday, str(self.check["as_of"])[:19])

    def _late_lessons(self, week: Week) -> dict[int, int]:
        """Per teacher: lessons of the week with a timeliness finding (TML001–TML004, whatever its state)."""
        hit = self._per_week.get(("late", week))
        if hit is not None:
            return hit
        by_teacher: dict[int, set[int]] = defaultdict(set)
        for r in self.findings:
            if r.rule in TIMELY and r.teacher_id and r.day and week.monday <= r.day <= week.sunday:
                by_teacher[r.teacher_id].add(r.cm)
        hit = self._per_week[("late", week)] = {t: len(cms) for t, cms in by_teacher.items()}
        return hit

    def on_time(self, week: Week) -> dict[int, float]:
        """Per teacher: share of the week's held lessons without a timeliness finding. Empty for a week the
        check did not cover (before its period), rather than a misleading 100 %."""
        if week.sunday.isoformat() < str(self.check["period_from"]):
            return {}
        lessons, late = self._lessons(week), self._late_lessons(week)
        return {t: max(0.0, 1 - late.get(t, 0) / n) for t, n in lessons.items() if n}

    def summary(self, lists: list[TeacherList] | None = None) -> Summary:
        lists = lists if lists is not None else self.teacher_lists()
        weeks = [self.week.shift(-i) for i in reversed(range(TREND_WEEKS))]
        shares = {w: self.on_time(w) for w in weeks}
        lessons = self._lessons(self.week)
        stats: list[TeacherStats] = []
        all_rules: set[str] = set()
        for tl in lists:
            by_rule: Counter[str] = Counter(r.rule for r in (*tl.part.new, *tl.part.still_open))
            by_rule.update(r.rule for r in (*tl.chief.new, *tl.chief.still_open))
            all_rules |= set(by_rule)
            stats.append(
                TeacherStats(
                    teacher_id=tl.teacher_id,
                    name=tl.name,
                    email=tl.email,
                    lessons=lessons.get(tl.teacher_id, 0),
                    on_time=shares[self.week].get(tl.teacher_id),
                    trend=[shares[w].get(tl.teacher_id) for w in weeks],
                    by_rule=by_rule,
                    new=len(tl.part.new) + len(tl.chief.new),
                    still_open=len(tl.part.still_open) + len(tl.chief.still_open),
                    resolved=len(tl.part.resolved) + len(tl.chief.resolved),
                )
            )
        open_items = [
            (tl.name, r)
            for tl in lists
            for r in (*tl.part.new, *tl.part.still_open, *tl.chief.new, *tl.chief.still_open)
        ]
        open_items.sort(key=lambda x: (x[1].first_seen or date.max, x[1].day or date.max, x[0]))
        undecided = dict(self.check["counts"].get("undecided", {}))
        info = [
            r
            for r in self.findings
            if r.state in ("new", "open")
            and r.owner == "deputy"
            and (r.day is None or r.day <= self.week.sunday)
            and r.rule not in {t.upper() for t in self.config.rules.ignore}
        ]
        info.sort(key=_order)
        total_lessons = sum(lessons.values())
        late_total = sum(self._late_lessons(self.week).get(t, 0) for t in lessons)
        return Summary(
            week=self.week,
            weeks=weeks,
            teachers=stats,
            rules=sorted(all_rules),
            titles={c: r.title for c, r in self.catalogue.items()},
            top_open=open_items[:TOP_OPEN],
            undecided=sum(int(v) for v in undecided.values()),
            undecided_by_rule={k: int(v) for k, v in sorted(undecided.items()) if v},
            info=info,
            missing_addresses=[tl.name for tl in lists if not tl.empty and not tl.email],
            school_on_time=(1 - late_total / total_lessons) if total_lessons else None,
            footer=self.footer,
            lists=lists,
        )


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _order(r: Remark) -> tuple[Any, ...]:
    return (r.class_name, r.subject, r.day or date.min, r.lesson, r.rule, r.student or "", r.fingerprint)


def _human_time(text: str | None) -> str:
    if not text:
        return "—"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{moment:%d.%m.%Y %H:%M}"


def group(remarks: Iterable[Remark]) -> list[tuple[str, list[tuple[str, list[Remark]]]]]:
    """class → [(subject, remarks sorted by date, rule)] for the templates."""
    tree: dict[str, dict[str, list[Remark]]] = defaultdict(lambda: defaultdict(list))
    for r in remarks:
        tree[r.class_name or "без класса"][r.subject or "без предмета"].append(r)
    return [
        (cls, [(subj, sorted(items, key=_order)) for subj, items in sorted(subjects.items())])
        for cls, subjects in sorted(tree.items(), key=lambda kv: _class_key(kv[0]))
    ]


def _class_key(name: str) -> tuple[int, str]:
    m = re.match(r"(\d+)", name)
    return (int(m.group(1)) if m else 99, name)


# --- rendering --------------------------------------------------------------------------------------

_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=PackageLoader("asurso_sync", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        _ENV.globals["group"] = group
        _ENV.filters["pct"] = pct
    return _ENV


def _tidy(text: str) -> str:
    """Plain-text parts: no runs of blank lines that template control blocks leave behind."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    xlsx: bytes | None = None


def render_teacher(tl: TeacherList) -> Rendered:
    env = _env()
    return Rendered(
        subject=f"Список замечаний по ведению электронного журнала за {tl.week.span}",
        text=_tidy(env.get_template("teacher.txt").render(tl=tl)),
        html=env.get_template("teacher.html").render(tl=tl),
    )


def render_summary(s: Summary) -> Rendered:
    env = _env()
    return Rendered(
        subject=f"Сводка по ведению электронного журнала за {s.week.span}",
        text=_tidy(env.get_template("summary.txt").render(s=s)),
        html=env.get_template("summary.html").render(s=s),
        xlsx=summary_xlsx(s),
    )


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    parts = name.split()
    short = f"{parts[0]} {''.join(p[0] + '.' for p in parts[1:3])}" if len(parts) > 1 else name
    base = _SHEET_BAD.sub("", short)[:28] or "Учитель"
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base[:26]} {n}"
    used.add(candidate.casefold())
    return candidate


REMARK_COLUMNS = ["Раздел", "Класс", "Предмет", "Дата", "Урок", "Ученик", "Замечание", "Что сделать", "С", "Правило"]
_SECTION = {"new": "Новое", "open": "Не устранено", "resolved": "Устранено"}


def summary_xlsx(s: Summary) -> bytes:
    """The deputy's workbook: a summary sheet (teacher × rule), the weekly trend with a chart, the oldest open
    items, information for the deputy, and a sheet per teacher with their remarks."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="EAEEF2")

    def header(ws: Any, values: list[Any], widths: list[float]) -> None:
        ws.append(values)
        for cell in ws[ws.max_row]:
            cell.font = bold
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = ws.cell(row=ws.max_row + 1, column=2)

    wb = Workbook()
    ws = wb.active
    ws.title = "Сводка"
    ws.append([f"{s.footer.school}: сводка по ведению ЭЖ за неделю {s.week.span}"])
    ws["A1"].font = Font(bold=True, size=13)
    header(
        ws,
        ["Учитель", "Уроков", "В срок, %", "Новые", "Не устранены", "Устранены", *s.rules],
        [34, 8, 10, 8, 12, 10, *([9] * len(s.rules))],
    )
    for t in s.teachers:
        ws.append(
            [
                t.name,
                t.lessons,
                round(t.on_time * 100, 1) if t.on_time is not None else None,
                t.new,
                t.still_open,
                t.resolved,
                *[t.by_rule.get(code, 0) for code in s.rules],
            ]
        )
    ws.append([])
    ws.append(["Правила:"])
    for code in s.rules:
        ws.append([code, s.titles.get(code, "")])

    trend = wb.create_sheet("Динамика")
    header(trend, ["Учитель", *[f"{w.monday:%d.%m}" for w in s.weeks]], [34, *([10] * len(s.weeks))])
    shown = [t for t in s.teachers if any(v is not None for v in t.trend)]
    for t in shown:
        trend.append([t.name, *[round(v * 100, 1) if v is not None else None for v in t.trend]])
    if shown:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Уроки, заполненные в срок, %"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.height = max(7.5, 0.6 * len(shown) * len(s.weeks) / 2)
        chart.width = 18
        data = Reference(trend, min_col=2, max_col=1 + len(s.weeks), min_row=1, max_row=1 + len(shown))
        cats = Reference(trend, min_col=1, min_row=2, max_row=1 + len(shown))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        trend.add_chart(chart, f"{get_column_letter(len(s.weeks) + 3)}2")

    top = wb.create_sheet("Давние")
    header(top, ["Учитель", "Замечание", "С", "Правило"], [30, 80, 11, 9])
    for name, r in s.top_open:
        top.append([name, r.message, r.first_seen, r.rule])

    if s.info:
        info = wb.create_sheet("Для сведения")
        header(info, ["Замечание", "Дата", "Правило"], [90, 11, 9])
        for r in s.info:
            info.append([r.message, r.day, r.rule])

    used = {n.casefold() for n in wb.sheetnames}
    for tl in s.lists:
        items = [r for part in (tl.part, tl.chief) for r in (*part.new, *part.still_open, *part.resolved)]
        if not items:
            continue
        sheet = wb.create_sheet(_sheet_name(tl.name, used))
        sheet.append([tl.name])
        sheet["A1"].font = Font(bold=True, size=12)
        header(sheet, REMARK_COLUMNS, [13, 7, 22, 11, 8, 26, 50, 40, 11, 9])
        for r in items:
            sheet.append(
                [
                    _SECTION.get(r.state, r.state),
                    r.class_name,
                    r.subject,
                    r.day,
                    r.lesson,
                    r.student or "",
                    r.detail,
                    r.advice,
                    r.first_seen if r.state == "open" else None,
                    r.rule,
                ]
            )
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "DD.MM.YYYY"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- messages and files -----------------------------------------------------------------------------


def build_message(
    config: Config, *, to_name: str, to_addr: str, rendered: Rendered, attachment_name: str | None = None
) -> EmailMessage:
    """A multipart/alternative message (text + HTML), optionally with the XLSX attached. Message-ID and Date are
    set now, so the outbox stores exactly what goes out (and a resend is recognisably the same message)."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = Address(config.school.name, addr_spec=config.mail.from_addr)
    msg["To"] = Address(to_name, addr_spec=to_addr)
    msg["Date"] = format_datetime(datetime.now(config.school.tz))
    msg["Message-ID"] = make_msgid(domain=config.mail.from_addr.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    if rendered.xlsx is not None and attachment_name:
        msg.add_attachment(rendered.xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=attachment_name)
    return msg


def summary_attachment_name(week: Week) -> str:
    return f"svodka-ezh-{week.label}.xlsx"


def file_stem(tl: TeacherList) -> str:
    return f"teacher-{tl.teacher_id}"


# --- a week's lists: build, write, send -------------------------------------------------------------


@dataclass
class WeekLists:
    week: Week
    lists: list[TeacherList]
    summary: Summary
    check_run_id: int
    check_as_of: str

    def recipients(self, config: Config, only: str | None = None) -> list[TeacherList]:
        """Teachers who get a list this week: those with remarks (all teachers with lessons when
        ``[mail] send_empty``), optionally only the one named by id or a part of the name."""
        chosen = [tl for tl in self.lists if not tl.empty or config.mail.send_empty]
        if only:
            needle = normalize_name(only)
            chosen = [tl for tl in chosen if str(tl.teacher_id) == only or needle in normalize_name(tl.name)]
        return chosen


def build_week(db: Database, config: Config, week: Week) -> WeekLists:
    builder = Builder(db, config, week)
    lists = builder.teacher_lists()
    return WeekLists(week, lists, builder.summary(lists), int(builder.check["id"]), str(builder.check["as_of"]))


def write_files(config: Config, wl: WeekLists, out: Path, *, only: str | None = None) -> list[Path]:
    """Write every list of the week as .html and .txt (and .eml when the address is known), and the deputy's
    summary as .html, .xlsx and .eml, into ``out/<week>/``. The files hold personal data: 0700/0600."""
    from cache import ensure_private_dir, write_private_bytes

    folder = out / wl.week.label
    ensure_private_dir(folder)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        write_private_bytes(path, data)
        written.append(path)

    for tl in wl.recipients(config, only):
        r = render_teacher(tl)
        stem = file_stem(tl)
        put(f"{stem}.html", r.html.encode())
        put(f"{stem}.txt", r.text.encode())
        if tl.email:
            put(f"{stem}.eml", bytes(build_message(config, to_name=tl.name, to_addr=tl.email, rendered=r)))
    if not only:
        s = render_summary(wl.summary)
        put("summary.html", s.html.encode())
        put("summary.txt", s.text.encode())
        assert s.xlsx is not None
        put(summary_attachment_name(wl.week), s.xlsx)
        if config.mail.deputy_addr:
            msg = build_message(
                config,
                to_name="Заместитель директора по УВР",
                to_addr=config.mail.deputy_addr,
                rendered=s,
                attachment_name=summary_attachment_name(wl.week),
            )
            put("summary.eml", bytes(msg))
    return written


@dataclass
class Planned:
    recipient: str
    name: str
    kind: str
    remarks: int


@dataclass
class SendPlan:
    planned: list[Planned] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: int = 0
    existing: int = 0


def enqueue_week(
    db: Database, config: Config, wl: WeekLists, *, only: str | None = None, dry_run: bool = False
) -> SendPlan:
    """Put the week's messages into the outbox (one per recipient and kind; an existing one is kept as it is)."""
    from cache import audit, enqueue, fix_week

    plan = SendPlan()
    messages: list[tuple[Planned, EmailMessage]] = []
    for tl in wl.recipients(config, only):
        if not tl.email:
            plan.missing.append(tl.name)
            continue
        item = Planned(tl.email, tl.name, "teacher", tl.part.total + tl.chief.total)
        plan.planned.append(item)
        if not dry_run:
            messages.append(
                (item, build_message(config, to_name=tl.name, to_addr=tl.email, rendered=render_teacher(tl)))
            )
    if not only:
        if config.mail.deputy_addr:
            item = Planned(config.mail.deputy_addr, "заместитель директора", "deputy", sum(wl.summary.totals.values()))
            plan.planned.append(item)
            if not dry_run:
                s = render_summary(wl.summary)
                msg = build_message(
                    config,
                    to_name="Заместитель директора по УВР",
                    to_addr=config.mail.deputy_addr,
                    rendered=s,
                    attachment_name=summary_attachment_name(wl.week),
                )
                messages.append((item, msg))
        else:
            plan.missing.append("заместитель директора ([mail] deputy_addr)")
    if dry_run:
        return plan
    with db.atomic():
        fix_week(db, wl.week.label, wl.check_run_id, wl.check_as_of)
        for item, msg in messages:
            _, added = enqueue(
                db,
                recipient=item.recipient,
                kind=item.kind,
                period=wl.week.label,
                subject=str(msg["Subject"]),
                message=bytes(msg),
            )
            plan.added += added
            plan.existing += not added
        audit(
            db,
            "remarks-enqueue",
            {"week": wl.week.label, "added": plan.added, "existing": plan.existing, "missing": len(plan.missing)},
            records=plan.added,
        )
    return plan
