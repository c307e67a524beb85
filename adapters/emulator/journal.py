"""Journal items with entry times: topics, homework, classwork, marks, attendance, term marks.

Every item carries the server time at which a teacher entered (or changed) it. The emulator serves
an item only once its entry time has passed on the emulator's clock, exactly as a real server would
show the journal at that moment.

Timing (docs/rules.md §2, the standard observation schedule): the teachers' profiles keep their sittings out of
the windows the standard schedule cannot decide (23:30–07:00 and 16:00–16:15 of any day; written-work marks not
between the last observation before D+7 23:59 and the 01:00 sync after it; term marks by the term's last day or
clearly after the FIN002 deadline). Real practice (practice.py) then puts entries exactly there — 16:00–16:10,
after midnight, any hour — and plants the rest of what real journals hold; the ground truth (truth.py) reads it all
by the casebook's rulings.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from adapters.emulator import calendar as cal
from adapters.emulator import practice as pr
from adapters.emulator.school import Group, Lesson, School

# grade/assignment/types: (id, name, abbr, order). Ids 2, 3, 4, 8, 10, 14, 15, 16 are IRTech's own constants.
ASSIGNMENT_TYPES: tuple[tuple[int, str, str, int], ...] = (
    (1, "Практическая работа", "ПР", 10),
    (2, "Тематическая работа", "ТР", 11),
    (3, "Домашнее задание", "ДЗ", 15),
    (4, "Контрольная работа", "КР", 1),
    (5, "Самостоятельная работа", "СР", 5),
    (6, "Лабораторная работа", "ЛР", 9),
    (7, "Проект", "П", 20),
    (8, "Диктант", "Д", 2),
    (9, "Реферат", "Р", 21),
    (10, "Ответ на уроке", "О", 14),
    (11, "Сочинение", "С", 3),
    (12, "Изложение", "И", 4),
    (13, "Зачёт", "З", 22),
    (14, "Тестирование", "Т", 6),
    (15, "ТКР", "ТКР", 23),
    (16, "Диагностическая контрольная работа", "ДКР", 7),
    (17, "Проверочная работа", "ПрР", 8),
)
HOMEWORK = 3
PROJECT = 7
LESSON_ANSWER = 10
HOSPITAL = 18  # «Оценка, полученная в больнице»: the class teacher's transfer from a certificate (ruling R4)
DEADLINE_TIME = time(16, 0)
WRITTEN_TYPE_NAMES = frozenset(
    {
        "Контрольная работа",
        "Диктант",
        "Сочинение",
        "Изложение",
        "Тематическая работа",
        "Тестирование",
        "Самостоятельная работа",
        "Проверочная работа",
        "Практическая работа",
        "Лабораторная работа",
        "Диагностическая контрольная работа",
    }
)
TYPE_NAMES = {t[0]: t[1] for t in ASSIGNMENT_TYPES}
WRITTEN_TYPES = frozenset(t[0] for t in ASSIGNMENT_TYPES if t[1] in WRITTEN_TYPE_NAMES)
TYPE_WEIGHT = {4: 40, 16: 40, 2: 30, 8: 20, 11: 30, 12: 30, 5: 20, 14: 20, 17: 20, 1: 20, 6: 20}

ATTENDANCE_REASONS: tuple[tuple[str, str], ...] = (
    ("УП", "Отсутствовал по уважительной причине"),
    ("НП", "Отсутствовал по неуважительной причине"),
    ("ОТ", "Отсутствовал"),
    ("Б", "Отсутствовал по болезни"),
    ("ОП", "Опоздал"),
)
ABSENT_CODES = frozenset({"УП", "НП", "ОТ", "Б"})
INVALID_CODES = ("Н", "ПР", "П")  # codes outside the Положение's set («ОСВ» is allowed: ruling R11)
NO_HOMEWORK_GRADE1 = "Не предусмотрено"
PLACEHOLDER_TOPICS = ("урок", "тема", "без темы", "нет", "-", ".", "Тем")

T = TypeVar("T")

NOT_GIVEN, NA, RELEASED, PASSED = 0, -1, -2, -3  # term mark types (0 = a numeric mark; -3 «зачёт» [I])


@dataclass(frozen=True)
class Scenario:
    """Violation rates. ``scale`` multiplies every plant rate (0 = a clean school, apart from profiles)."""

    scale: float = 1.0
    placeholder_topic: float = 0.01
    invalid_code: float = 0.04
    out_of_scale_mark: float = 0.004
    grade1_mark: float = 0.03
    grade1_homework: float = 0.02
    mark_and_absence: float = 0.04
    exempt_mark: float = 0.01
    after_leave: float = 0.6
    neglected_student: float = 0.05
    term_mark_missing: float = 0.03
    term_mark_late: float = 0.03
    term_mark_deviation: float = 0.02
    ktp_missing: float = 0.04

    def p(self, rate: float) -> float:
        return min(1.0, rate * self.scale)


# Per teacher profile: probability that a lesson's "sitting" (when the teacher fills the lesson in) is late,
# and that a single item is never entered.
_PROFILE = {
    "diligent": (0.01, 0.002),
    "evening": (0.6, 0.01),
    "weekly": (0.75, 0.02),
    "forgetful": (0.05, 0.08),
    "sloppy": (0.1, 0.03),
}


@dataclass(slots=True)
class Topic:
    cm_id: int
    ktp_lesson_id: int
    text: str
    at: datetime
    by: int | None = None  # who entered it (None: the group's teacher)


@dataclass(slots=True)
class Assignment:
    id: int
    sg_id: int
    cm_id: int  # classMeetingId: the lesson it belongs to (homework: the lesson it is due for)
    type_id: int
    name: str
    weight: int
    issue_date: date
    due_date: date
    issue_cm_id: int
    at: datetime
    by: int | None = None


@dataclass(slots=True)
class Mark:
    assignment_id: int
    student_id: int
    mark: int | str | None  # None with duty=True: «точка»; a scenario may give a non-numeric mark
    duty: bool
    at: datetime
    by: int | None = None
    changes: list[tuple[datetime, int | str | None, int | None]] = field(default_factory=list)  # (at, new, by)

    def value_at(self, t: datetime) -> tuple[bool, int | str | None]:
        """(shown, value) at time ``t``: a mark changed later shows its old value until then; a deleted one
        (new value None, not a «точка») is gone."""
        if self.at > t:
            return False, None
        value: int | str | None = self.mark
        for at, new, _by in self.changes:
            if at <= t:
                if new is None and not self.duty:
                    return False, None
                value = new
        return True, value


@dataclass(slots=True)
class Attendance:
    cm_id: int
    student_id: int
    versions: list[tuple[datetime, str | None]]  # (entered/changed at, code; None: deleted)
    by: list[int | None] = field(default_factory=list)  # who entered each version (None: the lesson's teacher)

    def code_at(self, t: datetime) -> str | None:
        code = None
        for at, c in self.versions:
            if at <= t:
                code = c
        return code


@dataclass(slots=True)
class TermMark:
    sg_id: int
    term_id: int
    student_id: int
    mark: int | str | None
    mark_type: int
    at: datetime
    by: int | None = None


@dataclass
class Journal:
    topics: dict[int, Topic] = field(default_factory=dict)
    assignments: dict[int, Assignment] = field(default_factory=dict)
    assignments_by_sg: dict[int, list[Assignment]] = field(default_factory=lambda: defaultdict(list))
    assignments_by_cm: dict[int, list[Assignment]] = field(default_factory=lambda: defaultdict(list))
    marks: dict[int, list[Mark]] = field(default_factory=lambda: defaultdict(list))  # by assignment
    attendance: dict[int, list[Attendance]] = field(default_factory=lambda: defaultdict(list))  # by lesson
    term_marks: dict[tuple[int, int], list[TermMark]] = field(default_factory=lambda: defaultdict(list))
    # grade/assignment/types: (id, name, abbr, order); a scenario may add its own
    assignment_types: tuple[tuple[int, str, str, int], ...] = ASSIGNMENT_TYPES
    homework_given: dict[int, list[Assignment]] = field(default_factory=lambda: defaultdict(list))  # by issue lesson
    makeup: set[int] = field(default_factory=set)  # written works with make-up marks (R3), for practice.situations

    @property
    def type_names(self) -> dict[int, str]:
        return {t[0]: t[1] for t in self.assignment_types}


def _clean(t: datetime) -> datetime:
    """Keep entry times out of the night and out of the 16:00–16:15 ambiguity window."""
    if time(16, 0) <= t.time() <= time(16, 15):
        t = t.replace(hour=16, minute=30, second=t.second)
    if t.time() >= time(23, 30):
        t = t.replace(hour=23, minute=t.minute % 30)
    if t.time() < time(7, 0):
        t = t.replace(hour=7)
    return t


def _at(rng: random.Random, day: date, start: time, end: time) -> datetime:
    lo = start.hour * 3600 + start.minute * 60
    hi = end.hour * 3600 + end.minute * 60
    s = rng.randint(lo, hi)
    return _clean(datetime.combine(day, time(s // 3600, s % 3600 // 60, s % 60)))


def _pick(rng: random.Random, population: tuple[T, ...], cum_weights: tuple[int, ...]) -> T:
    """``rng.choices(population, cum_weights=cum_weights)[0]``: the same draw (one ``rng.random()``, the same
    bisection), without building a list and checking the weights on each of the journal's many marks."""
    return population[bisect(cum_weights, rng.random() * (cum_weights[-1] + 0.0), 0, len(population) - 1)]


def required_marks(term_type: int, hours: int) -> int:
    """DEN001's default minimum of current marks by weekly hours (docs/rules.md, ruling R13)."""
    if term_type == cal.QUARTER:
        return 3 if hours <= 1 else 5 if hours == 2 else 7
    return 5 if hours <= 1 else 8 if hours == 2 else 10


def term_minimum(term_type: int) -> int:
    """FIN001's default minimum of current marks for a numeric term mark."""
    return 3 if term_type == cal.QUARTER else 5


def generate_journal(school: School, scenario: Scenario | None = None, practice: pr.Practice | None = None) -> Journal:
    """Every journal item of ``school`` with its entry time: teacher profiles and planted violations (``scenario``),
    and the real practice of ``practice`` (practice.py; ``Practice()`` by default, ``practice.CLEAN`` for none)."""
    sc = scenario or Scenario()
    pc = practice if practice is not None else pr.Practice()
    j = Journal()
    j.assignment_types = (*ASSIGNMENT_TYPES, (HOSPITAL, pr.HOSPITAL_TYPE, "Б", 24))
    ids = {"assignment": 228_700_000}

    def new_assignment_id() -> int:
        ids["assignment"] += 1
        return ids["assignment"]

    # Absences per student and school day: (code, first lesson only for ОП); a sanatorium stay is «Б» throughout.
    arng = random.Random(f"asurso-emulator:{school.seed}:absences")
    absent: dict[tuple[int, date], str] = {}
    days = school.school_days()
    for sid in sorted(school.students):
        for day in days:
            r = arng.random()
            if r < 0.035:
                absent[(sid, day)] = _pick(arng, ("Б", "УП", "НП", "ОТ"), (45, 65, 75, 100))
            elif r < 0.045:
                absent[(sid, day)] = "ОП"
    for sid, (first, last) in school.sanatorium.items():
        for day in days:
            if first <= day <= last:
                absent[(sid, day)] = "Б"

    # КТП: some groups never load it (TML006).
    krng = random.Random(f"asurso-emulator:{school.seed}:ktp-missing")
    for sg_id in sorted(school.ktp):
        if krng.random() < sc.p(sc.ktp_missing):
            school.ktp[sg_id].uploaded_at = None

    def active(sid: int, day: date, group: Group | None = None) -> bool:
        """In the school (joined, not yet left) and, given a group, in that group on ``day``."""
        return school.attends(sid, day, group.id if group is not None else None)

    first_lesson_of_day: dict[tuple[int, date], int] = {}
    for lesson in school.lessons.values():
        cls = school.groups[lesson.sg_id].class_id
        key = (cls, lesson.day)
        if key not in first_lesson_of_day or lesson.number < first_lesson_of_day[key]:
            first_lesson_of_day[key] = lesson.number

    run_of: dict[int, list[Lesson]] = {le.id: run for run in school.runs() for le in run}

    for sg_id in sorted(school.groups):
        group = school.groups[sg_id]
        grade = school.grade_of_group(sg_id)
        rng = random.Random(f"asurso-emulator:{school.seed}:group:{sg_id}")
        prng = random.Random(f"asurso-emulator:{school.seed}:practice:{sg_id}")
        # a lesson left on a holiday is not held (nothing is entered; homework is due at the next real lesson)
        lessons = [le for le in school.lessons_by_sg.get(sg_id, []) if school.is_school_day(le.day)]
        plan = school.ktp[sg_id].lessons
        members = group.student_ids
        released = [s for s in members if group.subject_id in school.students[s].exempt_subjects]  # «осв»
        regular = [
            s
            for s in members
            if not school.students[s].exempt and group.subject_id not in school.students[s].exempt_subjects
        ]
        exempt = [s for s in members if school.students[s].exempt]
        between = {s: school.attends_between(s, sg_id) for s in members}

        def here(sid: int, day: date, between: dict[int, tuple[date, date]] = between) -> bool:
            """``active(sid, day, group)`` for a member of the group (asked for every member of every lesson)."""
            first, last = between[sid]
            return first <= day <= last

        # Accumulation: a rotation through the group's students, per term.
        rotation: dict[int, int] = defaultdict(int)
        neglected: dict[int, set[int]] = defaultdict(set)
        per_lesson: dict[int, int] = {}
        for period in school.terms_for_group(sg_id):
            n_term = sum(1 for le in lessons if period.start <= le.day <= period.end)
            need = required_marks(group.term_type, group.hours) + 1
            per_lesson[period.id] = max(2, min(len(regular), math.ceil(len(regular) * need / max(1, n_term))))
            if grade >= 2 and regular and rng.random() < sc.p(sc.neglected_student) * 4:
                neglected[period.id].add(rng.choice(regular))

        # R8: the homework of a double or triple lesson is given at one of its lessons (the last, mostly)
        giver: dict[int, int] = {}
        for le in lessons:
            run = run_of[le.id]
            if run[0].id == le.id:
                pick = run[-1] if len(run) == 1 or prng.random() < 0.8 else run[0]
                for other in run:
                    giver[other.id] = pick.id

        sittings: dict[int, datetime] = {}
        for idx, lesson in enumerate(lessons):
            day = lesson.day
            term = school.term_of(sg_id, day)
            week_end = day + timedelta(days=4 - min(day.weekday(), 4))
            teacher = school.staff[group.teacher_on(day)]
            p_late, p_missing = _PROFILE[teacher.profile]
            by = school.substitutes.get(lesson.id)
            late_lesson = lesson.end.time() > DEADLINE_TIME
            deadline = datetime.combine(day, time(23, 59, 59) if late_lesson else DEADLINE_TIME)
            # When does the teacher fill this lesson in? A double lesson is filled in at one sitting.
            run = run_of[lesson.id]
            continued = run[0].id != lesson.id and run[0].id in sittings
            if continued:
                sitting = sittings[run[0].id]
            elif teacher.profile == "weekly" and rng.random() < p_late:
                sitting = _at(rng, week_end + timedelta(days=rng.randint(0, 2)), time(17, 0), time(22, 30))
                if sitting.date() == day and sitting.time() < time(16, 30):
                    sitting = sitting.replace(hour=17)
            elif rng.random() < p_late:
                if rng.random() < 0.7 and not late_lesson:
                    sitting = _at(rng, day, time(16, 30), time(23, 15))
                else:
                    sitting = _at(rng, day + timedelta(days=rng.randint(1, 3)), time(7, 30), time(22, 30))
            elif late_lesson:
                sitting = _at(rng, day, lesson.end.time(), time(22, 30))  # R1: due by the end of the day
            elif rng.random() < 0.04:
                sitting = datetime.combine(day, time(15, 59))  # near miss
            else:
                sitting = _at(rng, day, lesson.end.time(), time(15, 50))
            r = 1.0 if continued else prng.random()  # any hour (R18): 16:00–16:10, after midnight, the next days
            if r < pc.evening_window and not late_lesson:
                sitting = datetime.combine(day, time(16, prng.randint(0, 10), prng.randint(0, 59)))
            elif r < pc.evening_window + pc.after_midnight:
                sitting = datetime.combine(day + timedelta(days=1), time(prng.randint(0, 1), prng.randint(0, 59)))
            elif r < pc.evening_window + pc.after_midnight + pc.any_hour:
                hour = datetime.combine(day, lesson.end.time()) + timedelta(minutes=prng.randint(5, 48 * 60))
                sitting = hour
            sittings[lesson.id] = sitting
            on_time_sitting = sitting <= deadline
            if lesson.id in school.cancelled or (group.class_id, day) in school.quarantine:
                continue  # not held: nothing is entered (the class-day's schedule was not corrected either)

            def missing(rng: random.Random = rng, p: float = p_missing) -> bool:
                return rng.random() < p

            # Topic (from the КТП), sometimes a placeholder (CMP001).
            ktp_lesson = plan[idx] if idx < len(plan) else plan[-1]
            if not missing():
                text = ktp_lesson.name
                if rng.random() < sc.p(sc.placeholder_topic) * (3 if teacher.profile == "sloppy" else 1):
                    text = rng.choice(PLACEHOLDER_TOPICS)
                j.topics[lesson.id] = Topic(lesson.id, ktp_lesson.id, text, sitting, by)

            present = [s for s in regular if here(s, day) and absent.get((s, day), "ОП") == "ОП"]
            absentees = [s for s in members if here(s, day) and absent.get((s, day), "ОП") != "ОП"]
            att_time = (
                sitting
                if teacher.profile in ("evening", "weekly") and not on_time_sitting
                else _clean(lesson.start + timedelta(minutes=rng.randint(2, 10)))
            )
            chief = school.staff[school.classes[group.class_id].chief_id] if group.class_id else teacher

            # Attendance: entered with the lesson (during it, or at the sitting for late fillers).
            for sid in [*absentees, *[s for s in present if absent.get((s, day)) == "ОП"]]:
                if school.students[sid].exempt or sid in released:
                    continue
                code = absent[(sid, day)]
                if code == "ОП" and lesson.number != first_lesson_of_day[(group.class_id, day)]:
                    continue
                if rng.random() < sc.p(sc.invalid_code) * (4 if teacher.profile == "sloppy" else 0.25):
                    code = rng.choice(INVALID_CODES)  # ATT001
                att = Attendance(lesson.id, sid, [(att_time, code)], [by])
                if code == "ОТ":
                    _clarify(rng, att, day, chief.profile, att_time, school)
                j.attendance[lesson.id].append(att)
            for sid in released:  # PE exemption: many teachers enter «ОСВ» (R11: allowed)
                if here(sid, day) and prng.random() < pc.osv_entered:
                    j.attendance[lesson.id].append(Attendance(lesson.id, sid, [(att_time, "ОСВ")], [by]))

            if group.extracurricular:  # R19: a topic and attendance, nothing else
                continue

            # Homework given at this lesson (the run's giver), due at the group's next lesson after the run.
            nxt = next((le for le in lessons[idx + 1 :] if le.id not in {x.id for x in run}), None)
            if nxt is not None and giver[lesson.id] == lesson.id and not missing():
                if grade == 1:
                    hw_text = NO_HOMEWORK_GRADE1
                    if prng.random() < pc.grade1_spelling:
                        hw_text = prng.choice(pr.GRADE1_SPELLINGS)
                    if rng.random() < sc.p(sc.grade1_homework):
                        hw_text = ktp_lesson.home_assignment  # CMP002
                else:
                    hw_text = "Не задано" if rng.random() < 0.05 else ktp_lesson.home_assignment
                hw = Assignment(
                    new_assignment_id(), sg_id, nxt.id, HOMEWORK, hw_text, 10, day, nxt.day, lesson.id, sitting, by
                )
                add_assignment(j, hw)
                # marks for the homework, entered days after the lesson it was due for (R2: 7 days)
                if grade >= 2 and not group.pass_fail and prng.random() < pc.homework_marked:
                    due_members = [s for s in regular if here(s, nxt.day) and (s, nxt.day) not in absent]
                    when = _at(prng, nxt.day + timedelta(days=prng.randint(1, 6)), time(17, 0), time(21, 30))
                    for sid in prng.sample(due_members, min(len(due_members), prng.randint(2, 4))):
                        _mark(j, hw, sid, _pick(prng, (5, 4, 3), (40, 80, 100)), when)

            # Classwork (a form of control): usually «Ответ на уроке», sometimes a written work.
            if missing():
                continue  # no classwork, hence no marks either (TML003)
            written = grade >= 2 and not group.pass_fail and rng.random() < 0.12
            if group.pass_fail:
                type_id, name = PROJECT, f"Зачётное занятие: {ktp_lesson.name}"
            elif written:
                type_id = rng.choice(sorted(WRITTEN_TYPES))
                name = f"{TYPE_NAMES[type_id]}: {ktp_lesson.name}"
            else:
                type_id, name = LESSON_ANSWER, ktp_lesson.name
            cw = Assignment(
                new_assignment_id(),
                sg_id,
                lesson.id,
                type_id,
                name[:400],
                TYPE_WEIGHT.get(type_id, 10),
                day,
                day,
                lesson.id,
                sitting,
                by,
            )
            add_assignment(j, cw)

            # Marks.
            if grade == 1:
                if rng.random() < sc.p(sc.grade1_mark) and present:
                    _mark(j, cw, rng.choice(present), rng.choice((4, 5)), sitting, by)  # MRK002
            elif group.pass_fail:
                for sid in present[: max(1, len(present) // 3)]:
                    _mark(j, cw, sid, "зач" if prng.random() < 0.9 else "незач", sitting, by)
            elif written:
                really_absent = [s for s in absentees if not school.students[s].exempt]
                _written_marks(j, rng, cw, present, neglected[term.id] if term else set(), teacher.profile, sc, by)
                if cw.id in j.marks and pc.makeup:  # R3: the absent write it later
                    for sid in really_absent:
                        if prng.random() < pc.makeup and absent.get((sid, day)) in ABSENT_CODES:
                            when = _at(prng, day + timedelta(days=prng.randint(8, 14)), time(8, 30), time(15, 30))
                            _mark(j, cw, sid, prng.choice((3, 4, 5)), when, by=None)
                            j.makeup.add(cw.id)
            else:
                pool = [s for s in present if not (term and s in neglected[term.id])]
                k = per_lesson[term.id] if term else 3
                if pool:
                    start = rotation[term.id if term else 0]
                    chosen = [pool[(start + i) % len(pool)] for i in range(min(k, len(pool)))]
                    rotation[term.id if term else 0] = start + len(chosen)
                    for sid in chosen:
                        value = _pick(rng, (5, 4, 3, 2), (30, 70, 95, 100))
                        if prng.random() < pc.mark_one:
                            value = 1  # R5: in the scale
                        if rng.random() < sc.p(sc.out_of_scale_mark) * (5 if teacher.profile == "sloppy" else 1):
                            value = 0 if sid % 2 else 6  # MRK001: outside the scale 1–5 (R5)
                        _mark(j, cw, sid, value, sitting, by)
                    if rng.random() < 0.05 and len(pool) > len(chosen):
                        _mark(j, cw, pool[(start + len(chosen)) % len(pool)], None, sitting, by, duty=True)

            # Plants: a mark for an absent student (MRK003), for an exempt student (MRK004).
            if grade >= 2 and not group.pass_fail:
                really_absent = [s for s in absentees if not school.students[s].exempt]
                # a same-day mark beside an absence is R14's deputy information; one entered on a later day is
                # make-up work (R3); an evening mark of the lesson day could be either by the evidence: not planted
                decidable = on_time_sitting or sitting.date() > day
                if really_absent and rng.random() < sc.p(sc.mark_and_absence) * (
                    3 if teacher.profile == "sloppy" else 1
                ):
                    sid = rng.choice(really_absent)
                    if not any(m.student_id == sid for m in j.marks[cw.id]):
                        value = rng.choice((3, 4))
                        if decidable and sid not in school.sanatorium:
                            _mark(j, cw, sid, value, sitting, by)
                if exempt and rng.random() < sc.p(sc.exempt_mark):
                    sid = rng.choice(exempt)
                    if here(sid, day):
                        if rng.random() < 0.5:
                            _mark(j, cw, sid, rng.choice((4, 5)), sitting, by)
                        else:
                            j.attendance[lesson.id].append(Attendance(lesson.id, sid, [(att_time, "Б")], [by]))

        # Marks after a student left (MRK005): at least two school days after the leave day.
        for sid in members:
            st = school.students[sid]
            if (
                st.leave_at is None
                or grade < 2
                or group.extracurricular
                or group.pass_fail
                or rng.random() >= sc.p(sc.after_leave) / max(1, len(_groups_of(school, sid)) / 3)
            ):
                continue
            leave_day = st.leave_at.date()
            leave_term = school.term_of(sg_id, leave_day)
            # the same term, where the group's list still shows the student (with free: true)
            later = [
                le
                for le in lessons
                if le.day >= _add_school_days(school, leave_day, 2)
                and leave_term
                and leave_term.start <= le.day <= leave_term.end
                and le.id not in school.cancelled
                and (group.class_id, le.day) not in school.quarantine
            ]
            if later:
                le = later[min(len(later) - 1, rng.randint(0, 3))]
                cws = [a for a in j.assignments_by_cm.get(le.id, []) if a.type_id != HOMEWORK]
                t = _clean(le.end + timedelta(minutes=rng.randint(5, 60)))
                if cws and rng.random() < 0.6:
                    _mark(j, cws[0], sid, rng.choice((3, 4, 5)), max(t, cws[0].at))
                else:
                    j.attendance[le.id].append(Attendance(le.id, sid, [(t, "НП")]))

        if not group.extracurricular:
            _corrections(j, school, sg_id, prng, pc)
            _term_marks(j, school, sg_id, rng, sc, active)

    _hospital_marks(j, school, new_assignment_id)
    return j


def _corrections(j: Journal, school: School, sg_id: int, rng: random.Random, pc: pr.Practice) -> None:
    """R17: on-time marks changed or deleted days later (the entry stays on time)."""
    lessons = {le.id: le for le in school.lessons_by_sg.get(sg_id, [])}
    for a in j.assignments_by_sg[sg_id]:
        lesson = lessons.get(a.cm_id)
        if lesson is None or a.type_id == HOSPITAL:
            continue
        for m in j.marks.get(a.id, []):
            if not isinstance(m.mark, int) or not 1 <= m.mark <= 5 or m.at.date() > lesson.day:
                continue
            r = rng.random()
            if r < pc.mark_corrected + pc.mark_deleted:
                when = _at(rng, m.at.date() + timedelta(days=rng.randint(2, 12)), time(8, 30), time(15, 30))
                new = None if r >= pc.mark_corrected else (m.mark % 5) + 1 if m.mark < 5 else 4
                m.changes.append((when, new, m.by))


def _hospital_marks(j: Journal, school: School, new_id: Callable[[], int]) -> None:
    """R4: marks from a sanatorium's certificate, entered by the class teacher ten days after the stay, on lessons of
    the stay (type «Оценка, полученная в больнице»)."""
    for sid, (first, last) in sorted(school.sanatorium.items()):
        st = school.students[sid]
        chief = school.classes[st.class_id].chief_id
        rng = random.Random(f"asurso-emulator:{school.seed}:sanatorium:{sid}")
        groups = [
            g
            for g in school.groups.values()
            if sid in g.student_ids and not g.extracurricular and not g.pass_fail and g.class_id == st.class_id
        ]
        for g in sorted(rng.sample(groups, min(3, len(groups))), key=lambda g: g.id):
            stay = [
                le
                for le in school.lessons_by_sg.get(g.id, [])
                if first <= le.day <= last and school.is_school_day(le.day)
            ]
            if not stay:
                continue
            le = stay[len(stay) // 2]
            when = _at(rng, last + timedelta(days=10), time(9, 0), time(15, 0))
            a = Assignment(new_id(), g.id, le.id, HOSPITAL, pr.HOSPITAL_TYPE, 10, le.day, le.day, le.id, when, chief)
            add_assignment(j, a)
            j.marks[a.id].append(Mark(a.id, sid, rng.choice((4, 5)), False, when, chief))


def _groups_of(school: School, sid: int) -> list[int]:
    return [g.id for g in school.groups.values() if sid in g.student_ids]


def _add_school_days(school: School, d: date, n: int) -> date:
    for _ in range(n):
        d = school.next_school_day(d)
    return d


def add_assignment(j: Journal, a: Assignment) -> None:
    """Index a new assignment by id, group, lesson and (homework) the lesson it was given at."""
    j.assignments[a.id] = a
    j.assignments_by_sg[a.sg_id].append(a)
    j.assignments_by_cm[a.cm_id].append(a)
    if a.type_id == HOMEWORK:
        j.homework_given[a.issue_cm_id].append(a)


def _mark(
    j: Journal,
    a: Assignment,
    sid: int,
    value: int | str | None,
    at: datetime,
    by: int | None = None,
    *,
    duty: bool = False,
) -> None:
    j.marks[a.id].append(Mark(a.id, sid, value, duty, max(at, a.at), by))


def _clarify(
    rng: random.Random, att: Attendance, day: date, chief_profile: str, entered: datetime, school: School
) -> None:
    """The class chief replaces «ОТ» with the real reason — on time, late, or never (ATT002)."""
    on_time, late = (0.9, 0.05) if chief_profile == "diligent" else (0.5, 0.3)
    r = rng.random()
    nxt = school.next_school_day(day)
    if r < on_time:
        if rng.random() < 0.5 and entered.time() < time(19, 0):
            t = _at(rng, day, max(time(17, 0), entered.time()), time(21, 0))
        else:
            t = _at(rng, nxt, time(8, 0), time(15, 30))
    elif r < on_time + late:
        t = _at(rng, nxt + timedelta(days=rng.randint(0, 3)), time(16, 30), time(21, 0))
    else:
        return
    if t > entered:
        att.versions.append((t, rng.choice(("Б", "УП", "НП"))))


def _written_marks(
    j: Journal,
    rng: random.Random,
    a: Assignment,
    present: list[int],
    neglected: set[int],
    profile: str,
    sc: Scenario,
    by: int | None = None,
) -> None:
    """Marks for a written work given on D: within 7 days, on day 7 (near miss), late, or never (TML005)."""
    d = a.issue_date
    day7 = d + timedelta(days=7)
    r = rng.random()
    late_p = {"diligent": 0.02, "evening": 0.25, "weekly": 0.3, "forgetful": 0.2, "sloppy": 0.15}[profile]
    never_p = {"diligent": 0.0, "evening": 0.02, "weekly": 0.03, "forgetful": 0.15, "sloppy": 0.05}[profile]
    if r < never_p:
        return
    if r < never_p + late_p:
        day = d + timedelta(days=rng.randint(8, 14))
        when = _at(rng, day, time(8, 0), time(15, 30))
    elif cal.is_school_day(day7) and rng.random() < 0.1:
        when = _at(rng, day7, time(9, 0), time(15, 30))  # near miss: day 7 before the 16:05 snapshot
    else:
        k = rng.randint(0, 6)
        when = _at(rng, d + timedelta(days=k), time(15, 0) if k == 0 else time(8, 0), time(22, 0))
    for sid in present:
        if sid in neglected:
            _mark(j, a, sid, None, when, by, duty=True)
        else:
            _mark(j, a, sid, _pick(rng, (5, 4, 3, 2), (25, 65, 93, 100)), when, by)


def weighted_average(marks: list[tuple[int, int]]) -> float | None:
    """IRTech's journal average: Σ mark·w / Σ w over numeric marks, rounded to 2 decimals."""
    total_w = sum(w for _, w in marks)
    if not marks or total_w == 0:
        return None
    return round(sum(m * w for m, w in marks) / total_w, 2)


def _term_marks(
    j: Journal,
    school: School,
    sg_id: int,
    rng: random.Random,
    sc: Scenario,
    active: object,
) -> None:
    group = school.groups[sg_id]
    if school.grade_of_group(sg_id) == 1:
        return
    lessons_by_id = {le.id: le for le in school.lessons_by_sg.get(sg_id, [])}
    for term in school.terms_for_group(sg_id):
        late_group = rng.random() < sc.p(sc.term_mark_late)
        # the term's marks of the group by student (mark, weight), in the order of the assignments and their marks;
        # gathered once, at the first student given a term mark
        by_student: dict[int, list[tuple[Mark, int]]] | None = None
        for sid in group.student_ids:
            st = school.students[sid]
            if st.exempt or (st.leave_at is not None and st.leave_at.date() <= term.end):
                continue
            if not group.has(sid, term.end) or (st.join_on is not None and st.join_on > term.end):
                continue  # moved to the other subgroup, or not yet at the school
            r = rng.random()
            if r < sc.p(sc.term_mark_missing):
                continue  # FIN002 (never)
            if late_group:
                at = _at(rng, term.end + timedelta(days=rng.randint(5, 9)), time(10, 0), time(15, 0))
            else:
                at = _at(rng, term.end - timedelta(days=rng.randint(0, 3)), time(10, 0), time(15, 30))
            if by_student is None:
                by_student = defaultdict(list)
                for a in j.assignments_by_sg[sg_id]:
                    if a.cm_id in lessons_by_id and term.start <= lessons_by_id[a.cm_id].day <= term.end:
                        for m in j.marks[a.id]:
                            by_student[m.student_id].append((m, a.weight))
            marks = [
                (value, weight)
                for m, weight in by_student.get(sid, ())
                for shown, value in [m.value_at(at)]
                if shown and isinstance(value, int)
            ]
            avg = weighted_average(marks)
            value: int | str | None
            if group.subject_id in st.exempt_subjects:
                value, mtype = None, RELEASED  # «осв»
            elif group.pass_fail:
                value, mtype = "зачёт", PASSED
            elif avg is None or len(marks) < term_minimum(term.type_id):
                if rng.random() < 0.5 and avg is not None:
                    value, mtype = max(2, min(5, math.floor(avg + 0.5))), NOT_GIVEN  # FIN001
                else:
                    value, mtype = None, NA
            else:
                value, mtype = max(2, min(5, math.floor(avg + 0.5))), NOT_GIVEN
                if rng.random() < sc.p(sc.term_mark_deviation):
                    value = 5 if avg < 3.5 else 2  # FIN003
            j.term_marks[(sg_id, term.id)].append(TermMark(sg_id, term.id, sid, value, mtype, at))
