"""Federal recommendations on оценочные процедуры (OCP, letter of 06.08.2021): preview rules, run only when the
school selects them, and for teachers only through ``[rules] to_teachers``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from itertools import pairwise

from rules.context import Finding, RuleContext
from rules.facts import Lesson
from rules.helpers import (
    due_lessons,
)
from rules.registry import rule
from rules.wording import PROCEDURES, count

CONTROL_TYPES = ["Контрольная работа", "Диагностическая контрольная работа", "Тематическая работа", "Диктант"]


def _control_lessons(ctx: RuleContext) -> list[tuple[Lesson, str]]:
    """The period's lessons with a control work, and its type (shared by the OCP rules with the same types)."""
    kinds = frozenset(ctx.p_default("control_types", CONTROL_TYPES))
    key = ("control-lessons", kinds)
    hit: list[tuple[Lesson, str]] | None = ctx.memo.get(key)
    if hit is None:
        hit = ctx.memo[key] = []
        type_name = ctx.facts.type_name
        for lesson in due_lessons(ctx):
            for a in lesson.work:
                name = type_name.get(a.type_id, "")
                if name in kinds:
                    hit.append((lesson, name))
                    break
    return hit


@rule(
    "OCP001",
    "control-works-too-often",
    "Оценочные процедуры по предмету чаще раза в 2,5 недели",
    clause="письмо Минпросвещения и Рособрнадзора от 06.08.2021",
    advice="сверьте график оценочных процедур",
    entity=("cm",),
    severity="warning",
    params={"days": 17, "control_types": CONTROL_TYPES},
    preview=True,
    predicate="в группе две контрольные (оценочные) работы ближе, чем через 17 дней",
    basis="federal",
)
def ocp001(ctx: RuleContext) -> Iterator[Finding]:
    """Federal recommendation: at most one оценочная процедура per subject per 2.5 weeks."""
    days = int(ctx.p("days"))
    by_sg: defaultdict[int, list[Lesson]] = defaultdict(list)
    for lesson, _name in _control_lessons(ctx):
        by_sg[lesson.sg].append(lesson)
    for lessons in by_sg.values():
        lessons.sort(key=lambda le: le.day)
        for prev, cur in pairwise(lessons):
            if (cur.day - prev.day).days < days:
                yield ctx.lesson_finding(
                    cur,
                    {"cm": cur.id},
                    f"оценочная процедура через {(cur.day - prev.day).days} дн. после предыдущей ({prev.day:%d.%m})",
                )


@rule(
    "OCP003",
    "control-work-first-or-last",
    "Оценочная процедура на первом или последнем уроке дня",
    clause="письмо Минпросвещения и Рособрнадзора от 06.08.2021",
    advice="перенесите оценочную процедуру с первого/последнего урока",
    entity=("cm",),
    severity="warning",
    params={"control_types": CONTROL_TYPES},
    preview=True,
    predicate="контрольная работа на первом или последнем уроке дня класса (кроме предметов с 1 часом в неделю)",
    basis="federal",
)
def ocp003(ctx: RuleContext) -> Iterator[Finding]:
    """Federal recommendation: no оценочные процедуры on the first or the last lesson of the day."""
    f = ctx.facts
    per_week: dict[int, Counter[tuple[int, int]]] = {}
    day_bounds: dict[tuple[int, date], tuple[int, int]] = {}
    for lesson in f.lessons.values():
        if lesson.number is None:
            continue
        key = (f.group_class.get(lesson.sg, 0), lesson.day)
        lo, hi = day_bounds.get(key, (lesson.number, lesson.number))
        day_bounds[key] = (min(lo, lesson.number), max(hi, lesson.number))
    for lesson, name in _control_lessons(ctx):
        bounds = day_bounds.get((f.group_class.get(lesson.sg, 0), lesson.day))
        if lesson.number is None or bounds is None or lesson.number not in bounds:
            continue
        weeks = per_week.get(lesson.sg)
        if weeks is None:  # the group's lessons per ISO week
            weeks = per_week[lesson.sg] = Counter(le.day.isocalendar()[:2] for le in f.lessons_by_sg.get(lesson.sg, []))
        if weeks[lesson.day.isocalendar()[:2]] <= 1:
            continue
        place = "первом" if lesson.number == bounds[0] else "последнем"
        yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"{name} на {place} уроке дня")


@rule(
    "OCP005",
    "control-works-same-day",
    "Больше одной оценочной процедуры в классе за день",
    clause="письмо Минпросвещения и Рособрнадзора от 06.08.2021",
    advice="согласуйте оценочные процедуры класса на этот день",
    entity=("cm",),
    severity="warning",
    params={"per_day": 1, "control_types": CONTROL_TYPES},
    preview=True,
    predicate="в один день в классе больше одной контрольной работы",
    basis="federal",
)
def ocp005(ctx: RuleContext) -> Iterator[Finding]:
    """Federal recommendation: at most one оценочная процедура per class per day."""
    per_day = int(ctx.p("per_day"))
    by_day: defaultdict[tuple[int, date], list[Lesson]] = defaultdict(list)
    for lesson, _name in _control_lessons(ctx):
        by_day[(ctx.facts.group_class.get(lesson.sg, 0), lesson.day)].append(lesson)
    for lessons in by_day.values():
        if len(lessons) > per_day:
            for lesson in sorted(lessons, key=lambda le: le.number or 0)[per_day:]:
                yield ctx.lesson_finding(
                    lesson,
                    {"cm": lesson.id},
                    f"{count(len(lessons), *PROCEDURES)} в классе за день",
                )


RULES = (
    ocp001,
    ocp003,
    ocp005,
)
