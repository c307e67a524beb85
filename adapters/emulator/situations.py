"""Where real practice (practice.py) shows in a generated school: found in the data, not taken from what the
generator meant to do — the counting test and the demo's «замечания по видам ситуаций» read it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import time

from adapters.emulator.journal import HOMEWORK, HOSPITAL, NO_HOMEWORK_GRADE1, Journal
from adapters.emulator.practice import GRADE1_SPELLINGS, ORDINARY
from adapters.emulator.school import School


def situations(school: School, journal: Journal) -> dict[str, set[tuple[str, int]]]:
    """kind -> the entities it concerns (("cm", lesson id), ("student", id), ("sg", group id), ("assignment", id)),
    found in the generated data."""
    out: dict[str, set[tuple[str, int]]] = defaultdict(set)
    runs = school.runs()
    for run in runs:
        if len(run) >= 2:
            out["double" if len(run) == 2 else "triple"].update(("cm", le.id) for le in run)
    for le in school.lessons.values():
        cm = ("cm", le.id)
        if le.day.weekday() == 5:
            out["saturday"].add(cm)
        if school.bells[le.number - 1][1] > time(16, 0):
            out["late_lesson"].add(cm)
        if le.teacher_id is not None:
            out["substitution_recorded"].add(cm)
        elif le.id in school.substitutes:
            out["substitution_unrecorded"].add(cm)
        if le.id in school.cancelled:
            out["cancelled"].add(cm)
        group = school.groups[le.sg_id]
        if (group.class_id, le.day) in school.quarantine:
            out["quarantine"].add(cm)
        if not school.is_school_day(le.day):
            out["holiday"].add(cm)
        if group.extracurricular:
            out["extracurricular"].add(cm)
        if group.iup_grade is not None:
            out["iup"].add(cm)
        if group.pass_fail:
            out["pass_fail"].add(cm)
    for st in school.students.values():
        if st.join_on is not None:
            out["joiner"].add(("student", st.id))
        if st.exempt_subjects:
            out["pe_exempt"].add(("student", st.id))
    for g in school.groups.values():
        for sid in g.member_from:
            if sid in school.students and school.students[sid].join_on != g.member_from[sid]:
                out["subgroup_move"].add(("student", sid))
        if len({t for t, _a, _b in g.teachers}) > 1:
            out["teacher_left"].add(("sg", g.id))
    for a in journal.assignments.values():
        lesson = school.lessons[a.cm_id]
        marks = journal.marks.get(a.id, [])
        if a.type_id == HOSPITAL:
            out["sanatorium"].add(("assignment", a.id))
        if a.type_id == HOMEWORK and any(m.at.date() > lesson.day for m in marks):
            out["homework_marks_later"].add(("assignment", a.id))
        grade1 = a.type_id == HOMEWORK and school.grade_of_group(a.sg_id) == 1
        if grade1 and a.name != NO_HOMEWORK_GRADE1 and a.name in GRADE1_SPELLINGS:
            out["grade1_spelling"].add(("assignment", a.id))
        for m in marks:
            if m.mark == 1 and not m.changes:
                out["mark_one"].add(("assignment", a.id))
            if m.changes:
                deleted = any(new is None for _at, new, _by in m.changes)
                out["mark_deleted" if deleted else "mark_corrected"].add(("assignment", a.id))
            if m.at.date() > lesson.day and a.id in journal.makeup:
                out["makeup"].add(("assignment", a.id))
    for cm_id, topic in journal.topics.items():
        t = topic.at
        if time(16, 0) <= t.time() <= time(16, 10):
            out["entry_16_00_16_10"].add(("cm", cm_id))
        if t.time() < time(2, 0) and t.date() > school.lessons[cm_id].day:
            out["entry_after_midnight"].add(("cm", cm_id))
    return dict(out)


def situation_counts(school: School, journal: Journal, entities: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """How many of ``entities`` (findings' or truth's) touch each situation kind; those that touch none are counted
    under ``ORDINARY``. One entity may touch several kinds (a substituted double lesson)."""
    where: dict[tuple[str, int], set[str]] = defaultdict(set)
    for kind, items in situations(school, journal).items():
        for item in items:
            where[item].add(kind)
    quarantine = {(cls, d.year * 10000 + d.month * 100 + d.day) for cls, d in school.quarantine}
    counts: dict[str, int] = defaultdict(int)
    for ent in entities:
        keys = [(k, int(v)) for k, v in ent.items() if k in ("cm", "assignment", "student", "sg")]
        if "assignment" in ent and int(ent["assignment"]) in journal.assignments:
            keys.append(("cm", journal.assignments[int(ent["assignment"])].cm_id))
        kinds = set().union(*(where.get(k, set()) for k in keys)) if keys else set()
        if (ent.get("class"), ent.get("date")) in quarantine:
            kinds.add("quarantine")
        for kind in kinds or {ORDINARY}:
            counts[kind] += 1
    return dict(counts)
