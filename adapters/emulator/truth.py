"""Ground truth: the core rules (docs/rules.md §3) evaluated on the emulator's complete data.

Computed from exact entry times of every item (not from what the scenario meant to plant), for a
period ``[from, as_of]``: a violation is listed iff its deadline has passed at ``as_of`` and its entity
belongs to the period (lesson rules by the lesson's date ≥ from, term rules by the term's end ≥ from,
TML006 for every group whose КТП is still missing at ``as_of``).

Interpretations (the same in the rules engine): "a mark" is a numeric mark (a «точка» is a debt, not a
mark); grade 1 is unmarked, so DEN001/FIN* do not apply to it; "enrolled at the term's end" means in
the group's list without ``free`` at the term's last day; weekly hours are the group's lessons in a full
school week.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from adapters.emulator import calendar as cal
from adapters.emulator.journal import (
    ABSENT_CODES,
    HOMEWORK,
    NO_HOMEWORK_GRADE1,
    NOT_GIVEN,
    RELEASED,
    WRITTEN_TYPES,
    Journal,
    required_marks,
    term_minimum,
    weighted_average,
)
from adapters.emulator.school import School

CORE_RULES = (
    "TML001",
    "TML002",
    "TML003",
    "TML004",
    "TML005",
    "TML006",
    "CMP001",
    "CMP002",
    "MRK001",
    "MRK002",
    "MRK003",
    "MRK004",
    "MRK005",
    "ATT001",
    "ATT002",
    "ATT003",
    "DEN001",
    "FIN001",
    "FIN002",
    "FIN003",
)
OT_END = time(23, 59)
IN_LESSON = frozenset({"Ответ на уроке", "Работа на уроке", "Устный опрос", "Устный ответ", "Чтение наизусть"})
ALLOWED_MARKS = frozenset({1, 2, 3, 4, 5})  # ruling R5: «1» is in the 5-point scale
ALLOWED_CODES = frozenset({"УП", "НП", "ОТ", "Б", "ОП", "ОСВ"})  # R11: «ОСВ» of an exempt student is allowed
PLACEHOLDERS = frozenset({"урок", "тема", "тем", "безтемы", "нет", "неуказана"})  # letters and digits only (R16)
DEADLINE = time(16, 0)
WRITTEN_DAYS = 7
FIN002_DAYS = 3
KTP_DAYS = 7


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    entity: tuple[tuple[str, int], ...]
    note: str
    owner: int | str = ""  # who answers for it (ruling R6): a staff id, or DEPUTY

    def as_json(self) -> str:
        return json.dumps(
            {"rule": self.rule, "entity": dict(self.entity), "note": self.note, "owner": self.owner},
            ensure_ascii=False,
            sort_keys=False,
        )


DEPUTY = "deputy"
DEPUTY_RULES = frozenset({"MRK003", "FIN003"})  # information for the deputy, never a teacher's (R14, CB-44)
CHIEF_RULES = frozenset({"ATT002"})  # the class teacher's (R12)


def owner_of(school: School, j: Journal, v: Violation, as_of: datetime) -> int | str:
    """Who answers for a violation (ruling R6): the deputy for deputy information and for the term marks of
    students the school itself marks (home, family); the class teacher for class-teacher items; else the teacher
    of the lesson (recorded for it, else the group's on that day) or of the group at the term's end — and the
    deputy when that teacher has left the school."""
    ent = dict(v.entity)
    if v.rule in DEPUTY_RULES:
        return DEPUTY
    if v.rule == "FIN002" and (school.students[ent["student"]].exempt or school.students[ent["student"]].part_time):
        return DEPUTY
    cm = ent.get("cm")
    if cm is None and "assignment" in ent:
        cm = j.assignments[ent["assignment"]].cm_id
    if cm is not None:
        lesson = school.lessons[cm]
        group = school.groups[lesson.sg_id]
        if v.rule in CHIEF_RULES:
            who = school.classes[group.class_id].chief_id
        else:
            who = lesson.teacher_id or group.teacher_on(lesson.day)
    elif "term" in ent:
        who = school.groups[ent["sg"]].teacher_on(school.terms[ent["term"]].end)
    else:
        who = school.groups[ent["sg"]].teacher_on(as_of.date())
    return DEPUTY if not school.staff[who].on_staff(as_of.date()) else who


def _fmt(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else "never"


def _loose(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


GRADE1_NONE = frozenset(_loose(x) for x in (NO_HOMEWORK_GRADE1, "не задано", "нет"))


def is_placeholder(topic: str) -> bool:
    """R16: a topic that says nothing — no letters or digits at all, or a word that means «no topic»."""
    s = _loose(topic)
    return not s or s in PLACEHOLDERS


def ground_truth(school: School, journal: Journal, start: date, as_of: datetime) -> list[Violation]:
    out: list[Violation] = []
    out.extend(_lesson_rules(school, journal, start, as_of))
    out.extend(_term_rules(school, journal, start, as_of))
    approval_deadline = datetime.combine(school.work_program_approved + timedelta(days=KTP_DAYS), time(23, 59, 59))
    if approval_deadline < as_of:
        for sg_id, plan in sorted(school.ktp.items()):
            if plan.uploaded_at is None or plan.uploaded_at > as_of:
                out.append(Violation("TML006", (("sg", sg_id),), "КТП not loaded"))
    return sorted({replace(v, owner=owner_of(school, journal, v, as_of)) for v in out})


def _last_before_break(school: School, lesson: Any) -> bool:
    """R9: the group has no lesson between this one and the start of a vacation (3 days or longer), or none after."""
    later = [le.day for le in school.lessons_by_sg.get(lesson.sg_id, []) if le.day > lesson.day]
    if not later:
        return True  # the group's last lesson of the year
    nxt = min(later)
    return any(lesson.day < a <= nxt for _name, a, b in cal.VACATIONS if (b - a).days + 1 >= 3)


def _visible(t: datetime, as_of: datetime) -> bool:
    return t <= as_of


def _lesson_rules(school: School, j: Journal, start: date, as_of: datetime) -> Iterator[Violation]:
    for lesson in sorted(school.lessons.values(), key=lambda le: le.id):
        d = lesson.day
        if d < start or not cal.is_school_day(d):
            continue
        deadline = datetime.combine(d, DEADLINE)
        if deadline >= as_of:
            continue
        sg_id = lesson.sg_id
        grade = school.grade_of_group(sg_id)
        cm = (("cm", lesson.id),)

        topic = j.topics.get(lesson.id)
        if topic is None or topic.at > deadline:
            yield Violation("TML001", cm, f"topic entered {_fmt(topic.at if topic else None)}")
        if topic is not None and _visible(topic.at, as_of) and is_placeholder(topic.text):
            yield Violation("CMP001", cm, f"placeholder topic {topic.text!r}")

        # Homework given at this lesson (issue lesson).
        given = [a for a in j.assignments_by_sg[sg_id] if a.type_id == HOMEWORK and a.issue_cm_id == lesson.id]
        # grade 1 (ruling R10): a missing entry is TML002 alone; a real homework text is CMP002 alone
        if grade == 1:
            for a in given:
                if _visible(a.at, as_of) and _loose(a.name) not in GRADE1_NONE:
                    yield Violation("CMP002", cm, f"homework in grade 1: {a.name!r}")
                    break
        ok = [a for a in given if a.name.strip() and a.at <= deadline]
        no_homework_due = not given and _last_before_break(school, lesson)  # R9: last lesson before a vacation
        if not ok and not no_homework_due:
            first = min((a.at for a in given), default=None)
            yield Violation("TML002", cm, f"homework entered {_fmt(first)}")

        attached = [a for a in j.assignments_by_cm.get(lesson.id, []) if a.type_id != HOMEWORK]
        if not any(a.at <= deadline for a in attached):
            yield Violation("TML003", cm, f"classwork entered {_fmt(min((a.at for a in attached), default=None))}")

        codes: dict[int, str] = {}
        for att in j.attendance.get(lesson.id, []):
            code = att.code_at(as_of)
            if code is not None:
                codes[att.student_id] = code

        # R2: marks of work assessed in the lesson are due by 16:00; every other type is completed work with 7 days
        # (TML005). R3: a make-up mark of a student absent from the lesson is never late.
        late_marks = [
            m
            for a in j.assignments_by_cm.get(lesson.id, [])
            if j.type_names.get(a.type_id) in IN_LESSON
            for m in j.marks.get(a.id, [])
            if m.mark is not None
            and _visible(m.at, as_of)
            and m.at > deadline
            and codes.get(m.student_id) not in ABSENT_CODES
        ]
        if late_marks:
            yield Violation("TML004", cm, f"mark entered {_fmt(min(m.at for m in late_marks))}")

        for a in j.assignments_by_cm.get(lesson.id, []):
            if j.type_names.get(a.type_id) not in IN_LESSON and _visible(a.at, as_of):
                yield from _tml005(school, j, a, lesson.day, codes, as_of)

        # Mark- and attendance-level rules.
        marked: dict[int, list[int]] = defaultdict(list)
        same_day_in_lesson: dict[int, int] = {}  # MRK003 (R14): a mark for work assessed in the lesson, that day
        for a in j.assignments_by_cm.get(lesson.id, []):  # marks on any work attached to the lesson
            for m in j.marks.get(a.id, []):
                if not isinstance(m.mark, int) or not _visible(m.at, as_of):
                    continue
                marked[m.student_id].append(m.mark)
                if j.type_names.get(a.type_id) in IN_LESSON and m.at.date() <= lesson.day:
                    same_day_in_lesson.setdefault(m.student_id, m.mark)
                ent = (("assignment", a.id), ("student", m.student_id))
                if grade == 1:
                    yield Violation("MRK002", ent, f"mark {m.mark} in grade 1")
                elif m.mark not in ALLOWED_MARKS:
                    yield Violation("MRK001", ent, f"mark {m.mark}")
        for sid in sorted(set(marked) | set(codes)):
            st = school.students[sid]
            ent = (("cm", lesson.id), ("student", sid))
            code = codes.get(sid)
            if sid in same_day_in_lesson and code in ABSENT_CODES:
                yield Violation("MRK003", ent, f"mark {same_day_in_lesson[sid]} and {code} (deputy information)")
            if st.exempt:
                yield Violation("MRK004", ent, "mark or attendance for an exempt student")
            # The contract's leave day is the day the group's list first shows ``free: true``; under the standard
            # schedule that starts at ``start`` it is the later of the real leave day and ``start``.
            if st.leave_at is not None and lesson.day > max(st.leave_at.date(), start):
                yield Violation("MRK005", ent, f"after leaving on {max(st.leave_at.date(), start)}")
        for att in j.attendance.get(lesson.id, []):
            ent = (("cm", lesson.id), ("student", att.student_id))
            code = att.code_at(as_of)
            if code is not None and code not in ALLOWED_CODES:
                yield Violation("ATT001", ent, f"code {code!r}")
            # R12: «ОТ» still unclarified at the end of the 3rd school day after the lesson
            att_deadline = datetime.combine(cal.next_school_day(cal.next_school_day(cal.next_school_day(d))), OT_END)
            if att_deadline < as_of and att.code_at(att_deadline) == "ОТ":
                yield Violation("ATT002", ent, f"ОТ still present at {_fmt(att_deadline)}")
            # R11: a code first entered after the deadline (a later change of the reason is a correction)
            first = att.versions[0][0] if att.versions else None
            if first is not None and first > deadline and first <= as_of and att.versions[0][1] is not None:
                yield Violation("ATT003", ent, f"first entered {_fmt(first)}")


def _tml005(
    school: School, j: Journal, a: Any, day: date, codes: dict[int, str], as_of: datetime
) -> Iterator[Violation]:
    deadline = datetime.combine(day + timedelta(days=WRITTEN_DAYS), time(23, 59, 59))
    if deadline >= as_of:
        return
    marks = [m for m in j.marks.get(a.id, []) if m.mark is not None and _visible(m.at, as_of)]
    ent = (("assignment", a.id),)
    late = [m for m in marks if m.at > deadline and codes.get(m.student_id) not in ABSENT_CODES]  # R3: make-up
    if late:
        yield Violation("TML005", ent, f"mark entered {_fmt(min(m.at for m in late))}")
        return
    if any(m.at <= deadline for m in marks) or a.type_id not in WRITTEN_TYPES:  # only written work must be marked
        return
    group = school.groups[a.sg_id]
    eligible = [
        sid
        for sid in group.student_ids
        if not school.students[sid].exempt
        and (school.students[sid].leave_at is None or day < school.students[sid].leave_at.date())  # type: ignore[union-attr]
        and codes.get(sid) not in ABSENT_CODES
    ]
    if eligible:
        yield Violation("TML005", ent, "no marks within 7 days")


def _term_rules(school: School, j: Journal, start: date, as_of: datetime) -> Iterator[Violation]:
    for sg_id in sorted(school.groups):
        group = school.groups[sg_id]
        if school.grade_of_group(sg_id) == 1:
            continue
        lessons = {le.id: le for le in school.lessons_by_sg.get(sg_id, [])}
        for term in school.terms_for_group(sg_id):
            if term.end < start or datetime.combine(term.end, time(23, 59, 59)) >= as_of:
                continue
            tms = {tm.student_id: tm for tm in j.term_marks.get((sg_id, term.id), [])}
            in_term = [le for le in lessons.values() if term.start <= le.day <= term.end]
            away_count: dict[int, int] = defaultdict(int)
            for le in in_term:
                for att in j.attendance.get(le.id, []):
                    if att.code_at(as_of) in ("Б", "УП"):
                        away_count[att.student_id] += 1
            away = {s for s, n in away_count.items() if n * 2 > len(in_term)}
            marked_group = any(
                isinstance(m.mark, int) and _visible(m.at, as_of)
                for le in in_term
                for a in j.assignments_by_cm.get(le.id, [])
                for m in j.marks.get(a.id, [])
            )
            fin002_deadline = datetime.combine(term.end + timedelta(days=FIN002_DAYS), time(23, 59, 59))
            for sid in group.student_ids:
                st = school.students[sid]
                if st.leave_at is not None and st.leave_at.date() <= term.end:
                    continue
                ent = (("student", sid), ("sg", sg_id), ("term", term.id))
                tm = tms.get(sid)
                if st.exempt:  # family or home education: the school enters the term mark (R15, the deputy's)
                    if fin002_deadline < as_of and (tm is None or tm.at > fin002_deadline):
                        yield Violation("FIN002", ent, f"term mark entered {_fmt(tm.at if tm else None)}")
                    continue
                marks = [
                    (m.mark, a.weight)
                    for a in j.assignments_by_sg[sg_id]
                    if a.cm_id in lessons and term.start <= lessons[a.cm_id].day <= term.end
                    for m in j.marks.get(a.id, [])
                    if m.student_id == sid and m.mark is not None and _visible(m.at, as_of)
                ]
                need = required_marks(group.term_type, group.hours)
                visible_tm = tm if tm is not None and _visible(tm.at, as_of) else None
                # R13: not counted — exempt from the subject («осв»), away (Б, УП) more than half the lessons,
                # groups without numeric marks by design
                counted = (
                    marked_group
                    and sid not in away
                    and not (visible_tm is not None and visible_tm.mark_type == RELEASED)
                )
                if counted and len(marks) < need:
                    yield Violation("DEN001", ent, f"{len(marks)} marks, {need} required")
                if visible_tm is not None and visible_tm.mark_type == NOT_GIVEN and isinstance(visible_tm.mark, int):
                    if counted and len(marks) < term_minimum(group.term_type):
                        yield Violation("FIN001", ent, f"term mark {visible_tm.mark} with {len(marks)} marks")
                    avg = weighted_average([(int(m), w) for m, w in marks])
                    if avg is not None and visible_tm.mark != math.floor(avg + 0.5):  # the average rounded half up
                        yield Violation("FIN003", ent, f"term mark {visible_tm.mark}, average {avg:.2f}")
                if fin002_deadline < as_of and (tm is None or tm.at > fin002_deadline):
                    yield Violation("FIN002", ent, f"term mark entered {_fmt(tm.at if tm else None)}")


def write_jsonl(violations: list[Violation]) -> str:
    return "".join(v.as_json() + "\n" for v in violations)
