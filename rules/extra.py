"""Further checkable rules from the catalogue (docs/rules.md §3). They are recommendations or signals
rather than hard requirements of the Положение, so they are warnings or information, and the federal
recommendations on оценочные процедуры (OCP*) are ``preview``: run and stored, kept out of teacher lists
until the school selects them."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

from rules.context import ABSENT, Finding, RuleContext
from rules.core import codes_at, due_by_id, due_lessons, written_types
from rules.facts import M_NUMERIC, Lesson
from rules.registry import rule

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
                    lesson, {"cm": lesson.id}, f"{len(lessons)} оценочные процедуры в классе за день"
                )


@dataclass(slots=True)
class Sequence:
    """One student's lessons of one group, in order: the group's held lessons the student was in (not after
    their leave day). Sparse: only the positions with marks and with attendance codes are stored — the
    lessons in between are plain «present, no mark», so the rules walk events, not every lesson."""

    lessons: list[Lesson]  # the group's held lessons
    keep: list[int] | None  # indices into ``lessons`` when the student left during the year; None: all of them
    marks: dict[int, list[int]]  # position -> the student's numeric marks at that lesson (ascending positions)
    codes: dict[int, str]  # position -> attendance code (ascending positions)

    def __len__(self) -> int:
        return len(self.lessons) if self.keep is None else len(self.keep)

    def lesson(self, pos: int) -> Lesson:
        return self.lessons[pos if self.keep is None else self.keep[pos]]


def _student_sequences(ctx: RuleContext) -> Iterator[tuple[int, int, Sequence]]:
    """Per (group, student): the group's held lessons with the student's marks and absence codes. Generated group
    by group (not kept): memory stays flat on a large school's full year."""
    f = ctx.facts
    today = ctx.as_of.date()
    for sg, lessons in f.lessons_by_sg.items():
        if f.grade(sg) < 2:
            continue
        held = [le for le in lessons if le.day <= today and f.is_school_day(le.day)]
        if not held:
            continue
        marked: defaultdict[int, dict[int, list[int]]] = defaultdict(dict)
        coded: defaultdict[int, dict[int, str]] = defaultdict(dict)
        for pos, le in enumerate(held):
            for a in le.work:
                marks = a.marks
                if marks is not None:
                    for student, mark in zip(marks.students, marks.values, strict=True):
                        at = marked[student].get(pos)
                        if at is None:
                            marked[student][pos] = [mark]
                        else:
                            at.append(mark)
            for student, code in codes_at(ctx, le).items():
                coded[student][pos] = code
        terms = {le.term for le in held}
        students = {s for term in terms for s in f.enrollment.get((sg, term or 0), {})}
        for student in sorted(students):
            if ctx.exempt(sg, held[0].term, student):
                continue
            left = {term: f.left_on.get((sg, term or 0, student)) for term in terms}
            own_marks, own_codes = marked.get(student, {}), coded.get(student, {})
            if all(gone is None for gone in left.values()):
                yield sg, student, Sequence(held, None, own_marks, own_codes)
                continue
            keep = [i for i, le in enumerate(held) if (gone := left[le.term]) is None or gone >= le.day]
            position = {i: p for p, i in enumerate(keep)}
            yield (
                sg,
                student,
                Sequence(
                    held,
                    keep,
                    {position[i]: m for i, m in own_marks.items() if i in position},
                    {position[i]: c for i, c in own_codes.items() if i in position},
                ),
            )


def _mrk007(ctx: RuleContext, sg: int, student: int, seq: Sequence, _unused: int) -> Iterator[Finding]:
    """A «2» at the lesson right after an absence (Б, УП, НП)."""
    n = len(seq)
    for pos, code in seq.codes.items():
        if code in {"Б", "УП", "НП"} and pos + 1 < n and 2 in seq.marks.get(pos + 1, ()):
            lesson = seq.lesson(pos + 1)
            if ctx.in_period(lesson.day):
                yield ctx.lesson_finding(
                    lesson, {"cm": lesson.id, "student": student}, "«2» на первом уроке после пропуска"
                )


def _mrk008(ctx: RuleContext, sg: int, student: int, seq: Sequence, window: int) -> Iterator[Finding]:
    """A «2» followed by ``window`` lessons of the sequence without any mark (parameter ``lessons``)."""
    n = len(seq)
    positions = list(seq.marks)
    for i, pos in enumerate(positions):
        if 2 not in seq.marks[pos] or pos + window >= n:
            continue
        if i + 1 < len(positions) and positions[i + 1] <= pos + window:
            continue
        lesson = seq.lesson(pos)
        if ctx.in_period(lesson.day):
            yield ctx.lesson_finding(
                lesson, {"cm": lesson.id, "student": student}, f"после «2» нет отметок {window} урока"
            )


def _mrk010(ctx: RuleContext, sg: int, student: int, seq: Sequence, chain: int) -> Iterator[Finding]:
    """``chain`` «2» in a row among the student's marks (lessons without marks do not break the chain)."""
    run = 0
    for pos, marks in seq.marks.items():
        for mark in marks:
            run = run + 1 if mark == 2 else 0
            if run == chain:
                lesson = seq.lesson(pos)
                if ctx.in_period(lesson.day):
                    yield ctx.lesson_finding(lesson, {"cm": lesson.id, "student": student}, f"{chain} «2» подряд")


def _den003(ctx: RuleContext, sg: int, student: int, seq: Sequence, limit: int) -> Iterator[Finding]:
    """More than ``limit`` lessons in a row without a mark (parameter ``lessons``), absences (УП, НП, ОТ, Б) not
    counted. Between two marked lessons the run is walked only when the stretch is long enough to hold one."""
    n = len(seq)
    codes = seq.codes
    start = 0
    for end in [*seq.marks, n]:  # the stretch [start, end) has no marks
        if end - start > limit:
            run = 0
            for pos in range(start, end):
                if codes.get(pos) in ABSENT:
                    continue
                run += 1
                if run == limit + 1:
                    lesson = seq.lesson(pos)
                    if ctx.in_period(lesson.day):
                        yield ctx.group_finding(
                            sg,
                            {"student": student, "sg": sg},
                            f"нет отметок {limit + 1} уроков подряд (по {lesson.day:%d.%m})",
                            lesson.day,
                        )
                    break
        start = end + 1


# rule -> its checker and the integer parameter the checker takes (read once per check, not per student)
_CHECKERS = {
    "MRK007": (_mrk007, ""),
    "MRK008": (_mrk008, "lessons"),
    "MRK010": (_mrk010, "chain"),
    "DEN003": (_den003, "lessons"),
}


def _sequence_findings(ctx: RuleContext, code: str) -> list[Finding]:
    """The four per-student sequence rules share one pass over the sequences (the expensive part). The result is
    cached under the rules' effective parameters, so an override with other parameters is computed afresh."""
    from rules.registry import REGISTRY

    current = ctx.current
    try:
        params = []
        for c in _CHECKERS:
            ctx.current = REGISTRY[c]
            params.append(tuple(sorted((k, repr(ctx.p(k))) for k in REGISTRY[c].params)))
        key = ("sequence-findings", tuple(params))
        cached: dict[str, list[Finding]] | None = ctx.memo.get(key)
        if cached is None:
            cached = {c: [] for c in _CHECKERS}
            checks = []
            for c, (check, name) in _CHECKERS.items():
                ctx.current = REGISTRY[c]
                checks.append((REGISTRY[c], check, int(ctx.p(name)) if name else 0, cached[c]))
            for sg, student, seq in _student_sequences(ctx):
                for r, check, value, found in checks:
                    ctx.current = r
                    found.extend(check(ctx, sg, student, seq, value))
            ctx.memo[key] = cached
        return cached[code]
    finally:
        ctx.current = current


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
    return iter(_sequence_findings(ctx, "MRK007"))


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
    return iter(_sequence_findings(ctx, "MRK008"))


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
    return iter(_sequence_findings(ctx, "MRK010"))


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
    return iter(_sequence_findings(ctx, "DEN003"))


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


@rule(
    "WVR001",
    "waiver-stale",
    "Исключение истекло или ни к чему не применилось",
    clause="4.2.2.8",
    advice="проверьте или удалите исключение",
    entity=("waiver",),
    severity="info",
    owner="deputy",
    predicate="исключение (waiver) просрочено или в этой проверке не скрыло ни одного замечания",
)
def wvr001(ctx: RuleContext) -> Iterator[Finding]:
    """Waivers are the deputy's decisions («замечание принято, причина …»). They expire and may outlive their
    reason; this rule lists those to review. Its findings are produced by the engine after all other rules ran
    (it needs their results), so this function yields nothing itself."""
    return iter(())
