"""Marks (MRK): the scale, grade 1, marks beside absences, marks that should not exist; the school's own mark
sequences (MRK007, MRK008, MRK010: not in the Положение).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from rules.context import ABSENT, DEFAULT_IN_LESSON, Finding, RuleContext
from rules.facts import M_NUMERIC, Assignment, Lesson
from rules.helpers import (
    ABSENCE_KIND,
    NO_CODES,
    codes_at,
    due_by_id,
    due_lessons,
)
from rules.registry import rule
from rules.sequences import sequence_findings


def _marks_of_lessons(ctx: RuleContext, grades: Callable[[int], bool]) -> Iterator[tuple[Lesson, Assignment, int, int]]:
    """(lesson, assignment, student, mark) of the numeric marks of the period's lessons in the chosen grades."""
    grade_of: dict[int, bool] = {}
    for lesson in due_lessons(ctx):
        wanted = grade_of.get(lesson.sg)
        if wanted is None:
            wanted = grade_of[lesson.sg] = grades(ctx.facts.grade(lesson.sg))
        if not wanted:
            continue
        for a in lesson.work:
            marks = a.marks
            if marks is not None:
                for student, mark in zip(marks.students, marks.values, strict=True):
                    yield lesson, a, student, mark


def mark_scale(ctx: RuleContext) -> tuple[int, int]:
    """The scale MRK001 checks (ruling R5): 1–5 by default; the school's ``min``/``max`` when it set them, else the
    server's own scale (``school/settings`` minMark/maxMark) when it sends one."""
    bounds = []
    for name, key in (("min", "minMark"), ("max", "maxMark")):
        server = str(ctx.facts.settings.get(key) or "").strip()
        if not ctx.configured(name) and server.isdigit():
            bounds.append(int(server))
        else:
            bounds.append(int(ctx.p(name)))
    return bounds[0], bounds[1]


def _scale_bound(ctx: RuleContext, name: str, key: str) -> tuple[str, list[Any]]:
    """SQL for one end of ``mark_scale``: the school's value, else the server's setting, else the default."""
    if ctx.configured(name):
        return "?", [int(ctx.p(name))]
    server = (
        'coalesce((SELECT CAST(trim("value") AS INTEGER) FROM "school_setting" WHERE "key" = ? AND "gone_at" IS NULL '
        "AND trim(\"value\") GLOB '[0-9]*'), ?)"
    )
    return server, [key, int(ctx.p(name))]


def _mrk001_sql(ctx: RuleContext) -> tuple[str, list[Any]]:
    """Numeric marks outside the scale (``mark_scale``, decided in SQL too), with their lesson (the grade and the
    lesson's due time: Python)."""
    low, low_params = _scale_bound(ctx, "min", "minMark")
    high, high_params = _scale_bound(ctx, "max", "maxMark")
    sql = (
        'SELECT json_array(a."class_meeting_id", m."assignment_id", m."student_id", m."mark") AS x FROM "mark" m '
        'JOIN "assignment" a ON a."id" = m."assignment_id" AND a."gone_at" IS NULL '
        f'WHERE m."gone_at" IS NULL AND {M_NUMERIC} '
        f'AND CAST(trim(m."mark") AS INTEGER) NOT BETWEEN {low} AND {high}'
    )
    return sql, [*low_params, *high_params]


@rule(
    "MRK001",
    "mark-out-of-scale",
    "Отметка вне 5-балльной шкалы",
    clause="5.3",
    advice="исправьте отметку: по пятибалльной шкале допустимы 1, 2, 3, 4, 5",
    entity=("assignment", "student"),
    params={"min": 1, "max": 5},
    core=True,
    predicate="2–11 классы: числовая отметка вне шкалы 1–5 (шкала сервера, если он её сообщает; min/max — школы)",
    sql=_mrk001_sql,
)
def mrk001(ctx: RuleContext) -> Iterator[Finding]:
    """Marks of grades 2–11 are on the 5-point scale 1–5 (Положение 5.3, ruling R5); «1» is in the scale."""
    low, high = mark_scale(ctx)
    due = due_by_id(ctx)
    for cm, aid, student, text in ctx.rows():
        lesson = due.get(cm)
        if lesson is None or ctx.facts.grade(lesson.sg) < 2 or low <= (mark := int(text)) <= high:
            continue
        yield ctx.lesson_finding(lesson, {"assignment": aid, "student": student}, f"отметка «{mark}» вне шкалы")


@rule(
    "MRK002",
    "grade1-mark",
    "Отметка в 1 классе",
    clause="4.2.5.2, 5.3",
    advice="удалите отметку: в 1 классе обучение безотметочное",
    entity=("assignment", "student"),
    core=True,
    predicate="в 1 классе выставлена числовая отметка (обучение безотметочное)",
)
def mrk002(ctx: RuleContext) -> Iterator[Finding]:
    """Grade 1 is taught without marks."""
    for lesson, a, student, mark in _marks_of_lessons(ctx, lambda grade: grade == 1):
        yield ctx.lesson_finding(lesson, {"assignment": a.id, "student": student}, f"отметка «{mark}» в 1 классе")


def _has_entry(ctx: RuleContext, lesson: Lesson, student: int) -> bool:
    """Has the student a numeric mark or an attendance code at the lesson?"""
    if student in codes_at(ctx, lesson):
        return True
    return any(a.marks is not None and student in a.marks.students for a in lesson.work)


def _mrk003_sql(ctx: RuleContext) -> tuple[str, list[Any]]:
    """Absences (УП, НП, ОТ, Б) of students who have a numeric mark for work assessed in that lesson (an «in the
    lesson» type), with 1 when such a mark was first seen on the lesson's day (a later mark is make-up work, R3;
    the access report may still show it was entered that day)."""
    sql = (
        'SELECT json_array(t."class_meeting_id", t."student_id", '
        'max(substr(m."first_seen_at", 1, 10) <= cm."day")) AS x FROM "attendance" t '
        'JOIN "class_meeting" cm ON cm."id" = t."class_meeting_id" '
        'CROSS JOIN "assignment" a CROSS JOIN "mark" m JOIN "assignment_type" y ON y."id" = a."type_id" '
        'WHERE t."gone_at" IS NULL AND t."reason" IN (SELECT "value" FROM json_each(?)) '
        'AND a."class_meeting_id" = t."class_meeting_id" AND a."gone_at" IS NULL '
        'AND m."assignment_id" = a."id" AND m."student_id" = t."student_id" '
        f'AND m."gone_at" IS NULL AND {M_NUMERIC} '
        'AND lower(trim(y."name")) IN (SELECT lower("value") FROM json_each(?)) '
        'GROUP BY t."class_meeting_id", t."student_id"'
    )
    kinds = [str(x).strip() for x in ctx.p("in_lesson_types")]
    return sql, [json.dumps(sorted(ABSENT), ensure_ascii=False), json.dumps(kinds, ensure_ascii=False)]


def _marked_that_day(ctx: RuleContext, lesson: Lesson, student: int) -> bool:
    """Exact evidence (the access report) that the student's «in the lesson» mark was entered on the lesson's day:
    every «Отметка» entry of its type at the lesson is of that day (the entries do not name the student, so a later
    entry of the type — a make-up, perhaps — leaves it undecided)."""
    kinds = {str(x).strip().casefold() for x in ctx.p("in_lesson_types")}
    day = lesson.day.isoformat()
    return any(
        a.marks is not None
        and student in a.marks.students
        and a.marked is not None
        and a.marked[1][:10] <= day
        and ctx.facts.type_name.get(a.type_id, "").strip().casefold() in kinds
        for a in lesson.work
    )


def _class_teacher_may_have_entered(ctx: RuleContext, lesson: Lesson) -> bool:
    """Ruling R4: a mark the class teacher (of the lesson's date, R6) enters on a lesson where the student has «Б» is
    her transfer from a certificate. She entered the lesson's marks when she taught it herself, or the access report
    shows her entering a mark at it (its entries do not name the student: any such entry leaves the mark hers, R0).
    An ИУП group has no class teacher to ask about: not this path."""
    cls = ctx.facts.group_class.get(lesson.sg)
    chief = ctx.facts.chief_on(cls, lesson.day) if cls is not None else None
    if chief is None:
        return False
    if ctx.facts.lesson_teacher(lesson) == chief:
        return True
    return (
        ctx.db.execute(
            'SELECT 1 FROM "access_log" WHERE "cm_id" = ? AND "kind" = \'mark\' AND "user_id" = ? LIMIT 1',
            [lesson.id, chief],
        ).fetchone()
        is not None
    )


@rule(
    "MRK003",
    "mark-and-absence",
    "Отметка «на уроке» у отсутствовавшего — вероятная ошибка данных",
    clause="5.4",
    advice="сверьте отметку и отметку об отсутствии",
    entity=("cm", "student"),
    severity="info",
    params={"in_lesson_types": list(DEFAULT_IN_LESSON)},
    core=True,
    owner="deputy",
    predicate="в день урока выставлена отметка за работу на уроке (вид из in_lesson_types) обучающемуся с "
    "отсутствием УП/НП/ОТ/Б на этом уроке — сведения для завуча (досдача позже и отметки из больницы — не это; "
    "отметка при «Б», внесённая классным руководителем, — из больницы, R4)",
    sql=_mrk003_sql,
)
def mrk003(ctx: RuleContext) -> Iterator[Finding]:
    """A mark and an absence on one lesson are not forbidden by 5.4 (make-up work, hospital marks: rulings R3, R4);
    only a same-day mark for work assessed in the lesson beside an absence is a likely data error — information
    for the deputy, never a teacher's remark (R14). The access report's «ОТ», later clarified, counts as absent."""
    codes_of, due = ctx.facts.codes, due_by_id(ctx)
    for cm, student, seen_that_day in sorted(ctx.rows()):
        lesson, codes = due.get(cm), codes_of.get(cm, NO_CODES)
        if lesson is None or codes.get(student) not in ABSENT:
            continue
        if codes.get(student) == "Б" and _class_teacher_may_have_entered(ctx, lesson):
            continue  # R4: the class teacher's transfer from a certificate — no conflict with «Б»
        if seen_that_day or _marked_that_day(ctx, lesson, student):
            yield ctx.lesson_finding(
                lesson,
                {"cm": lesson.id, "student": student},
                f"отметка при отсутствии на уроке ({ABSENCE_KIND.get(codes[student], 'отсутствие')})",
            )


@rule(
    "MRK004",
    "exempt-student-marked",
    "Отметка или посещаемость у обучающегося на дому / на семейном обучении",
    clause="5.5",
    advice="удалите отметку/посещаемость: ученик обучается на дому или в семье",
    entity=("cm", "student"),
    core=True,
    predicate="отметка или код посещаемости у обучающегося на дому (individualEduc) или на семейном обучении",
)
def mrk004(ctx: RuleContext) -> Iterator[Finding]:
    """Home-schooled and family-education students are not marked or registered in the class journal."""
    exempt_in: dict[tuple[int, int | None], list[int]] = {}  # the group's exempt students and family education
    for lesson in due_lessons(ctx):
        key = (lesson.sg, lesson.term)
        exempt = exempt_in.get(key)
        if exempt is None:
            enrolled = ctx.facts.enrollment.get((lesson.sg, lesson.term or 0), {})
            found = {s for s in enrolled if ctx.exempt(lesson.sg, lesson.term, s)} | ctx.family_education
            exempt = exempt_in[key] = sorted(found)
        for student in exempt:
            if _has_entry(ctx, lesson, student):
                yield ctx.lesson_finding(
                    lesson,
                    {"cm": lesson.id, "student": student},
                    "отметка или посещаемость у обучающегося на дому / семейном обучении",
                )


@rule(
    "MRK005",
    "departed-student-marked",
    "Отметка или посещаемость у выбывшего ученика",
    clause="5.7",
    advice="удалите отметку/посещаемость: ученик выбыл из группы",
    entity=("cm", "student"),
    core=True,
    predicate="отметка или код посещаемости на уроке после дня выбытия (первый день, когда список группы показал "
    "ученика выбывшим)",
)
def mrk005(ctx: RuleContext) -> Iterator[Finding]:
    """After a student has left, their row is read-only: nothing is entered for later lessons."""
    departed: defaultdict[tuple[int, int], list[tuple[int, date]]] = defaultdict(list)
    for (sg, term, student), day in sorted(ctx.facts.left_on.items()):
        departed[(sg, term)].append((student, day))
    for lesson in due_lessons(ctx):
        for student, day in departed.get((lesson.sg, lesson.term or 0), ()):
            if day < lesson.day and _has_entry(ctx, lesson, student):
                yield ctx.lesson_finding(
                    lesson, {"cm": lesson.id, "student": student}, "отметка или посещаемость у выбывшего ученика"
                )


@rule(
    "MRK007",
    "two-after-absence",
    "«2» сразу после пропуска",
    clause="—",
    advice="проверьте отметку «2» сразу после пропуска",
    entity=("cm", "student"),
    severity="warning",
    predicate="неудовлетворительная отметка на первом уроке после отсутствия (Б, УП, НП)",
    basis="school",
)
def mrk007(ctx: RuleContext) -> Iterator[Finding]:
    """A «2» on the first lesson after an absence usually means the student had no chance to catch up."""
    return iter(sequence_findings(ctx, "MRK007"))


@rule(
    "MRK008",
    "two-not-followed-up",
    "«2» не исправлена за 3 урока",
    clause="—",
    advice="дайте возможность исправить «2»",
    entity=("cm", "student"),
    severity="warning",
    params={"lessons": 3},
    predicate="после «2» обучающийся не получил ни одной отметки в следующие 3 урока группы",
    basis="school",
)
def mrk008(ctx: RuleContext) -> Iterator[Finding]:
    """After a «2» the student should be given a chance to improve: another mark within a few lessons."""
    return iter(sequence_findings(ctx, "MRK008"))


@rule(
    "MRK010",
    "chain-of-twos",
    "Цепочка неудовлетворительных отметок",
    clause="—",
    advice="обратите внимание на серию неудовлетворительных отметок",
    entity=("cm", "student"),
    severity="info",
    params={"chain": 2},
    owner="deputy",
    predicate="у обучающегося подряд 2 и более «2» по предмету (сигнал классному руководителю и завучу)",
    basis="school",
)
def mrk010(ctx: RuleContext) -> Iterator[Finding]:
    """Consecutive unsatisfactory marks are an academic-risk signal for the class teacher and the deputy."""
    return iter(sequence_findings(ctx, "MRK010"))


RULES = (
    mrk001,
    mrk002,
    mrk003,
    mrk004,
    mrk005,
    mrk007,
    mrk008,
    mrk010,
)
