"""Helpers the rule families share: the period's held and due lessons (R1, R7), homework units (R8, R9), written
and in-lesson work types (R2), deadlines, the loose text comparison, the undecided count.

Interpretations shared with the emulator's ground truth: "a mark" is a numeric mark (a «точка» is a debt);
grade 1 is unmarked; a student's leave day is the day the group's list first showed them with ``free``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from rules.context import ABSENT, DEFAULT_IN_LESSON, DEFAULT_WRITTEN, RuleContext
from rules.evidence import Due, Verdict
from rules.facts import Assignment, Lesson

NO_HOMEWORK = "Не предусмотрено"
# How absences are named in remarks: without health details («Б» is «по болезни»; 152-ФЗ, special category).
ABSENCE_KIND = {
    "Б": "уважительная причина",
    "УП": "уважительная причина",
    "НП": "неуважительная причина",
    "ОТ": "причина не указана",
}
# Topics that say nothing (ruling R16), compared by their letters and digits only: «---Не указана---» is «не
# указана», «.» and «-» are nothing at all. Short real topics («ДНК», «ИЗО», «Zoo») are not placeholders.
PLACEHOLDERS = ["урок", "тема", "тем", "без темы", "нет", "нет темы", "не указана", "тема урока", "занятие"]
PLACEHOLDER_MAX = 60
# marks the class teacher transfers from a certificate (ruling R4): no deadline, not the subject teacher's
NO_DEADLINE_TYPES = [
    "оценка, полученная в больнице"
]  # longer texts are never read as placeholders (the SQL reads only shorter ones)


# --- shared helpers --------------------------------------------------------------------------------


def held_lessons(ctx: RuleContext) -> list[Lesson]:
    """Lessons of the period held on school days whose deadline (16:00 by default; a late lesson's end of day)
    has passed; computed once per deadline."""
    key = ("held", str(ctx.p_default("deadline", "16:00")))
    hit = ctx.memo.get(key)
    if hit is None:
        f = ctx.facts
        today = ctx.as_of.date()
        due = ctx.due_table()
        wanted: dict[date, bool] = {}
        hit = []
        late = due.late_numbers
        for lesson in f.lessons.values():
            ok = wanted.get(lesson.day)
            if ok is None:
                d = lesson.day
                ok = wanted[d] = d <= today and ctx.in_period(d) and f.is_school_day(d) and ctx.passed(due[d].moment)
            if ok and (lesson.number not in late or ctx.passed(due.of(lesson).moment)):
                hit.append(lesson)
        ctx.memo[key] = hit
    return hit


def due_lessons(ctx: RuleContext) -> list[Lesson]:
    """``held_lessons`` without the class-days on which nobody entered anything: those are one deputy item each
    (CAL002, ruling R7), not a remark per lesson. Computed once per deadline."""
    key = ("due", str(ctx.p_default("deadline", "16:00")))
    hit = ctx.memo.get(key)
    if hit is None:
        held = held_lessons(ctx)
        empty = {le.id for lessons in empty_class_days(ctx, held).values() for le in lessons}
        hit = ctx.memo[key] = [le for le in held if le.id not in empty] if empty else held
    return hit


def _entered_anything(ctx: RuleContext, lesson: Lesson, homework: dict[int, list[Assignment]]) -> bool:
    """Anything entered on the lesson itself: homework the server attaches to it as the lesson it is due for was
    entered at an earlier lesson, so it does not count (a quarantine day's lessons carry the homework of the day
    before)."""
    f = ctx.facts
    return bool(
        lesson.id in f.topics
        or any(not f.is_homework(a.type_id) for a in lesson.work)
        or homework.get(lesson.id)
        or codes_at(ctx, lesson)
    )


def empty_class_days(ctx: RuleContext, lessons: list[Lesson]) -> dict[tuple[int, date], list[Lesson]]:
    """(class, day) -> its lessons, for the class-days among ``lessons`` with nothing entered on any lesson by
    anyone — no topic, work, homework or attendance (ruling R7: quarantine, актированный день, an excursion)."""
    homework = homework_index(ctx)
    by_day: dict[tuple[int, date], list[Lesson]] = defaultdict(list)
    busy: set[tuple[int, date]] = set()
    for le in lessons:
        cls = ctx.facts.group_class.get(le.sg)
        if not cls:
            continue
        key = (cls, le.day)
        by_day[key].append(le)
        if key not in busy and _entered_anything(ctx, le, homework):
            busy.add(key)
    return {key: les for key, les in by_day.items() if key not in busy}


def empty_lessons(ctx: RuleContext) -> set[int]:
    """Ruling R21: the due lessons (not of an empty class-day) on which nobody has entered anything — no topic,
    work, homework, marks or attendance: one «урок не заполнен» item each (TML007) instead of TML001–TML003."""
    key = ("empty", str(ctx.p_default("deadline", "16:00")))
    hit: set[int] | None = ctx.memo.get(key)
    if hit is None:
        homework = homework_index(ctx)
        hit = ctx.memo[key] = {le.id for le in due_lessons(ctx) if not _entered_anything(ctx, le, homework)}
    return hit


def due_by_id(ctx: RuleContext) -> dict[int, Lesson]:
    """``due_lessons`` by lesson id (for the rows of SQL rules)."""
    key = ("due-by-id", str(ctx.p_default("deadline", "16:00")))
    hit: dict[int, Lesson] | None = ctx.memo.get(key)
    if hit is None:
        hit = ctx.memo[key] = {lesson.id: lesson for lesson in due_lessons(ctx)}
    return hit


def _first_of_day(ctx: RuleContext) -> dict[tuple[int, date], int]:
    cache = ctx.memo.get("first_of_day")
    if cache is None:
        cache = {}
        for sg, lessons in ctx.facts.lessons_by_sg.items():
            for le in lessons:  # ordered by day, number
                cache.setdefault((sg, le.day), le.id)
        ctx.memo["first_of_day"] = cache
    return cache


def homework_given_at(ctx: RuleContext, lesson: Lesson) -> list[Assignment]:
    """Homework of the lesson's group whose issue lesson is this lesson (``issueCmId``, else the issue date)."""
    return homework_index(ctx).get(lesson.id, [])


def homework_index(ctx: RuleContext) -> dict[int, list[Assignment]]:
    """Issue lesson -> the homework given at it (computed once per check)."""
    index: dict[int, list[Assignment]] | None = ctx.memo.get("homework")
    if index is None:
        first = _first_of_day(ctx)
        index = defaultdict(list)
        for sg, items in ctx.facts.homework_by_sg.items():
            for a in items:
                cm = a.issue_cm if a.issue_cm is not None else first.get((sg, a.issue_date)) if a.issue_date else None
                if cm is not None:
                    index[cm].append(a)
        ctx.memo["homework"] = index
    return index


BREAK_DAYS = 3  # a break of at least this many days is a vacation; a one-day holiday is not (ruling R9)
NEAR_BREAK_DAYS = 14  # a group's last mirrored lesson is «last before a break» when one begins within this


def last_before_break(ctx: RuleContext) -> set[int]:
    """Lessons after which the group has no lesson before a vacation begins, or before the school year ends: no
    homework is due at them (ruling R9). Computed once per check."""
    hit: set[int] | None = ctx.memo.get("last-before-break")
    if hit is None:
        starts = sorted(a for a, b in ctx.facts.vacations if (b - a).days + 1 >= BREAK_DAYS)
        year_end = max((t.end for t in ctx.facts.terms.values()), default=None)
        hit = set()
        for lessons in ctx.facts.lessons_by_sg.values():
            for i, le in enumerate(lessons):
                # without a later lesson in the mirror: last only when a vacation or the year's end is near
                nxt = lessons[i + 1].day if i + 1 < len(lessons) else le.day + timedelta(days=NEAR_BREAK_DAYS)
                ends = year_end is not None and i + 1 == len(lessons) and year_end <= nxt
                if ends or any(le.day < s <= nxt for s in starts):
                    hit.add(le.id)
        ctx.memo["last-before-break"] = hit
    return hit


def double_lessons(ctx: RuleContext) -> dict[int, list[Lesson]]:
    """Lesson id -> the run of consecutive lessons of its group on its day it belongs to (ruling R8: a double
    lesson is one unit for homework). Single lessons are left out. Computed once per check."""
    hit: dict[int, list[Lesson]] | None = ctx.memo.get("double-lessons")
    if hit is None:
        hit = {}
        for lessons in ctx.facts.lessons_by_sg.values():  # ordered by day, number
            run: list[Lesson] = []
            for le in [*lessons, None]:
                if (
                    le is not None
                    and run
                    and le.day == run[-1].day
                    and le.number is not None
                    and run[-1].number is not None
                    and le.number == run[-1].number + 1
                ):
                    run.append(le)
                    continue
                if len(run) > 1:
                    for member in run:
                        hit[member.id] = run
                run = [le] if le is not None else []
        ctx.memo["double-lessons"] = hit
    return hit


def next_lesson_term(ctx: RuleContext, lesson: Lesson) -> int | None:
    lessons = ctx.facts.lessons_by_sg[lesson.sg]
    order = ctx.memo.get(("order", lesson.sg))
    if order is None:
        order = ctx.memo[("order", lesson.sg)] = {le.id: i for i, le in enumerate(lessons)}
    i = order.get(lesson.id)
    return lessons[i + 1].term if i is not None and i + 1 < len(lessons) else lesson.term


def in_lesson_by_type(ctx: RuleContext) -> dict[int, bool]:
    """Type id -> is it work assessed during the lesson (ruling R2: the rule's ``in_lesson_types``)."""
    kinds = frozenset(str(x).strip().casefold() for x in ctx.p_default("in_lesson_types", list(DEFAULT_IN_LESSON)))
    key = ("in-lesson", kinds)
    hit: dict[int, bool] | None = ctx.memo.get(key)
    if hit is None:
        names = ctx.facts.type_name
        hit = ctx.memo[key] = {tid: str(name).strip().casefold() in kinds for tid, name in names.items()}
    return hit


def present_last(ctx: RuleContext, lesson: Lesson, a: Assignment) -> str | None:
    """The latest first sighting among the marks of students present at the lesson: a mark of a student absent
    from it (УП, НП, ОТ, Б) is make-up work, never late (ruling R3). None when only absent students have marks."""
    marks = a.marks
    assert marks is not None
    codes = codes_at(ctx, lesson)
    absent = [s for s in marks.students if codes.get(s) in ABSENT]
    if not absent:
        return marks.last
    row = ctx.db.execute(
        'SELECT max("first_seen_at") FROM "mark" WHERE "assignment_id" = ? AND "gone_at" IS NULL '
        f'AND "student_id" NOT IN ({",".join("?" * len(absent))})',
        [a.id, *absent],
    ).fetchone()
    return row[0] if row and row[0] else None


def written_types(ctx: RuleContext) -> set[str]:
    return set(ctx.p_default("written_types", list(DEFAULT_WRITTEN)))


class _WrittenByType(dict[int, bool]):
    """Assignment type id -> is it written work, for one set of written types (filled on first use)."""

    def __init__(self, ctx: RuleContext, written: set[str]) -> None:
        super().__init__()
        self.facts, self.written = ctx.facts, written

    def __missing__(self, type_id: int) -> bool:
        hit = self[type_id] = self.facts.is_written(type_id, self.written)
        return hit


def written_by_type(ctx: RuleContext) -> dict[int, bool]:
    """``Facts.is_written`` per type id for the current rule's ``written_types`` (decided once per type)."""
    written = written_types(ctx)
    key = ("written-by-type", frozenset(written))
    hit: dict[int, bool] | None = ctx.memo.get(key)
    if hit is None:
        hit = ctx.memo[key] = _WrittenByType(ctx, written)
    return hit


class _PassedDues(dict[date, Due | None]):
    """Day -> the deadline ``days`` after it at 23:59:59 with a grace, or None while it has not passed (filled on
    first use of each day)."""

    def __init__(self, ctx: RuleContext, days: int) -> None:
        super().__init__()
        self.days, self.grace, self.as_of = days, ctx.grace, ctx.as_of

    def __missing__(self, day: date) -> Due | None:
        moment = datetime.combine(day + timedelta(days=self.days), time(23, 59, 59))
        hit = self[day] = Due.at(moment, self.grace) if moment < self.as_of else None
        return hit


def passed_dues(ctx: RuleContext, days: int) -> dict[date, Due | None]:
    """Day -> its deadline ``days`` later at 23:59:59 with the current rule's grace, None while not passed
    (TML005's D+7, FIN002's term end + 3). Fetch once per rule, index per lesson or row."""
    key = ("passed-dues", days, ctx.grace)
    hit: dict[date, Due | None] | None = ctx.memo.get(key)
    if hit is None:
        hit = ctx.memo[key] = _PassedDues(ctx, days)
    return hit


NO_CODES: dict[int, str] = {}


def codes_at(ctx: RuleContext, lesson: Lesson) -> dict[int, str]:
    return ctx.facts.codes.get(lesson.id, NO_CODES)


def count_verdict(ctx: RuleContext, verdict: Verdict, sg: int) -> None:
    """Count an undecided item of the current rule, with its group (an override's scope is decided by it)."""
    if verdict is Verdict.UNDECIDED and ctx.current is not None:
        ctx.undecided[ctx.current.code] += 1
        ctx.undecided_in[ctx.current.code, sg] += 1


@lru_cache(maxsize=1 << 16)
def loose(text: str) -> str:
    """Letters and digits only, case-folded: «не предусмотрено.» compares equal to «Не предусмотрено». Cached:
    a year's topics repeat (the same КТП text in every parallel class)."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())
