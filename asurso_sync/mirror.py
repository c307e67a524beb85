"""Mapping the server's answers (adapter models) to the mirror's rows. Pure functions: no HTTP, no SQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from adapters.netschool.models import (
    AssignmentType,
    AttendanceReason,
    ClassMeeting,
    Context,
    EditLimit,
    JournalBody,
    LessonEdit,
    ScheduleTime,
    SchoolClass,
    SchoolSettings,
    SchoolYear,
    StudentListItem,
    Subject,
    SubjectGroup,
    SubjectPlan,
    Term,
    Vacation,
)

Rows = dict[str, list[dict[str, Any]]]


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def directory_rows(
    *,
    context: Context | None,
    year: SchoolYear,
    terms: Iterable[Term],
    vacations: Iterable[Vacation],
    classes: Iterable[SchoolClass],
    subjects: Iterable[Subject],
    groups: Iterable[SubjectGroup],
    times: Iterable[ScheduleTime],
    types: Iterable[AssignmentType],
    reasons: Iterable[AttendanceReason],
    settings: SchoolSettings,
    iup_grades: Mapping[int, int] | None = None,
    ea_groups: Iterable[int] = (),
) -> Rows:
    """The school's directories. ``iup_grades`` maps an ИУП group to its grade (``subjectgroups?iupClassId=``);
    ``ea_groups`` are the groups of the extra-activity journal (внеурочная деятельность, issue #32)."""
    ea = set(ea_groups)
    classes, groups, subjects = list(classes), list(groups), list(subjects)
    iup_grades = iup_grades or {}
    extra_subjects = {s.id for s in subjects if s.extraCurricular}
    staff: dict[int, str | None] = {}
    for c in classes:
        for chief in c.chiefs:
            staff[chief.id] = chief.name or staff.get(chief.id)
    for g in groups:
        for t in g.teachers:
            staff[t.id] = t.name or staff.get(t.id)
    if context is not None and context.user is not None:
        staff.setdefault(context.user.id, context.user.name)
    return {
        "school_year": [
            {
                "id": year.id,
                "school_id": year.schoolId,
                "global_year_id": (year.globalYear or {}).get("id"),
                "name": year.name,
                "start_date": _d(year.startDate),
                "end_date": _d(year.endDate),
                "closed": 1 if (year.closed or "").lower() == "closed" else 0,
            }
        ],
        "term": [
            {
                "id": t.id,
                "school_year_id": t.schoolYearId,
                "name": t.termName,
                "term_type_id": t.termTypeId,
                "start_date": _d(t.startDate),
                "end_date": _d(t.endDate),
            }
            for t in terms
        ],
        "vacation": [
            {"id": v.id, "name": v.name, "start_date": _d(v.startTime), "end_date": _d(v.endTime)} for v in vacations
        ],
        "school_class": [
            {
                "id": c.id,
                "name": c.name,
                "grade": c.grade_number,
                "letter": c.letter,
                "class_type": c.classType.name if c.classType else None,
                "step": c.step.name if c.step else None,
            }
            for c in classes
        ],
        "class_chief": [{"class_id": c.id, "user_id": ch.id} for c in classes for ch in c.chiefs],
        "staff": [{"id": sid, "name": name, "email": None} for sid, name in sorted(staff.items())],
        "subject": [
            {
                "id": s.id,
                "name": s.name,
                "short_name": s.shortName,
                "global_subject_id": s.globalSubject.id if s.globalSubject else None,
                "global_subject_name": s.globalSubject.name if s.globalSubject else None,
            }
            for s in subjects
        ],
        "subject_group": [
            {
                "id": g.id,
                "name": g.name,
                "class_id": g.class_.id if g.class_ else None,
                "subject_id": g.subject.id if g.subject else None,
                "is_iup": 1 if g.isIup else 0,
                # the subject's flag (where the evidence has it) or the group's (some servers, if any)
                "extracurricular": 1
                if g.extraCurricular or g.id in ea or (g.subject and g.subject.id in extra_subjects)
                else 0,
                "iup_grade": iup_grades.get(g.id) if g.class_ is None else None,
            }
            for g in groups
        ],
        "subject_group_teacher": [{"sg_id": g.id, "teacher_id": t.id} for g in groups for t in g.teachers],
        "schedule_time": [
            {
                "id": t.id,
                "number": t.number,
                "start_time": ScheduleTime.clock(t.startTime),
                "end_time": ScheduleTime.clock(t.endTime),
            }
            for t in times
        ],
        "assignment_type": [{"id": t.id, "name": t.name, "abbr": t.abbr, "sort_order": t.order} for t in types],
        "attendance_reason": [{"code": r.mark, "name": r.name} for r in reasons],
        "school_setting": [
            {"key": "minMark", "value": settings.minMark},
            {"key": "maxMark", "value": settings.maxMark},
            {"key": "schoolYearId", "value": year.id},
            # the account the tool reads as (the deputy, usually): its journal corrections are no substitution
            *([{"key": "syncUserId", "value": context.userId}] if context is not None and context.userId else []),
        ],
    }


def edit_limit_rows(limit: EditLimit) -> list[dict[str, Any]]:
    """The journal answer's ``editLimit`` as school settings: whether past lessons lock and after how many days."""
    return [
        {"key": "editLimitReadOnly", "value": int(limit.readOnly)},
        {"key": "editLimitPastEdit", "value": int(limit.limitPastEdit)},
        *([{"key": "editLimitPastDays", "value": limit.limitPastDays}] if limit.limitPastDays is not None else []),
    ]


def student_rows(class_id: int, items: Iterable[StudentListItem]) -> list[dict[str, Any]]:
    return [{"id": s.id, "full_name": s.fullName, "class_id": class_id} for s in items]


def journal_rows(
    body: JournalBody,
    sg_id: int,
    term_id: int,
    schedule: Mapping[int, ClassMeeting] | None = None,
    *,
    marks_only: bool = False,
) -> Rows:
    """One group's journal for one term. ``schedule`` adds lesson numbers from ``schedule/classmeetings``.

    ``marks_only`` is for the year's own period: its lessons belong to the terms' journals, so only the list of
    students and the year marks are kept (docs/server-api.md §3, «year marks»).

    ``readOnly`` is not mirrored: it follows from the date and the edit limit and would otherwise "change"
    every night. The issue lesson of homework is the server's ``issueClassMeetingId`` (or ``issueCmId``) when
    given, else the group's lesson on the assignment's issue date (docs/rules.md, ruling R8).
    """
    schedule = schedule or {}
    lesson_on: dict[date, int] = {}
    for cm in sorted(body.classMeeting, key=lambda m: (m.date, schedule[m.id].number or 0 if m.id in schedule else 0)):
        lesson_on.setdefault(cm.date, cm.id)
    meetings = [
        {
            "id": cm.id,
            "sg_id": sg_id,
            "term_id": term_id,
            "day": cm.date.isoformat(),
            "number": schedule[cm.id].number if cm.id in schedule else None,
            "schedule_time_id": schedule[cm.id].scheduleTimeId if cm.id in schedule else None,
            "room": schedule[cm.id].room if cm.id in schedule else None,
            "is_tkr": 1 if cm.isTkr else 0,
            "read_only": None,
            "teacher_id": t.id if cm.id in schedule and (t := schedule[cm.id].teacher) is not None else None,
            # isEaLesson says what relay 2 says (a captured diary has both on «Разговоры о важном»)
            "relay": (2 if schedule[cm.id].isEaLesson else schedule[cm.id].relay) if cm.id in schedule else None,
        }
        for cm in body.classMeeting
    ]
    assignments = [
        {
            "id": a.id,
            "sg_id": sg_id,
            "term_id": term_id,
            "class_meeting_id": a.classMeetingId,
            "type_id": a.typeId,
            "name": a.name,
            "weight": a.weight,
            "issue_date": _d(a.date),
            "due_date": _d(a.dueDate),
            "issue_cm_id": a.issue_lesson
            if a.issue_lesson is not None
            else (lesson_on.get(a.date) if a.date else None),
        }
        for a in body.assignments
    ]
    marks = [
        {
            "assignment_id": m.assignmentId,
            "student_id": m.studentId,
            "sg_id": sg_id,
            "term_id": term_id,
            "mark": m.mark,
            "duty": 1 if m.dutyMark else 0,
        }
        for m in body.marks
    ]
    attendance = [
        {
            "class_meeting_id": a.classmeetingId,
            "student_id": a.studentId,
            "sg_id": sg_id,
            "term_id": term_id,
            "reason": a.reason,
        }
        for a in body.attendance
    ]
    enrollment = [
        {
            "sg_id": sg_id,
            "term_id": term_id,
            "student_id": s.id,
            "free": 1 if s.free else 0,
            "individual_educ": 1 if s.individualEduc else 0,
        }
        for s in body.students
    ]
    term_marks = [
        {"sg_id": sg_id, "term_id": term_id, "student_id": m.studentId, "mark": m.mark, "mark_type": m.markType}
        for m in body.term_marks
    ]
    if marks_only:
        meetings, assignments, marks, attendance = [], [], [], []
    return {
        "class_meeting": meetings,
        "assignment": assignments,
        "mark": marks,
        "attendance": attendance,
        "enrollment": enrollment,
        "term_mark": term_marks,
    }


def topic_rows(edit: LessonEdit, cm_id: int, sg_id: int) -> list[dict[str, Any]]:
    if edit.lesson is None or not (edit.lesson.lessonName or "").strip():
        return []
    return [{"cm_id": cm_id, "sg_id": sg_id, "ktp_lesson_id": edit.lesson.id, "topic": edit.lesson.lessonName}]


def plan_rows(plan: SubjectPlan, sg_id: int) -> Rows:
    if plan.subjectPlanId is None:
        return {"ktp_plan": [], "ktp_lesson": []}
    lessons = []
    for i, pl in enumerate(plan.lessons):
        lessons.append(
            {
                "id": pl.id,
                "plan_id": plan.subjectPlanId,
                "sg_id": sg_id,
                "unit_num": None,
                "lesson_num": i + 1,
                "name": pl.lessonName,
                "hours": pl.hours,
                "hours_studied": pl.hoursStudied,
                "last_study_day": _d(pl.lastStudyDay),
                "home_assignment": pl.homeAssignment,
            }
        )
    return {"ktp_plan": [{"id": plan.subjectPlanId, "sg_id": sg_id}], "ktp_lesson": lessons}
