"""Teachers who answer their letters: a school's discipline profile and the fixes teachers enter into the journal.

A simulated term (``benchmarks/term.py``) needs people: after each Monday's letter every teacher fixes each of her
tasks with a probability and within a delay drawn from her own discipline profile (the generator's teacher
profiles: diligent, evening, weekly, forgetful, sloppy) and the school's (strict, typical, lax). A fix is a later
entry in the emulated journal — the missing topic, homework, form of control or marks, a clarified «ОТ», a valid
code, a corrected or deleted mark — stamped with the moment it is made, so that the server, the access report and
the ground truth see it exactly as a real late entry. The school's profile also sets how its teachers' profiles are
mixed, which is what the planted lateness rates follow. Figures and reasoning: CHOICES.md, «Teachers who answer».
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from adapters.emulator.journal import (
    HOMEWORK,
    LESSON_ANSWER,
    NA,
    NO_HOMEWORK_GRADE1,
    Assignment,
    Journal,
    Mark,
    TermMark,
    Topic,
    add_assignment,
)
from adapters.emulator.school import PROFILES, School
from adapters.emulator.views import EDIT_LIMIT_DAYS


@dataclass(frozen=True)
class Answering:
    """How one teacher profile answers a letter: the chance to fix a task, and the days until she does."""

    fix: float  # probability that a listed task gets fixed at all
    days: tuple[int, int]  # the fix lands this many days after the letter (inclusive range)


@dataclass(frozen=True)
class SchoolProfile:
    """A school's discipline: how its teachers' profiles are mixed (hence how late its lessons are filled in, the
    planted lateness) and how readily its teachers answer their letters (``follow_up`` multiplies every profile's
    chance to fix)."""

    name: str
    title: str
    weights: Mapping[str, int]  # teacher profile -> weight (school.PROFILES)
    follow_up: float
    answering: Mapping[str, Answering] = field(default_factory=dict)

    def answer_of(self, profile: str) -> Answering:
        base = self.answering.get(profile) or ANSWERING[profile]
        return Answering(min(0.98, base.fix * self.follow_up), base.days)


# Per teacher profile (CHOICES.md, «Teachers who answer» — [I] with the reasoning there).
ANSWERING: dict[str, Answering] = {
    "diligent": Answering(0.9, (0, 2)),
    "evening": Answering(0.8, (0, 3)),
    "weekly": Answering(0.7, (3, 6)),  # at the end of the week, when she sits down to the journal
    "forgetful": Answering(0.4, (1, 6)),
    "sloppy": Answering(0.5, (0, 5)),
}

# The generator's own mix (school.py) is «lax»: the demo's 19–29 % of lessons filled on time (issue #30).
PROFILES_BY_NAME: dict[str, SchoolProfile] = {
    "strict": SchoolProfile(
        "strict",
        "строгая школа",
        {"diligent": 80, "evening": 8, "weekly": 3, "forgetful": 5, "sloppy": 4},
        1.1,
    ),
    "typical": SchoolProfile(
        "typical",
        "обычная школа",
        {"diligent": 65, "evening": 13, "weekly": 6, "forgetful": 9, "sloppy": 7},
        1.0,
    ),
    "lax": SchoolProfile(
        "lax",
        "нестрогая школа",
        {"diligent": 50, "evening": 18, "weekly": 10, "forgetful": 12, "sloppy": 10},
        0.7,
    ),
}


def assign_profiles(school: School, profile: SchoolProfile) -> None:
    """Give the teachers (the deputy keeps hers) discipline profiles in the school's proportions — by quota, so that
    even a tiny school has its profile's mix rather than a noisy draw of twenty (largest remainders; which teacher
    gets which profile is a shuffle, deterministic per school seed and profile). Before the journal is generated."""
    rng = random.Random(f"asurso-emulator:{school.seed}:school-profile:{profile.name}")
    ids = sorted(sid for sid in school.staff if sid != school.deputy_id)
    rng.shuffle(ids)
    total = sum(profile.weights.get(p, 0) for p in PROFILES)
    exact = {p: len(ids) * profile.weights.get(p, 0) / total for p in PROFILES}
    counts = {p: int(v) for p, v in exact.items()}
    for p in sorted(PROFILES, key=lambda p: (counts[p] - exact[p], PROFILES.index(p)))[
        : len(ids) - sum(counts.values())
    ]:
        counts[p] += 1
    order = [p for p in PROFILES for _ in range(counts[p])]
    for sid, p in zip(ids, order, strict=True):
        school.staff[sid].profile = p


@dataclass
class Fix:
    """One later entry a teacher makes: ``rule`` on ``entity`` at ``at`` by ``teacher``."""

    at: datetime
    teacher: int
    rule: str
    entity: dict[str, int]
    done: bool = False
    applied: str = ""  # what was entered (empty: nothing left to enter when the moment came)


# Rules a teacher can act on by entering something; the rest (records, DEN001's marks still to be earned in the
# coming lessons, FIN001's term mark the school decides) get no answer in the simulation.
FIXABLE = frozenset(
    {
        "TML001",
        "TML002",
        "TML003",
        "TML005",
        "TML006",
        "CMP001",
        "CMP002",
        "ATT001",
        "ATT002",
        "MRK001",
        "MRK002",
        "MRK004",
        "MRK005",
        "FIN002",
    }
)


def fix_time(rng: random.Random, letter: datetime, days: tuple[int, int]) -> datetime:
    """A moment in the teacher's working hours ``days`` after the letter: 16:30–21:30 (after lessons, clear of the
    16:00–16:15 window and the night the standard schedule cannot decide)."""
    day = letter.date() + timedelta(days=rng.randint(*days))
    minute = rng.randint(16 * 60 + 30, 21 * 60 + 30)
    moment = datetime.combine(day, time(minute // 60, minute % 60, rng.randint(0, 59)))
    return max(moment, letter + timedelta(hours=1))


class Answers:
    """Teachers answering their letters in one emulated school: plan fixes, then enter them when their time comes."""

    def __init__(self, school: School, journal: Journal, profile: SchoolProfile, seed: int) -> None:
        self.school, self.journal, self.profile = school, journal, profile
        self.rng = random.Random(f"asurso-emulator:{seed}:answers:{profile.name}")
        self.pending: list[Fix] = []
        self.done: list[Fix] = []
        self.read_only = 0  # tasks a teacher would have fixed but the journal no longer allowed (past its edit limit)
        self._ktp_index: dict[int, dict[int, int]] = {}
        self._runs: dict[int, list[int]] | None = None
        self._next_id = max(journal.assignments, default=228_700_000)

    def answer(self, teacher: int, items: list[tuple[str, dict[str, int]]], letter: datetime) -> list[Fix]:
        """The teacher read her letter at ``letter``: each task (rule, entity) is fixed or not, by her profile."""
        staff = self.school.staff.get(teacher)
        if staff is None:
            return []
        how = self.profile.answer_of(staff.profile)
        planned = []
        for rule, entity in items:
            if rule in FIXABLE and self.rng.random() < how.fix:
                at = fix_time(self.rng, letter, how.days)
                if self.editable(entity, at):
                    planned.append(Fix(at, teacher, rule, dict(entity)))
                else:
                    self.read_only += 1  # the journal no longer lets her enter it (R22: a record)
        self.pending += planned
        return planned

    def lesson_day(self, entity: Mapping[str, int]) -> date | None:
        """The day of the lesson an item is about (a lesson, or the lesson a work belongs to), if any."""
        cm = entity.get("cm")
        if cm is None and "assignment" in entity:
            a = self.journal.assignments.get(entity["assignment"])
            cm = a.cm_id if a is not None else None
        lesson = self.school.lessons.get(cm) if cm is not None else None
        return lesson.day if lesson is not None else None

    def editable(self, entity: Mapping[str, int], at: datetime) -> bool:
        """Whether the journal still lets a teacher change the item's lesson at ``at``: the server marks a lesson
        read-only once it is more than ``editLimit.limitPastDays`` days old (views.py serves the same limit)."""
        day = self.lesson_day(entity)
        return day is None or (at.date() - day).days <= EDIT_LIMIT_DAYS

    def apply_due(self, now: datetime) -> int:
        """Enter every planned fix whose moment has come (``at <= now``); returns how many were entered."""
        due = [f for f in self.pending if f.at <= now]
        if not due:
            return 0
        self.pending = [f for f in self.pending if f.at > now]
        for f in sorted(due, key=lambda f: f.at):
            f.applied = self._apply(f)
            f.done = True
            self.done.append(f)
        return len(due)

    # --- the entries ------------------------------------------------------------------------------------------

    def _ktp_lesson(self, cm: int) -> tuple[int, str, str]:
        """(КТП lesson id, topic, homework) the lesson ``cm`` follows, as the generator links them."""
        lesson = self.school.lessons[cm]
        index = self._ktp_index.get(lesson.sg_id)
        if index is None:
            held = [le for le in self.school.lessons_by_sg.get(lesson.sg_id, []) if self.school.is_school_day(le.day)]
            index = self._ktp_index[lesson.sg_id] = {le.id: i for i, le in enumerate(held)}
        plan = self.school.ktp[lesson.sg_id].lessons
        k = plan[min(index.get(cm, 0), len(plan) - 1)]
        return k.id, k.name, k.home_assignment

    def _by(self, f: Fix, cm: int | None) -> int | None:
        """Who the entry is by: None for the lesson's own teacher (as the generator records it), else the fixer."""
        if cm is None:
            return None
        lesson = self.school.lessons[cm]
        own = lesson.teacher_id or self.school.groups[lesson.sg_id].teacher_on(lesson.day)
        return None if own == f.teacher else f.teacher

    def _apply(self, f: Fix) -> str:
        j, s, e = self.journal, self.school, f.entity
        cm = e.get("cm")
        by = self._by(f, cm if cm is not None else self._cm_of(e))
        if f.rule == "TML001" and cm is not None and cm not in j.topics:
            ktp_id, name, _hw = self._ktp_lesson(cm)
            j.topics[cm] = Topic(cm, ktp_id, name, f.at, by)
            return "тема"
        if f.rule == "CMP001" and cm is not None and cm in j.topics:
            j.topics[cm].text = self._ktp_lesson(cm)[1]  # an edit: the entry keeps its first time (R17)
            return "тема исправлена"
        if f.rule == "TML002" and cm is not None:
            return self._homework(cm, f, by)
        if f.rule == "CMP002" and cm is not None:
            for a in j.homework_given.get(cm, []):
                a.name = NO_HOMEWORK_GRADE1
            return "«Не предусмотрено»"
        if f.rule == "TML003" and cm is not None:
            if any(a.type_id != HOMEWORK for a in j.assignments_by_cm.get(cm, [])):
                return ""
            lesson = s.lessons[cm]
            name = self._ktp_lesson(cm)[1]
            add_assignment(
                j,
                Assignment(
                    self._new_id(), lesson.sg_id, cm, LESSON_ANSWER, name, 10, lesson.day, lesson.day, cm, f.at, by
                ),
            )
            return "форма контроля"
        if f.rule == "TML005" and "assignment" in e:
            return self._written_marks(e["assignment"], f, by)
        if f.rule in ("ATT001", "ATT002") and cm is not None and "student" in e:
            for att in j.attendance.get(cm, []):
                if att.student_id == e["student"]:
                    att.versions.append((f.at, "УП"))
                    att.by.append(f.teacher)
                    return "код уточнён"
            return ""
        if f.rule in ("MRK001", "MRK002") and "assignment" in e and "student" in e:
            for m in j.marks.get(e["assignment"], []):
                if m.student_id == e["student"]:
                    new = None if f.rule == "MRK002" else 5 if isinstance(m.mark, int) and m.mark > 5 else 2
                    m.changes.append((f.at, new, by))
                    return "отметка исправлена" if new is not None else "отметка удалена"
            return ""
        if f.rule in ("MRK004", "MRK005") and cm is not None and "student" in e:
            return self._remove_student(cm, e["student"], f, by)
        if f.rule == "TML006" and "sg" in e:
            plan = s.ktp.get(e["sg"])
            if plan is not None and plan.uploaded_at is None:
                plan.uploaded_at = f.at
                return "КТП загружено"
            return ""
        if f.rule == "FIN002" and {"sg", "term", "student"} <= set(e):
            return self._term_mark(e, f)
        return ""

    def _cm_of(self, e: Mapping[str, int]) -> int | None:
        a = self.journal.assignments.get(e.get("assignment", -1))
        return a.cm_id if a is not None else None

    def _new_id(self) -> int:
        self._next_id += 1  # above every generated id (nothing else adds assignments while teachers answer)
        return self._next_id

    def _run_of(self, cm: int) -> list[int]:
        """The lessons of the double (triple) lesson ``cm`` belongs to (R8: one homework unit)."""
        if self._runs is None:
            self._runs = {le.id: [x.id for x in run] for run in self.school.runs() for le in run}
        return self._runs.get(cm, [cm])

    def _homework(self, cm: int, f: Fix, by: int | None) -> str:
        j, s = self.journal, self.school
        lesson = s.lessons[cm]
        if any(a.name.strip() for le in self._run_of(cm) for a in j.homework_given.get(le, [])):
            return ""  # entered meanwhile (late): nothing left to enter
        later = [le for le in s.lessons_by_sg.get(lesson.sg_id, []) if le.day > lesson.day and s.is_school_day(le.day)]
        due = later[0] if later else lesson
        grade1 = s.grade_of_group(lesson.sg_id) == 1
        text = NO_HOMEWORK_GRADE1 if grade1 else self._ktp_lesson(cm)[2]
        add_assignment(
            j, Assignment(self._new_id(), lesson.sg_id, due.id, HOMEWORK, text, 10, lesson.day, due.day, cm, f.at, by)
        )
        return "домашнее задание"

    def _written_marks(self, assignment_id: int, f: Fix, by: int | None) -> str:
        j, s = self.journal, self.school
        a = j.assignments.get(assignment_id)
        if a is None or any(m.mark is not None for m in j.marks.get(a.id, [])):
            return ""
        group = s.groups[a.sg_id]
        day = s.lessons[a.cm_id].day
        away = {att.student_id for att in j.attendance.get(a.cm_id, []) if att.code_at(f.at) not in (None, "ОП")}
        rng = random.Random(f"{assignment_id}:{f.at.isoformat()}")
        students = [
            sid
            for sid in group.student_ids
            if s.attends(sid, day, a.sg_id)
            and sid not in away
            and not s.students[sid].exempt
            and group.subject_id not in s.students[sid].exempt_subjects
        ]
        for sid in students:
            j.marks[a.id].append(Mark(a.id, sid, rng.choice((3, 4, 4, 5)), False, f.at, by))
        return "отметки" if students else ""

    def _remove_student(self, cm: int, student: int, f: Fix, by: int | None) -> str:
        j = self.journal
        done = ""
        for a in j.assignments_by_cm.get(cm, []):
            for m in j.marks.get(a.id, []):
                if m.student_id == student and m.mark is not None:
                    m.changes.append((f.at, None, by))
                    done = "удалено"
        for att in j.attendance.get(cm, []):
            if att.student_id == student and att.code_at(f.at) is not None:
                att.versions.append((f.at, None))
                att.by.append(f.teacher)
                done = "удалено"
        return done

    def _term_mark(self, e: Mapping[str, int], f: Fix) -> str:
        key = (e["sg"], e["term"])
        marks = self.journal.term_marks[key]
        if any(tm.student_id == e["student"] for tm in marks):
            return ""
        marks.append(TermMark(e["sg"], e["term"], e["student"], None, NA, f.at, f.teacher))  # «н/а» [I]
        return "итоговая отметка"


def fixes_by_rule(fixes: list[Fix]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in fixes:
        if f.applied:
            out[f.rule] = out.get(f.rule, 0) + 1
    return dict(sorted(out.items()))


__all__ = [
    "ANSWERING",
    "FIXABLE",
    "PROFILES_BY_NAME",
    "Answering",
    "Answers",
    "Fix",
    "SchoolProfile",
    "assign_profiles",
    "fixes_by_rule",
]
