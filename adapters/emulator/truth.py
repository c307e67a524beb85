"""Ground truth: the casebook's rulings (R0–R20, docs/rules.md §4) evaluated on the emulator's complete data.

Written from the rulings, never from ``rules/``: computed from exact entry times of every item (not from what the
generator meant to plant), for a period ``[from, as_of]``. A violation is listed iff its deadline has passed at
``as_of`` and its entity belongs to the period (lesson rules by the lesson's date ≥ from, term rules by the term's
end ≥ from, TML006 for every group whose КТП is still missing at ``as_of``); near misses are not listed. Each
carries its owner (R6): a teacher's id or the deputy.

The rulings as read here: R1 a lesson ending after 16:00 is due by the end of its day; R2 marks of work assessed
in the lesson are due with the lesson, others within 7 days, only written work must be marked; R3 make-up marks of
absent students are never late; R4 hospital marks have no deadline; R5 «1»–«5»; R6 owners (the recorded
substitute, else an outside teacher who entered the topic or marks that day, else the group's teacher on the date;
the class teacher of the student for ATT002; the deputy for departed teachers and deputy information); R7 school
days from the schedule, CAL001 / CAL002 instead of remarks; R8 a double lesson is one homework unit, judged on its
last lesson; R9 no homework before a vacation; R10 grade 1; R11–R12 attendance; R13 the density exclusions,
late joiners pro rata (not counted below half the term); R14 MRK003 is deputy information; R15 term marks («осв»,
«зачёт», «н/а» count as given); R17 timeliness of the first entry, values as shown now; R19 extracurricular groups:
topic and attendance only; R20 ИУП groups by their grade; R21 a held lesson with nothing entered by anyone (as of
``as_of``) is one TML007 item instead of TML001–TML004. "A mark" is a numeric mark; a «точка» is a debt.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

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
    "CAL001",
    "CAL002",
    "TML001",
    "TML002",
    "TML003",
    "TML004",
    "TML005",
    "TML006",
    "TML007",
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
NO_DEADLINE_TYPES = frozenset({"оценка, полученная в больнице"})  # R4
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
DEPUTY_RULES = frozenset(
    {"MRK003", "FIN003", "CAL001", "CAL002"}
)  # information for the deputy, never a teacher's (R14, CB-44)
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
        # class-teacher items: the class teacher of the student's class on the lesson's date (R6, R12)
        who = (
            school.class_teacher_of(ent["student"], lesson.day)
            if v.rule in CHIEF_RULES
            else lesson_teacher(school, j, lesson)
        )
    elif "term" in ent:
        who = school.groups[ent["sg"]].teacher_on(school.terms[ent["term"]].end)
    else:
        who = school.groups[ent["sg"]].teacher_on(as_of.date())
    return DEPUTY if not school.staff[who].on_staff(as_of.date()) else who


def lesson_teacher(school: School, j: Journal, lesson: Any) -> int:
    """R6: the teacher the server records for the lesson; else a teacher who never taught the group (not the
    administrator, not the deputy the tool reads as) who entered its topic or marks on the lesson day; else the
    group's teacher on the lesson date."""
    if lesson.teacher_id is not None:
        return int(lesson.teacher_id)
    group = school.groups[lesson.sg_id]
    own = {group.teacher_id, *(t for t, _a, _b in group.teachers), school.admin_id, school.deputy_id}
    topic = j.topics.get(lesson.id)
    entries = [(topic.at, topic.by)] if topic is not None else []
    entries += [(m.at, m.by) for a in j.assignments_by_cm.get(lesson.id, []) for m in j.marks.get(a.id, [])]
    for at, by in sorted(entries, key=lambda e: e[0]):
        if by is not None and by not in own and at.date() == lesson.day:
            return by
    return group.teacher_on(lesson.day)


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
    empty, calendar = _calendar(school, journal, start, as_of)
    out.extend(calendar)
    out.extend(_lesson_rules(school, journal, start, as_of, empty))
    out.extend(_term_rules(school, journal, start, as_of))
    approval_deadline = datetime.combine(school.work_program_approved + timedelta(days=KTP_DAYS), time(23, 59, 59))
    if approval_deadline < as_of:
        for sg_id, plan in sorted(school.ktp.items()):
            if school.groups[sg_id].extracurricular:
                continue  # R19: a topic and attendance only
            if plan.uploaded_at is None or plan.uploaded_at > as_of:
                out.append(Violation("TML006", (("sg", sg_id),), "КТП not loaded"))
    return sorted({replace(v, owner=owner_of(school, journal, v, as_of)) for v in out})


def deadline_of(school: School, lesson: Any) -> datetime:
    """R1: 16:00 of the lesson day; a lesson that ends after 16:00 (bell schedule) has until the end of its day."""
    end = school.bells[lesson.number - 1][1]
    return datetime.combine(lesson.day, time(23, 59, 59) if end > DEADLINE else DEADLINE)


def _held(school: School, start: date, as_of: datetime) -> Iterator[Any]:
    """Lessons of the period held on school days (R7) whose deadline has passed, in id order."""
    for lesson in sorted(school.lessons.values(), key=lambda le: le.id):
        if lesson.day >= start and school.is_school_day(lesson.day) and deadline_of(school, lesson) < as_of:
            yield lesson


def _entered_on(j: Journal, lesson: Any, as_of: datetime) -> bool:
    """R7: anything entered on the lesson by anyone — a topic, classwork, homework given at it, attendance."""
    topic = j.topics.get(lesson.id)
    if topic is not None and topic.at <= as_of:
        return True
    if any(a.at <= as_of and a.type_id != HOMEWORK for a in j.assignments_by_cm.get(lesson.id, [])):
        return True
    if any(a.at <= as_of for a in j.homework_given.get(lesson.id, [])):
        return True
    return any(att.code_at(as_of) is not None for att in j.attendance.get(lesson.id, []))


def _calendar(school: School, j: Journal, start: date, as_of: datetime) -> tuple[set[int], list[Violation]]:
    """R7: a lesson on a day off is CAL001; a class-day with nothing entered on any lesson is one CAL002 (deputy
    information), and its lessons get no remark. Returns the lessons of empty class-days and the items."""
    out: list[Violation] = []
    for lesson in sorted(school.lessons.values(), key=lambda le: le.id):
        if start <= lesson.day <= as_of.date() and not school.is_school_day(lesson.day):
            out.append(Violation("CAL001", (("cm", lesson.id),), "lesson on a day off"))
    days: dict[tuple[int, date], list[Any]] = defaultdict(list)
    for lesson in _held(school, start, as_of):
        cls = school.groups[lesson.sg_id].class_id
        if cls:
            days[(cls, lesson.day)].append(lesson)
    empty: set[int] = set()
    for (cls, day), lessons in sorted(days.items()):
        if not any(_entered_on(j, le, as_of) for le in lessons):
            empty.update(le.id for le in lessons)
            key = day.year * 10000 + day.month * 100 + day.day
            out.append(Violation("CAL002", (("class", cls), ("date", key)), f"{len(lessons)} lessons, nothing entered"))
    return empty, out


def _last_before_break(school: School, lesson: Any) -> bool:
    """R9: the group has no lesson between this one and the start of a vacation (3 days or longer), or none after."""
    later = [
        le.day
        for le in school.lessons_by_sg.get(lesson.sg_id, [])
        if le.day > lesson.day and school.is_school_day(le.day)
    ]
    if not later:
        return True  # the group's last lesson of the year
    nxt = min(later)
    return any(lesson.day < a <= nxt for _name, a, b in school.vacations if (b - a).days + 1 >= 3)


def _visible(t: datetime, as_of: datetime) -> bool:
    return t <= as_of


def _value(m: Any, as_of: datetime) -> int | str | None:
    """R17: a mark's value as the journal shows it at ``as_of`` (changed or deleted later: the current value)."""
    if not _visible(m.at, as_of):
        return None
    shown, value = m.value_at(as_of)
    return value if shown else None


def _runs(school: School) -> dict[int, list[Any]]:
    """R8: lesson -> its run of consecutive lessons of one group on one day."""
    return {le.id: run for run in school.runs() for le in run}


def _lesson_rules(school: School, j: Journal, start: date, as_of: datetime, empty: set[int]) -> Iterator[Violation]:
    runs = _runs(school)
    hospital = {tid for tid, name, _abbr, _order in j.assignment_types if name.casefold() in NO_DEADLINE_TYPES}
    for lesson in _held(school, start, as_of):
        if lesson.id in empty:
            continue
        if not _entered_on(j, lesson, as_of):  # R21: nothing entered by anyone — one item, not four
            yield Violation("TML007", (("cm", lesson.id),), "lesson empty")
            continue
        deadline = deadline_of(school, lesson)
        sg_id = lesson.sg_id
        group = school.groups[sg_id]
        grade = school.grade_of_group(sg_id)
        cm = (("cm", lesson.id),)
        extra = group.extracurricular  # R19: a topic and attendance only

        topic = j.topics.get(lesson.id)
        if topic is None or topic.at > deadline:
            yield Violation("TML001", cm, f"topic entered {_fmt(topic.at if topic else None)}")
        if topic is not None and _visible(topic.at, as_of) and is_placeholder(topic.text):
            yield Violation("CMP001", cm, f"placeholder topic {topic.text!r}")

        codes: dict[int, str] = {}
        for att in j.attendance.get(lesson.id, []):
            code = att.code_at(as_of)
            if code is not None:
                codes[att.student_id] = code
        yield from _attendance(school, j, lesson, deadline, as_of)
        if extra:
            continue

        # Homework given at this lesson (issue lesson); R8: a run of consecutive lessons is one unit, judged on its
        # last lesson. Grade 1 (ruling R10): a missing entry is TML002 alone; a real homework text is CMP002 alone.
        given = j.homework_given.get(lesson.id, [])
        if grade == 1:
            for a in given:
                if _visible(a.at, as_of) and _loose(a.name) not in GRADE1_NONE:
                    yield Violation("CMP002", cm, f"homework in grade 1: {a.name!r}")
                    break
        run = runs[lesson.id]
        if run[-1].id == lesson.id:
            run_given = [a for le in run for a in j.homework_given.get(le.id, [])]
            ok = [a for a in run_given if a.name.strip() and a.at <= deadline]
            no_homework_due = not run_given and _last_before_break(school, lesson)  # R9
            if not ok and not no_homework_due:
                first = min((a.at for a in run_given), default=None)
                yield Violation("TML002", cm, f"homework entered {_fmt(first)}")

        attached = [a for a in j.assignments_by_cm.get(lesson.id, []) if a.type_id != HOMEWORK]
        if not any(a.at <= deadline for a in attached):
            yield Violation("TML003", cm, f"classwork entered {_fmt(min((a.at for a in attached), default=None))}")

        # R2: marks of work assessed in the lesson are due with the lesson (R1); every other type is completed work
        # with 7 days (TML005), hospital marks have none (R4). R3: a make-up mark of a student absent is never late.
        # R17: timeliness is the first entry's.
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
            if j.type_names.get(a.type_id) not in IN_LESSON and a.type_id not in hospital and _visible(a.at, as_of):
                yield from _tml005(school, j, a, lesson.day, codes, as_of)

        # Mark- and attendance-level rules.
        marked: dict[int, list[int]] = defaultdict(list)
        same_day_in_lesson: dict[int, int] = {}  # MRK003 (R14): a mark for work assessed in the lesson, that day
        for a in j.assignments_by_cm.get(lesson.id, []):  # marks on any work attached to the lesson
            for m in j.marks.get(a.id, []):
                value = _value(m, as_of)
                if not isinstance(value, int):
                    continue
                marked[m.student_id].append(value)
                # R4: entered by the class teacher (of that date) where the student has «Б» — a hospital mark
                hospital_path = codes.get(m.student_id) == "Б" and (
                    m.by or lesson_teacher(school, j, lesson)
                ) == school.class_teacher_of(m.student_id, lesson.day)
                if j.type_names.get(a.type_id) in IN_LESSON and m.at.date() <= lesson.day and not hospital_path:
                    same_day_in_lesson.setdefault(m.student_id, value)
                ent = (("assignment", a.id), ("student", m.student_id))
                if grade == 1:
                    yield Violation("MRK002", ent, f"mark {value} in grade 1")
                elif value not in ALLOWED_MARKS:
                    yield Violation("MRK001", ent, f"mark {value}")
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


def _attendance(school: School, j: Journal, lesson: Any, deadline: datetime, as_of: datetime) -> Iterator[Violation]:
    """ATT001 (R11: the Положение's codes and «ОСВ»), ATT002 (R12: «ОТ» at the end of the 3rd school day), ATT003
    (R11: a code first entered after the lesson's deadline; a later change of the reason is a correction)."""
    third = school.next_school_day(school.next_school_day(school.next_school_day(lesson.day)))
    att_deadline = datetime.combine(third, OT_END)
    for att in j.attendance.get(lesson.id, []):
        ent = (("cm", lesson.id), ("student", att.student_id))
        code = att.code_at(as_of)
        if code is not None and code not in ALLOWED_CODES:
            yield Violation("ATT001", ent, f"code {code!r}")
        if att_deadline < as_of and att.code_at(att_deadline) == "ОТ":
            yield Violation("ATT002", ent, f"ОТ still present at {_fmt(att_deadline)}")
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
        and group.subject_id not in school.students[sid].exempt_subjects
        and school.attends(sid, day, a.sg_id)
        and codes.get(sid) not in ABSENT_CODES
    ]
    if eligible:
        yield Violation("TML005", ent, "no marks within 7 days")


def _term_rules(school: School, j: Journal, start: date, as_of: datetime) -> Iterator[Violation]:
    for sg_id in sorted(school.groups):
        group = school.groups[sg_id]
        if school.grade_of_group(sg_id) == 1 or group.extracurricular:
            continue  # grade 1 is unmarked; R19: extracurricular groups have no term marks
        lessons = {le.id: le for le in school.lessons_by_sg.get(sg_id, []) if school.is_school_day(le.day)}
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
                isinstance(_value(m, as_of), int)
                for le in in_term
                for a in j.assignments_by_cm.get(le.id, [])
                for m in j.marks.get(a.id, [])
            )
            fin002_deadline = datetime.combine(term.end + timedelta(days=FIN002_DAYS), time(23, 59, 59))
            term_days = (term.end - term.start).days + 1
            for sid in group.student_ids:
                st = school.students[sid]
                if not school.attends(sid, term.end, sg_id):
                    continue  # left the school or the group before the term's end, or came after it
                ent = (("student", sid), ("sg", sg_id), ("term", term.id))
                tm = tms.get(sid)
                if st.exempt:  # family or home education: the school enters the term mark (R15, the deputy's)
                    if fin002_deadline < as_of and (tm is None or tm.at > fin002_deadline):
                        yield Violation("FIN002", ent, f"term mark entered {_fmt(tm.at if tm else None)}")
                    continue
                marks = [
                    (value, a.weight)
                    for a in j.assignments_by_sg[sg_id]
                    if a.cm_id in lessons and term.start <= lessons[a.cm_id].day <= term.end
                    for m in j.marks.get(a.id, [])
                    if m.student_id == sid
                    for value in [_value(m, as_of)]
                    if isinstance(value, int)
                ]
                need: int | None = required_marks(group.term_type, group.hours)
                # R13: a student who came into the group after the term began — not counted when that was less than
                # half of the term (its days) ago at the term's end, else the need scaled to the lessons since then
                came = max((x for x in (st.join_on, group.member_from.get(sid)) if x is not None), default=None)
                joined_late = came is not None and came > term.start
                if joined_late and came is not None:
                    if (term.end - came).days + 1 < term_days / 2:
                        need = None
                    else:
                        since = sum(1 for le in in_term if le.day >= came)
                        need = math.ceil(need * since / len(in_term)) if in_term and need else None
                visible_tm = tm if tm is not None and _visible(tm.at, as_of) else None
                # R13: not counted — exempt from the subject («осв»), away (Б, УП) more than half the lessons,
                # groups without numeric marks by design
                counted = (
                    marked_group
                    and sid not in away
                    and group.subject_id not in st.exempt_subjects
                    and not (visible_tm is not None and visible_tm.mark_type == RELEASED)
                )
                if counted and need is not None and len(marks) < need:
                    yield Violation("DEN001", ent, f"{len(marks)} marks, {need} required")
                if visible_tm is not None and visible_tm.mark_type == NOT_GIVEN and isinstance(visible_tm.mark, int):
                    if counted and not joined_late and len(marks) < term_minimum(group.term_type):
                        yield Violation("FIN001", ent, f"term mark {visible_tm.mark} with {len(marks)} marks")
                    avg = weighted_average([(int(m), w) for m, w in marks])
                    if avg is not None and visible_tm.mark != math.floor(avg + 0.5):  # the average rounded half up
                        yield Violation("FIN003", ent, f"term mark {visible_tm.mark}, average {avg:.2f}")
                if fin002_deadline < as_of and (tm is None or tm.at > fin002_deadline):
                    yield Violation("FIN002", ent, f"term mark entered {_fmt(tm.at if tm else None)}")


def write_jsonl(violations: list[Violation]) -> str:
    return "".join(v.as_json() + "\n" for v in violations)
