"""Term rows: one per enrolled student of a group in an ended term, with the counts the term rules read (DEN001,
FIN001–FIN003); the students density and minima count (ruling R13). Weekly hours are the group's most common
number of lessons a week in the term (the curriculum's, which the server does not send).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from cache.calendar import YEAR_TERM_TYPE
from rules.context import Finding, RuleContext
from rules.facts import GivenMark
from rules.helpers import (
    codes_at,
)

QUARTER_MIN = {1: 3, 2: 5, 3: 7}
HALF_MIN = {1: 5, 2: 8, 3: 10}


def ended_terms(ctx: RuleContext) -> Iterator[tuple[int, int, date, date, int | None]]:
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
    return enrolled_at_end(ctx, sg, term, end, outside_class=False)


def enrolled_at_end(ctx: RuleContext, sg: int, term: int, end: date, *, outside_class: bool) -> list[int]:
    """The group's students still enrolled the day after the term's end, in id order: those taught in class
    (``outside_class=False``) or those in family or home education, whose term marks are the deputy's (R15)."""
    enrolled = ctx.facts.enrollment.get((sg, term or 0), {})
    family, left_on = ctx.family_education, ctx.facts.left_on
    after = end + timedelta(days=1)
    out = []
    for student in sorted(enrolled):
        if (student in family or enrolled[student].home) is not outside_class:
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
        # R13: the curriculum's weekly hours. The timetable repeats every week, so the most common weekly count is
        # the curriculum's: a week with a holiday has fewer lessons, a week with a working Saturday more (docs/rules.md)
        tally = Counter(weeks.values())
        hit = ctx.memo[key] = max(tally, key=lambda n: (tally[n], n), default=0)
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
    term_mark: GivenMark | None

    @property
    def is_year(self) -> bool:
        """The year's own period: its mark is due (FIN002), but density and averages are the terms' business."""
        return self.term_type == YEAR_TERM_TYPE

    @property
    def numeric_term_mark(self) -> int | None:
        tm = self.term_mark
        if tm and tm.mark and tm.mark.strip().isdigit() and (tm.mark_type or 0) == 0:
            return int(tm.mark)
        return None


# A student there from the term's start leaves a trace (a mark, an absence) within its first week of lessons.
FIRST_WEEK = timedelta(days=7)


def joined_on(ctx: RuleContext, sg: int, term: int, start: date, end: date, student: int) -> date | None:
    """When the student came into the group after the term began (ruling R13, CB-33), else None.

    A student the group's list shows only after the mirror's first read of it joined on that day. One listed at that
    read was there when the mirror began — but when the mirror began after the term did, the server's list does not
    say since when (it carries no joining date). Then the journal tells: listed in the group's list of an earlier
    term, he was there from this term's start; else his first trace at the school this term (the first lesson day
    with a mark or an attendance code of his, any group) is when he came, when later than the group's first week of
    lessons (no trace at all: the term's end); present from the start but with traces in the other subgroup of the
    subject, he moved: his first trace in this group (none: the term's end). Such a date is never earlier than the
    real one, so the need it gives is never larger (R0); the one week of grace — a student there from the start
    almost always has a mark or an absence in it — risks only a joiner of the term's first week, whose pro-rata need
    is the full one anyway (rounded up) but whom FIN001 would skip."""
    f = ctx.facts
    known = f.joined_on.get((sg, term, student))
    if known is not None:
        return known
    first_read = f.list_first_seen.get((sg, term))
    if first_read is None or first_read <= start:
        return None
    listed = _first_listed(ctx).get((sg, student))
    if listed is not None and listed < start:
        return None
    traces = _traces(ctx)
    days = traces.days.get(student, [])
    i = bisect_left(days, start)
    first = days[i] if i < len(days) and days[i] <= end else None
    if first is None:
        return end
    week = traces.first_week.get((sg, start))
    if week is None:
        held = [le.day for le in f.lessons_by_sg.get(sg, []) if start <= le.day <= end]
        week = traces.first_week[(sg, start)] = (min(held) if held else start) + FIRST_WEEK
    if first > week:
        return first
    here = traces.in_group.get((sg, term, student))
    cls, subject = f.group_class.get(sg), f.group_subject.get(sg)
    moved = any(
        (other, term, student) in traces.in_group for other in traces.siblings.get((cls, subject), ()) if other != sg
    )
    if not moved:
        return None
    if here is None:
        return end
    return here if here > week else None


class _Traces(NamedTuple):
    days: dict[int, list[date]]  # student -> the sorted lesson days with a mark or a code of his
    in_group: dict[tuple[int, int | None, int], date]  # (group, term, student) -> his first such day there
    siblings: dict[tuple[int | None, str | None], list[int]]  # (class, subject) -> its groups (subgroups)
    first_week: dict[tuple[int, date], date]  # (group, term start) -> the end of its first week of lessons (memo)


def _traces(ctx: RuleContext) -> _Traces:
    hit: _Traces | None = ctx.memo.get("traces")
    if hit is None:
        f = ctx.facts
        days: defaultdict[int, set[date]] = defaultdict(set)
        in_group: dict[tuple[int, int | None, int], date] = {}
        for lesson in f.lessons.values():
            who = set(f.codes.get(lesson.id, ()))
            for a in lesson.work:
                if a.marks is not None:
                    who.update(a.marks.students)
            for student in who:
                days[student].add(lesson.day)
                key = (lesson.sg, lesson.term, student)
                old = in_group.get(key)
                if old is None or lesson.day < old:
                    in_group[key] = lesson.day
        siblings: defaultdict[tuple[int | None, str | None], list[int]] = defaultdict(list)
        for sg in f.lessons_by_sg:
            siblings[(f.group_class.get(sg), f.group_subject.get(sg))].append(sg)
        hit = ctx.memo["traces"] = _Traces({s: sorted(d) for s, d in days.items()}, in_group, dict(siblings), {})
    return hit


def _first_listed(ctx: RuleContext) -> dict[tuple[int, int], date]:
    """(group, student) -> the start of the earliest term whose list of the group shows the student."""
    hit: dict[tuple[int, int], date] | None = ctx.memo.get("first-listed")
    if hit is None:
        hit = {}
        terms = ctx.facts.terms
        for (sg, term), students in ctx.facts.enrollment.items():
            span = terms.get(term)
            if span is None:
                continue
            for student in students:
                old = hit.get((sg, student))
                if old is None or span.start < old:
                    hit[(sg, student)] = span.start
        ctx.memo["first-listed"] = hit
    return hit


def term_rows(ctx: RuleContext) -> list[TermRow]:
    """Shared by DEN001 and FIN001–FIN003 (computed once per check)."""
    key = ("term-rows", ctx.start, ctx.end)
    hit: list[TermRow] | None = ctx.memo.get(key)
    if hit is None:
        hit = []
        for sg, term, start, end, typ in ended_terms(ctx):
            marks = {} if typ == YEAR_TERM_TYPE else _term_marks(ctx, sg, start, end)
            given = ctx.facts.term_marks.get((sg, term), {})
            for student in _students(ctx, sg, term, end):
                count, weights, weighted = marks.get(student) or _NO_TERM_MARKS
                mark = given.get(student)
                hit.append(TermRow(sg, term, start, end, typ, student, int(count), weights, weighted, mark))
        ctx.memo[key] = hit
    return hit


_NO_TERM_MARKS = [0, 0.0, 0.0]


def term_finding(ctx: RuleContext, row: TermRow, text: str) -> Finding:
    label = ctx.facts.terms[row.term].name
    entity = {"student": row.student, "sg": row.sg, "term": row.term}
    return ctx.group_finding(row.sg, entity, f"{label}: {text}", row.end)


def counted_term_rows(ctx: RuleContext) -> list[TermRow]:
    """Term rows of the students density and term-mark minima count (ruling R13): not the exempt from the subject
    (term mark «осв», or «ОСВ» on a lesson of the term), not those absent with Б or УП on more than half of the
    group's lessons of the term, not groups without a single numeric mark in the term (зачётные, by design). Home
    and family education are left out of every term row already."""
    hit: list[TermRow] | None = ctx.memo.get("counted-term-rows")
    if hit is not None:
        return hit
    rows = term_rows(ctx)
    marked_groups = {(r.sg, r.term) for r in rows if r.count}
    sick: dict[tuple[int, int], set[int]] = {}
    hit = []
    for r in rows:
        key = (r.sg, r.term)
        if key not in marked_groups or r.is_year or (r.term_mark and r.term_mark.mark_type == -2):
            continue
        if key not in sick:
            sick[key] = not_counted(ctx, r.sg, r.start, r.end)
        if r.student not in sick[key]:
            hit.append(r)
    ctx.memo["counted-term-rows"] = hit
    return hit


def not_counted(ctx: RuleContext, sg: int, start: date, end: date) -> set[int]:
    """R13 by the attendance: mostly away (Б, УП on more than half of the lessons), or exempt from the subject
    (R11: «ОСВ» on a lesson of the period — even before the term mark «осв» is entered)."""
    away, released = _away_and_released(ctx, sg, start, end)
    return away | released


def _away_and_released(ctx: RuleContext, sg: int, start: date, end: date) -> tuple[set[int], set[int]]:
    lessons = [le for le in ctx.facts.lessons_by_sg.get(sg, []) if start <= le.day <= end]
    away: Counter[int] = Counter()
    released: set[int] = set()
    for le in lessons:
        for student, code in codes_at(ctx, le).items():
            if code in ("Б", "УП"):
                away[student] += 1
            elif code == "ОСВ":
                released.add(student)
    return {s for s, n in away.items() if n * 2 > len(lessons)}, released
