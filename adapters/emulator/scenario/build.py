"""A scenario compiled into the emulator's school and journal, with deterministic ids and a map from the
scenario's names to them (the runner compares findings by names)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time

from adapters.emulator.journal import (
    ASSIGNMENT_TYPES,
    HOMEWORK,
    NA,
    NOT_GIVEN,
    RELEASED,
    TYPE_WEIGHT,
    Assignment,
    Attendance,
    Journal,
    Mark,
    TermMark,
    Topic,
    add_assignment,
)
from adapters.emulator.scenario.load import ScenarioError
from adapters.emulator.scenario.model import GroupSpec, LessonSpec, Scenario, StudentSpec, When
from adapters.emulator.school import (
    Group,
    KtpLesson,
    KtpPlan,
    Lesson,
    School,
    SchoolClass,
    Staff,
    Student,
    Subject,
    Term,
)

DEPUTY_LOGIN, DEPUTY_PASSWORD = "zavuch", "Сота-2026"
KIND_ID = {"quarter": 1, "half_year": 2, "trimester": 3, "year": 4}  # termTypeId [I: only 1 is confirmed]
PASSED = ("зачёт", "зачет", "зач", "зачтено")
KTP_LOADED = datetime(2026, 9, 3, 8, 0)


@dataclass
class Built:
    school: School
    journal: Journal
    staff: dict[str, int] = field(default_factory=dict)
    students: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # label «7Б/Литература» -> id
    lessons: dict[str, int] = field(default_factory=dict)  # «7Б/Литература 24.11.2026 урок 3» -> id
    works: dict[str, int] = field(default_factory=dict)  # key -> assignment id
    terms: dict[str, list[int]] = field(default_factory=dict)  # name -> ids (a name may repeat per kind)
    family: list[int] = field(default_factory=list)  # семейное обучение: the school's list for [rules]
    part_time: list[int] = field(default_factory=list)  # очно-заочное обучение


def _person(name: str) -> tuple[str, str, str]:
    parts = name.split()
    if len(parts) < 2:
        raise ScenarioError(f"«{name}»: укажите хотя бы фамилию и имя")
    return parts[0], parts[1], " ".join(parts[2:])


def _gender(last: str) -> str:
    return "f" if last.endswith(("а", "я")) else "m"


def _bells(spec: list[str] | None) -> tuple[tuple[time, time], ...]:
    out = []
    for item in spec or []:
        a, b = (x.strip() for x in item.split("-"))
        out.append((time.fromisoformat(a.zfill(5)), time.fromisoformat(b.zfill(5))))
    return tuple(out)


def normalize_group(label: str) -> str:
    """«7Б Литература» and «7б/литература» name the same group."""
    head, sep, rest = label.strip().partition("/")
    if not sep:
        head, _, rest = label.strip().partition(" ")
    return f"{head.strip().upper()}/{rest.strip()}".casefold()


def build(sc: Scenario) -> Built:
    """The school and journal a scenario describes. Raises ScenarioError when a name refers to nothing."""
    school_spec = sc.school
    bells = _bells(school_spec.bells) or _bells(["08:30-09:15"])
    vacations = [(v.name, v.from_, v.to) for v in school_spec.vacations or []]
    vacations += [("Праздничный день", d, d) for d in school_spec.holidays or []]
    vacations.sort(key=lambda v: v[1])

    staff: dict[int, Staff] = {}
    b = Built(school=None, journal=Journal())  # type: ignore[arg-type]
    deputy_id = admin_id = 0
    for i, person in enumerate(sc.staff):
        sid = 1001 + i
        last, first, middle = _person(person.name)
        login = DEPUTY_LOGIN if person.role == "deputy" and not deputy_id else f"t{sid}"
        password = DEPUTY_PASSWORD if login == DEPUTY_LOGIN else f"Учитель-{sid}"
        roles = {"deputy": ("Завуч", "Учитель"), "admin": ("Администратор",), "teacher": ("Учитель",)}[person.role]
        staff[sid] = Staff(sid, last, first, middle, _gender(last), login, password, roles, "diligent",  # type: ignore[arg-type]
                           f"{login}@sota.example", person.to)  # fmt: skip
        b.staff[person.name] = sid
        if person.role == "deputy" and not deputy_id:
            deputy_id = sid
        if person.role == "admin" and not admin_id:
            admin_id = sid
    if not deputy_id:
        raise ScenarioError('в школе нет заместителя директора: добавьте [[staff]] с role = "deputy"')

    def staff_id(name: str | None, where: str) -> int | None:
        if name is None:
            return None
        if name not in b.staff:
            raise ScenarioError(f"{where}: сотрудник «{name}» не описан в [[staff]]")
        return b.staff[name]

    # terms and the grades' kinds of terms
    terms: dict[int, Term] = {}
    grade_kind: dict[int, int] = {}
    for i, ts in enumerate(sc.terms or []):
        tid = 701 + i
        kind = KIND_ID[ts.kind]
        terms[tid] = Term(tid, ts.name, kind, ts.from_, ts.to)
        b.terms.setdefault(ts.name, []).append(tid)
        if ts.kind != "year":  # the year's own period sits beside the grade's kind of terms
            for g in ts.grades:
                grade_kind.setdefault(g, kind)

    # classes and students
    classes: dict[int, SchoolClass] = {}
    students: dict[int, Student] = {}
    chief_history: dict[int, list[tuple[int, date | None, date | None]]] = {}
    for i, cs in enumerate(sc.classes):
        cid = 101 + i
        grade, letter = int(cs.name[:-1]), cs.name[-1]
        chief = staff_id(cs.chief or (cs.chiefs[-1].name if cs.chiefs else None), f"класс {cs.name}")
        if chief is None:
            raise ScenarioError(f"класс {cs.name}: укажите классного руководителя (chief)")
        classes[cid] = SchoolClass(cid, grade, letter, chief)
        b.classes[cs.name] = cid
        chief_history[cid] = [
            (staff_id(span.name, f"класс {cs.name}") or chief, span.from_, span.to) for span in cs.chiefs
        ]
    specs: dict[str, StudentSpec] = {}
    for cs in sc.classes:  # the short form: a class's list of names
        for name in cs.students:
            specs[name] = StudentSpec.model_validate({"name": name, "class": cs.name})
    specs.update({s.name: s for s in sc.students})  # the long form: dates, form of education, exemptions
    for i, (name, ss) in enumerate(specs.items()):
        pid = 2001 + i
        last, first, middle = _person(name)
        class_name = ss.class_ or next((c.name for c in sc.classes if name in c.students), None)
        if class_name is None or class_name.replace(" ", "") not in b.classes:
            raise ScenarioError(f"ученик «{name}»: класс «{class_name}» не описан в [[classes]]")
        cid = b.classes[class_name.replace(" ", "")]
        st = Student(pid, last, first, middle, _gender(last), class_id=cid)  # type: ignore[arg-type]
        st.individual_educ = ss.education == "на дому"
        st.family_educ = ss.education == "семейная"
        st.part_time = ss.education == "очно-заочная"
        st.join_on = ss.from_
        st.leave_at = datetime.combine(ss.to, time(0, 0)) if ss.to else None
        st.login, st.password = f"s{pid}", f"Ученик-{pid}"
        students[pid] = st
        classes[cid].student_ids.append(pid)
        b.students[name] = pid
        if st.family_educ:
            b.family.append(pid)
        if st.part_time:
            b.part_time.append(pid)

    def student_id(name: str, where: str) -> int:
        if name not in b.students:
            raise ScenarioError(f"{where}: ученик «{name}» не описан (в [[classes]] students или [[students]])")
        return b.students[name]

    # subjects and groups
    subjects: dict[str, Subject] = {}
    groups: dict[int, Group] = {}
    ktp: dict[int, KtpPlan] = {}
    for i, gs in enumerate(sc.groups):
        sgid = 501 + i
        label = gs.label
        subj = subjects.setdefault(gs.subject, Subject(301 + len(subjects), gs.subject, 3001 + len(subjects)))
        if gs.class_ is not None:
            if gs.class_.replace(" ", "") not in b.classes:
                raise ScenarioError(f"группа «{label}»: класс «{gs.class_}» не описан в [[classes]]")
            cid = b.classes[gs.class_.replace(" ", "")]
            grade = classes[cid].grade
        else:
            cid, grade = 0, gs.iup_grade or 0
        members = (
            [student_id(n, f"группа «{label}»") for n in gs.students]
            if gs.students is not None
            else list(classes[cid].student_ids if cid else [])
        )
        history = [(staff_id(t.name, f"группа «{label}»") or 0, t.from_, t.to) for t in gs.teachers]
        named = staff_id(gs.teacher, f"группа «{label}»")
        current = named if named is not None else (history[-1][0] if history else None)
        if current is None:
            raise ScenarioError(f"группа «{label}»: укажите учителя (teacher или teachers)")
        if grade not in grade_kind:
            raise ScenarioError(f"группа «{label}»: для {grade} класса не описан ни один период ([[terms]] grades)")
        kind = grade_kind[grade]
        groups[sgid] = Group(sgid, cid, subj.id, current, gs.hours, gs.subgroup or "", members, kind, label,
                             iup_grade=gs.iup_grade, extracurricular=gs.extracurricular, teachers=history)  # fmt: skip
        b.groups[normalize_group(label)] = sgid
        own = [ls.topic.text for ls in sorted(sc.lessons, key=lambda x: (x.date, x.number)) if ls.topic is not None
               and normalize_group(ls.group) == normalize_group(label)]  # fmt: skip
        ktp[sgid] = _plan(sgid, gs, own)

    def group_id(label: str, where: str) -> int:
        key = normalize_group(label)
        if key not in b.groups:
            raise ScenarioError(f"{where}: группа «{label}» не описана в [[groups]]")
        return b.groups[key]

    # lessons, in (day, number, group) order
    lessons: dict[int, Lesson] = {}
    by_sg: dict[int, list[Lesson]] = defaultdict(list)
    placed: list[tuple[LessonSpec, Lesson]] = []
    ordered = sorted(sc.lessons, key=lambda x: (x.date, x.number, normalize_group(x.group)))
    for i, ls in enumerate(ordered):
        sg = group_id(ls.group, f"урок {ls.label}")
        if ls.number > len(bells):
            raise ScenarioError(f"урок {ls.label}: в расписании звонков только {len(bells)} уроков ([school] bells)")
        le = Lesson(100_001 + i, sg, ls.date, ls.number, staff_id(ls.teacher, f"урок {ls.label}"))
        key = f"{normalize_group(ls.group)} {ls.date:%d.%m.%Y} урок {ls.number}"
        b.lessons[key] = le.id
        if ls.cancelled:
            continue  # a cancelled lesson is not served [I]
        lessons[le.id] = le
        by_sg[sg].append(le)
        placed.append((ls, le))

    year_start = school_spec.year_start or date(2026, 9, 1)
    school = School(
        seed=0,
        size="tiny",
        scid=1,
        name=school_spec.name,
        year_id=8987,
        global_year_id=26,
        staff=staff,
        students=students,
        classes=classes,
        subjects={s.id: s for s in subjects.values()},
        groups=groups,
        terms=terms,
        lessons=lessons,
        lessons_by_sg=dict(by_sg),
        ktp=ktp,
        deputy_id=deputy_id,
        admin_id=admin_id or deputy_id,
        parent_accounts=[],
        work_program_approved=school_spec.work_program_approved or date(2026, 9, 1),
        year_name=f"{year_start.year}/{year_start.year + 1}",
        year_start=year_start,
        year_end=school_spec.year_end or date(2027, 5, 26),
        vacations=tuple(vacations),
        bells=bells,
        grade_term_type={**dict.fromkeys(range(12), 1), **grade_kind},
    )
    for cid, history in chief_history.items():
        if history:  # the last is the class's teacher after the scenario; the server serves the one of the date
            school.classes[cid].chief_id = history[-1][0]
            school.classes[cid].chiefs = history
    b.school = school
    b.journal = _journal(sc, b, school, placed, staff_id, student_id, group_id)
    return b


def _plan(sg: int, gs: GroupSpec, own: list[str]) -> KtpPlan:
    """The group's КТП: the scenario's, or by default the topics its lessons use (so a plain topic is one «from the
    КТП», as in a school that works by it) followed by generic ones, 40 in all."""
    if gs.ktp is not None:
        topics = gs.ktp
    else:
        topics = list(dict.fromkeys(t for t in own if t.strip()))
        topics += [f"{gs.subject}: тема {n}" for n in range(len(topics) + 1, 41)]
    loaded = gs.ktp_loaded
    uploaded = None if loaded is False else (loaded.on(date(2026, 9, 3)) if loaded is not None else KTP_LOADED)
    lessons = [KtpLesson(sg * 1000 + n, 1, n, name, "") for n, name in enumerate(topics, 1)]
    return KtpPlan(90_000 + sg, sg, lessons, uploaded)


def _journal(sc, b, school, placed, staff_id, student_id, group_id) -> Journal:  # type: ignore[no-untyped-def]
    j = Journal()
    types = list(ASSIGNMENT_TYPES)
    type_id = {name.casefold(): tid for tid, name, _a, _o in types}
    next_assignment = iter(range(300_001, 10**9))
    bells = school.bells

    def kind(name: str) -> int:
        tid = type_id.get(name.casefold())
        if tid is None:  # a type the tool has never seen (R2): the server has it, so the emulator serves it
            tid = 100 + len(types)
            types.append((tid, name, name[:3], 50 + len(types)))
            type_id[name.casefold()] = tid
        return tid

    def moment(when: When | None, day: date, default: datetime) -> datetime:
        return when.on(day) if when is not None else default

    for ls, le in placed:
        where = f"урок {ls.label}"
        end = datetime.combine(le.day, bells[le.number - 1][1])
        plan = school.ktp.get(le.sg_id)
        if ls.topic is not None:
            linked = ls.topic.ktp or ls.topic.text
            ktp_id = next((k.id for k in (plan.lessons if plan else []) if k.name == linked), -1)
            if ls.topic.ktp and ktp_id == -1:
                raise ScenarioError(f"{where}: в КТП группы нет урока «{ls.topic.ktp}»")
            j.topics[le.id] = Topic(le.id, ktp_id, ls.topic.text, moment(ls.topic.at, le.day, end),
                                    staff_id(ls.topic.by, where))  # fmt: skip
        if ls.homework is not None:
            hw = ls.homework
            due = le
            if hw.for_:
                target = b.lessons.get(_lesson_key(hw.for_))
                if target is None or target not in school.lessons:
                    raise ScenarioError(f"{where}: урок «{hw.for_}» (for) не описан в [[lessons]]")
                due = school.lessons[target]
            else:
                later = [x for x in school.lessons_by_sg.get(le.sg_id, []) if (x.day, x.number) > (le.day, le.number)]
                due = later[0] if later else le
            given = Assignment(next(next_assignment), le.sg_id, due.id, HOMEWORK, hw.text, 10, le.day, due.day,
                               le.id, moment(hw.at, le.day, end), staff_id(hw.by, where))  # fmt: skip
            add_assignment(j, given)
        works: list[Assignment] = []
        for w in ls.work:
            tid = kind(w.type)
            a = Assignment(next(next_assignment), le.sg_id, le.id, tid, w.name or w.type,
                           w.weight or TYPE_WEIGHT.get(tid, 10), le.day, le.day, 0, moment(w.at, le.day, end),
                           staff_id(w.by, where))  # fmt: skip
            add_assignment(j, a)
            works.append(a)
            if w.key:
                b.works[w.key] = a.id
        for me in ls.marks:
            target_work = _work_for(me.work, works, ls, b)
            sid = student_id(me.student, where)
            value, duty = _mark_value(me.value)
            m = Mark(target_work.id, sid, value, duty, moment(me.at, le.day, end), staff_id(me.by, where))
            m.changes = [
                (c.at.on(le.day), _mark_value(c.value)[0] if c.value is not None else None, staff_id(c.by, where))
                for c in me.changes
            ]
            j.marks[target_work.id].append(m)
        for ae in ls.attendance:
            sid = student_id(ae.student, where)
            versions: list[tuple[datetime, str | None]] = [(moment(ae.at, le.day, end), ae.code)]
            authors = [staff_id(ae.by, where)]
            for c in ae.changes:
                versions.append((c.at.on(le.day), c.code))
                authors.append(staff_id(c.by, where))
            j.attendance[le.id].append(Attendance(le.id, sid, versions, authors))
    for tm in sc.term_marks:
        where = f"итоговая отметка {tm.group}, {tm.term}, {tm.student}"
        sg = group_id(tm.group, where)
        term_type = school.groups[sg].term_type
        kinds = (term_type, KIND_ID["year"])  # the group's kind of term, or the year itself
        term = next((school.terms[t] for t in b.terms.get(tm.term, []) if school.terms[t].type_id in kinds), None)
        if term is None:
            raise ScenarioError(f"{where}: период «{tm.term}» не описан для этой группы ([[terms]])")
        value, mark_type = _term_value(tm.value)
        at = moment(tm.at, term.end, datetime.combine(term.end, time(12, 0)))
        j.term_marks[(sg, term.id)].append(
            TermMark(sg, term.id, student_id(tm.student, where), value, mark_type, at, staff_id(tm.by, where))
        )
    j.assignment_types = tuple(types)
    return j


def _lesson_key(label: str) -> str:
    """«7Б Литература 24.11.2026 урок 3» -> the key ``Built.lessons`` uses."""
    head, _, number = label.rpartition(" урок ")
    group, _, day = head.rpartition(" ")
    return f"{normalize_group(group)} {day} урок {number.strip()}"


def lesson_key(label: str) -> str:
    return _lesson_key(label)


def _work_for(ref: str | None, works: list[Assignment], ls: LessonSpec, b: Built) -> Assignment:
    if ref is None:
        if len(works) == 1:
            return works[0]
        raise ScenarioError(f"урок {ls.label}: у отметки не указана работа (work), а работ на уроке {len(works)}")
    for a, w in zip(works, ls.work, strict=True):
        if ref in (w.key, w.type, w.name):
            return a
    raise ScenarioError(f"урок {ls.label}: работа «{ref}» не описана в work этого урока")


def _mark_value(text: str) -> tuple[int | str | None, bool]:
    t = text.strip()
    if t in (".", "точка"):
        return None, True
    return (int(t), False) if t.isdigit() else (t, False)


def _term_value(text: str) -> tuple[int | str | None, int]:
    t = text.strip().casefold()
    if t in ("н/а", "на"):
        return None, NA
    if t in ("осв", "освобождён", "освобожден"):
        return None, RELEASED
    if t in PASSED:
        return text.strip(), -3
    if t.isdigit():
        return int(t), NOT_GIVEN
    return text.strip(), NOT_GIVEN
