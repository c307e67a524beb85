"""The calendar (CAL, ruling R7): lessons on days off and class-days with nothing entered — deputy information."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import Finding, RuleContext
from rules.helpers import (
    empty_class_days,
    held_lessons,
)
from rules.registry import rule
from rules.wording import LESSONS_AFTER_IZ, count


@rule(
    "CAL001",
    "lesson-on-day-off",
    "Урок в расписании на каникулах или в праздничный день",
    clause="4.2.4.1",
    advice="уберите урок из расписания или перенесите его",
    entity=("cm",),
    severity="info",
    owner="deputy",
    predicate="урок стоит в расписании на день каникул или праздника — ошибка расписания, сведения для завуча",
    extracurricular=True,
)
def cal001(ctx: RuleContext) -> Iterator[Finding]:
    """A lesson left in the schedule on a vacation day or a holiday is a schedule error (4.2.4.1): information for
    the deputy, never a teacher's remark (ruling R7)."""
    f = ctx.facts
    today = ctx.as_of.date()
    for lesson in f.lessons.values():
        if lesson.day <= today and ctx.in_period(lesson.day) and f.in_vacation(lesson.day):
            yield ctx.lesson_finding(
                lesson, {"cm": lesson.id}, "урок в расписании на каникулах или в праздничный день", owner="deputy"
            )


@rule(
    "CAL002",
    "class-day-empty",
    "У класса за день нет ни одной записи",
    clause="4.2.4.1",
    advice="выясните, проводились ли уроки (карантин, актированный день, экскурсия)",
    entity=("class", "date"),
    severity="info",
    owner="deputy",
    predicate="на всех уроках класса за учебный день никто ничего не внёс — одно сведение завучу вместо "
    "замечаний по каждому уроку",
    extracurricular=True,
)
def cal002(ctx: RuleContext) -> Iterator[Finding]:
    """A class-day with no entry at all on any lesson is one item for the deputy (ruling R7), not a remark per
    lesson: the lessons probably did not take place as scheduled."""
    f = ctx.facts
    empty = empty_class_days(ctx, held_lessons(ctx))
    for (cls, day), members in sorted(empty.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        yield Finding(
            "CAL002",
            {"class": cls, "date": day.year * 10000 + day.month * 100 + day.day},
            f"{f.class_name.get(cls, '?')}, {day:%d.%m.%Y}: у класса нет ни одной записи ни на одном из "
            f"{count(len(members), *LESSONS_AFTER_IZ)}",
            None,
            cls,
            None,
            day,
            "observed",
        )


RULES = (
    cal001,
    cal002,
)
