"""Timeliness (TML): topics, homework, forms of control and marks by their deadlines; the КТП within a week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta

from rules.context import ABSENT, DEFAULT_IN_LESSON, DEFAULT_WRITTEN, Finding, RuleContext
from rules.evidence import Verdict, topic_key
from rules.facts import Assignment, Lesson
from rules.helpers import (
    NO_DEADLINE_TYPES,
    codes_at,
    count_verdict,
    double_lessons,
    due_lessons,
    empty_lessons,
    homework_index,
    in_lesson_by_type,
    last_before_break,
    next_lesson_term,
    passed_dues,
    present_last,
    written_by_type,
)
from rules.registry import rule


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
    empty = empty_lessons(ctx)  # R21: one TML007 item instead
    for lesson in due_lessons(ctx):
        if lesson.id in empty:
            continue
        topic = topics.get(lesson.id)  # when the topic was first seen
        deadline = due.of(lesson)
        exact = ctx.exact_at(exact_topic.get(lesson.id), deadline) if topic else None
        key = topic_key(lesson.id)
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
        count_verdict(ctx, verdict, lesson.sg)


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
    given_at = homework_index(ctx)
    grade1_groups = {sg for sg in f.group_class if f.grade(sg) == 1}
    breaks = last_before_break(ctx)
    doubles = double_lessons(ctx)
    empty = empty_lessons(ctx)  # R21: one TML007 item instead
    for lesson in due_lessons(ctx):
        if lesson.id in empty:
            continue
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
            late = (" (внесена позже)" if grade1 else " (внесено позже)") if valid else ""  # «запись … внесена»
            yield ctx.lesson_finding(
                lesson, {"cm": lesson.id}, text + late, settled=bool(valid), evidence="exact" if exact else "observed"
            )
        count_verdict(ctx, verdict, lesson.sg)


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
    empty = empty_lessons(ctx)  # R21: one TML007 item instead
    for lesson in due_lessons(ctx):
        if lesson.id in empty:
            continue
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
        count_verdict(ctx, verdict, lesson.sg)


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
            count_verdict(ctx, Verdict.UNDECIDED, lesson.sg)


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
                count_verdict(ctx, Verdict.UNDECIDED, lesson.sg)
                continue
            verdict = ctx.decide_due(key, None, due)
            if verdict is Verdict.LATE and _someone_to_mark(ctx, lesson):
                yield _written(ctx, lesson, a, "отметки за письменную работу не выставлены в течение 7 дней")
            elif verdict is Verdict.UNDECIDED:
                count_verdict(ctx, verdict, lesson.sg)


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
    approved = ctx.work_program_approved or min((t.start for t in f.terms.values()), default=ctx.as_of.date())
    deadline = datetime.combine(approved + timedelta(days=int(ctx.p("days"))), time(23, 59, 59))
    if not ctx.passed(deadline):
        return
    for sg in f.groups:
        if sg in f.plans:
            continue
        verdict = ctx.decide("ktp", {"sg_id": sg}, None, deadline)
        if verdict is Verdict.LATE:
            yield ctx.group_finding(sg, {"sg": sg}, f"КТП не загружено (срок {deadline:%d.%m.%Y})", None)
        count_verdict(ctx, verdict, sg)


@rule(
    "TML007",
    "lesson-empty",
    "Урок не заполнен",
    clause="3.7, 4.2.5.2",
    advice="заполните урок (тема, домашнее задание, форма контроля); если урок не состоялся — сообщите завучу, "
    "чтобы его убрали из расписания",
    entity=("cm",),
    params={"deadline": "16:00", "grace_minutes": 10},
    core=True,
    predicate="у проведённого урока после его срока никто ничего не внёс: ни темы, ни домашнего задания, ни формы "
    "контроля, ни отметок, ни посещаемости — одна строка вместо TML001–TML003 (пустой день всего класса — CAL002)",
    extracurricular=True,
)
def tml007(ctx: RuleContext) -> Iterator[Finding]:
    """A held lesson with nothing entered by anyone is one item, not four (ruling R21): the lesson may not have
    taken place — the schedule is the dispatcher's (4.2.4.1), so the teacher is asked to fill it in or to tell the
    deputy. The mirror's current state decides: a lesson filled in later is judged by TML001–TML004 as usual."""
    empty = empty_lessons(ctx)
    due = ctx.due_table()
    for lesson in due_lessons(ctx):
        if lesson.id not in empty:
            continue
        # an observation of the lesson's journal after its deadline must have found it empty (R18)
        verdict = ctx.decide_due(ctx.journal_key(lesson.sg, lesson.term), None, due.of(lesson))
        if verdict is Verdict.LATE:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, "урок не заполнен: ничего не внесено")
        count_verdict(ctx, verdict, lesson.sg)


RULES = (
    tml001,
    tml002,
    tml003,
    tml004,
    tml005,
    tml006,
    tml007,
)
