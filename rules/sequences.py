"""Each student's sequence of marks and absences in a group, scanned by the school's own rules (MRK007, MRK008,
MRK010, DEN003).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from rules.context import ABSENT, Finding, RuleContext
from rules.facts import Lesson
from rules.helpers import (
    codes_at,
)
from rules.wording import LESSONS, TWOS, count


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
                lesson,
                {"cm": lesson.id, "student": student},
                f"после «2» нет отметок {count(window, *LESSONS)} подряд",
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
                    yield ctx.lesson_finding(
                        lesson,
                        {"cm": lesson.id, "student": student},
                        f"{count(chain, *TWOS)} подряд",
                    )


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
                            f"нет отметок {count(limit + 1, *LESSONS)} подряд (по {lesson.day:%d.%m})",
                            lesson.day,
                        )
                    break
        start = end + 1


# rule -> its checker and the integer parameter the checker takes (read once per check, not per student)
CHECKERS = {
    "MRK007": (_mrk007, ""),
    "MRK008": (_mrk008, "lessons"),
    "MRK010": (_mrk010, "chain"),
    "DEN003": (_den003, "lessons"),
}


def sequence_findings(ctx: RuleContext, code: str) -> list[Finding]:
    """The four per-student sequence rules share one pass over the sequences (the expensive part). The result is
    cached under the rules' effective parameters, so an override with other parameters is computed afresh."""
    rules = ctx.catalogue
    current = ctx.current
    try:
        params = []
        for c in CHECKERS:
            ctx.current = rules[c]
            params.append(tuple(sorted((k, repr(ctx.p(k))) for k in rules[c].params)))
        key = ("sequence-findings", tuple(params))
        cached: dict[str, list[Finding]] | None = ctx.memo.get(key)
        if cached is None:
            cached = {c: [] for c in CHECKERS}
            checks = []
            for c, (check, name) in CHECKERS.items():
                ctx.current = rules[c]
                checks.append((rules[c], check, int(ctx.p(name)) if name else 0, cached[c]))
            for sg, student, seq in _student_sequences(ctx):
                for r, check, value, found in checks:
                    ctx.current = r
                    found.extend(check(ctx, sg, student, seq, value))
            ctx.memo[key] = cached
        return cached[code]
    finally:
        ctx.current = current
