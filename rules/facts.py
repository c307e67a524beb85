"""What the rules read: one pass of SQL over the mirror, shaped for the checks (read-only)."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlite_utils import Database

from cache import BackgroundReads
from cache.calendar import YEAR_TERM_TYPE, has_parts, is_year_period
from cache.runs import ACCESS_SINCE

HOMEWORK_NAME = "Домашнее задание"


@dataclass(slots=True)
class Lesson:
    id: int
    sg: int
    term: int | None
    day: date
    number: int | None
    work: tuple[Assignment, ...] = ()  # the assignments attached to the lesson (class_meeting_id)


class TermSpan(NamedTuple):
    """A term of the mirror: its dates, ``term_type_id`` and name («2 четверть», «Год»)."""

    start: date
    end: date
    type: int | None
    name: str


class Listed(NamedTuple):
    """A student in a group's list for a term: ``free`` — left the group; ``home`` — taught at home
    (``individualEduc``)."""

    free: bool
    home: bool


class GivenMark(NamedTuple):
    """A student's term (or year) mark as the mirror holds it."""

    mark: str | None
    mark_type: int | None  # 0 numeric, -2 «осв» (exempt) …
    first_seen: str


@dataclass(slots=True)
class Assignment:
    id: int
    sg: int
    term: int | None
    cm: int | None
    type_id: int
    name: str
    weight: float
    issue_date: date | None
    issue_cm: int | None
    first_seen: str
    marks: MarkSet | None = None  # its numeric marks (None: it has none)
    # exact entry times from the access report (None: it has none): the «Задание» entry of a classwork item or
    # the «Домашнее задание» entry at its issue lesson; the first and last «Отметка» entry of its type at its lesson
    entered: str | None = None
    marked: tuple[str, str] | None = None


@dataclass(slots=True)
class MarkSet:
    """The numeric marks of one assignment, aggregated in SQL: students and marks side by side (one mark per
    student), and the earliest and latest first sighting. A year of a large school is ~470 000 marks in ~50 000
    sets: per-mark Python objects were most of the load's time and memory."""

    students: tuple[int, ...]
    values: tuple[int, ...]
    first: str  # earliest first_seen_at of these marks
    last: str  # latest first_seen_at

    def __len__(self) -> int:
        return len(self.students)


@dataclass
class Facts:
    settings: dict[str, Any] = field(default_factory=dict)  # school/settings as the server sent them (minMark …)
    lesson_end: dict[int, str] = field(default_factory=dict)  # lesson number -> its bell's end «HH:MM»
    lesson_days: set[date] = field(default_factory=set)  # days with at least one lesson (R7: school days)
    lessons: dict[int, Lesson] = field(default_factory=dict)
    lessons_by_sg: dict[int, list[Lesson]] = field(default_factory=lambda: defaultdict(list))
    group_class: dict[int, int] = field(default_factory=dict)
    group_subject: dict[int, str] = field(default_factory=dict)
    group_label: dict[int, str] = field(default_factory=dict)  # "Иностранный язык (английский) (1 подгруппа)"
    group_teacher: dict[int, int | None] = field(default_factory=dict)
    class_name: dict[int, str] = field(default_factory=dict)
    class_grade: dict[int, int] = field(default_factory=dict)
    class_chief: dict[int, int | None] = field(default_factory=dict)
    vacations: list[tuple[date, date]] = field(default_factory=list)
    terms: dict[int, TermSpan] = field(default_factory=dict)
    topics: dict[int, str] = field(default_factory=dict)  # lesson -> first seen of its topic (texts: topic_texts)
    type_name: dict[int, str] = field(default_factory=dict)
    homework_by_sg: dict[int, list[Assignment]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[int, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))  # cm -> student -> code
    code_seen: dict[tuple[int, int], str] = field(default_factory=dict)  # (cm, student) -> first seen of the row
    attendance_history: dict[tuple[int, int], list[tuple[str, str | None, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    enrollment: dict[tuple[int, int], dict[int, Listed]] = field(default_factory=lambda: defaultdict(dict))
    left_on: dict[tuple[int, int, int], date] = field(default_factory=dict)  # (sg, term, student) -> leave day
    # (sg, term, student) -> the day the group's list first showed a student it had not shown before: a late joiner
    # (the students listed at the mirror's first read of that list are not: they were there when it began)
    joined_on: dict[tuple[int, int, int], date] = field(default_factory=dict)
    list_first_seen: dict[tuple[int, int], date] = field(default_factory=dict)  # (sg, term) -> its list's first read
    term_marks: dict[tuple[int, int], dict[int, GivenMark]] = field(default_factory=lambda: defaultdict(dict))
    plans: set[int] = field(default_factory=set)
    extracurricular: set[int] = field(default_factory=set)  # groups of внеурочная деятельность (ruling R19)
    iup_grade: dict[int, int] = field(default_factory=dict)  # ИУП group (no class) -> its grade (ruling R20)
    groups: list[int] = field(default_factory=list)
    staff_name: dict[int, str] = field(default_factory=dict)
    _school_days: dict[date, bool] = field(default_factory=dict)
    background: BackgroundReads | None = None  # load's reads in the background, ``also`` among them, by name
    # exact evidence from «Отчёт о доступе к классному журналу» (entry times, school-local ISO); the assignments'
    # own entry times are on them (Assignment.entered, .marked)
    exact_topic: dict[int, str] = field(default_factory=dict)  # cm -> first «тема урока» action
    student_by_name: dict[str, int | None] = field(default_factory=dict)  # the access report names students
    exact_attendance: dict[tuple[int, int], list[tuple[str, str]]] = field(default_factory=dict)  # -> [(at, code)]

    # ruling R6, who taught a lesson: the teacher the server recorded for it; else a teacher who never taught the
    # group and entered its topic or marks on the lesson day (access report); else the group's teacher that day
    recorded_teacher: dict[int, int] = field(default_factory=dict)  # cm -> teacher
    substitute: dict[int, int] = field(default_factory=dict)  # cm -> the first such user of the access report
    # (group, lesson day) whose owner is in doubt (R0, R6): a teacher who never taught the group entered its topic,
    # work or marks on another day, nobody such did on the day, and the schedule names nobody — a substitute who
    # filled the journal in later, perhaps; the lesson's teacher items there are «не определено», never the group's
    # teacher's remark (issue #32: the per-lesson ``teacher`` is not in the evidence)
    doubtful_owner: set[tuple[int, date]] = field(default_factory=set)
    # which lessons the mirrored access report covers, per report scope — ("class", class id) or ("iup", grade):
    # (the first day it was read from, or None when the mirror predates that record; the day it was read through,
    # the sync's own date). R6's second step (who entered the lesson on its day) is known only for those lessons
    report_read: dict[tuple[str, int], tuple[date | None, date]] = field(default_factory=dict)
    teacher_spans: dict[int, list[tuple[int, str, str | None]]] = field(default_factory=dict)  # sg -> (t, from, to)
    departed: set[int] = field(default_factory=set)  # staff the directory no longer lists: no e-mail, deputy's
    chief_spans: dict[int, list[tuple[int, str, str | None]]] = field(default_factory=dict)  # class -> (u, from, to)
    _on: dict[tuple[str, int, date], int | None] = field(default_factory=dict)

    def teacher_on(self, sg: int, day: date) -> int | None:
        """The group's teacher on ``day`` from the mirror's history of teacher assignments (``on_day``)."""
        return self._holder("sg", sg, day, self.teacher_spans, self.group_teacher)

    def chief_on(self, cls: int, day: date) -> int | None:
        """The class teacher of ``cls`` on ``day`` (ruling R6: class-teacher items go to the one of that date)."""
        return self._holder("class", cls, day, self.chief_spans, self.class_chief)

    def _holder(
        self,
        kind: str,
        key: int,
        day: date,
        history: dict[int, list[tuple[int, str, str | None]]],
        current: dict[int, int | None],
    ) -> int | None:
        memo = (kind, key, day)
        if memo not in self._on:
            spans = history.get(key)
            self._on[memo] = on_day(spans, day) if spans else current.get(key)
        return self._on[memo]

    def lesson_teacher(self, lesson: Lesson) -> int | None:
        """Who answers for one lesson (ruling R6)."""
        return (
            self.recorded_teacher.get(lesson.id)
            or self.substitute.get(lesson.id)
            or self.teacher_on(lesson.sg, lesson.day)
        )

    def owner_known(self, lesson: Lesson) -> bool:
        """Ruling R6 with R0: whether the evidence names who answers for ``lesson``. It does when the server records
        a teacher for the lesson, or the access report shows a substitute entering it on its day, or — for the group's
        teacher — the report covers the lesson's day (read from it or earlier and through a later day) and shows no
        doubt (``doubtful_owner``). Without the report nothing tells a substituted lesson from any other (the
        schedule names no substitute: issue #32), so the group's teacher is not assumed: the items are «не
        определено» (``engine._owner_in_doubt``)."""
        if lesson.id in self.recorded_teacher or lesson.id in self.substitute:
            return True
        if (lesson.sg, lesson.day) in self.doubtful_owner:
            return False
        cls = self.group_class.get(lesson.sg)
        key = ("class", cls) if cls is not None else ("iup", self.iup_grade.get(lesson.sg, 0))
        span = self.report_read.get(key)
        if span is None:
            return False
        since, through = span
        return (since is None or since <= lesson.day) and lesson.day < through

    def is_school_day(self, d: date) -> bool:
        """Ruling R7: a day with lessons in the mirror (Saturdays too) that does not lie in a vacation or holiday."""
        hit = self._school_days.get(d)
        if hit is None:
            hit = self._school_days[d] = d in self.lesson_days and not self.in_vacation(d)
        return hit

    def in_vacation(self, d: date) -> bool:
        return any(a <= d <= b for a, b in self.vacations)

    def next_school_day(self, d: date) -> date:
        n = d + timedelta(days=1)
        for _ in range(60):
            if self.is_school_day(n):
                return n
            n += timedelta(days=1)
        return n

    def grade(self, sg: int) -> int:
        """The group's grade: its class's, or an ИУП group's own (ruling R20); 0 when unknown."""
        cls = self.group_class.get(sg)
        return self.class_grade.get(cls, 0) if cls is not None else self.iup_grade.get(sg, 0)

    def is_written(self, type_id: int, written: set[str]) -> bool:
        """A written work: its type's name is one of ``written`` exactly. A type the tool does not know gets the
        lenient reading (ruling R2, R0): a school adds its own names to ``written_types``."""
        return self.type_name.get(type_id, "") in written

    def is_homework(self, type_id: int) -> bool:
        return self.type_name.get(type_id) == HOMEWORK_NAME


def _d(s: str | None) -> date | None:
    return date.fromisoformat(s[:10]) if s else None


US, RS = "\x1f", "\x1e"  # record and field separators of the worker's one-text results


def numeric(mark: str) -> str:
    """SQL: the mark column ``mark`` holds a numeric mark — digits, perhaps with spaces around them (the usual bare
    digits tested first, cheaply). Python reads it with int()."""
    bare = f"{mark} <> '' AND {mark} NOT GLOB '*[^0-9]*'"
    trimmed = f"trim({mark}) <> '' AND trim({mark}) NOT GLOB '*[^0-9]*'"
    return f"(({bare}) OR ({trimmed}))"


M_NUMERIC = numeric('m."mark"')  # for queries that name the mark table m

# The numeric marks of each assignment as one text: records split by RS, fields by US, students and marks by ",".
# A year of a large school is ~470 000 marks: aggregating them is a third of a second of SQLite's own work, done
# in the background while the lessons and assignments are read (``cache.BackgroundReads``).
NUMERIC_MARKS = (
    "SELECT group_concat(aid || char(31) || students || char(31) || marks || char(31) || first || char(31) || last, "
    'char(30)) FROM (SELECT m."assignment_id" AS aid, group_concat(m."student_id") AS students, '
    'group_concat(m."mark") AS marks, min(m."first_seen_at") AS first, max(m."first_seen_at") AS last '
    f'FROM "mark" m WHERE m."gone_at" IS NULL AND {M_NUMERIC} GROUP BY 1)'
)

# The access report's entry times of each assignment, matched in SQL (each match one seek in the report's covering
# index): a classwork item's «Задание «<type>»: … («<text>»)» at its lesson (detail "<type>|<text>"), a
# homework's «Домашнее задание: … («<text>»)» at its issue lesson (issueCmId, else the group's first lesson of the
# issue day), and the first and last «Отметка «<type>»» at its lesson. One text, as NUMERIC_MARKS; assignments
# without any entry are left out.
ENTRY_TIMES = f"""
WITH "e" AS MATERIALIZED (
  SELECT a."id" AS aid,
    CASE WHEN t."name" = '{HOMEWORK_NAME}' THEN (
      SELECT min(l."at") FROM "access_log" l WHERE l."cm_id" = coalesce(a."issue_cm_id", (
          SELECT c."id" FROM "class_meeting" c WHERE c."sg_id" = a."sg_id" AND c."day" = substr(a."issue_date", 1, 10)
          AND c."gone_at" IS NULL ORDER BY coalesce(c."number", 0), c."id" LIMIT 1))
        AND l."kind" = 'homework' AND l."detail" = coalesce(a."name", '') AND l."at" <= ?1)
    ELSE (
      SELECT min(l."at") FROM "access_log" l WHERE l."cm_id" = a."class_meeting_id" AND l."kind" = 'task'
        AND l."detail" = coalesce(t."name", '') || '|' || coalesce(a."name", '') AND l."at" <= ?1)
    END AS entered,
    (SELECT min(l."at") FROM "access_log" l WHERE l."cm_id" = a."class_meeting_id" AND l."kind" = 'mark'
        AND l."detail" = coalesce(t."name", '') AND l."at" <= ?1) AS low,
    (SELECT max(l."at") FROM "access_log" l WHERE l."cm_id" = a."class_meeting_id" AND l."kind" = 'mark'
        AND l."detail" = coalesce(t."name", '') AND l."at" <= ?1) AS high
  FROM "assignment" a LEFT JOIN "assignment_type" t ON t."id" = a."type_id" AND t."gone_at" IS NULL
  WHERE a."gone_at" IS NULL
)
SELECT group_concat(aid || char(31) || coalesce(entered, '') || char(31) || coalesce(low, '') || char(31)
  || coalesce(high, ''), char(30)) FROM "e" WHERE entered IS NOT NULL OR low IS NOT NULL
"""

# The first «Тема урока» entry of each lesson, as one text like NUMERIC_MARKS
TOPIC_ENTRIES = (
    'SELECT group_concat(cm || char(31) || at, char(30)) FROM (SELECT "cm_id" AS cm, min("at") AS at '
    'FROM "access_log" WHERE "cm_id" IS NOT NULL AND "at" <= ?1 AND "kind" = \'topic\' GROUP BY 1)'
)


# Who entered a lesson's topic or marks on the lesson day without ever teaching the group (ruling R6): "cm US user"
# records in entry order; a teacher among them is the substitute who taught it (the deputy correcting the journal
# teaches no group, or taught this one)
SUBSTITUTES = (
    'SELECT group_concat(cm || char(31) || uid, char(30)) FROM (SELECT a."cm_id" AS cm, a."user_id" AS uid '
    'FROM "access_log" a WHERE a."cm_id" IS NOT NULL AND a."user_id" IS NOT NULL AND a."at" <= ?1 '
    'AND a."kind" IN (\'topic\', \'mark\') AND substr(a."at", 1, 10) = a."lesson_day" AND NOT EXISTS ('
    'SELECT 1 FROM "subject_group_teacher" t WHERE t."sg_id" = a."sg_id" AND t."teacher_id" = a."user_id") '
    'ORDER BY a."at")'
)


def load(db: Database, as_of: datetime, also: Mapping[str, tuple[str, list[Any]]] | None = None) -> Facts:
    """The facts as of ``as_of``. ``also``: further named reads of one value each (the observations, the SQL
    rules' queries), read in the background after the load's own; the caller takes them from ``Facts.background``."""
    limit = as_of.strftime("%Y-%m-%dT%H:%M:%S")
    reads: dict[str, tuple[str, list[Any]]] = {"numeric marks": (NUMERIC_MARKS, [])}
    access = bool(db.execute('SELECT EXISTS (SELECT 1 FROM "access_log" WHERE "cm_id" IS NOT NULL)').fetchone()[0])
    if access:
        reads |= {
            "topic entries": (TOPIC_ENTRIES, [limit]),
            "entry times": (ENTRY_TIMES, [limit]),
            "substitutes": (SUBSTITUTES, [limit]),
        }
    f = Facts()
    f.background = background = BackgroundReads(db, {**reads, **(also or {})})
    q = db.execute
    for cid, name, grade in q('SELECT "id", "name", "grade" FROM "school_class" WHERE "gone_at" IS NULL'):
        f.class_name[cid], f.class_grade[cid] = name, grade or 0
    for cid, uid in q('SELECT "class_id", min("user_id") FROM "class_chief" WHERE "gone_at" IS NULL GROUP BY 1'):
        f.class_chief[cid] = uid
    f.chief_spans = _post_history(db, "class_chief", "class_id", "user_id")
    for sg, cls, subj, name, extra, iup_grade in q(
        'SELECT g."id", g."class_id", coalesce(s."name", g."name"), g."name", g."extracurricular", g."iup_grade" '
        'FROM "subject_group" g LEFT JOIN "subject" s ON s."id" = g."subject_id" WHERE g."gone_at" IS NULL'
    ):
        if cls is None and iup_grade:
            f.iup_grade[sg] = iup_grade
        f.group_class[sg], f.group_subject[sg] = cls, subj
        f.group_label[sg] = group_label(name, subj)
        f.groups.append(sg)
        if extra:
            f.extracurricular.add(sg)
    # a group none of whose scheduled lessons is a lesson: the schedule's relay 2 (внеурочная деятельность, R19)
    for (sg,) in q(
        'SELECT "sg_id" FROM "class_meeting" WHERE "gone_at" IS NULL GROUP BY "sg_id" '
        'HAVING count("relay") > 0 AND min("relay") = 2 AND max("relay") = 2'
    ):
        f.extracurricular.add(sg)
    for sg, tid in q(
        'SELECT "sg_id", min("teacher_id") FROM "subject_group_teacher" WHERE "gone_at" IS NULL GROUP BY 1'
    ):
        f.group_teacher[sg] = tid
    f.teacher_spans = spans = _post_history(db, "subject_group_teacher", "sg_id", "teacher_id")
    f.recorded_teacher = dict(
        q('SELECT "id", "teacher_id" FROM "class_meeting" WHERE "gone_at" IS NULL AND "teacher_id" IS NOT NULL')
    )
    f.departed = {i for (i,) in q('SELECT "id" FROM "staff" WHERE "gone_at" IS NOT NULL')}
    teachers = {t for rows in spans.values() for t, _s, _e in rows}  # for the substitutes, read by the worker
    f.vacations = [
        (date.fromisoformat(a[:10]), date.fromisoformat(b[:10]))
        for a, b in q('SELECT "start_date", "end_date" FROM "vacation" WHERE "gone_at" IS NULL')
        if a and b
    ]
    listed = [
        (tid, date.fromisoformat(a[:10]), date.fromisoformat(b[:10]), typ, name)
        for tid, a, b, typ, name in q(
            'SELECT "id", "start_date", "end_date", "term_type_id", "name" FROM "term" WHERE "gone_at" IS NULL'
        )
        if a and b
    ]
    span = (min(r[1] for r in listed), max(r[2] for r in listed)) if listed else None
    bounds = [(r[1], r[2]) for r in listed]
    for tid, start, end, typ, name in listed:
        # the year's own period by the server's list (its kind, its name or its span), whatever its type id
        parts = has_parts((start, end), bounds)
        kind = YEAR_TERM_TYPE if is_year_period(typ, name, start, end, span, has_parts=parts) else typ
        f.terms[tid] = TermSpan(start, end, kind, name)
    days: dict[str, date] = {}  # one date object per distinct day (memory on a full year)
    shared: dict[Any, Any] = {}  # one object per distinct group / term / type id
    weights: dict[float, float] = {}
    intern = sys.intern  # observation times repeat: a few hundred distinct strings for a year of rows
    for cm, sg, term, day, number, topic_seen in q(
        'SELECT c."id", c."sg_id", c."term_id", c."day", c."number", t."first_seen_at" FROM "class_meeting" c '
        'LEFT JOIN "lesson_topic" t ON t."cm_id" = c."id" WHERE c."gone_at" IS NULL '
        'ORDER BY c."day", coalesce(c."number", 0), c."id"'
    ):
        d = days.get(day)
        if d is None:
            d = days[day] = date.fromisoformat(day)
        lesson = Lesson(cm, shared.setdefault(sg, sg), shared.setdefault(term, term), d, number)
        f.lessons[cm] = lesson
        f.lesson_days.add(d)
        f.lessons_by_sg[sg].append(lesson)
        if topic_seen is not None:
            f.topics[cm] = intern(topic_seen)
    f.type_name = dict(q('SELECT "id", "name" FROM "assignment_type" WHERE "gone_at" IS NULL').fetchall())
    share, weight_of = shared.setdefault, weights.setdefault
    by_cm: defaultdict[int, list[Assignment]] = defaultdict(list)
    by_id: dict[int, Assignment] = {}
    homework = {tid for tid, name in f.type_name.items() if name == HOMEWORK_NAME}
    for aid, sg, term, cm, typ, name, weight, issued, issue_cm, first in q(
        'SELECT "id", "sg_id", "term_id", "class_meeting_id", "type_id", coalesce("name", \'\'), '
        'CAST(coalesce("weight", 0) AS REAL), substr("issue_date", 1, 10), "issue_cm_id", "first_seen_at" '
        'FROM "assignment" WHERE "gone_at" IS NULL'
    ):
        a = Assignment(
            aid,
            share(sg, sg),
            share(term, term),
            cm,
            share(typ, typ),
            intern(name),
            weight_of(weight, weight),
            (days.get(issued) or date.fromisoformat(issued)) if issued else None,
            issue_cm,
            intern(first),
        )
        by_id[aid] = a
        if cm is not None:
            by_cm[cm].append(a)
        if typ in homework:
            f.homework_by_sg[a.sg].append(a)
    for cm, work in by_cm.items():
        held = f.lessons.get(cm)  # assignments of a removed lesson are not read
        if held is not None:
            held.work = tuple(work)
    del by_cm
    person, value = _Ints().__getitem__, _Ints().__getitem__  # one int object per student id and per mark
    for record in (background.take("numeric marks") or "").split(RS):
        if not record:
            continue
        aid, students, values, first, last = record.split(US)
        held_by = by_id.get(int(aid))  # marks of a removed assignment are not read
        if held_by is not None:  # both lists are concatenated in the same row order, so they stay aligned
            ids = tuple(map(person, students.split(",")))
            held_by.marks = MarkSet(ids, tuple(map(value, values.split(","))), intern(first), intern(last))
    for cm, student, reason, first in q(
        'SELECT "class_meeting_id", "student_id", "reason", "first_seen_at" FROM "attendance" WHERE "gone_at" IS NULL'
    ):
        f.codes[cm][student] = reason
        f.code_seen[(cm, student)] = intern(first)
    for key, at, old, new in q(
        """SELECT "row_key", "at", "old", "new" FROM "change_log" WHERE "tbl" = 'attendance' AND "op" = 'change'
           ORDER BY "at", "id" """
    ):
        cm, student = json.loads(key)
        f.attendance_history[(cm, student)].append(
            (at, json.loads(old or "{}").get("reason"), json.loads(new or "{}").get("reason"))
        )
    first_list: dict[tuple[int, int], str] = {}  # (sg, term) -> when its list was first seen
    seen_in: list[tuple[int, int, int, str]] = []
    for sg, term, student, free, ind, first in q(
        'SELECT "sg_id", "term_id", "student_id", "free", "individual_educ", "first_seen_at" FROM "enrollment" '
        'WHERE "gone_at" IS NULL'
    ):
        f.enrollment[(sg, term)][student] = Listed(bool(free), bool(ind))
        if free:
            f.left_on[(sg, term, student)] = _d(first)  # type: ignore[assignment]
        if first:
            seen_in.append((sg, term, student, first))
            if first < first_list.get((sg, term), "9999"):
                first_list[sg, term] = first
    for sg, term, student, first in seen_in:  # joined later than the list was first read: a late joiner (R13)
        if first[:10] > first_list[sg, term][:10]:
            f.joined_on[(sg, term, student)] = _d(first)  # type: ignore[assignment]
    for key, first in first_list.items():
        f.list_first_seen[key] = _d(first)  # type: ignore[assignment]
    for key, at, new in q(
        """SELECT "row_key", "at", "new" FROM "change_log" WHERE "tbl" = 'enrollment' AND "op" = 'change'
           ORDER BY "at", "id" """
    ):
        if json.loads(new or "{}").get("free") == 1:
            sg, term, student = json.loads(key)
            f.left_on[(sg, term, student)] = _d(at)  # type: ignore[assignment]
    for sg, term, student, mark, mtype, first in q(
        'SELECT "sg_id", "term_id", "student_id", "mark", "mark_type", "first_seen_at" FROM "term_mark" '
        'WHERE "gone_at" IS NULL'
    ):
        f.term_marks[(sg, term)][student] = GivenMark(mark, mtype, first)
    f.staff_name = {sid: name or "" for sid, name in q('SELECT "id", "name" FROM "staff"')}
    f.settings = dict(q('SELECT "key", "value" FROM "school_setting" WHERE "gone_at" IS NULL'))
    # the account the tool reads as (usually the deputy's) corrects journals: it substitutes for nobody (R6)
    reader = str(f.settings.get("syncUserId") or "")
    teachers.discard(int(reader) if reader.isdigit() else -1)
    f.lesson_end = {
        n: end for n, end in q('SELECT "number", "end_time" FROM "schedule_time" WHERE "gone_at" IS NULL') if n
    }
    _load_access_log(f, db, as_of)
    f.report_read = report_spans(db, as_of.date())
    f.plans = {sg for (sg,) in q('SELECT DISTINCT "sg_id" FROM "ktp_plan" WHERE "gone_at" IS NULL')}
    if access:  # last: the worker read them after the marks, while the rest was read here
        for record in (background.take("substitutes") or "").split(RS):
            if record:
                cm, uid = record.split(US)
                if int(uid) in teachers:
                    f.substitute.setdefault(int(cm), int(uid))
        # a sign of a substitute R6's second step does not name (R0: doubt): a teacher who never taught the group
        # entered the lesson's topic, work or marks on another day, or its homework, work or attendance on its day
        # (attendance on the day by anyone but the class teacher of that date, who clarifies codes)
        for cm, sg, day, uid, kind in q(
            'SELECT DISTINCT a."cm_id", a."sg_id", a."lesson_day", a."user_id", a."kind" FROM "access_log" a '
            'WHERE a."cm_id" IS NOT NULL AND a."user_id" IS NOT NULL AND a."at" <= ? '
            "AND (a.\"kind\" IN ('topic', 'mark', 'task', 'homework') OR (a.\"kind\" = 'attendance' "
            'AND substr(a."at", 1, 10) = a."lesson_day")) '
            'AND NOT EXISTS (SELECT 1 FROM "subject_group_teacher" t WHERE t."sg_id" = a."sg_id" '
            'AND t."teacher_id" = a."user_id")',
            [limit],
        ):
            if uid not in teachers or cm in f.substitute or cm in f.recorded_teacher or not sg or not day:
                continue
            lesson_day = date.fromisoformat(day)
            if kind == "attendance":
                cls = f.group_class.get(int(sg))
                if cls is not None and f.chief_on(cls, lesson_day) == uid:
                    continue
            f.doubtful_owner.add((int(sg), lesson_day))
        for record in (background.take("topic entries") or "").split(RS):
            if record:
                cm, at = record.split(US)
                f.exact_topic[int(cm)] = intern(at)
        for record in (background.take("entry times") or "").split(RS):
            if not record:
                continue
            aid, entered, low, high = record.split(US)
            work_item = by_id.get(int(aid))
            if work_item is not None:
                work_item.entered = intern(entered) if entered else None
                work_item.marked = (intern(low), intern(high)) if low else None
    return f


class _Ints(dict[str, int]):
    """Text -> int, one shared int object per distinct text (parsing group_concat lists at C speed; int() also
    takes the spaces a mark may carry)."""

    def __missing__(self, text: str) -> int:
        hit = self[text] = int(text)
        return hit


# What Python's str.strip() strips (str.isspace: 29 characters, the last U+3000), for SQLite's trim(X, Y)
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


def topic_texts(db: Database, longest: int) -> dict[int, str]:
    """cm -> its current topic text, for the topics at most ``longest`` characters long once stripped (as
    str.strip does): CMP001 reads only those (the texts are most of the topics' memory)."""
    cur = db.execute(
        'SELECT "cm_id", "topic" FROM "lesson_topic" WHERE length(trim(coalesce("topic", \'\'), ?)) <= ?',
        [WHITESPACE, longest],
    )
    return {cm: topic or "" for cm, topic in cur}


def group_label(name: str | None, subject: str | None) -> str:
    """The group's name without its class prefix ("8а/Алгебра" → "Алгебра"); subgroups keep their suffix."""
    label = (name or "").partition("/")[2].strip() if "/" in (name or "") else (name or "").strip()
    return label or subject or "?"


def _post_history(db: Database, table: str, post: str, person: str) -> dict[int, list[tuple[int, str, str | None]]]:
    """Who held a post (a group's teacher, a class's class teacher) and when, from the mirror's history of the
    assignment table: post -> [(person, first seen day, gone day or None)] (``on_day`` reads it)."""
    spans: dict[int, list[tuple[int, str, str | None]]] = defaultdict(list)
    for key, who, start, end in db.execute(
        f'SELECT "{post}", "{person}", substr(coalesce("first_seen_at", \'\'), 1, 10), substr("gone_at", 1, 10) '
        f'FROM "{table}"'
    ):
        spans[key].append((who, start, end))
    return dict(spans)


def on_day(spans: list[tuple[int, str, str | None]], day: date) -> int | None:
    """Who held a post on ``day`` by the mirror's history of it — (person, first seen day, gone day or None) rows: a
    row counts from the day it was first seen (the earliest rows also before: the mirror began then) until the day
    it was gone. Several: the lowest id. None: nobody held it that day."""
    iso, earliest = day.isoformat(), min(s[1] for s in spans)
    now = [who for who, start, end in spans if (end is None or iso < end) and (start <= iso or start == earliest)]
    return min(now) if now else None


def report_spans(db: Database, as_of: date | None = None) -> dict[tuple[str, int], tuple[date | None, date]]:
    """The access report's coverage per scope, from the sync cursors: ("class", id) or ("iup", grade) -> (read
    from, read through). A scope whose report was never read is absent. ``as_of``: a check of a past moment sees
    the report only through that day (its rows are cut there too). A scope read before the sync recorded where its
    reading began (a cache from before ``access_log_since``) counts from the earliest change it holds — later than
    or equal to the true beginning, so no lesson is taken as covered that may not be (R0)."""
    rows: dict[str, dict[str, str]] = defaultdict(dict)
    for resource, scope, cursor in db.execute(
        'SELECT "resource", "scope", "cursor" FROM "sync_state" WHERE "resource" IN (?, ?) AND "cursor" IS NOT NULL',
        ["access_log", ACCESS_SINCE],
    ):
        rows[scope][resource] = cursor
    spans: dict[tuple[str, int], tuple[date | None, date]] = {}
    for scope, got in rows.items():
        through = _d(got.get("access_log"))
        if through is None:
            continue
        where = json.loads(scope or "{}")
        if "class_id" in where:
            key = ("class", int(where["class_id"]))
        elif "iup_grade" in where:
            key = ("iup", int(where["iup_grade"]))
        else:
            continue
        if as_of is not None and as_of < through:
            through = as_of
        since = _d(got.get(ACCESS_SINCE))
        if since is None:
            since = _earliest_change(db, key)
            if since is None:
                continue
        spans[key] = (since, through)
    return spans


def _earliest_change(db: Database, key: tuple[str, int]) -> date | None:
    """The day of the earliest change the mirrored report holds for a scope (None: it holds none)."""
    if key[0] == "class":
        sql = 'SELECT MIN(substr("at", 1, 10)) FROM "access_log" WHERE "class_id" = ?'
    else:
        sql = (
            'SELECT MIN(substr(a."at", 1, 10)) FROM "access_log" a JOIN "subject_group" g ON g."id" = a."sg_id" '
            'WHERE g."class_id" IS NULL AND g."iup_grade" = ?'
        )
    found = db.execute(sql, [key[1]]).fetchone()
    return _d(found[0]) if found and found[0] else None


def student_ids_by_name(db: Database) -> dict[str, int | None]:
    """Normalised full name -> student id, for the access report's students (named, not numbered); a name two
    students share maps to None: it decides nothing."""
    names: dict[str, int | None] = {}
    for sid, name in db.execute('SELECT "id", "full_name" FROM "student"'):
        norm = " ".join((name or "").split()).casefold()
        names[norm] = None if norm in names else sid
    return names


def _load_access_log(f: Facts, db: Database, as_of: datetime) -> None:
    """The attendance versions of lessons where «ОТ» was entered, from the mirrored access report (rows
    resolved to a lesson only). The lessons' topic entries and the assignments' entry times are read in the
    worker (TOPIC_ENTRIES, ENTRY_TIMES)."""
    limit = as_of.strftime("%Y-%m-%dT%H:%M:%S")
    q = db.execute
    base = 'FROM "access_log" WHERE "cm_id" IS NOT NULL AND "at" <= ? AND "kind" = ?'
    f.student_by_name = names = student_ids_by_name(db)
    # attendance: only the lessons where «ОТ» was ever entered (ATT002 is the one rule that reads it)
    for cm, detail, at in q(
        f'SELECT "cm_id", "detail", "at" {base} AND "cm_id" IN (SELECT "cm_id" FROM "access_log" '
        'WHERE "kind" = \'attendance\' AND "detail" LIKE \'ОТ|%\') ORDER BY "at"',
        [limit, "attendance"],
    ):
        code, _, student = (detail or "").partition("|")
        sid = names.get(" ".join(student.split()).casefold())
        if sid is not None:
            f.exact_attendance.setdefault((cm, sid), []).append((at, code))
