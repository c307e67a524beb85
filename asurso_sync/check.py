"""``check``: run the rules over the cache, record the findings' lifecycle, and present the result."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from asurso_sync import exitcodes
from asurso_sync.config import Config
from asurso_sync.errors import AppError, UsageError
from asurso_sync.findref import fold, matching
from asurso_sync.routing import finding_route, rule_routes
from asurso_sync.vocabulary import FINDING_KIND, FINDING_STATE, ROUTE, SEVERITY
from cache import (
    audit,
    full_load_state,
    is_read_only,
    last_runs,
    last_successful_run,
    open_cache,
    record_check,
    waivers,
)
from cache.cabinet import released_rules
from cache.calendar import lessons_per_teacher
from cache.reads import first_observed_day, school_year_start
from cache.reads import names as names_of
from rules.catalogue import Selection, all_rules, load_catalogue, unknown_tokens
from rules.engine import CheckResult, Override, run_rules
from rules.registry import param_problem

FAMILY_TITLES = {
    "TML": "Сроки",
    "CMP": "Полнота",
    "MRK": "Отметки",
    "ATT": "Посещаемость",
    "DEN": "Накопляемость",
    "FIN": "Итоговые",
    "OCP": "Оценочные процедуры",
}


class StaleData(AppError):
    """The data are too old (or the last sync failed) to produce remarks from; ``reason`` says why."""

    exit_code = exitcodes.STALE

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Замечания не сформированы: {reason}.")


class CheckUsageError(UsageError):
    """A filter or parameter of the check names nothing that exists."""


@dataclass
class CheckOptions:
    start: date | None = None
    end: date | None = None
    as_of: datetime | None = None
    teacher: str | None = None
    class_name: str | None = None
    finding: str | None = None  # a letter's short number or the words of a line (asurso_sync.findref)
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    stale_ok: bool = False
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # from the command line: the strongest


@dataclass
class CheckOutcome:
    result: CheckResult
    findings: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    run_id: int
    names: dict[str, dict[int, str]]
    lessons_by_teacher: dict[int, int]
    freshness: str
    settled: frozenset[str] = frozenset()  # fingerprints of findings that are a matter of record (entered late)

    @property
    def exit_severity(self) -> str:
        sev = {f["severity"] for f in self.findings}
        return "error" if "error" in sev else "warning" if "warning" in sev else "ok"


def _as_of_text(moment: datetime, tz: ZoneInfo) -> str:
    return moment.replace(tzinfo=tz).isoformat(timespec="seconds")


def freshness_gate(db: Database, hours: float, stale_ok: bool) -> str:
    runs = last_runs(db, 1)
    ok = last_successful_run(db)
    if not runs:
        raise StaleData("синхронизаций ещё не было — сначала выполните «asurso-sync sync --all»")
    if runs[0].status in ("failed", "interrupted") and not stale_ok:
        how = "прервана" if runs[0].status == "interrupted" else "завершилась ошибкой"
        raise StaleData(f"последняя синхронизация №{runs[0].id} {how}; повторите «asurso-sync sync»")
    if ok is None or ok.finished_at is None:
        if not stale_ok:
            raise StaleData("нет ни одной успешной синхронизации")
        return "нет успешной синхронизации"
    age = (datetime.now(UTC) - datetime.fromisoformat(ok.finished_at)).total_seconds() / 3600
    if age > hours and not stale_ok:
        raise StaleData(
            f"данные устарели: последняя успешная синхронизация {age:.0f} ч назад (допускается {hours:.0f} ч)"
        )
    when = f"{datetime.fromisoformat(ok.server_time):%d.%m.%Y %H:%M}" if ok.server_time else "—"
    text = f"синхронизация №{ok.id}, время сервера {when}"
    load = full_load_state(db)
    if load is not None and load.runs:
        text += "; данные неполные: первая полная загрузка не завершена (asurso-sync sync --all)"
    return text


def run_check(config: Config, opt: CheckOptions, db: Database | None = None) -> CheckOutcome:
    tz = config.school.tz
    own = db is None
    db = db or open_cache(config.cache.path, create=False, read_only_ok=True)
    store = not is_read_only(db)
    try:
        overrides = [
            Override(
                o.rule, list(o.grade), list(o.classes), list(o.subjects), list(o.teachers), dict(o.params), o.ignore
            )
            for o in config.rules.override
        ]
        bad = unknown_tokens(
            opt.select
            + opt.ignore
            + config.rules.select
            + config.rules.ignore
            + config.rules.to_teachers
            + [o.rule for o in overrides]
            + list(opt.params)
        )
        if bad:
            raise CheckUsageError(f"неизвестные правила: {', '.join(bad)} (список: «asurso-sync rules list»)")
        check_params(opt.params)
        names = _names(db)
        _check_filters(opt, names)
        freshness = freshness_gate(db, config.rules.freshness_hours, opt.stale_ok)
        as_of = opt.as_of or datetime.now(tz).replace(tzinfo=None, microsecond=0)
        start = opt.start or config.rules.check_from or _default_start(db) or as_of.date()
        end = opt.end or as_of.date()
        selection = Selection(
            select=opt.select or list(config.rules.select), ignore=[*config.rules.ignore, *opt.ignore]
        )
        params = {key: config.rules.params(key) for key in (config.rules.model_extra or {})}
        result = run_rules(
            db,
            as_of=as_of,
            start=start,
            end=end,
            selection=selection,
            rule_params=params,
            family_education=_students_listed(db, config.rules.family_education),
            part_time=_students_listed(db, config.rules.part_time_education),
            days_off=frozenset(config.school.days_off),
            work_program_approved=config.school.work_program_approved,
            overrides=overrides,
            cli_params=opt.params,
            active_waivers=waivers(db),
        )
        findings = [f.as_contract() for f in result.findings]
        settled = {f.fingerprint for f in result.findings if f.settled}
        # from here on the contract dicts carry everything: drop the Finding objects (~60 MB on a full year)
        result.findings.clear()
        counts = {"findings": len(findings), "undecided": dict(result.undecided), "waived": result.waived}
        run_id, findings, resolved = record_check(
            db,
            findings,
            as_of=_as_of_text(as_of, tz),
            period_from=start.isoformat(),
            period_to=end.isoformat(),
            rules=[r.code for r in result.rules],
            counts=counts,
            settled=settled,
            store=store,
        )
        findings = _filter(findings, opt, names)
        resolved = _filter(resolved, opt, names)
        if opt.finding is not None:
            findings = matching(findings, opt.finding)
            resolved = matching(resolved, opt.finding)
            if not findings and not resolved:
                raise CheckUsageError(
                    f"--finding: замечание «{opt.finding}» в этой проверке не найдено — укажите номер из письма "
                    "(8 знаков в скобках после кода правила) или слова строки замечания; период — --from/--to"
                )
        routes = rule_routes(load_catalogue(), config, released_rules(db))
        students = names_of(db).student
        for f in findings:  # where each goes: the teacher's list, the class teacher's part, the deputy's summary
            f["route"] = finding_route(f, routes)
            annotate(f, students)
        for f in resolved:
            annotate(f, students)
        if store:
            audit(
                db,
                "check",
                {"check_run": run_id, "from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat()},
                records=len(findings),
            )
        lessons = lessons_per_teacher(db, start, end, as_of.isoformat())
        return CheckOutcome(result, findings, resolved, run_id, names, lessons, freshness, frozenset(settled))
    finally:
        if own:
            db.close()


def annotate(f: dict[str, Any], students: dict[int, str]) -> None:
    """What every output of a finding carries besides the contract: ``kind`` (ruling R22: «task» — the teacher can
    still fix it — or «record», nothing left to fix) and the child's name where the finding is about one (R24)."""
    f["kind"] = "record" if f.get("record") else "task"
    student = f["entity"].get("student")
    if student is not None:
        f["student_name"] = students.get(student) or ""


def _students_listed(db: Database, listed: list[int | str]) -> frozenset[int]:
    """The school's own list of students (ids or full names) as ids: family or очно-заочная education."""
    ids: set[int] = set()
    by_name = {name.casefold(): i for i, name in names_of(db).student.items() if name}
    for item in listed:
        if isinstance(item, int) or str(item).isdigit():
            ids.add(int(item))
        elif str(item).casefold() in by_name:
            ids.add(by_name[str(item).casefold()])
    return frozenset(ids)


def _names(db: Database) -> dict[str, dict[int, str]]:
    known = names_of(db)
    return {"teacher": known.teacher, "class": known.class_, "group": known.group, "student": known.student}


def _teacher_matches(text: str, teacher_id: int | None, name: str | None) -> bool:
    return str(teacher_id) == text.strip() or fold(text) in fold(name or "")


def _default_start(db: Database) -> date | None:
    """Where a check starts unless told: the school year's first day once the year has been loaded completely
    (the first check sees the year; the first mailing keeps the backlog for the deputy), else the first sync's day
    (a half-loaded year would show only what happened to be read)."""
    if full_load_state(db) is None:
        return school_year_start(db) or first_observed_day(db)
    return first_observed_day(db)


def _check_filters(opt: CheckOptions, names: dict[str, dict[int, str]]) -> None:
    """A --teacher or --class that names nobody is a usage error with the closest names, not an empty report."""
    import difflib

    if opt.teacher and not any(_teacher_matches(opt.teacher, i, n) for i, n in names["teacher"].items()):
        known: dict[str, str] = {}  # a full name and its surname alone -> the full name
        for n in names["teacher"].values():
            if n:
                known.setdefault(fold(n), n)
                known.setdefault(fold(n.split()[0]), n)
        close = difflib.get_close_matches(fold(opt.teacher), list(known), n=5)
        similar = list(dict.fromkeys(known[c] for c in close))[:3]
        hint = f"; может быть: {', '.join(similar)}" if similar else ""
        raise CheckUsageError(f"--teacher: учителя «{opt.teacher}» в справочнике школы нет{hint}")
    if opt.class_name and fold(opt.class_name) not in {fold(n) for n in names["class"].values()}:
        classes = sorted(names["class"].values(), key=lambda n: (len(n), n))
        raise CheckUsageError(f"--class: класса «{opt.class_name}» нет; классы школы: {', '.join(classes)}")


def check_params(params: dict[str, dict[str, Any]]) -> None:
    """--param values against the rule's declared parameters and their types (``rules.registry.param_problem``,
    the same test the configuration's rule tables pass at load)."""
    catalogue = load_catalogue()
    by_name = {r.name: r for r in catalogue.values()}
    for key, values in params.items():
        rule = catalogue.get(key) or by_name.get(key)
        if rule is None:
            continue  # an unknown rule is reported with the others
        for name, value in values.items():
            if name not in rule.params:
                raise CheckUsageError(
                    f"--param {key}.{name}: у правила {rule.code} нет параметра «{name}»; есть: "
                    f"{', '.join(sorted(rule.params)) or 'никаких'}"
                )
            problem = param_problem(name, rule.params[name], value)
            if problem:
                raise CheckUsageError(f"--param {key}.{name}={value}: {problem}")


def _filter(items: list[dict[str, Any]], opt: CheckOptions, names: dict[str, dict[int, str]]) -> list[dict[str, Any]]:
    out = items
    if opt.teacher:
        out = [
            f
            for f in out
            if _teacher_matches(opt.teacher, f.get("teacher_id"), names["teacher"].get(f.get("teacher_id") or 0))
        ]
    if opt.class_name:
        wanted = fold(opt.class_name)
        out = [f for f in out if fold(names["class"].get(f.get("class_id") or 0) or "") == wanted]
    return out


# --- presentation ------------------------------------------------------------------------------------


def grouped(outcome: CheckOutcome) -> dict[str, dict[str, Counter[str]]]:
    """teacher → "class, subject" → rule → count."""
    tree: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for f in outcome.findings:
        teacher = outcome.names["teacher"].get(f.get("teacher_id") or 0) or "учитель не указан"
        where = (
            outcome.names["group"].get(f.get("sg_id") or 0) or outcome.names["class"].get(f.get("class_id") or 0) or "—"
        )
        tree[teacher][where][f["rule"]] += 1
    return tree


def on_time_share(outcome: CheckOutcome) -> dict[int, float]:
    """Per teacher: share of held lessons with no TML001–TML004 finding (filled on time)."""
    late: defaultdict[int, set[int]] = defaultdict(set)
    for f in outcome.findings:
        if f["rule"] in ("TML001", "TML002", "TML003", "TML004", "TML007") and f.get("teacher_id"):
            late[f["teacher_id"]].add(f["entity"]["cm"])
    return {t: max(0.0, 1 - len(late.get(t, set())) / n) for t, n in outcome.lessons_by_teacher.items() if n}


def undecided_by_rule(undecided: Mapping[str, int]) -> dict[str, int]:
    """The check's undecided items (no data on when an entry was made) per rule, zeros dropped: what ``check``
    prints and what the cabinet's overview shows (from the stored check's counts) — one count, computed here."""
    return {code: int(n) for code, n in sorted(undecided.items()) if n}


def to_jsonl(outcome: CheckOutcome) -> str:
    return "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in outcome.findings)


def jsonl_chunks(outcome: CheckOutcome) -> Iterator[bytes]:
    """The JSON Lines file line by line, UTF-8 (for writing a year's findings without holding the whole text)."""
    for f in outcome.findings:
        yield (json.dumps(f, ensure_ascii=False) + "\n").encode("utf-8")


def to_json(outcome: CheckOutcome) -> str:
    r = outcome.result
    return json.dumps(
        {
            "as_of": r.as_of.isoformat(),
            "from": r.start.isoformat(),
            "to": r.end.isoformat(),
            "check_run": outcome.run_id,
            "freshness": outcome.freshness,
            "rules": [x.code for x in r.rules],
            "undecided": dict(r.undecided),
            "findings": outcome.findings,
            "resolved": outcome.resolved,
        },
        ensure_ascii=False,
        indent=1,
    )


CSV_COLUMNS = [
    "rule",
    "title",
    "severity",
    "date",
    "message",
    "student",
    "teacher",
    "route",
    "class",
    "state",
    "kind",
    "first_seen",
    "fingerprint",
]
# ruling R22, as the deputy reads it
CSV_HEADER = [
    "правило",
    "название правила",
    "важность",
    "дата",
    "замечание",
    "обучающийся",
    "учитель",
    "кому",
    "класс",
    "состояние",
    "вид",
    "впервые",
    "отпечаток",
]


def _row(outcome: CheckOutcome, f: dict[str, Any]) -> list[Any]:
    return [
        f["rule"],
        _titles().get(f["rule"], ""),
        SEVERITY.get(f["severity"], f["severity"]),
        f.get("date"),
        f["message"],
        f.get("student_name", ""),
        outcome.names["teacher"].get(f.get("teacher_id") or 0, ""),
        ROUTE.get(f.get("route") or "", ""),
        outcome.names["class"].get(f.get("class_id") or 0, ""),
        FINDING_STATE.get(f["state"], f["state"]),
        (FINDING_KIND[f["kind"]] + (f" ({f['record']})" if f.get("record") else "")) if "kind" in f else "",
        f.get("first_seen"),
        f["fingerprint"],
    ]


def to_csv(outcome: CheckOutcome) -> bytes:
    """CSV that opens in Excel as is: UTF-8 with BOM, ';' as separator (the Russian locale's list separator)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";")
    w.writerow(CSV_HEADER)
    for f in outcome.findings:
        w.writerow(_row(outcome, f))
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(outcome: CheckOutcome, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "Сводка"
    rules = sorted({f["rule"] for f in outcome.findings})
    share = on_time_share(outcome)
    ws.append(["Учитель", "Уроков", "Заполнено в срок, %", *rules, "Всего"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    per: defaultdict[int, Counter[str]] = defaultdict(Counter)
    for f in outcome.findings:
        per[f.get("teacher_id") or 0][f["rule"]] += 1
    teachers = sorted(
        set(per) | set(outcome.lessons_by_teacher), key=lambda t: outcome.names["teacher"].get(t, "") or ""
    )
    for t in teachers:
        counts = per.get(t, Counter())
        pct = share.get(t)
        ws.append(
            [
                outcome.names["teacher"].get(t, "учитель не указан"),
                outcome.lessons_by_teacher.get(t, 0),
                round(pct * 100, 1) if pct is not None else None,
                *[counts.get(r, 0) for r in rules],
                sum(counts.values()),
            ]
        )
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = 36
    for i in range(2, len(rules) + 5):
        ws.column_dimensions[get_column_letter(i)].width = 11
    families: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in outcome.findings:
        families[f["rule"][:3]].append(f)
    for fam in sorted(families):
        sheet = wb.create_sheet(FAMILY_TITLES.get(fam, fam)[:31])
        sheet.append([h[:1].upper() + h[1:] for h in CSV_HEADER])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for f in families[fam]:
            sheet.append(_row(outcome, f))
        sheet.freeze_panes = "A2"
        for col, width in zip("ABCDEFGHIJKLM", (9, 30, 9, 11, 70, 30, 30, 22, 8, 10, 24, 26, 22), strict=True):
            sheet.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    from cache.files import write_private_bytes

    write_private_bytes(path, buf.getvalue())


def _sample(r: Any) -> str:
    """A sample remark for ``rules explain`` when the rule has no example of its own."""
    where = "8б, Алгебра, 23.11.2026, урок 3" if "cm" in r.entity or "assignment" in r.entity else "8б, Алгебра"
    return f"{where}: {r.title[0].lower()}{r.title[1:]}"


def rule_rows() -> list[dict[str, Any]]:
    return [
        {
            "code": r.code,
            "name": r.name,
            "title": r.title,
            "clause": r.clause,
            "severity": r.severity,
            "entity": list(r.entity),
            "params": r.params,
            "core": r.core,
            "preview": r.preview,
            "owner": r.owner,
            "predicate": r.predicate,
            "doc": r.doc,
            "example": r.example or _sample(r),
            "advice": r.advice,
            "sql": r.sql is not None,
        }
        for r in all_rules()
    ]


def rule_sql(code: str, params: dict[str, Any], today: date) -> tuple[str, list[Any]] | None:
    """The query an SQL rule reads the cache with, and its parameters for ``params`` (a check of the week up to
    ``today``); None for rules computed in Python."""
    from typing import cast

    from rules.context import RuleContext
    from rules.facts import Facts

    r = load_catalogue()[code]
    if r.sql is None:
        return None
    moment = datetime.combine(today, datetime.min.time())
    ctx = RuleContext(cast(Database, None), Facts(), moment, today - timedelta(days=6), today, {code: params})
    ctx.current = r
    return r.sql(ctx)


__all__ = ["CheckOptions", "CheckOutcome", "CheckUsageError", "StaleData", "run_check"]


@functools.cache
def _titles() -> dict[str, str]:
    """Each rule's Russian title by code (the catalogue's): beside the code wherever a person reads it."""
    return {r["code"]: r["title"] for r in rule_rows()}
