"""pydantic models of the responses the sync uses, tolerant of the server's known drifts.

Tolerated (docs/server-api.md §3): ids as numbers or numeric strings; datetimes with 1–7 fractional digits;
empty arrays sent as null or omitted; ``teacher`` vs ``teachers``; ``lesson{}`` vs ``lessonId``/``lessonName``;
``mark`` vs ``ReasonMark``; ``students`` as a list or a dict. Unknown fields are kept (``model_extra``) and
reported once per run as schema drift by :func:`parse`.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from adapters.netschool.errors import ParseError

log = logging.getLogger(__name__)

_FRACTION = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_server_datetime(value: Any) -> Any:
    """ISO without zone, with 0–7 fractional digits (Python accepts at most 6)."""
    if isinstance(value, str):
        m = _FRACTION.match(value.strip())
        if m:
            base, frac, _zone = m.groups()
            return f"{base}.{(frac or '0')[:6]:0<6}"
    return value


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _mark_text(value: Any) -> Any:
    """Marks arrive as numbers, numeric strings or null («точка»); keep them as text: 5 → "5"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


ServerDateTime = Annotated[datetime, BeforeValidator(parse_server_datetime)]
MarkText = Annotated[str | None, BeforeValidator(_mark_text)]
ServerDate = Annotated[date, BeforeValidator(lambda v: v[:10] if isinstance(v, str) else v)]


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


def _list(model: Any) -> Any:
    return Annotated[list[model], BeforeValidator(_none_to_list), Field(default_factory=list)]


class Named(Model):
    id: int
    name: str | None = None


class LoginResponse(Model):
    at: str
    timeOut: int | None = None
    entryPoint: str | None = None
    requestData: dict[str, Any] | None = None
    accountInfo: dict[str, Any] | None = None


class SchoolYear(Model):
    id: int
    name: str | None = None
    startDate: ServerDate | None = None
    endDate: ServerDate | None = None
    closed: str | None = None
    schoolId: int | None = None
    globalYear: dict[str, Any] | None = None


class Context(Model):
    userId: int
    schoolId: int | None = None
    schoolYearId: int | None = None
    globalYearId: int | None = None
    productName: str | None = None
    version: str | None = None
    organizationName: str | None = None
    roles: _list(str)  # type: ignore[valid-type]
    user: Named | None = None
    schoolyear: SchoolYear | None = None
    dateFormat: str | None = None  # IRTech's date pattern (parts joined by \u0001): the reports' DATEFORMAT


class Term(Model):
    id: int
    termName: str
    termTypeId: int | None = None
    startDate: ServerDate
    endDate: ServerDate
    schoolYearId: int | None = None


class Vacation(Model):
    id: int
    name: str | None = None
    startTime: ServerDate
    endTime: ServerDate


class Grade(Model):
    id: int | None = None
    name: str | None = None


class SchoolClass(Model):
    id: int
    name: str
    grade: Grade | int | None = None
    letter: str | None = None
    step: Named | None = None
    classType: Named | None = None
    chiefs: _list(Named)  # type: ignore[valid-type]

    @property
    def grade_number(self) -> int | None:
        if isinstance(self.grade, Grade):
            if self.grade.id is not None:
                return self.grade.id
            return int(self.grade.name) if self.grade.name and self.grade.name.isdigit() else None
        if isinstance(self.grade, int):
            return self.grade
        m = re.match(r"^(\d+)", self.name)
        return int(m.group(1)) if m else None


class GlobalSubject(Model):
    id: int | None = None
    name: str | None = None


class Subject(Model):
    id: int
    name: str
    shortName: str | None = None
    globalSubject: GlobalSubject | None = None
    # внеурочная деятельность: where a captured response has the flag (issue #32), with isModular and useExemption
    extraCurricular: bool | None = None
    isModular: bool | None = None
    useExemption: bool | None = None  # освобождение is used for this subject (not read by the rules yet)


class SubjectGroup(Model):
    id: int
    name: str
    teachers: _list(Named)  # type: ignore[valid-type]
    subject: Named | None = None
    class_: Named | None = Field(default=None, alias="class")
    isIup: bool | None = None
    extraCurricular: bool | None = None  # внеурочная деятельность [I: docs/server-api.md §3]

    @model_validator(mode="before")
    @classmethod
    def _teacher_single(cls, data: Any) -> Any:
        if isinstance(data, dict) and "teachers" not in data and isinstance(data.get("teacher"), dict):
            data = {**data, "teachers": [data["teacher"]]}
            data.pop("teacher")
        return data


class StudentListItem(Model):
    id: int
    fullName: str
    free: bool = False
    individualEduc: bool = False


class ClassMeeting(Model):
    id: int
    day: ServerDate
    number: int | None = None
    subjectGroupId: int
    scheduleTimeId: int | None = None
    room: str | None = None
    teacher: Named | None = None  # who the server records for this lesson (a substitute) [I: docs/server-api.md §3]
    relay: int | None = None  # 1 a lesson, 2 внеурочная деятельность (the review in issue #20; docs/server-api.md §3)
    isEaLesson: bool | None = None  # an extra-activity lesson (a captured diary: with relay 2; issue #32)


class ScheduleTime(Model):
    id: int
    number: int | None = None
    startTime: str | None = None
    endTime: str | None = None

    @staticmethod
    def clock(value: str | None) -> str | None:
        """'1900-01-01T08:30:00' or '08:30' → '08:30'."""
        if not value:
            return None
        part = value.split("T")[-1]
        return part[:5]


class AssignmentType(Model):
    id: int
    name: str
    abbr: str | None = None
    order: int | None = None


class AttendanceReason(Model):
    mark: str
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _reason_mark(cls, data: Any) -> Any:
        if isinstance(data, dict) and "mark" not in data and "ReasonMark" in data:
            data = {**data, "mark": data["ReasonMark"]}
            data.pop("ReasonMark")
        return data


class JournalStudent(Model):
    id: int
    fullName: str | None = None
    free: bool = False
    individualEduc: bool = False


class JournalAssignment(Model):
    id: int
    classMeetingId: int | None = None
    typeId: int
    name: str | None = None
    weight: float | None = None
    date: ServerDate | None = None
    dueDate: ServerDate | None = None
    issueClassMeetingId: int | None = None  # the homework's issue lesson, as IRTech's front-end names it
    issueCmId: int | None = None  # the same under an older name (tolerated)

    @property
    def issue_lesson(self) -> int | None:
        return self.issueClassMeetingId if self.issueClassMeetingId is not None else self.issueCmId


class JournalMeeting(Model):
    id: int
    date: ServerDate
    isTkr: bool = False
    readOnly: bool = False
    # IRTech's newer journal renderer nests a lesson's assignments here (docs/server-api.md §3 «journal»)
    assignments: _list(JournalAssignment)  # type: ignore[valid-type]


class JournalMark(Model):
    studentId: int
    assignmentId: int
    mark: MarkText = None
    dutyMark: bool = False


class JournalAttendance(Model):
    classmeetingId: int = Field(alias="classmeetingId")
    studentId: int
    reason: str

    @model_validator(mode="before")
    @classmethod
    def _casing(cls, data: Any) -> Any:
        if isinstance(data, dict) and "classmeetingId" not in data and "classMeetingId" in data:
            data = {**data, "classmeetingId": data["classMeetingId"]}
            data.pop("classMeetingId")
        return data


class TotalMark(Model):
    studentId: int
    mark: MarkText = None
    markType: int | None = None


class Totals(Model):
    marks: _list(TotalMark)  # type: ignore[valid-type]


class LastAccess(Model):
    date: ServerDateTime | None = None
    nickName: str | None = None


class JournalBody(Model):
    subjectGroupId: int
    students: _list(JournalStudent)  # type: ignore[valid-type]
    classMeeting: _list(JournalMeeting)  # type: ignore[valid-type]
    assignments: _list(JournalAssignment)  # type: ignore[valid-type]
    marks: _list(JournalMark)  # type: ignore[valid-type]
    attendance: _list(JournalAttendance)  # type: ignore[valid-type]
    totals: _list(Totals)  # type: ignore[valid-type]
    lastAccess: LastAccess | None = None

    @model_validator(mode="after")
    def _flatten(self) -> JournalBody:
        """Assignments nested in ``classMeeting[].assignments`` join the top-level list (their lesson filled in,
        none twice). Marks with no assignment at all are a shape this client does not know: an error for this
        journal, never a journal read as empty."""
        known = {a.id for a in self.assignments}
        for meeting in self.classMeeting:
            for a in meeting.assignments:
                if a.id not in known:
                    known.add(a.id)
                    self.assignments.append(
                        a if a.classMeetingId else a.model_copy(update={"classMeetingId": meeting.id})
                    )
            meeting.assignments = []
        if self.marks and not self.assignments:
            raise ValueError(
                f"в ответе есть отметки ({len(self.marks)}), но нет ни одного задания (ни в assignments, ни в "
                "classMeeting[].assignments)"
            )
        return self

    @property
    def term_marks(self) -> list[TotalMark]:
        """Term marks, whichever way the server wrapped them (``totals`` empty, null or ``[{"marks": []}]``)."""
        return [m for t in self.totals for m in t.marks]


class EditLimit(Model):
    readOnly: bool = False
    limitPastEdit: bool = False
    limitPastDays: int | None = None
    attendanceReleasedMarkAllowed: bool = False


class MarkSettings(Model):
    minMark: int | None = None
    maxMark: int | None = None
    useWeight: bool | None = None


class Journal(Model):
    journals: _list(JournalBody)  # type: ignore[valid-type]
    editLimit: EditLimit | None = None
    markSettings: MarkSettings | None = None


class EditResult(Model):
    studentId: int
    mark: MarkText = None
    duty: bool = False


class EditAssignment(Model):
    id: int
    typeId: int
    name: str | None = None
    results: _list(EditResult)  # type: ignore[valid-type]


class EditAttendance(Model):
    studentId: int
    reason: str


class PlanLessonRef(Model):
    id: int | None = None
    lessonName: str | None = None


class LessonEdit(Model):
    lesson: PlanLessonRef | None = None
    attendance: _list(EditAttendance)  # type: ignore[valid-type]
    assignments: _list(EditAssignment)  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _flat_lesson(cls, data: Any) -> Any:
        if isinstance(data, dict) and "lesson" not in data and ("lessonId" in data or "lessonName" in data):
            data = dict(data)
            lid, name = data.pop("lessonId", None), data.pop("lessonName", None)
            data["lesson"] = None if (name is None and lid in (None, -1, -2, "-1")) else {"id": lid, "lessonName": name}
        return data


class PlanLesson(Model):
    id: int
    lessonName: str | None = None
    hours: float | None = None
    hoursStudied: float | None = None
    lastStudyDay: ServerDate | None = None
    homeAssignment: str | None = None


class SubjectPlan(Model):
    subjectPlanId: int | None = None
    lessons: _list(PlanLesson)  # type: ignore[valid-type]


class SchoolSettings(Model):
    minMark: int | None = None
    maxMark: int | None = None


class DiaryStudent(Model):
    studentId: int
    nickName: str | None = None


class DiaryInit(Model):
    students: _list(DiaryStudent)  # type: ignore[valid-type]
    currentStudentId: int = 0

    @model_validator(mode="before")
    @classmethod
    def _students_dict(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("students"), dict):
            data = {**data, "students": [data["students"][k] for k in sorted(data["students"], key=str)]}
        return data


def declared(value: Any) -> Any:
    """A model as plain data with its declared fields only (unknown extras left out): for comparisons."""
    if isinstance(value, BaseModel):
        out = {name: declared(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, JournalBody):
            out["totals"] = [declared(m) for m in value.term_marks]
        return out
    if isinstance(value, list):
        return [declared(v) for v in value]
    return value


T = TypeVar("T")
_reported: set[tuple[str, str]] = set()


def reset_drift_report() -> None:
    """Forget reported drifts (call once per run, so each drift is reported once per run)."""
    _reported.clear()


def _collect_extras(value: Any, seen: list[tuple[str, str]]) -> None:
    if isinstance(value, BaseModel):
        for name in value.model_extra or {}:
            seen.append((type(value).__name__, name))
        for field_name in type(value).model_fields:
            _collect_extras(getattr(value, field_name), seen)
    elif isinstance(value, list):
        for item in value[:50]:
            _collect_extras(item, seen)


def parse(model: Any, data: Any, endpoint: str) -> Any:
    """Validate ``data`` against ``model`` (a model class or ``list[Model]``); report unknown fields once per run."""
    try:
        result = TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "(весь ответ)"
        raise ParseError(endpoint, loc, first.get("msg", "")) from None
    seen: list[tuple[str, str]] = []
    for item in result if isinstance(result, list) else [result]:
        _collect_extras(item, seen)
    for key in seen:
        if key not in _reported:
            _reported.add(key)
            log.info("Изменение схемы ответа %s: новое поле %s.%s (сохранено, не мешает работе)", endpoint, *key)
    return result
