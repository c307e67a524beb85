"""The generated school: deterministic from (seed, size).

Structure (classes, staff, students, subjects, subject groups, enrollments, timetable, КТП) is built
here; journal items with their entry times come from ``adapters.emulator.journal``.
All times are naive Europe/Samara local datetimes, like the server's own.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from adapters.emulator import calendar as cal
from adapters.emulator import names
from adapters.emulator import practice as pr

Size = Literal["tiny", "small", "medium", "large"]
SIZES: tuple[Size, ...] = ("tiny", "small", "medium", "large")

SCHOOL_NAME = "АНОО СОШ «Сота»"
DEPUTY_LOGIN = "zavuch"
DEPUTY_PASSWORD = "Сота-2026"
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "Админ-2026"

# (grade, letters, students per class)
_CLASS_PLAN: dict[Size, list[tuple[int, str, int]]] = {
    "tiny": [(1, "а", 12), (8, "а", 14)],
    "small": [(g, "а", 23) for g in range(1, 12)],
    "medium": [(g, "абв", 24) for g in range(1, 12)],
    "large": [(g, "абвгде", 25) for g in range(1, 10)] + [(g, "абв", 25) for g in (10, 11)],
}

# Учебный план: (subject, weekly hours, split) per grade. split: "lang" = two language subgroups,
# "tech" = boys/girls technology groups. A group has at most one lesson a day (≤ 5 h on a 5-day week).
_PRIMARY: list[tuple[str, int, str | None]] = [
    ("Русский язык", 5, None),
    ("Литературное чтение", 4, None),
    ("Математика", 4, None),
    ("Окружающий мир", 2, None),
    ("Изобразительное искусство", 1, None),
    ("Музыка", 1, None),
    ("Труд (технология)", 1, None),
    ("Физическая культура", 2, None),
]
_CURRICULUM: dict[int, list[tuple[str, int, str | None]]] = {
    1: _PRIMARY,
    **{g: [*_PRIMARY[:2], ("Иностранный язык (английский)", 2, "lang"), *_PRIMARY[2:]] for g in (2, 3, 4)},
    **{
        g: [
            ("Русский язык", 5, None),
            ("Литература", 3, None),
            ("Иностранный язык (английский)", 3, "lang"),
            ("Математика", 5, None),
            ("История", 2, None),
            ("География", 1, None),
            ("Биология", 1, None),
            ("Изобразительное искусство", 1, None),
            ("Музыка", 1, None),
            ("Труд (технология)", 2, "tech"),
            ("Физическая культура", 2, None),
        ]
        + ([("Обществознание", 1, None)] if g == 6 else [])
        for g in (5, 6)
    },
    **{
        g: [
            ("Русский язык", 4 if g == 7 else 3, None),
            ("Литература", 2 if g < 9 else 3, None),
            ("Иностранный язык (английский)", 3, "lang"),
            ("Алгебра", 3, None),
            ("Геометрия", 2, None),
            ("Вероятность и статистика", 1, None),
            ("Информатика", 1, None),
            ("История", 2, None),
            ("Обществознание", 1, None),
            ("География", 2, None),
            ("Биология", 1 if g == 7 else 2, None),
            ("Физика", 2 if g < 9 else 3, None),
            ("Физическая культура", 2, None),
        ]
        + ([("Химия", 2, None), ("Основы безопасности и защиты Родины", 1, None)] if g >= 8 else [])
        + ([("Изобразительное искусство", 1, None), ("Труд (технология)", 2, "tech")] if g == 7 else [])
        + ([("Музыка", 1, None), ("Труд (технология)", 1, "tech")] if g == 8 else [])
        for g in (7, 8, 9)
    },
    **{
        g: [
            ("Русский язык", 2, None),
            ("Литература", 3, None),
            ("Иностранный язык (английский)", 3, "lang"),
            ("Алгебра", 4, None),
            ("Геометрия", 3, None),
            ("Вероятность и статистика", 1, None),
            ("Информатика", 1, None),
            ("История", 2, None),
            ("Обществознание", 2, None),
            ("География", 1, None),
            ("Биология", 1, None),
            ("Физика", 2, None),
            ("Химия", 1, None),
            ("Физическая культура", 2, None),
            ("Основы безопасности и защиты Родины", 1, None),
        ]
        + ([("Индивидуальный проект", 1, None)] if g == 10 else [])
        for g in (10, 11)
    },
}
PRIMARY_TEACHER_SUBJECTS = {
    "Русский язык",
    "Литературное чтение",
    "Математика",
    "Окружающий мир",
    "Изобразительное искусство",
    "Труд (технология)",
}

# Bell schedule (schedule/times): ten 40-minute lessons.
BELLS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(9, 10)),
    (time(9, 20), time(10, 0)),
    (time(10, 20), time(11, 0)),
    (time(11, 20), time(12, 0)),
    (time(12, 10), time(12, 50)),
    (time(13, 0), time(13, 40)),
    (time(13, 50), time(14, 30)),
    (time(14, 40), time(15, 20)),  # 8: ИУП groups
    (time(15, 30), time(16, 10)),  # 9: electives and extracurricular groups (end after 16:00: ruling R1)
    (time(16, 20), time(17, 0)),  # 10: the second shift's electives
)
REGULAR_SLOTS = range(1, 8)  # a class's own lessons; 8–10 are ИУП groups, electives and extracurricular groups
LEAVE_DAY = date(2026, 12, 11)  # the last day of the teacher who leaves (a Friday)
WORKING_SATURDAY = date(2026, 12, 12)  # a five-day school works this Saturday, on Monday's timetable

Profile = Literal["diligent", "evening", "weekly", "forgetful", "sloppy"]
PROFILES: tuple[Profile, ...] = ("diligent", "evening", "weekly", "forgetful", "sloppy")
_PROFILE_WEIGHTS = (50, 18, 10, 12, 10)


@dataclass(slots=True)
class Person:
    id: int
    last: str
    first: str
    middle: str
    gender: Literal["m", "f"]

    @property
    def full_name(self) -> str:
        return f"{self.last} {self.first} {self.middle}".strip()

    @property
    def short_name(self) -> str:
        return f"{self.last} {self.first[0]}. {self.middle[0]}." if self.middle else f"{self.last} {self.first[0]}."


@dataclass(slots=True)
class Staff(Person):
    login: str = ""
    password: str = ""
    roles: tuple[str, ...] = ("Учитель",)
    profile: Profile = "diligent"
    email: str = ""
    left_on: date | None = None  # the last day on the staff (a scenario's ``to``): not served as anyone's after it

    def on_staff(self, day: date) -> bool:
        return self.left_on is None or day <= self.left_on


@dataclass(slots=True)
class Student(Person):
    class_id: int = 0
    individual_educ: bool = False  # обучение на дому (server flag)
    family_educ: bool = False  # семейное обучение (the school's own list, not a server flag)
    leave_at: datetime | None = None  # left the school (free: true from then on)
    login: str = ""
    password: str = ""
    join_on: date | None = None  # joined during the year (listed from that day on)
    part_time: bool = False  # очно-заочная форма (the school's own record, not a server flag)
    exempt_subjects: frozenset[int] = frozenset()  # subjects the student is exempt from (ОСВ)

    @property
    def exempt(self) -> bool:
        return self.individual_educ or self.family_educ


@dataclass(slots=True)
class ParentAccount:
    id: int
    login: str
    password: str
    child_id: int
    name: str
    teacher_id: int | None = None  # a teacher who is also this parent: two role groups


@dataclass(slots=True)
class SchoolClass:
    id: int
    grade: int
    letter: str
    chief_id: int
    student_ids: list[int] = field(default_factory=list)
    # class teachers with dates, when they changed (a scenario's ``chiefs``): (user, from, to); empty: ``chief_id``
    chiefs: list[tuple[int, date | None, date | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"

    def chief_on(self, day: date) -> int:
        """The class teacher on ``day`` (ruling R6: class-teacher items go to the class teacher of that date)."""
        for chief, start, end in self.chiefs:
            if (start is None or start <= day) and (end is None or day <= end):
                return chief
        return self.chief_id


@dataclass(slots=True)
class Subject:
    id: int
    name: str
    global_id: int


@dataclass(slots=True)
class Group:
    id: int
    class_id: int  # 0 for a group by individual plan (ИУП), which belongs to no class
    subject_id: int
    teacher_id: int  # the group's teacher (today's, when it changed: see ``teachers``)
    hours: int
    subgroup: str  # "" for a whole class, else the subgroup's label
    student_ids: list[int]
    term_type: int
    name: str = ""
    iup_grade: int | None = None  # the grade of an ИУП group
    extracurricular: bool = False
    teachers: list[tuple[int, date | None, date | None]] = field(default_factory=list)  # (teacher, from, to)
    pass_fail: bool = False  # a зачёт course: marks «зач»/«незач», no numeric marks by design
    member_from: dict[int, date] = field(default_factory=dict)  # students who came into the group on a date
    member_to: dict[int, date] = field(default_factory=dict)  # students who left the group after a date (moved)

    def has(self, sid: int, day: date) -> bool:
        """Whether the student is in this group on ``day`` (subgroup moves; joining and leaving the school aside)."""
        start, end = self.member_from.get(sid), self.member_to.get(sid)
        return sid in self.student_ids and (start is None or start <= day) and (end is None or day <= end)

    def teacher_on(self, day: date) -> int:
        """The group's teacher on ``day`` (teacher assignments change during a year)."""
        for teacher, start, end in self.teachers:
            if (start is None or start <= day) and (end is None or day <= end):
                return teacher
        return self.teacher_id


# termTypeId of the year's own period, which carries the year marks [I: docs/server-api.md §3, «year marks»]
YEAR_TERM_TYPE = 4


@dataclass(slots=True)
class Term:
    """A period of the journal: a quarter, a half-year, a trimester, or the year's own period (``YEAR_TERM_TYPE``)."""

    id: int
    name: str
    type_id: int
    start: date
    end: date


@dataclass(slots=True)
class Lesson:
    """A class meeting (урок)."""

    id: int
    sg_id: int
    day: date
    number: int  # урок №, also the schedule time slot
    teacher_id: int | None = None  # the teacher the server records for this lesson (a substitute), if any

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, BELLS[self.number - 1][0])

    @property
    def end(self) -> datetime:
        return datetime.combine(self.day, BELLS[self.number - 1][1])


@dataclass(slots=True)
class KtpLesson:
    id: int
    unit_num: int
    lesson_num: int
    name: str
    home_assignment: str


@dataclass(slots=True)
class KtpPlan:
    id: int
    sg_id: int
    lessons: list[KtpLesson]
    uploaded_at: datetime | None  # None: never loaded (TML006)


@dataclass
class School:
    seed: int
    size: Size
    scid: int
    name: str
    year_id: int
    global_year_id: int
    staff: dict[int, Staff]
    students: dict[int, Student]
    classes: dict[int, SchoolClass]
    subjects: dict[int, Subject]
    groups: dict[int, Group]
    terms: dict[int, Term]
    lessons: dict[int, Lesson]
    lessons_by_sg: dict[int, list[Lesson]]
    ktp: dict[int, KtpPlan]  # by sg_id
    deputy_id: int
    admin_id: int
    parent_accounts: list[ParentAccount]
    work_program_approved: date = date(2026, 9, 1)
    # the school's calendar and bell schedule (a generated school takes the emulator's year; a scenario its own)
    year_name: str = cal.YEAR_NAME
    year_start: date = cal.YEAR_START
    year_end: date = cal.YEAR_END
    vacations: tuple[tuple[str, date, date], ...] = cal.VACATIONS
    bells: tuple[tuple[time, time], ...] = BELLS
    grade_term_type: dict[int, int] = field(default_factory=lambda: {g: cal.term_type_for_grade(g) for g in range(12)})
    week: int = 5  # school days a week (5 or 6)
    working_saturdays: tuple[date, ...] = ()  # Saturdays a five-day school works
    substitutes: dict[int, int] = field(default_factory=dict)  # lesson -> the teacher who took it (recorded or not)
    cancelled: set[int] = field(default_factory=set)  # lessons not held, left in the schedule
    quarantine: set[tuple[int, date]] = field(default_factory=set)  # (class, day) with nothing entered at all
    sanatorium: dict[int, tuple[date, date]] = field(default_factory=dict)  # student -> weeks away (Б), first–last

    def is_school_day(self, d: date) -> bool:
        """Ruling R7: a day of the year with lessons by the school's week (or a working Saturday), not a day off."""
        if not (self.year_start <= d <= self.year_end):
            return False
        if any(a <= d <= b for _n, a, b in self.vacations):
            return False
        return d.weekday() < self.week or d in self.working_saturdays

    def school_days(self) -> list[date]:
        days, d = [], self.year_start
        while d <= self.year_end:
            if self.is_school_day(d):
                days.append(d)
            d += timedelta(days=1)
        return days

    def next_school_day(self, d: date) -> date:
        """The first school day after ``d`` (beyond the year's end: the next day of the school's week)."""
        n = d + timedelta(days=1)
        while not self.is_school_day(n):
            if n > self.year_end:
                while n.weekday() >= self.week:
                    n += timedelta(days=1)
                return n
            n += timedelta(days=1)
        return n

    def runs(self) -> list[list[Lesson]]:
        """Consecutive lessons of one group on one day (a double or triple lesson is one run; ruling R8)."""
        out: list[list[Lesson]] = []
        for lessons in self.lessons_by_sg.values():
            for le in lessons:
                last = out[-1][-1] if out else None
                if last is not None and last.sg_id == le.sg_id and last.day == le.day and le.number == last.number + 1:
                    out[-1].append(le)
                else:
                    out.append([le])
        return out

    def attends(self, sid: int, day: date, sg_id: int | None = None) -> bool:
        """Whether the student is at the school on ``day`` (joined, not yet left) and, given a group, in it."""
        st = self.students[sid]
        if st.leave_at is not None and day >= st.leave_at.date():
            return False
        if st.join_on is not None and day < st.join_on:
            return False
        return sg_id is None or self.groups[sg_id].has(sid, day)

    def attends_between(self, sid: int, sg_id: int) -> tuple[date, date]:
        """The first and the last day on which ``attends(sid, day, sg_id)`` holds, for a student in the group's list
        (an empty window, first after last, when none): one comparison per lesson instead of the lookups."""
        st, group = self.students[sid], self.groups[sg_id]
        first, last = date.min, date.max
        if st.leave_at is not None:
            last = st.leave_at.date() - timedelta(days=1)
        for start in (st.join_on, group.member_from.get(sid)):
            if start is not None:
                first = max(first, start)
        end = group.member_to.get(sid)
        if end is not None:
            last = min(last, end)
        return first, last

    def class_teacher_of(self, sid: int, day: date | None = None) -> int:
        """The class teacher of the student's class (on ``day``, when the class's teachers changed)."""
        cls = self.classes[self.students[sid].class_id]
        return cls.chief_id if day is None else cls.chief_on(day)

    def terms_for_group(self, sg_id: int) -> list[Term]:
        tt = self.groups[sg_id].term_type
        return [t for t in self.terms.values() if t.type_id == tt]

    def term_of(self, sg_id: int, d: date) -> Term | None:
        for t in self.terms_for_group(sg_id):
            if t.start <= d <= t.end:
                return t
        return None

    def grade_of_group(self, sg_id: int) -> int:
        g = self.groups[sg_id]
        return g.iup_grade if g.iup_grade is not None else self.classes[g.class_id].grade

    def class_name_of_group(self, sg_id: int) -> str | None:
        c = self.classes.get(self.groups[sg_id].class_id)
        return c.name if c else None


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"asurso-emulator:{seed}:{purpose}")


class _Ids:
    def __init__(self, start: int) -> None:
        self.next = start

    def __call__(self) -> int:
        self.next += 1
        return self.next


Gender = Literal["m", "f"]


def _person(rng: random.Random, pid: int, gender: Gender | None = None) -> tuple[int, str, str, str, Gender]:
    g: Literal["m", "f"] = gender or ("m" if rng.random() < 0.5 else "f")
    last = rng.choice(names.SURNAMES)
    middle = rng.choice(names.MALE_PATRONYMIC)
    if g == "f":
        return pid, names.female_surname(last), rng.choice(names.FEMALE_FIRST), names.female_patronymic(middle), g
    return pid, last, rng.choice(names.MALE_FIRST), middle, g


def generate_structure(seed: int, size: Size, *, week: int = 5, practice: pr.Practice | None = None) -> School:
    """The school of (seed, size). ``week``: 5 or 6 school days; ``practice``: the real practice it plants
    (``practice.Practice()`` by default, ``practice.CLEAN`` for none)."""
    if size not in SIZES:
        raise ValueError(f"неизвестный размер школы «{size}»: допустимы {', '.join(SIZES)}")
    if week not in (5, 6):
        raise ValueError(f"неделя школы — 5 или 6 учебных дней, а не {week}")
    pc = practice if practice is not None else pr.Practice()
    rng = _rng(seed, "structure")
    staff_ids, student_ids, class_ids = _Ids(811_600), _Ids(937_100), _Ids(105_000)
    sg_ids, subj_ids = _Ids(5_331_300), _Ids(47_060)
    staff: dict[int, Staff] = {}
    used_logins: set[str] = set()

    def new_staff(roles: tuple[str, ...] = ("Учитель",), gender: Literal["m", "f"] | None = None) -> Staff:
        pid, last, first, middle, g = _person(rng, staff_ids(), gender or ("f" if rng.random() < 0.8 else "m"))
        s = Staff(pid, last, first, middle, g, roles=roles)
        base = f"{last}{first[0]}{middle[0]}"
        login, n = base, 1
        while login in used_logins:
            n += 1
            login = f"{base}{n}"
        used_logins.add(login)
        s.login, s.password = login, f"Учитель-{pid}"
        s.profile = rng.choices(PROFILES, weights=_PROFILE_WEIGHTS)[0]
        s.email = f"t{pid}@sota.example"
        staff[pid] = s
        return s

    deputy = new_staff(("Завуч", "Учитель"), "f")
    deputy.login, deputy.password, deputy.profile = DEPUTY_LOGIN, DEPUTY_PASSWORD, "diligent"
    admin = new_staff(("Администратор",), "m")
    admin.login, admin.password = ADMIN_LOGIN, ADMIN_PASSWORD
    used_logins.update({DEPUTY_LOGIN, ADMIN_LOGIN})

    subjects: dict[str, Subject] = {}
    for grade_plan in _CURRICULUM.values():
        for subj, _, _ in grade_plan:
            if subj not in subjects:
                subjects[subj] = Subject(subj_ids(), subj, 3200 + len(subjects))

    classes: dict[int, SchoolClass] = {}
    students: dict[int, Student] = {}
    for grade, letters, count in _CLASS_PLAN[size]:
        for letter in letters:
            cid = class_ids()
            cls = SchoolClass(cid, grade, letter, chief_id=0)
            for _ in range(count):
                pid, last, first, middle, g = _person(rng, student_ids())
                st = Student(pid, last, first, middle, g, class_id=cid)
                st.login, st.password = f"u{pid}", f"Ученик-{pid}"
                students[pid] = st
                cls.student_ids.append(pid)
            cls.student_ids.sort(key=lambda i: (students[i].last, students[i].first))
            classes[cid] = cls

    # Special students: home-schooled, family education, leaving mid-year (deterministic picks).
    pool = [s for s in students.values() if classes[s.class_id].grade >= 2]
    n_special = max(1, len(students) // 120)
    n_leave = max(2, len(students) // 50)
    picks = rng.sample(pool, min(len(pool), 2 * n_special + n_leave))
    for st in picks[:n_special]:
        st.individual_educ = True
    for st in picks[n_special : 2 * n_special]:
        st.family_educ = True
    for st in picks[2 * n_special :]:
        day = rng.choice([d for d in cal.school_days() if date(2026, 10, 1) <= d <= date(2027, 3, 1)])
        st.leave_at = datetime.combine(day, time(rng.randint(9, 14), rng.randint(0, 59)))

    # Real practice (practice.py): students who join during the year, PE exemptions, sanatorium stays.
    prng = _rng(seed, "practice")
    year_days = [d for d in cal.school_days() if date(2026, 9, 14) <= d <= date(2027, 4, 30)]
    ordered_classes = sorted(classes.values(), key=lambda c: (c.grade, c.letter))
    joiners: list[Student] = []
    for cls in ordered_classes:
        for _ in range(len(cls.student_ids)):
            if prng.random() < pc.joiners:
                joiners.append(_joiner(prng, students, cls, student_ids(), prng.choice(year_days)))
    if pc.joiners and not joiners:
        cls = prng.choice(ordered_classes)
        joiners.append(_joiner(prng, students, cls, student_ids(), prng.choice(year_days)))
    ordinary = [
        s
        for s in students.values()
        if classes[s.class_id].grade >= 2 and not s.exempt and s.leave_at is None and s.join_on is None
    ]
    sanatorium: dict[int, tuple[date, date]] = {}
    for st in ordinary:
        if prng.random() < pc.sanatorium or (pc.sanatorium and not sanatorium and st is ordinary[-1]):
            away = prng.choice([d for d in year_days if d <= date(2027, 4, 1)])
            sanatorium[st.id] = (away, away + timedelta(days=20))

    # Teachers: a class teacher for each primary class, subject teachers with a load cap.
    groups: dict[int, Group] = {}
    load: dict[int, int] = defaultdict(int)
    by_subject: dict[str, list[Staff]] = defaultdict(list)
    cap = 18 if size == "large" else 22

    def subject_teacher(subj: str, hours: int) -> Staff:
        for t in by_subject[subj]:
            if load[t.id] + hours <= cap:
                return t
        t = new_staff()
        by_subject[subj].append(t)
        return t

    primary_teacher: dict[int, Staff] = {}
    for cls in classes.values():
        if cls.grade <= 4:
            primary_teacher[cls.id] = new_staff(gender="f")
    if size in ("tiny", "small"):
        by_subject["Русский язык"].append(deputy)  # the deputy teaches a little too

    for cls in sorted(classes.values(), key=lambda c: (c.grade, c.letter)):
        boys = [i for i in cls.student_ids if students[i].gender == "m"]
        girls = [i for i in cls.student_ids if students[i].gender == "f"]
        half = len(cls.student_ids) // 2
        for subj, hours, split in _CURRICULUM[cls.grade]:
            if split == "lang":
                parts = [("1 подгруппа", cls.student_ids[:half]), ("2 подгруппа", cls.student_ids[half:])]
            elif split == "tech":
                parts = [("мальчики", boys), ("девочки", girls)]
            else:
                parts = [("", list(cls.student_ids))]
            for label, members in parts:
                if cls.grade <= 4 and subj in PRIMARY_TEACHER_SUBJECTS:
                    teacher = primary_teacher[cls.id]
                else:
                    teacher = subject_teacher(subj, hours)
                load[teacher.id] += hours
                sg = Group(
                    sg_ids(),
                    cls.id,
                    subjects[subj].id,
                    teacher.id,
                    hours,
                    label,
                    members,
                    cal.term_type_for_grade(cls.grade),
                )
                sg.name = f"{cls.name}/{subj}" + (f" ({label})" if label else "")
                groups[sg.id] = sg

    # Class chiefs: the primary class teacher, else a teacher of the class (one class each where possible).
    chiefs_taken: set[int] = set()
    for cls in sorted(classes.values(), key=lambda c: (c.grade, c.letter)):
        if cls.id in primary_teacher:
            cls.chief_id = primary_teacher[cls.id].id
        else:
            teachers = sorted({g.teacher_id for g in groups.values() if g.class_id == cls.id})
            free = [t for t in teachers if t not in chiefs_taken and t not in (deputy.id, admin.id)]
            cls.chief_id = free[0] if free else teachers[0]
        chiefs_taken.add(cls.chief_id)

    # Groups of real practice: extracurricular courses, electives after 16:00, a зачёт course, ИУП groups.
    def subject(name: str) -> Subject:
        if name not in subjects:
            subjects[name] = Subject(subj_ids(), name, 3200 + len(subjects))
        return subjects[name]

    fixed: dict[int, tuple[int | None, int]] = {}  # group -> (weekday or None: any, lesson number)
    for grp in groups.values():
        grp.pass_fail = pc.course_groups and grp.subject_id == subjects[pr.PASS_FAIL_SUBJECT].id
    for cls in ordered_classes if pc.course_groups else []:
        term_type = cal.term_type_for_grade(cls.grade)
        teachers = sorted({g.teacher_id for g in groups.values() if g.class_id == cls.id} - {deputy.id})
        plan: list[tuple[str, int, int | None, int, list[int]]] = [
            (pr.EXTRACURRICULAR[0], cls.chief_id, 0, 1, list(cls.student_ids))  # every Monday, lesson 1
        ]
        if 5 <= cls.grade <= 9:
            plan.append((pr.EXTRACURRICULAR[1], prng.choice(teachers), None, 9, list(cls.student_ids)))
        if cls.grade >= 10:
            chosen = sorted(prng.sample(cls.student_ids, len(cls.student_ids) // 2))
            plan.append((pr.ELECTIVE, subject_teacher("Физика", 1).id, None, 9 if cls.grade == 10 else 10, chosen))
        for name, teacher_id, weekday, slot, members in plan:
            extra = name in pr.EXTRACURRICULAR
            sg = Group(sg_ids(), cls.id, subject(name).id, teacher_id, 1, "", members, term_type, extracurricular=extra)
            sg.name = f"{cls.name}/{name}"
            groups[sg.id] = sg
            fixed[sg.id] = (weekday, slot)
            load[teacher_id] += 1
        if cls.grade >= 10:
            iup_pool = [s for s in cls.student_ids if not students[s].exempt and students[s].leave_at is None]
            members = sorted(prng.sample(iup_pool, min(len(iup_pool), 4)))
            teacher = subject_teacher("Химия", 2)
            load[teacher.id] += 2
            sg = Group(
                sg_ids(), 0, subject(pr.IUP_SUBJECT).id, teacher.id, 2, "", members, term_type, iup_grade=cls.grade
            )
            sg.name = f"{pr.IUP_SUBJECT}, ИУП {cls.grade} кл."
            groups[sg.id] = sg
            fixed[sg.id] = (None, 8)

    # PE exemptions («осв») and moves between the language subgroups during the year.
    pe = subjects[pr.PE].id
    for st in ordinary:
        if st.id not in sanatorium and prng.random() < pc.pe_exempt:
            st.exempt_subjects = frozenset({pe})
    if pc.pe_exempt and not any(s.exempt_subjects for s in ordinary):
        ordinary[0].exempt_subjects = frozenset({pe})
    moved = False
    for cls in ordered_classes:
        pairs: dict[int, list[Group]] = defaultdict(list)
        for grp in groups.values():
            if grp.class_id == cls.id and grp.subgroup.endswith("подгруппа"):
                pairs[grp.subject_id].append(grp)
        for pair in pairs.values():
            one, other = sorted(pair, key=lambda x: x.subgroup)
            for sid in list(one.student_ids):
                final = cls.id == ordered_classes[-1].id and sid == one.student_ids[-1]
                if prng.random() < pc.subgroup_moves or (pc.subgroup_moves and not moved and final):
                    day = prng.choice([d for d in year_days if d >= date(2026, 10, 1)])
                    one.member_to[sid] = day - timedelta(days=1)
                    other.member_from[sid] = day
                    other.student_ids.append(sid)
                    moved = True

    # A teacher leaves on a Friday in December; a new one takes the groups the next day.
    new_hire: Staff | None = None
    if pc.teacher_leaves:
        chiefs = {c.chief_id for c in classes.values()}
        candidates = [
            t
            for subj in sorted(by_subject)
            for t in by_subject[subj]
            if t.id not in chiefs and t.id != deputy.id and t.roles == ("Учитель",)
        ]
        if len(candidates) > 1:
            leaver = candidates[1 + prng.randrange(len(candidates) - 1)]  # never the first: the parent account's
            leaver.left_on = LEAVE_DAY
            new_hire = new_staff()
            for taken in groups.values():
                if taken.teacher_id == leaver.id:
                    taken.teachers = [(leaver.id, None, LEAVE_DAY), (new_hire.id, LEAVE_DAY + timedelta(days=1), None)]
                    taken.teacher_id = new_hire.id

    terms: dict[int, Term] = {}
    for i, spec in enumerate(cal.TERMS):
        tid = 26_900 + i
        terms[tid] = Term(tid, spec.name, spec.type_id, spec.start, spec.end)

    # One teacher is also a parent of a student: an account with two role groups (choose-session-role).
    parent_accounts: list[ParentAccount] = []
    some = sorted(students.values(), key=lambda s: s.id)
    for idx, st in enumerate(some[:: max(1, len(some) // 3)][:3]):
        pid = 700_000 + st.id
        parent = ParentAccount(pid, f"p{st.id}", f"Родитель-{pid}", st.id, f"Родитель: {st.full_name}")
        if idx == 0:
            dual = next(t for t in staff.values() if t.roles == ("Учитель",))
            dual.roles = ("Учитель", "Родитель")
            parent.teacher_id = dual.id
        parent_accounts.append(parent)

    school = School(
        seed=seed,
        size=size,
        scid=1,
        name=SCHOOL_NAME,
        year_id=8987,
        global_year_id=26,
        staff=staff,
        students=students,
        classes=classes,
        subjects={s.id: s for s in subjects.values()},
        groups=groups,
        terms=terms,
        lessons={},
        lessons_by_sg={},
        ktp={},
        deputy_id=deputy.id,
        admin_id=admin.id,
        parent_accounts=parent_accounts,
        week=week,
        working_saturdays=(WORKING_SATURDAY,) if pc.working_saturday and week == 5 else (),
        sanatorium=sanatorium,
    )
    holiday_class = next((c.id for c in ordered_classes if c.grade >= 2), None) if pc.holiday_lesson else None
    school.lessons, school.lessons_by_sg = _timetable(seed, school, fixed, holiday_class, pc)
    school.ktp = _ktp(seed, groups, subjects, school.lessons_by_sg)
    _practice_days(school, pc, excluded={new_hire.id} if new_hire else set())
    return school


def _timetable(
    seed: int, school: School, fixed: dict[int, tuple[int | None, int]], holiday_class: int | None, pc: pr.Practice
) -> tuple[dict[int, Lesson], dict[int, list[Lesson]]]:
    """A weekly timetable repeated on every school day: subgroups in parallel; a group has one lesson a day, or a
    double or triple lesson (consecutive numbers); ``fixed`` groups at their own lesson number. A five-day school's
    working Saturday takes Monday's timetable; ``holiday_class`` keeps its lessons on the holiday (practice.py)."""
    classes, groups = school.classes, school.groups
    week = school.week
    rng = _rng(seed, "timetable")
    prng = _rng(seed, "practice-timetable")
    busy: set[tuple[int, int, int]] = set()  # (teacher, weekday, slot)
    weekly: dict[int, list[tuple[int, int, list[int]]]] = defaultdict(list)  # class -> [(weekday, slot, [sg ids])]
    used: dict[tuple[int, int], set[int]] = defaultdict(set)  # (class, weekday) -> slots taken
    for sg_id, (weekday, slot) in sorted(fixed.items()):
        g = groups[sg_id]
        if weekday is None:
            free = [d for d in range(week) if (g.teacher_id, d, slot) not in busy and slot not in used[(g.class_id, d)]]
            weekday = rng.choice(free or list(range(week)))
        busy.add((g.teacher_id, weekday, slot))
        used[(g.class_id, weekday)].add(slot)
        weekly[g.class_id].append((weekday, slot, [sg_id]))
    # one triple lesson at least, where the rate is not zero: the first 3-hour subject of the senior class
    senior = max(classes.values(), key=lambda c: (c.grade, c.letter), default=None)
    forced_triple = (
        next((g.subject_id for g in groups.values() if senior and g.class_id == senior.id and g.hours >= 3), None)
        if pc.triple_lesson and senior and senior.grade >= 8
        else None
    )
    for cls in sorted(classes.values(), key=lambda c: (c.grade, c.letter)):
        units: dict[tuple[int, str], list[Group]] = defaultdict(list)  # subject (+split kind) -> parallel groups
        for g in groups.values():
            if g.class_id == cls.id and g.id not in fixed:
                units[(g.subject_id, "split" if g.subgroup else "")].append(g)
        day_load = [len(used[(cls.id, d)]) for d in range(week)]
        plan: list[tuple[int, int, list[Group]]] = []  # (weekday, run length, parallel groups)
        for _, unit_groups in sorted(units.items(), key=lambda kv: (-kv[1][0].hours, kv[0])):
            hours = unit_groups[0].hours
            runs = [1] * hours
            r = prng.random()
            forced = senior is not None and cls.id == senior.id and unit_groups[0].subject_id == forced_triple
            if hours >= 3 and cls.grade >= 8 and (r < pc.triple_lesson or forced):
                runs = [3] + [1] * (hours - 3)
            elif hours >= 2 and cls.grade >= 5 and r < pc.triple_lesson + pc.double_lesson:
                runs = [2] + [1] * (hours - 2)
            weekdays = sorted(range(week), key=lambda d: (day_load[d], rng.random()))[: len(runs)]
            for d, k in zip(weekdays, runs, strict=False):
                day_load[d] += k
                plan.append((d, k, unit_groups))
        for d in range(week):
            todays = [(k, u) for wd, k, u in plan if wd == d]
            rng.shuffle(todays)
            taken = used[(cls.id, d)]
            for k, unit_groups in todays:
                teachers = {g.teacher_id for g in unit_groups}

                def fits(s: int, strict: bool, k: int = k, teachers: set[int] = teachers, taken: set[int] = taken,
                         d: int = d) -> bool:  # fmt: skip
                    return all(
                        s + i <= 8
                        and s + i not in taken
                        and (not strict or all((t, d, s + i) not in busy for t in teachers))
                        for i in range(k)
                    )

                start = next((s for s in REGULAR_SLOTS if fits(s, True)), None)
                if start is None:
                    start = next((s for s in range(1, 9) if fits(s, False)), None)
                numbers = (
                    list(range(start, start + k))
                    if start is not None
                    else [s for s in range(1, 11) if s not in taken][:k]  # a full day: the run falls apart
                )
                for slot in numbers:
                    taken.add(slot)
                    for t in teachers:
                        busy.add((t, d, slot))
                    weekly[cls.id].append((d, slot, [g.id for g in unit_groups]))

    lessons: dict[int, Lesson] = {}
    by_sg: dict[int, list[Lesson]] = defaultdict(list)
    next_id = 224_100_000
    days: list[tuple[date, int]] = [(d, 0) for d in school.school_days()]  # (day, 0: every class, else that one)
    if holiday_class is not None and school.year_start <= pr.HOLIDAY <= school.year_end:
        days = sorted([*days, (pr.HOLIDAY, holiday_class)])
    for day, only in days:
        wd = 0 if day in school.working_saturdays else day.weekday()
        for cls_id in sorted(weekly):
            if only and cls_id != only:
                continue
            for d, slot, sg_list in sorted(weekly[cls_id], key=lambda x: x[1]):
                if d != wd:
                    continue
                for sg in sg_list:
                    next_id += 1
                    lesson = Lesson(next_id, sg, day, slot)
                    lessons[next_id] = lesson
                    by_sg[sg].append(lesson)
    for lst in by_sg.values():
        lst.sort(key=lambda le: (le.day, le.number))
    return lessons, dict(by_sg)


def _practice_days(school: School, pc: pr.Practice, excluded: set[int]) -> None:
    """Substitutions (recorded for the lesson, or seen only in who entered it), lessons not held but left in the
    schedule, and a quarantine class-day (practice.py)."""
    rng = _rng(school.seed, "practice-days")
    teaching: dict[tuple[date, int], set[int]] = defaultdict(set)
    for le in school.lessons.values():
        teaching[(le.day, le.number)].add(school.groups[le.sg_id].teacher_on(le.day))
    teachers = sorted(
        t.id
        for t in school.staff.values()
        if "Учитель" in t.roles and t.id not in (school.deputy_id, school.admin_id) and t.id not in excluded
    )
    kinds = {"recorded": 0, "unrecorded": 0, "cancelled": 0}
    runs = [run for run in school.runs() if school.is_school_day(run[0].day)]

    def substitute(run: list[Lesson], recorded: bool) -> bool:
        group = school.groups[run[0].sg_id]
        own = {group.teacher_id, *(t for t, _a, _b in group.teachers)}
        free = [
            t
            for t in teachers
            if t not in own
            and school.staff[t].on_staff(run[0].day)
            and all(t not in teaching[(le.day, le.number)] for le in run)
        ]
        if not free:
            return False
        sub = rng.choice(free)
        for le in run:
            school.substitutes[le.id] = sub
            teaching[(le.day, le.number)].add(sub)
            if recorded:
                le.teacher_id = sub
        kinds["recorded" if recorded else "unrecorded"] += 1
        return True

    for run in runs:
        if school.groups[run[0].sg_id].extracurricular:
            continue
        r = rng.random()
        if r < pc.substitution:
            substitute(run, rng.random() < pc.substitution_recorded)
        elif r < pc.substitution + pc.cancelled:
            school.cancelled.update(le.id for le in run)
            kinds["cancelled"] += 1
    # every kind at least once where the rate is not zero (the counting test asks for each in a small school)
    spare = [run for run in runs if not school.groups[run[0].sg_id].extracurricular and run[0].id not in
             school.substitutes and run[0].id not in school.cancelled]  # fmt: skip
    rng.shuffle(spare)
    if pc.substitution and pc.substitution_recorded and not kinds["recorded"]:
        while spare and not substitute(spare.pop(), True):
            pass
    if pc.substitution and pc.substitution_recorded < 1 and not kinds["unrecorded"]:
        while spare and not substitute(spare.pop(), False):
            pass
    if pc.cancelled and not kinds["cancelled"] and spare:
        school.cancelled.update(le.id for le in spare.pop())
    window = [d for d in school.school_days() if date(2026, 12, 7) <= d <= date(2026, 12, 25) and d.weekday() < 5]
    classes = sorted(c.id for c in school.classes.values() if c.grade >= 2)
    for _ in range(pc.quarantine_days):
        if window and classes:
            school.quarantine.add((rng.choice(classes), rng.choice(window)))


def _joiner(rng: random.Random, students: dict[int, Student], cls: SchoolClass, pid: int, day: date) -> Student:
    """A student who joins ``cls`` on ``day``."""
    _pid, last, first, middle, g = _person(rng, pid)
    st = Student(pid, last, first, middle, g, class_id=cls.id, join_on=day)
    st.login, st.password = f"u{pid}", f"Ученик-{pid}"
    students[pid] = st
    cls.student_ids.append(pid)
    cls.student_ids.sort(key=lambda i: (students[i].last, students[i].first))
    return st


_TOPIC_WORDS = (
    "Введение",
    "Повторение",
    "Закрепление",
    "Обобщение",
    "Практикум",
    "Решение задач",
    "Контроль знаний",
    "Работа над ошибками",
    "Проект",
    "Изучение нового материала",
)


def _ktp(
    seed: int, groups: dict[int, Group], subjects: dict[str, Subject], lessons_by_sg: dict[int, list[Lesson]]
) -> dict[int, KtpPlan]:
    rng = _rng(seed, "ktp")
    subj_name = {s.id: s.name for s in subjects.values()}
    plans: dict[int, KtpPlan] = {}
    lid = 991_000
    for sg_id in sorted(groups):
        g = groups[sg_id]
        n = len(lessons_by_sg.get(sg_id, []))
        lessons = []
        per_unit = 8
        for i in range(n):
            lid += 1
            unit = i // per_unit + 1
            lessons.append(
                KtpLesson(
                    lid,
                    unit,
                    i % per_unit + 1,
                    f"{subj_name[g.subject_id]}: {rng.choice(_TOPIC_WORDS).lower()} по разделу {unit}, урок {i + 1}",
                    f"§{unit}.{i % per_unit + 1}, упр. {rng.randint(1, 300)}",
                )
            )
        uploaded = datetime(2026, 8, 25, 10, 0) + timedelta(days=rng.randint(0, 12), minutes=rng.randint(0, 400))
        plans[sg_id] = KtpPlan(900_000 + sg_id % 100_000, sg_id, lessons, uploaded)
    return plans
