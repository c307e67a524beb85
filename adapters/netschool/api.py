"""``fetch_*``: typed reads of the endpoints the sync needs (HTTP only; storing is the cache's job)."""

from __future__ import annotations

from datetime import date
from typing import Any

from adapters.netschool.client import NetSchoolClient
from adapters.netschool.models import (
    AssignmentType,
    AttendanceReason,
    ClassMeeting,
    Journal,
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
    parse,
)

# The year as IRTech's report pages address it (issue #32, docs/server-api.md §3 «Year marks»): ``TERMID`` -1 «год»
# (the year marks) and -2 «итог» (the final marks). No public source shows a year period in the term lists.
YEAR_TERM_ID, FINAL_TERM_ID = -1, -2


def year_term(terms: list[Term]) -> Term:
    """The year addressed as ``termId=-1`` «год», spanning ``terms`` (not empty): what the sync reads the year marks
    from when the server's own term lists name no period of the year. Its kind is not the server's (``None``)."""
    return Term.model_validate(
        {
            "id": YEAR_TERM_ID,
            "termName": "Год",
            "termTypeId": None,
            "startDate": min(t.startDate for t in terms),
            "endDate": max(t.endDate for t in terms),
            "schoolYearId": terms[0].schoolYearId,
        }
    )


async def _get(client: NetSchoolClient, model: Any, path: str, params: Any = None) -> Any:
    return parse(model, await client.get_json(path, params), path.removeprefix("/webapi/"))


async def fetch_current_year(client: NetSchoolClient) -> SchoolYear:
    return await _get(client, SchoolYear, "/webapi/years/current")  # type: ignore[no-any-return]


async def fetch_terms(client: NetSchoolClient) -> list[Term]:
    return await _get(client, list[Term], "/webapi/terms")  # type: ignore[no-any-return]


async def fetch_vacations(client: NetSchoolClient) -> list[Vacation]:
    return await _get(client, list[Vacation], "/webapi/calendar/vacations")  # type: ignore[no-any-return]


async def fetch_classes(client: NetSchoolClient) -> list[SchoolClass]:
    return await _get(client, list[SchoolClass], "/webapi/classes", {"expand": "chiefs"})  # type: ignore[no-any-return]


async def fetch_subjects(client: NetSchoolClient) -> list[Subject]:
    return await _get(client, list[Subject], "/webapi/subjects")  # type: ignore[no-any-return]


async def fetch_subject_groups(client: NetSchoolClient, class_id: int | None = None) -> list[SubjectGroup]:
    params = {"classId": class_id} if class_id is not None else None
    return await _get(client, list[SubjectGroup], "/webapi/subjectgroups", params)  # type: ignore[no-any-return]


async def fetch_iup_groups(client: NetSchoolClient, grade: int) -> list[SubjectGroup]:
    """The ИУП groups of one grade: the journal's class filter names them «<grade>_1» (docs/server-api.md §3)."""
    return await _get(client, list[SubjectGroup], "/webapi/subjectgroups", {"iupClassId": f"{grade}_1"})  # type: ignore[no-any-return]


async def fetch_class_students(client: NetSchoolClient, class_id: int) -> list[StudentListItem]:
    return await _get(client, list[StudentListItem], "/webapi/grade/studentList", {"classId": class_id})  # type: ignore[no-any-return]


async def fetch_group_students(client: NetSchoolClient, sg_id: int, term_id: int) -> list[StudentListItem]:
    params = {"sgid": sg_id, "termId": term_id}
    return await _get(client, list[StudentListItem], "/webapi/grade/studentList", params)  # type: ignore[no-any-return]


async def fetch_class_meetings(
    client: NetSchoolClient, start: date, end: date, class_ids: list[int]
) -> list[ClassMeeting]:
    params: list[tuple[str, Any]] = [("start", f"{start}T00:00:00"), ("end", f"{end}T00:00:00")]
    params += [("classId", c) for c in class_ids]
    return await _get(client, list[ClassMeeting], "/webapi/schedule/classmeetings", params)  # type: ignore[no-any-return]


async def fetch_teacher_meetings(
    client: NetSchoolClient, start: date, end: date, teacher_id: int
) -> list[ClassMeeting]:
    """One teacher's lessons (``teacherId`` with ``teacherStatus=2``): the only way to an ИУП group's, which no
    class's timetable lists."""
    params = {"start": f"{start}T00:00:00", "end": f"{end}T00:00:00", "teacherId": teacher_id, "teacherStatus": 2}
    return await _get(client, list[ClassMeeting], "/webapi/schedule/classmeetings", params)  # type: ignore[no-any-return]


async def fetch_schedule_times(client: NetSchoolClient) -> list[ScheduleTime]:
    return await _get(client, list[ScheduleTime], "/webapi/schedule/times")  # type: ignore[no-any-return]


async def fetch_assignment_types(client: NetSchoolClient) -> list[AssignmentType]:
    return await _get(client, list[AssignmentType], "/webapi/grade/assignment/types", {"all": "true"})  # type: ignore[no-any-return]


async def fetch_attendance_reasons(client: NetSchoolClient) -> list[AttendanceReason]:
    return await _get(client, list[AttendanceReason], "/webapi/grade/attendance/reasons")  # type: ignore[no-any-return]


async def fetch_school_settings(client: NetSchoolClient, year_id: int) -> SchoolSettings:
    return await _get(client, SchoolSettings, "/webapi/school/settings", {"yearId": year_id})  # type: ignore[no-any-return]


async def fetch_journal(client: NetSchoolClient, sg_id: int, term_id: int, *, year_id: int, class_id: int) -> Journal:
    params = {"yearId": year_id, "classId": class_id, "grade": -1, "sgId": sg_id, "termId": term_id}
    return await _get(client, Journal, "/webapi/grade/journal", params)  # type: ignore[no-any-return]


async def fetch_lesson_edit(client: NetSchoolClient, cm_id: int, sg_id: int, term_id: int) -> LessonEdit:
    params = {"cmid": cm_id, "sgId": sg_id, "termId": term_id}
    return await _get(client, LessonEdit, "/webapi/grade/journal/edit", params)  # type: ignore[no-any-return]


async def fetch_subject_plan(client: NetSchoolClient, sg_id: int) -> SubjectPlan:
    return await _get(client, SubjectPlan, "/webapi/subjectplans/getForSubjectGroup", {"sgId": sg_id})  # type: ignore[no-any-return]
