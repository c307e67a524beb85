"""The core rules (docs/rules.md §3). Each is found with precision = recall = 1.0 against the emulator's ground
truth whatever evidence is available; undecided items are counted, never flagged.

Interpretations shared with the emulator's ground truth: "a mark" is a numeric mark (a «точка» is a debt);
grade 1 is unmarked, so DEN001/FIN* do not apply to it; weekly hours are the group's lessons in its fullest
week of the term; a student's leave day is the day the group's list first showed them with ``free``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from cache.calendar import YEAR_TERM_TYPE
from rules.context import ABSENT, DEFAULT_IN_LESSON, DEFAULT_WRITTEN, Finding, RuleContext
from rules.evidence import Due, Verdict, ts
from rules.facts import M_NUMERIC, Assignment, Lesson, student_ids_by_name, topic_texts
from rules.registry import rule

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
    return bool(lesson.id in ctx.facts.topics or lesson.work or homework.get(lesson.id) or codes_at(ctx, lesson))


def empty_class_days(ctx: RuleContext, lessons: list[Lesson]) -> dict[tuple[int, date], list[Lesson]]:
    """(class, day) -> its lessons, for the class-days among ``lessons`` with nothing entered on any lesson by
    anyone — no topic, work, homework or attendance (ruling R7: quarantine, актированный день, an excursion)."""
    homework = _homework_index(ctx)
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
    return _homework_index(ctx).get(lesson.id, [])


def _homework_index(ctx: RuleContext) -> dict[int, list[Assignment]]:
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
        year_end = max((t[1] for t in ctx.facts.terms.values()), default=None)
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


_NO_CODES: dict[int, str] = {}


def codes_at(ctx: RuleContext, lesson: Lesson) -> dict[int, str]:
    return ctx.facts.codes.get(lesson.id, _NO_CODES)


def _count(ctx: RuleContext, verdict: Verdict, sg: int) -> None:
    """Count an undecided item of the current rule, with its group (an override's scope is decided by it)."""
    if verdict is Verdict.UNDECIDED and ctx.current is not None:
        ctx.undecided[ctx.current.code] += 1
        ctx.undecided_in[ctx.current.code, sg] += 1


# --- timeliness ------------------------------------------------------------------------------------


@rule(
    "TML001",
    "lesson-topic-late",
    "Тема урока не внесена до 16:00",
    clause="3.7, 4.2.5.2",
    advice="внесите тему урока",
    entity=("cm",),
    params={"deadline": "16:00", "grace_minutes": 10},
    core=True,
    predicate="у проведённого урока нет темы к 16:00 дня урока (в том числе совсем нет)",
    example="8б, Алгебра, 23.11.2026, урок 3: тема урока не внесена до 16:00",
    extracurricular=True,
)
def tml001(ctx: RuleContext) -> Iterator[Finding]:
    """The topic of a lesson must be in the journal by 16:00 of the lesson day (Положение 3.7). Evidence: the
    topic was seen at the 16:05 snapshot (on time) or was missing from an observation made after 16:00."""
    due = ctx.due_table()
    topics, exact_topic = ctx.facts.topics, ctx.facts.exact_topic
    for lesson in due_lessons(ctx):
        topic = topics.get(lesson.id)  # when the topic was first seen
        deadline = due.of(lesson)
        exact = ctx.exact_at(exact_topic.get(lesson.id), deadline) if topic else None
        key = ("topic", f'{{"cm_id":{lesson.id}}}')  # unit_key("topic", {"cm_id": ...})
        verdict = exact or ctx.decide_due(key, topic, deadline)
        if verdict is Verdict.LATE:
            late = " (внесена позже)" if topic else ""
            yield ctx.lesson_finding(
                lesson,
                {"cm": lesson.id},
                f"тема урока не внесена до 16:00{late}",
                settled=bool(topic),
                evidence="exact" if exact else "observed",
            )
        _count(ctx, verdict, lesson.sg)


@rule(
    "TML002",
    "homework-late",
    "Домашнее задание не внесено до 16:00",
    clause="3.7, 4.2.5.2",
    advice="внесите домашнее задание (или «Не задано»/«Не предусмотрено»)",
    entity=("cm",),
    params={"deadline": "16:00", "grace_minutes": 10},
    core=True,
    predicate="к 16:00 нет записи о домашнем задании, выданном на уроке (любой непустой текст, в т. ч. «Не задано»; "
    "в 1 классе — «Не предусмотрено»)",
)
def tml002(ctx: RuleContext) -> Iterator[Finding]:
    """Homework given at a lesson must be entered by 16:00 of the lesson day. In grade 1 the entry says there is
    none («Не предусмотрено»); a missing entry is this one finding, a wrong text is CMP002's (ruling R10). A double
    lesson is one unit: homework at any of its lessons will do, a missing one is one finding on its last (R8). The
    homework belongs to the journal of the lesson it is due for (often the next term's)."""
    f = ctx.facts
    due = ctx.due_table()
    given_at = _homework_index(ctx)
    grade1_groups = {sg for sg in f.group_class if f.grade(sg) == 1}
    breaks = last_before_break(ctx)
    doubles = double_lessons(ctx)
    for lesson in due_lessons(ctx):
        grade1 = lesson.sg in grade1_groups
        given = given_at.get(lesson.id)
        run = doubles.get(lesson.id)
        if run is not None:  # R8: homework given at any lesson of a double satisfies it; judged on its last lesson
            if lesson is not run[-1]:
                continue
            given = [a for member in run for a in given_at.get(member.id, [])]
        if not given and lesson.id in breaks:
            continue  # R9: the group's last lesson before a vacation or the year's end
        deadline = due.of(lesson)
        valid = [a for a in given if a.name.strip()] if given else []
        if valid:
            term, first = valid[0].term, min(a.first_seen for a in valid)
            exact = ctx.exact([a.entered for a in valid], deadline)
        else:
            term = given[0].term if given else next_lesson_term(ctx, lesson)
            first, exact = None, None
        verdict = exact or ctx.decide_due(ctx.journal_key(lesson.sg, term), first, deadline)
        if verdict is Verdict.LATE:
            text = (
                "запись о домашнем задании («Не предусмотрено») не внесена до 16:00"
                if grade1
                else "домашнее задание не внесено до 16:00"
            )
            late = " (внесено позже)" if valid else ""
            yield ctx.lesson_finding(
                lesson, {"cm": lesson.id}, text + late, settled=bool(valid), evidence="exact" if exact else "observed"
            )
        _count(ctx, verdict, lesson.sg)


@rule(
    "TML003",
    "control-form-missing",
    "Не указана форма контроля на уроке",
    clause="4.2.5.2",
    advice="укажите форму контроля (задание на уроке)",
    entity=("cm",),
    params={"deadline": "16:00", "grace_minutes": 10},
    core=True,
    predicate="к 16:00 у проведённого урока нет ни одного задания, кроме домашнего (форма контроля)",
)
def tml003(ctx: RuleContext) -> Iterator[Finding]:
    """Every lesson needs a form of control: a classwork assignment of any type other than homework, by 16:00."""
    due = ctx.due_table()
    f = ctx.facts
    homework = {tid for tid in f.type_name if f.is_homework(tid)}
    for lesson in due_lessons(ctx):
        classwork = [a for a in lesson.work if a.type_id not in homework]
        deadline = due.of(lesson)
        if classwork:
            first = min(a.first_seen for a in classwork)
            exact = ctx.exact([a.entered for a in classwork], deadline)
        else:
            first, exact = None, None
        verdict = exact or ctx.decide_due(ctx.journal_key(lesson.sg, lesson.term), first, deadline)
        if verdict is Verdict.LATE:
            late = " (указана позже)" if classwork else ""
            yield ctx.lesson_finding(
                lesson,
                {"cm": lesson.id},
                f"не указана форма контроля (задание на уроке) до 16:00{late}",
                settled=bool(classwork),
            )
        _count(ctx, verdict, lesson.sg)


@rule(
    "TML004",
    "lesson-marks-late",
    "Отметки за работу на уроке внесены после 16:00",
    clause="4.2.5.1",
    advice="вносите отметки за урок до 16:00 дня урока",
    entity=("cm",),
    core=True,
    params={"deadline": "16:00", "grace_minutes": 10, "in_lesson_types": list(DEFAULT_IN_LESSON)},
    predicate="отметка за работу на уроке (виды in_lesson_types: ответ на уроке, работа на уроке, устный опрос …) "
    "впервые появилась после 16:00 дня урока (досдача отсутствовавшего — не опоздание)",
)
def tml004(ctx: RuleContext) -> Iterator[Finding]:
    """Marks for work assessed during the lesson (the ``in_lesson_types``: oral answer, classwork, …) go in on the
    lesson day by 16:00 (Положение 4.2.5.1, ruling R2); other work has 7 days (TML005). A make-up mark of a student
    absent from the lesson is never late (R3); a mark corrected later was entered when first seen (R17)."""
    in_lesson = in_lesson_by_type(ctx)
    due = ctx.due_table()
    for lesson in due_lessons(ctx):
        deadline = due.of(lesson)
        in_time = deadline.in_time
        # The observed verdict is monotonic in first_seen (a later first sighting can only be «later»), so per
        # journal unit only the latest mark seen after deadline + grace needs deciding.
        latest: dict[int | None, str] = {}
        entries = []  # the last «Отметка» entry of each marked item's type (the same for items of one type)
        makeup = False
        for a in lesson.work:
            marks = a.marks
            if marks is None or not in_lesson.get(a.type_id, False):
                continue
            last = marks.last if marks.last <= in_time else present_last(ctx, lesson, a)
            makeup = makeup or last != marks.last
            entries.append(a.marked[1] if a.marked else None)
            if last is not None and last > in_time and last > latest.get(a.term, ""):  # seen by deadline + grace
                latest[a.term] = last
        # the report's entries do not say whose mark they are: with make-up marks only the sightings decide
        exact = ctx.exact(entries, deadline, latest=True) if entries and not makeup else None
        if exact is not None:
            verdicts = [exact]
        else:
            verdicts = [
                ctx.decide_due(ctx.journal_key(lesson.sg, term), first, deadline) for term, first in latest.items()
            ]
        if Verdict.LATE in verdicts:
            yield ctx.lesson_finding(
                lesson, {"cm": lesson.id}, "отметки за работу на уроке внесены после 16:00", settled=True
            )
        elif Verdict.UNDECIDED in verdicts:
            _count(ctx, Verdict.UNDECIDED, lesson.sg)


@rule(
    "TML005",
    "written-marks-late",
    "Отметки за выполненную работу не выставлены в течение 7 дней",
    clause="5.2",
    advice="выставьте отметки за письменную работу",
    entity=("assignment",),
    params={
        "days": 7,
        "grace_minutes": 10,
        "written_types": list(DEFAULT_WRITTEN),
        "in_lesson_types": list(DEFAULT_IN_LESSON),
        "no_deadline_types": list(NO_DEADLINE_TYPES),
    },
    core=True,
    predicate="отметка за выполненную работу (любой вид, кроме работы на уроке, в т. ч. неизвестный программе) "
    "выставлена позже D+7 23:59; у письменной работы — или к этому сроку отметок нет вовсе, хотя были "
    "присутствовавшие; досдача отсутствовавших и отметки из больницы сроков не имеют",
)
def tml005(ctx: RuleContext) -> Iterator[Finding]:
    """Marks for completed work given on day D — written work, homework, a project, any type that is not assessed
    in the lesson, unknown types included — are entered within 7 days: by D+7, 23:59 (Положение 5.2, ruling R2).
    Written work must be marked at all by then. Make-up marks of students absent at D (R3) and hospital marks (R4)
    have no deadline."""
    is_written = written_by_type(ctx)
    in_lesson = in_lesson_by_type(ctx)
    timeless = {str(x).strip().casefold() for x in ctx.p("no_deadline_types")}
    names = ctx.facts.type_name
    dues = passed_dues(ctx, int(ctx.p("days")))
    for lesson in due_lessons(ctx):
        due = dues[lesson.day]
        if due is None:
            continue
        for a in lesson.work:
            if in_lesson.get(a.type_id, False) or str(names.get(a.type_id, "")).strip().casefold() in timeless:
                continue
            written = is_written[a.type_id]
            key = ctx.journal_key(lesson.sg, a.term)
            marks = a.marks
            last = (marks.last if marks.last <= due.in_time else present_last(ctx, lesson, a)) if marks else None
            makeup = marks is not None and last != marks.last
            # monotonic in first_seen: the earliest mark decides «on time», the latest decides «late»
            if marks and a.marked and not makeup:  # exact evidence (its entries do not say whose mark they are)
                verdicts = [ctx.exact_at(a.marked[0], due), ctx.exact_at(a.marked[1], due)]
            elif marks:
                verdicts = [ctx.decide_due(key, marks.first, due)]
                if last is not None:
                    verdicts.append(ctx.decide_due(key, last, due))
            else:
                verdicts = []
            if Verdict.LATE in verdicts:
                yield _written(ctx, lesson, a, "отметки выставлены позже 7 дней", settled=True)
                continue
            if Verdict.ON_TIME in verdicts or not written:
                continue
            if verdicts:  # marks are there, but when they came is not known: undecided, never «no marks»
                _count(ctx, Verdict.UNDECIDED, lesson.sg)
                continue
            verdict = ctx.decide_due(key, None, due)
            if verdict is Verdict.LATE and _someone_to_mark(ctx, lesson):
                yield _written(ctx, lesson, a, "отметки за письменную работу не выставлены в течение 7 дней")
            elif verdict is Verdict.UNDECIDED:
                _count(ctx, verdict, lesson.sg)


def _written(ctx: RuleContext, lesson: Lesson, a: Assignment, text: str, *, settled: bool = False) -> Finding:
    name = ctx.facts.type_name.get(a.type_id, "работа")
    return ctx.lesson_finding(lesson, {"assignment": a.id}, f"{name}: {text}", settled=settled)


def _someone_to_mark(ctx: RuleContext, lesson: Lesson) -> bool:
    codes = codes_at(ctx, lesson)
    for student, (_free, _ind) in ctx.facts.enrollment.get((lesson.sg, lesson.term or 0), {}).items():
        if ctx.exempt(lesson.sg, lesson.term, student) or ctx.left_before(
            lesson.sg, lesson.term, student, lesson.day + timedelta(days=1)
        ):
            continue
        if codes.get(student) not in ABSENT:
            return True
    return False


@rule(
    "TML006",
    "ktp-missing",
    "КТП не загружено в течение недели после утверждения рабочей программы",
    clause="3.5",
    advice="загрузите КТП",
    entity=("sg",),
    params={"days": 7},
    core=True,
    predicate="у учебной группы нет КТП через 7 дней после утверждения рабочей программы ([school] "
    "work_program_approved, по умолчанию 1 сентября)",
)
def tml006(ctx: RuleContext) -> Iterator[Finding]:
    """The calendar-thematic plan (КТП) of every group is loaded within a week of the work programme's approval."""
    f = ctx.facts
    approved = ctx.work_program_approved or min((t[0] for t in f.terms.values()), default=ctx.as_of.date())
    deadline = datetime.combine(approved + timedelta(days=int(ctx.p("days"))), time(23, 59, 59))
    if not ctx.passed(deadline):
        return
    for sg in f.groups:
        if sg in f.plans:
            continue
        verdict = ctx.decide("ktp", {"sg_id": sg}, None, deadline)
        if verdict is Verdict.LATE:
            yield ctx.group_finding(sg, {"sg": sg}, f"КТП не загружено (срок {deadline:%d.%m.%Y})", None)
        _count(ctx, verdict, sg)


# --- completeness ---------------------------------------------------------------------------------


@rule(
    "CMP001",
    "topic-placeholder",
    "Тема урока — заглушка",
    clause="4.2.5.2",
    advice="внесите содержательную тему урока по КТП",
    entity=("cm",),
    params={"placeholders": PLACEHOLDERS},
    core=True,
    predicate="тема есть, но ничего не говорит: без знаков препинания и пробелов пуста («.», «-», «---») или это "
    "«урок», «тема», «без темы», «нет», «не указана» и т. п. (список — параметр placeholders)",
    extracurricular=True,
)
def cmp001(ctx: RuleContext) -> Iterator[Finding]:
    """A topic that says nothing — «урок», «---Не указана---», «.» — is no topic: the journal must say what the
    lesson was about. A short real topic («ДНК», «ИЗО») is a topic (ruling R16)."""
    words = {_loose(w) for w in ctx.p("placeholders")}
    texts = topic_texts(ctx.db, PLACEHOLDER_MAX)
    for lesson in due_lessons(ctx):
        topic = texts.get(lesson.id)
        if topic is None:
            continue
        text = _loose(topic)
        if not text or text in words:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"тема урока «{topic}» — заглушка")


def _stems(text: str) -> set[str]:
    """The words of a topic that carry meaning, cut to their first five letters (a crude stem that forgives the
    endings of Russian words: «дробей» and «дроби» meet). Words shorter than four letters are left out."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.casefold().replace("ё", "е")).split()
    return {w[:5] for w in words if len(w) >= 4}


def _ktp_topics(ctx: RuleContext) -> tuple[dict[int, set[str]], set[int]]:
    """Per group with a КТП: the stems of all its КТП lessons' names; and the ids of the live КТП lessons."""
    stems: dict[int, set[str]] = defaultdict(set)
    ids: set[int] = set()
    for kid, sg, name in ctx.db.execute(
        'SELECT "id", "sg_id", coalesce("name", \'\') FROM "ktp_lesson" WHERE "gone_at" IS NULL'
    ):
        ids.add(kid)
        stems[sg] |= _stems(name)
    return stems, ids


@rule(
    "KTP002",
    "topic-not-from-ktp",
    "Тема урока не из КТП",
    clause="4.2.5.2",
    advice="выберите тему урока из КТП или приведите её в соответствие с КТП",
    entity=("cm",),
    severity="warning",
    core=True,
    predicate="у группы загружено КТП, а тема урока не привязана к уроку КТП и не похожа ни на одну тему КТП (нет "
    "ни одного общего значимого слова) — предупреждение",
)
def ktp002(ctx: RuleContext) -> Iterator[Finding]:
    """Topics follow the КТП (4.2.5.2). A topic linked to a КТП lesson, or sharing a meaningful word with one of
    the group's КТП topics, is from the КТП; only a topic with nothing in common («Разное») is a warning — the
    measure is lenient on purpose (ruling R16; R0: doubt is no remark)."""
    stems, ktp_ids = _ktp_topics(ctx)
    if not stems:
        return
    placeholders = {"", *(_loose(w) for w in PLACEHOLDERS)}
    topics = {
        cm: (kid, topic or "")
        for cm, kid, topic in ctx.db.execute(
            'SELECT "cm_id", "ktp_lesson_id", "topic" FROM "lesson_topic" WHERE "gone_at" IS NULL'
        )
    }
    for lesson in due_lessons(ctx):
        plan = stems.get(lesson.sg)
        entry = topics.get(lesson.id)
        if plan is None or entry is None or lesson.id not in ctx.facts.topics:
            continue
        kid, topic = entry
        if kid in ktp_ids or _loose(topic) in placeholders:
            continue  # linked to the КТП, or a placeholder (CMP001's business)
        words = _stems(topic)
        if words and not words & plan:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"тема «{topic.strip()}» не из КТП группы")


@rule(
    "CMP002",
    "grade1-homework",
    "Домашнее задание в 1 классе",
    clause="4.2.5.2",
    advice="в 1 классе домашнее задание не задаётся: укажите «Не предусмотрено»",
    entity=("cm",),
    core=True,
    params={"no_homework": [NO_HOMEWORK, "не задано", "нет"]},
    predicate="в 1 классе на уроке задано домашнее задание: текст не «Не предусмотрено» (без учёта регистра, пробелов "
    "и знаков препинания) и не из равнозначных записей школы",
)
def cmp002(ctx: RuleContext) -> Iterator[Finding]:
    """Grade 1 has no homework: the entry says there is none — «Не предусмотрено», compared loosely, or one of the
    school's equivalents (ruling R10)."""
    grade1 = {sg for sg in ctx.facts.group_class if ctx.facts.grade(sg) == 1}
    none = {_loose(x) for x in ctx.p("no_homework")}
    for lesson in due_lessons(ctx):
        if lesson.sg not in grade1:
            continue
        for a in homework_given_at(ctx, lesson):
            if a.name.strip() and _loose(a.name) not in none:
                yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"домашнее задание в 1 классе: «{a.name}»")
                break


@lru_cache(maxsize=1 << 16)
def _loose(text: str) -> str:
    """Letters and digits only, case-folded: «не предусмотрено.» compares equal to «Не предусмотрено». Cached:
    a year's topics repeat (the same КТП text in every parallel class)."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


# --- marks ----------------------------------------------------------------------------------------


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
    lesson» type), first seen on the lesson's day: a later mark is make-up work (R3), another type is not."""
    sql = (
        'SELECT json_array(t."class_meeting_id", t."student_id") AS x FROM "attendance" t '
        'JOIN "class_meeting" cm ON cm."id" = t."class_meeting_id" '
        'WHERE t."gone_at" IS NULL AND t."reason" IN (SELECT "value" FROM json_each(?)) AND EXISTS ('
        'SELECT 1 FROM "assignment" a CROSS JOIN "mark" m JOIN "assignment_type" y ON y."id" = a."type_id" '
        'WHERE a."class_meeting_id" = t."class_meeting_id" AND a."gone_at" IS NULL '
        'AND m."assignment_id" = a."id" AND m."student_id" = t."student_id" '
        f'AND m."gone_at" IS NULL AND {M_NUMERIC} AND substr(m."first_seen_at", 1, 10) <= cm."day" '
        'AND lower(trim(y."name")) IN (SELECT lower("value") FROM json_each(?)))'
    )
    kinds = [str(x).strip() for x in ctx.p("in_lesson_types")]
    return sql, [json.dumps(sorted(ABSENT), ensure_ascii=False), json.dumps(kinds, ensure_ascii=False)]


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
    "отсутствием УП/НП/ОТ/Б на этом уроке — сведения для завуча (досдача позже и отметки из больницы — не это)",
    sql=_mrk003_sql,
)
def mrk003(ctx: RuleContext) -> Iterator[Finding]:
    """A mark and an absence on one lesson are not forbidden by 5.4 (make-up work, hospital marks: rulings R3, R4);
    only a same-day mark for work assessed in the lesson beside an absence is a likely data error — information
    for the deputy, never a teacher's remark (R14). The access report's «ОТ», later clarified, counts as absent."""
    codes_of, due = ctx.facts.codes, due_by_id(ctx)
    for cm, student in sorted(ctx.rows()):
        lesson, codes = due.get(cm), codes_of.get(cm, _NO_CODES)
        if lesson is not None and codes.get(student) in ABSENT:
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


# --- attendance -----------------------------------------------------------------------------------


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
    clause="3.7, 5.1",
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
    names = student_ids_by_name(ctx.db)
    first_entry: dict[tuple[int, int], str] = {}
    for cm, student, first in ctx.db.execute(
        'SELECT "cm_id", substr("detail", instr("detail", \'|\') + 1), min("at") FROM "access_log" '
        'WHERE "kind" = \'attendance\' AND "cm_id" IS NOT NULL AND "at" <= ? GROUP BY 1, 2',
        [ts(ctx.as_of)],
    ):
        sid = names.get(" ".join(student.split()).casefold())
        if sid is not None and cm in lessons:
            first_entry[cm, sid] = first
    seen_of = ctx.facts.code_seen
    for cm, sid in sorted(first_entry.keys() | {k for k in seen_of if k[0] in lessons}):
        lesson = lessons[cm]
        deadline = due.of(lesson)
        first = first_entry.get((cm, sid))
        if first is not None:
            verdict = ctx.exact_at(first, deadline) or Verdict.UNDECIDED
        else:  # seen by an observation within the grace: in place on time
            verdict = Verdict.ON_TIME if seen_of[cm, sid] <= deadline.in_time else Verdict.UNDECIDED
        if verdict is Verdict.LATE and first is not None:
            yield ctx.lesson_finding(
                lesson,
                {"cm": lesson.id, "student": sid},
                f"отсутствие внесено {first[8:10]}.{first[5:7]} в {first[11:16]}, позже срока",
                evidence="exact",
            )
        _count(ctx, verdict, lesson.sg)


def _reason_at(ctx: RuleContext, lesson: Lesson, student: int, moment: str) -> str | None:
    current = ctx.facts.codes.get(lesson.id, _NO_CODES).get(student)
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
                _count(ctx, Verdict.UNDECIDED, lesson.sg)
            elif _reason_at(ctx, lesson, student, seen) == "ОТ":
                yield ctx.lesson_finding(
                    lesson,
                    {"cm": lesson.id, "student": student},
                    f"причина отсутствия «ОТ» не уточнена к {deadline:%d.%m %H:%M}",
                    owner="chief",
                )


# --- accumulation and term marks ------------------------------------------------------------------

QUARTER_MIN = {1: 3, 2: 5, 3: 7}
HALF_MIN = {1: 5, 2: 8, 3: 10}


def _ended_terms(ctx: RuleContext) -> Iterator[tuple[int, int, date, date, int | None]]:
    """(sg, term, start, end, term type) of ended terms of marked groups (grades 2–11) in the period."""
    f = ctx.facts
    for sg, term in sorted(f.enrollment):
        if term not in f.terms or f.grade(sg) < 2:
            continue
        start, end, typ, _name = f.terms[term]
        if end < ctx.start or end > ctx.end or not ctx.passed(datetime.combine(end, time(23, 59, 59))):
            continue
        yield sg, term, start, end, typ


def _students(ctx: RuleContext, sg: int, term: int, end: date) -> list[int]:
    """The group's students of the term, in id order, without the exempt (``ctx.exempt``) and those who left
    before the term's end (``ctx.left_before`` the day after it): inlined, it runs for every enrolled student."""
    return _enrolled_at_end(ctx, sg, term, end, outside_class=False)


def _enrolled_at_end(ctx: RuleContext, sg: int, term: int, end: date, *, outside_class: bool) -> list[int]:
    """The group's students still enrolled the day after the term's end, in id order: those taught in class
    (``outside_class=False``) or those in family or home education, whose term marks are the deputy's (R15)."""
    enrolled = ctx.facts.enrollment.get((sg, term or 0), {})
    family, left_on = ctx.family_education, ctx.facts.left_on
    after = end + timedelta(days=1)
    out = []
    for student in sorted(enrolled):
        if (student in family or enrolled[student][1]) is not outside_class:
            continue
        left = left_on.get((sg, term or 0, student))
        if left is None or left >= after:
            out.append(student)
    return out


def _term_marks(ctx: RuleContext, sg: int, start: date, end: date) -> dict[int, list[float]]:
    """Per student of one group's term: [number of numeric current marks, sum of weights, sum of mark × weight],
    summed in lesson order (for the term rows of DEN001, FIN001, FIN003; not kept)."""
    sums: dict[int, list[float]] = {}
    for le in ctx.facts.lessons_by_sg.get(sg, []):
        if start <= le.day <= end:
            for a in le.work:
                marks = a.marks
                if marks is not None:
                    weight = a.weight
                    for student, mark in zip(marks.students, marks.values, strict=True):
                        acc = sums.get(student)
                        if acc is None:
                            sums[student] = [1, weight, mark * weight]
                        else:
                            acc[0] += 1
                            acc[1] += weight
                            acc[2] += mark * weight
    return sums


def weekly_hours(ctx: RuleContext, sg: int, start: date, end: date) -> int:
    key = ("weekly-hours", sg, start, end)
    hit = ctx.memo.get(key)
    if hit is None:
        weeks: defaultdict[tuple[int, int], int] = defaultdict(int)
        for le in ctx.facts.lessons_by_sg.get(sg, []):
            if start <= le.day <= end:
                weeks[le.day.isocalendar()[:2]] += 1
        hit = ctx.memo[key] = max(weeks.values(), default=0)
    return int(hit)


@dataclass(slots=True)
class TermRow:
    """One enrolled, non-exempt student of one group in one ended term, with what the term rules need."""

    sg: int
    term: int
    start: date
    end: date
    term_type: int | None
    student: int
    count: int  # numeric current marks
    weights: float  # their weights, summed
    weighted: float  # mark × weight, summed
    term_mark: tuple[str | None, int | None, str] | None  # (mark, mark type, first seen)

    @property
    def is_year(self) -> bool:
        """The year's own period: its mark is due (FIN002), but density and averages are the terms' business."""
        return self.term_type == YEAR_TERM_TYPE

    @property
    def numeric_term_mark(self) -> int | None:
        tm = self.term_mark
        if tm and tm[0] and tm[0].strip().isdigit() and (tm[1] or 0) == 0:
            return int(tm[0])
        return None


def _term_rows(ctx: RuleContext) -> list[TermRow]:
    """Shared by DEN001 and FIN001–FIN003 (computed once per check)."""
    key = ("term-rows", ctx.start, ctx.end)
    hit: list[TermRow] | None = ctx.memo.get(key)
    if hit is None:
        hit = []
        for sg, term, start, end, typ in _ended_terms(ctx):
            marks = {} if typ == YEAR_TERM_TYPE else _term_marks(ctx, sg, start, end)
            given = ctx.facts.term_marks.get((sg, term), {})
            for student in _students(ctx, sg, term, end):
                count, weights, weighted = marks.get(student) or _NO_TERM_MARKS
                mark = given.get(student)
                hit.append(TermRow(sg, term, start, end, typ, student, int(count), weights, weighted, mark))
        ctx.memo[key] = hit
    return hit


_NO_TERM_MARKS = [0, 0.0, 0.0]


def _term_finding(ctx: RuleContext, row: TermRow, text: str) -> Finding:
    label = ctx.facts.terms[row.term][3]
    entity = {"student": row.student, "sg": row.sg, "term": row.term}
    return ctx.group_finding(row.sg, entity, f"{label}: {text}", row.end)


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
    for row in _counted_term_rows(ctx):
        key = (row.sg, row.term)
        if key not in needs:
            table = half if row.term_type == 2 else quarter
            hours = weekly_hours(ctx, row.sg, row.start, row.end)
            needs[key] = table.get(min(max(hours, 1), 3)) if table else None
        need = needs[key]
        joined = ctx.facts.joined_on.get((row.sg, row.term, row.student))
        if need is not None and joined is not None:
            need = _since_joining(ctx, row, joined, need, str(ctx.p("late_joiners")))
        if need is not None and row.count < need:
            yield _term_finding(ctx, row, f"у обучающегося {row.count} отметок, нужно не меньше {need}")


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


def _counted_term_rows(ctx: RuleContext) -> list[TermRow]:
    """Term rows of the students density and term-mark minima count (ruling R13): not the exempt from the subject
    (term mark «осв»), not those absent with Б or УП on more than half of the group's lessons of the term, not
    groups without a single numeric mark in the term (зачётные, by design). Home and family education are left
    out of every term row already."""
    hit: list[TermRow] | None = ctx.memo.get("counted-term-rows")
    if hit is not None:
        return hit
    rows = _term_rows(ctx)
    marked_groups = {(r.sg, r.term) for r in rows if r.count}
    sick: dict[tuple[int, int], set[int]] = {}
    hit = []
    for r in rows:
        key = (r.sg, r.term)
        if key not in marked_groups or r.is_year or (r.term_mark and r.term_mark[1] == -2):
            continue
        if key not in sick:
            sick[key] = _mostly_away(ctx, r.sg, r.start, r.end)
        if r.student not in sick[key]:
            hit.append(r)
    ctx.memo["counted-term-rows"] = hit
    return hit


def _mostly_away(ctx: RuleContext, sg: int, start: date, end: date) -> set[int]:
    """Students absent with Б or УП on more than half of the group's lessons in the period."""
    lessons = [le for le in ctx.facts.lessons_by_sg.get(sg, []) if start <= le.day <= end]
    away: Counter[int] = Counter()
    for le in lessons:
        for student, code in codes_at(ctx, le).items():
            if code in ("Б", "УП"):
                away[student] += 1
    return {s for s, n in away.items() if n * 2 > len(lessons)}


@rule(
    "FIN001",
    "term-mark-on-too-few",
    "Итоговая отметка при недостаточном числе текущих",
    clause="5.9",
    advice="проверьте итоговую отметку: текущих отметок недостаточно",
    entity=("student", "sg", "term"),
    params={"quarter": 0, "half_year": 0},
    core=True,
    predicate="только с минимумом школы (quarter, half_year): выставлена числовая итоговая отметка, а текущих "
    "отметок меньше минимума; исключения — как у DEN001",
)
def fin001(ctx: RuleContext) -> Iterator[Finding]:
    """A numeric term mark needs a minimum of current marks, otherwise «н/а» (5.9 sends the number to the school's
    Положение о текущем контроле): the rule runs only with the school's minimum (ruling R13), and not for a student
    who joined the group after the term began (CB-33): his minimum is not the group's."""
    joined = ctx.facts.joined_on
    for row in _counted_term_rows(ctx):
        if (row.sg, row.term, row.student) in joined:
            continue
        minimum = int(ctx.p("half_year") if row.term_type == 2 else ctx.p("quarter"))
        mark = row.numeric_term_mark
        if minimum and mark is not None and row.count < minimum:
            yield _term_finding(ctx, row, f"итоговая «{mark}» при {row.count} текущих отметках")


@rule(
    "FIN002",
    "term-mark-missing",
    "Не выставлена итоговая отметка",
    clause="4.2.5.4",
    advice="выставьте итоговую отметку (или «н/а», «осв»)",
    entity=("student", "sg", "term"),
    params={"days": 3, "grace_minutes": 10},
    core=True,
    predicate="через 3 дня после окончания периода у обучающегося нет итоговой отметки (н/а и «освобождён» считаются); "
    "у обучающихся в семье и на дому итоговые вносит школа — замечание завучу",
)
def fin002(ctx: RuleContext) -> Iterator[Finding]:
    """Term marks are entered within a few days after the term ends. For a student in family or home education
    the school enters them from the attestation (4.2.2.9): the finding is the deputy's (ruling R15)."""
    dues = passed_dues(ctx, int(ctx.p("days")))
    rows = [(row, False) for row in _term_rows(ctx)]
    for sg, term, start, end, typ in _ended_terms(ctx):
        given = ctx.facts.term_marks.get((sg, term), {})
        for student in _enrolled_at_end(ctx, sg, term, end, outside_class=True):
            rows.append((TermRow(sg, term, start, end, typ, student, 0, 0.0, 0.0, given.get(student)), True))
    for row, deputy_owned in rows:
        due = dues[row.end]
        if due is None:
            continue
        first = row.term_mark[2] if row.term_mark else None
        if first is not None and first <= due.in_time:
            continue  # seen by the deadline + grace: on time (decide_due's first answer, without the call)
        verdict = ctx.decide_due(ctx.journal_key(row.sg, row.term), first, due)
        if verdict is Verdict.LATE:
            found = _term_finding(ctx, row, f"итоговая отметка не выставлена к {due.moment:%d.%m.%Y}")
            if deputy_owned:
                found.owner = "deputy"
            yield found
        _count(ctx, verdict, row.sg)


@rule(
    "FIN003",
    "term-mark-vs-average",
    "Итоговая отметка расходится со средним баллом",
    clause="5.9",
    advice="сверьте итоговую отметку со средним баллом",
    entity=("student", "sg", "term"),
    severity="info",
    core=True,
    owner="deputy",
    predicate="итоговая не совпадает со средневзвешенным баллом, округлённым по правилам арифметики (3,4 → 3; "
    "3,5 → 4) — средний балл лишь рекомендация: сведения для завуча",
)
def fin003(ctx: RuleContext) -> Iterator[Finding]:
    """The weighted average only recommends (5.9): a term mark other than the average rounded half up is
    information for the deputy, never a remark (a «4» at an average of 3.4 is one)."""
    for row in _term_rows(ctx):
        mark = row.numeric_term_mark
        total = row.weights
        if mark is None or not total or row.is_year:
            continue
        exact = row.weighted / total
        avg = round(exact, 2)
        if mark != math.floor(exact + 0.5):
            yield _term_finding(ctx, row, f"итоговая «{mark}», средний балл {avg:.2f}")


# --- the calendar (ruling R7) ------------------------------------------------------------------------


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
            f"{len(members)} уроков",
            None,
            cls,
            None,
            day,
            "observed",
        )
