"""Attendance (ATT): the codes, «ОТ» left unclarified, codes entered late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from rules.context import Finding, RuleContext
from rules.evidence import Verdict, ts
from rules.facts import Lesson
from rules.helpers import (
    NO_CODES,
    count_verdict,
    due_by_id,
    due_lessons,
)
from rules.registry import rule


@rule(
    "ATT001",
    "attendance-code-invalid",
    "Недопустимый код отсутствия",
    clause="5.4",
    advice="замените код на допустимый (УП, НП, ОТ, Б, ОП)",
    entity=("cm", "student"),
    params={"allowed": ["УП", "НП", "ОТ", "Б", "ОП"], "allow_osv": True},
    core=True,
    predicate="код посещаемости не из набора Положения (УП, НП, ОТ, Б, ОП); «ОСВ» освобождённого от предмета "
    "допустим (allow_osv = false — запретить)",
    extracurricular=True,
)
def att001(ctx: RuleContext) -> Iterator[Finding]:
    """Only the Положение's attendance codes may be used (5.4); «ОСВ» marks a student exempt from the subject, an
    exemption and not an absence (ruling R11). Who is exempt the server does not say: the code is not doubted."""
    allowed = set(ctx.p("allowed")) | ({"ОСВ"} if ctx.p("allow_osv") else set())
    codes_of = ctx.facts.codes
    for lesson in due_lessons(ctx):
        codes = codes_of.get(lesson.id)
        if not codes or allowed.issuperset(codes.values()):
            continue
        for student, code in sorted(codes.items()):
            if code not in allowed:
                yield ctx.lesson_finding(
                    lesson, {"cm": lesson.id, "student": student}, f"недопустимый код отсутствия «{code}»"
                )


@rule(
    "ATT003",
    "attendance-late",
    "Отметка об отсутствии внесена позже 16:00",
    clause="3.7, 4.2.5.1, 5.1",
    advice="вносите отсутствующих в день урока, до 16:00",
    entity=("cm", "student"),
    params={"deadline": "16:00", "grace_minutes": 10},
    core=True,
    predicate="по отчёту о доступе код отсутствия впервые внесён после 16:00 дня урока (урок, кончившийся позже, — "
    "до конца его дня); только по точному времени; исправление причины позже (ОТ → Б) — не внесение",
    extracurricular=True,
)
def att003(ctx: RuleContext) -> Iterator[Finding]:
    """Attendance is entered on the lesson day by 16:00 (3.7, 5.4). Only exact evidence convicts (the access
    report's first «Посещаемость» entry for the student on that lesson); a code seen by the 16:05 snapshot was
    entered on time; any other code is undecided — never a violation (rulings R11, R18). A later change of the
    reason is a correction, not an entry (R17)."""
    due = ctx.due_table()
    lessons = due_by_id(ctx)
    names = ctx.facts.student_by_name
    late: list[tuple[int, int, str]] = []
    exact: set[int] = set()  # (cm, student) packed into one int: the codes the report times (a year: ~10⁵)
    for cm, student, first in ctx.db.execute(
        'SELECT "cm_id", substr("detail", instr("detail", \'|\') + 1), min("at") FROM "access_log" '
        # an entry without its code and student (a cell with the code alone) says nothing about whom: R18
        'WHERE "kind" = \'attendance\' AND "cm_id" IS NOT NULL AND "detail" LIKE \'%|%\' AND "at" <= ? GROUP BY 1, 2',
        [ts(ctx.as_of)],
    ):
        lesson = lessons.get(cm)
        sid = names.get(" ".join(student.split()).casefold()) if lesson is not None else None
        if lesson is None or sid is None:
            continue
        exact.add(cm * _PACK + sid)
        if ctx.exact_at(first, due.of(lesson)) is Verdict.LATE:
            late.append((cm, sid, first))
    for cm, sid, first in sorted(late):
        yield ctx.lesson_finding(
            lessons[cm],
            {"cm": cm, "student": sid},
            f"отсутствие внесено {first[8:10]}.{first[5:7]} в {first[11:16]}, позже срока",
            evidence="exact",
        )
    for (cm, sid), seen in ctx.facts.code_seen.items():  # the rest: what the observations prove
        lesson = lessons.get(cm)
        if lesson is not None and cm * _PACK + sid not in exact and seen > due.of(lesson).in_time:
            count_verdict(ctx, Verdict.UNDECIDED, lesson.sg)  # seen only after the deadline: when entered, unknown


_PACK = 1 << 32  # student ids fit in 32 bits


def _reason_at(ctx: RuleContext, lesson: Lesson, student: int, moment: str) -> str | None:
    current = ctx.facts.codes.get(lesson.id, NO_CODES).get(student)
    seen = ctx.facts.code_seen.get((lesson.id, student))
    if seen is None or seen > moment:  # no row yet at that moment
        return None
    history = ctx.facts.attendance_history.get((lesson.id, student), [])
    value = history[0][1] if history else current
    for at, _old, new in history:
        if at <= moment:
            value = new
    return value


@rule(
    "ATT002",
    "absence-unclarified",
    "Причина отсутствия «ОТ» не уточнена классным руководителем",
    clause="4.2.6.4",
    advice="уточните причину отсутствия (УП или НП) вместо «ОТ»",
    entity=("cm", "student"),
    severity="warning",
    params={"school_days": 3, "deadline": "23:59"},
    core=True,
    owner="chief",
    predicate="код «ОТ» всё ещё стоит в конце 3-го учебного дня после урока (school_days, deadline)",
    extracurricular=True,
)
def att002(ctx: RuleContext) -> Iterator[Finding]:
    """The class teacher clarifies «ОТ» (absent, reason unknown) — «ежедневно корректирует» (4.2.6.4): still
    unclarified at the end of the 3rd school day after the lesson it is a warning to the class teacher (ruling R12).
    A later change of the reason (ОТ → Б) is a correction, not a late entry."""
    f = ctx.facts
    due = ctx.due_table()
    school_days = int(ctx.p("school_days"))
    deadlines: dict[date, datetime] = {}
    # lessons where «ОТ» was ever replaced (the code now in force may be another)
    replaced = {
        cm for (cm, _student), history in f.attendance_history.items() if any(o == "ОТ" for _a, o, _n in history)
    }
    for lesson in due_lessons(ctx):
        rows = f.codes.get(lesson.id)
        if not rows or ("ОТ" not in rows.values() and lesson.id not in replaced):
            continue
        deadline = deadlines.get(lesson.day)
        if deadline is None:
            day = lesson.day
            for _ in range(school_days):
                day = f.next_school_day(day)
            deadline = deadlines[lesson.day] = due[day].moment
        if not ctx.passed(deadline):
            continue
        assert ctx.observations is not None
        for student, reason in sorted(rows.items()):
            history = f.attendance_history.get((lesson.id, student), [])
            if reason != "ОТ" and not any(old == "ОТ" for _at, old, _new in history):
                continue
            versions = f.exact_attendance.get((lesson.id, student))
            if versions:  # exact: the code in force at the deadline, from the access report
                limit = ts(deadline)
                in_force = [code for at, code in versions if at <= limit]
                if in_force and in_force[-1] == "ОТ":
                    yield ctx.lesson_finding(
                        lesson,
                        {"cm": lesson.id, "student": student},
                        f"причина отсутствия «ОТ» не уточнена к {deadline:%d.%m %H:%M}",
                        owner="chief",
                        evidence="exact",
                    )
                if in_force:
                    continue
            seen = ctx.observations.first_at_or_after(ctx.journal_key(lesson.sg, lesson.term), ts(deadline))
            if seen is None:
                count_verdict(ctx, Verdict.UNDECIDED, lesson.sg)
            elif _reason_at(ctx, lesson, student, seen) == "ОТ":
                yield ctx.lesson_finding(
                    lesson,
                    {"cm": lesson.id, "student": student},
                    f"причина отсутствия «ОТ» не уточнена к {deadline:%d.%m %H:%M}",
                    owner="chief",
                )


RULES = (
    att001,
    att002,
    att003,
)
