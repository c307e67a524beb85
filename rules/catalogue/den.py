"""Density (DEN): current marks by the weekly load (the school's numbers, ruling R13); the school's own gap and
per-lesson signals (DEN003, DEN004: not in the Положение).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date
from typing import Any

from rules.context import Finding, RuleContext
from rules.facts import M_NUMERIC
from rules.helpers import (
    due_by_id,
    written_types,
)
from rules.registry import rule
from rules.sequences import sequence_findings
from rules.terms import (
    TermRow,
    counted_term_rows,
    joined_on,
    term_finding,
    weekly_hours,
)
from rules.wording import MARKS, count


@rule(
    "DEN001",
    "marks-too-few",
    "Недостаточная накопляемость отметок",
    clause="4.2.5.2",
    advice="выставьте недостающие текущие отметки",
    entity=("student", "sg", "term"),
    params={"quarter": {}, "half_year": {}, "late_joiners": "auto"},
    core=True,
    predicate="только с порогами школы (quarter, half_year: часов в неделю → отметок): после окончания периода у "
    "обучающегося меньше текущих отметок, чем требует недельная нагрузка; не считаются освобождённые, обучающиеся "
    "на дому и в семье, болевшие больше половины уроков, группы без числовых отметок, 1 класс; пришедшему в группу "
    "позже начала периода порог уменьшается по доле уроков с его прихода, а пробывшего в ней меньше половины "
    "периода не считают (late_joiners: auto; pro_rata — всегда по доле, skip — не считать пришедших позже)",
)
def den001(ctx: RuleContext) -> Iterator[Finding]:
    """Marks accumulate «в соответствии с недельной нагрузкой» (4.2.5.2), but the Положение gives no numbers: the
    rule runs only with the school's thresholds (ruling R13), and not for the students R13 leaves out."""
    quarter = {int(k): int(v) for k, v in dict(ctx.p("quarter") or {}).items()}
    half = {int(k): int(v) for k, v in dict(ctx.p("half_year") or {}).items()}
    if not quarter and not half:
        return  # no thresholds configured: the rule does not run
    needs: dict[tuple[int, int], int | None] = {}  # (group, term) -> marks needed
    for row in counted_term_rows(ctx):
        key = (row.sg, row.term)
        if key not in needs:
            table = half if row.term_type == 2 else quarter
            hours = weekly_hours(ctx, row.sg, row.start, row.end)
            needs[key] = table.get(min(max(hours, 1), 3)) if table else None
        need = needs[key]
        joined = joined_on(ctx, row.sg, row.term, row.start, row.end, row.student)
        if need is not None and joined is not None:
            need = _since_joining(ctx, row, joined, need, str(ctx.p("late_joiners")))
        if need is not None and row.count < need:
            yield term_finding(ctx, row, f"у обучающегося {count(row.count, *MARKS)}, нужно не меньше {need}")


def _since_joining(ctx: RuleContext, row: TermRow, joined: date, need: int, policy: str) -> int | None:
    """Ruling R13 for a student who joined the group after the term began: the need scaled to the group's lessons
    since he joined (rounded up); None — not counted — with ``skip``, or with ``auto`` when he was in the group for
    less than half of the term's days."""
    if policy == "skip":
        return None
    if policy == "auto" and (row.end - joined).days + 1 < ((row.end - row.start).days + 1) / 2:
        return None
    days = [le.day for le in ctx.facts.lessons_by_sg.get(row.sg, []) if row.start <= le.day <= row.end]
    since = sum(1 for d in days if d >= joined)
    return math.ceil(need * since / len(days)) if days else None


@rule(
    "DEN003",
    "long-gap-without-marks",
    "Долгий перерыв без отметок",
    clause="—",
    advice="проверьте, почему у ученика долго нет отметок",
    entity=("student", "sg"),
    severity="warning",
    params={"lessons": 8},
    predicate="присутствовавший обучающийся не получал отметок по предмету больше 8 уроков подряд",
    basis="school",
)
def den003(ctx: RuleContext) -> Iterator[Finding]:
    """Marks accumulate steadily; a long run of lessons without any mark hides problems until the term's end."""
    return iter(sequence_findings(ctx, "DEN003"))


def _den004_sql(ctx: RuleContext) -> tuple[str, list[Any]]:
    """The period's lessons without written work and with fewer numeric marks than the minimum (the grade and the
    lesson's due time: Python)."""
    sql = (
        'SELECT json_array(c."id") AS x FROM "class_meeting" c WHERE c."gone_at" IS NULL AND c."day" BETWEEN ? AND ? '
        'AND NOT EXISTS (SELECT 1 FROM "assignment" a LEFT JOIN "assignment_type" t ON t."id" = a."type_id" '
        'AND t."gone_at" IS NULL WHERE a."class_meeting_id" = c."id" AND a."gone_at" IS NULL '
        'AND coalesce(t."name", \'\') IN (SELECT "value" FROM json_each(?))) '
        'AND (SELECT count(*) FROM "assignment" a JOIN "mark" m ON m."assignment_id" = a."id" '
        'WHERE a."class_meeting_id" = c."id" AND a."gone_at" IS NULL AND m."gone_at" IS NULL '
        f"AND {M_NUMERIC}) < ?"
    )
    written = json.dumps(sorted(written_types(ctx)), ensure_ascii=False)
    return sql, [ctx.start.isoformat(), ctx.end.isoformat(), written, int(ctx.p("min_marks"))]


@rule(
    "DEN004",
    "lesson-few-marks",
    "Мало отметок на уроке",
    clause="—",
    advice="проверьте, все ли отметки за урок внесены",
    entity=("cm",),
    severity="info",
    params={"min_marks": 1},
    predicate="на проведённом уроке 2–11 класса не выставлено ни одной отметки (урок без оценивания)",
    sql=_den004_sql,
    basis="school",
)
def den004(ctx: RuleContext) -> Iterator[Finding]:
    """Information for the deputy: lessons where nobody was assessed."""
    f, due = ctx.facts, due_by_id(ctx)  # written work is marked within 7 days: TML005's business
    for (cm,) in ctx.rows():
        lesson = due.get(cm)
        if lesson is not None and f.grade(lesson.sg) >= 2:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, "на уроке не выставлено ни одной отметки")


RULES = (
    den001,
    den003,
    den004,
)
