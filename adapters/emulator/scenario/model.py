"""The scenario file: a small school described exactly, by names, with what was entered on each lesson, by whom
and when, the observation schedule, and the findings the check must (and must not) produce.

The format is documented for users in docs/scenarios.md; these pydantic models are its single definition. Keys
are English, values Russian; unknown keys are errors (a typo must not silently change a case).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

VERSION = 1

Route = Literal["teacher", "class_teacher", "deputy"]
Role = Literal["teacher", "deputy", "admin"]
Education = Literal["очная", "на дому", "семейная", "очно-заочная"]
TermKind = Literal["quarter", "half_year", "trimester", "year"]

# «15:40» (the lesson's day), «+1 08:00» (a day later), or a full date and time
_AT = re.compile(r"^(?:\+(\d+)\s+)?(\d{1,2}):(\d{2})$")


def _moment(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        m = _AT.match(text)
        if m:
            days, hh, mm = m.groups()
            return When(days=int(days or 0), clock=time(int(hh), int(mm)))
        try:
            return When(exact=datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(
                f"«{value}» — не время: пишите «15:40» (в день урока), «+1 08:00» (через день) "
                "или дату и время «2026-11-24T16:20»"
            ) from None
    if isinstance(value, datetime):
        return When(exact=value.replace(tzinfo=None))
    if isinstance(value, When):
        return value
    raise ValueError("ожидается время: «15:40», «+1 08:00» или «2026-11-24T16:20»")


class When(BaseModel):
    """A moment: exact, or relative to the day of the lesson it belongs to."""

    model_config = ConfigDict(frozen=True)
    exact: datetime | None = None
    days: int = 0
    clock: time | None = None

    def on(self, day: date) -> datetime:
        if self.exact is not None:
            return self.exact
        assert self.clock is not None
        return datetime.combine(day, self.clock) + timedelta(days=self.days)


At = Annotated[When, BeforeValidator(_moment)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- the school ------------------------------------------------------------------------------------


class Vacation(_Strict):
    name: str = "Каникулы"
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _order(self) -> Vacation:
        if self.to < self.from_:
            raise ValueError(f"каникулы «{self.name}»: to раньше from")
        return self


class SchoolSection(_Strict):
    name: str = "АНОО СОШ «Сота»"
    defaults: bool = True  # start from the default school (docs/scenarios.md) and add or replace by name
    week: Literal[5, 6] | None = None
    year_start: date | None = None
    year_end: date | None = None
    vacations: list[Vacation] | None = None
    holidays: list[date] | None = None
    bells: list[str] | None = None  # «08:30-09:15», one per lesson number from 1
    work_program_approved: date | None = None

    @field_validator("bells")
    @classmethod
    def _bells(cls, v: list[str] | None) -> list[str] | None:
        for item in v or []:
            if not re.fullmatch(r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}", item):
                raise ValueError(f"«{item}» — звонок пишется как «08:30-09:15»")
        return v


class TermSpec(_Strict):
    name: str
    kind: TermKind = "quarter"
    from_: date = Field(alias="from")
    to: date
    grades: list[int] = Field(default_factory=lambda: list(range(1, 12)))


class StaffSpec(_Strict):
    name: str
    role: Role = "teacher"
    from_: date | None = Field(default=None, alias="from")  # on the staff from / to (left the school)
    to: date | None = None


class StudentSpec(_Strict):
    name: str
    class_: str | None = Field(default=None, alias="class")
    from_: date | None = Field(default=None, alias="from")  # enrolled from / to (left)
    to: date | None = None
    education: Education = "очная"
    exempt: list[str] = Field(default_factory=list)  # subjects the student is exempt from (ОСВ)


class ClassSpec(_Strict):
    name: str  # «7Б»
    chief: str | None = None
    chiefs: list[TeacherSpan] = Field(default_factory=list)  # class teachers with dates, when they changed
    students: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _class_name(cls, v: str) -> str:
        if not re.fullmatch(r"(1[01]|[1-9])\s*[А-ЯЁа-яё]", v):
            raise ValueError(f"«{v}» — не класс: пишите номер и букву, например «7Б»")
        return v.replace(" ", "")


class TeacherSpan(_Strict):
    name: str
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None


class GroupSpec(_Strict):
    name: str | None = None  # default «<класс>/<предмет>» (with « (<подгруппа>)»)
    class_: str | None = Field(default=None, alias="class")
    iup_grade: int | None = Field(default=None, ge=1, le=11)  # a group by individual plan: no class
    subject: str
    subgroup: str | None = None
    students: list[str] | None = None  # a subgroup's or an ИУП group's students (default: the whole class)
    teacher: str | None = None
    teachers: list[TeacherSpan] = Field(default_factory=list)
    hours: int = Field(default=2, ge=1, le=10)  # weekly hours from the curriculum
    extracurricular: bool = False
    ktp: list[str] | None = None  # the КТП's topics (None: the default plan is made up)
    ktp_loaded: At | Literal[False] | None = None  # when the КТП was loaded (False: never)

    @model_validator(mode="after")
    def _placed(self) -> GroupSpec:
        if (self.class_ is None) == (self.iup_grade is None):
            raise ValueError(f"группа «{self.subject}»: укажите либо class, либо iup_grade")
        if self.teacher and self.teachers:
            raise ValueError(f"группа «{self.subject}»: укажите либо teacher, либо teachers")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        base = f"{self.class_ or f'{self.iup_grade} ИУП'}/{self.subject}"
        return f"{base} ({self.subgroup})" if self.subgroup else base


# --- what was entered --------------------------------------------------------------------------------


class TextEntry(_Strict):
    text: str
    at: At | None = None
    by: str | None = None


def _text_entry(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


Text = Annotated[TextEntry, BeforeValidator(_text_entry)]


class TopicEntry(TextEntry):
    ktp: str | None = None  # the КТП lesson it is linked to (default: the one with the same text, if any)


TopicText = Annotated[TopicEntry, BeforeValidator(_text_entry)]


class HomeworkEntry(TextEntry):
    for_: str | None = Field(default=None, alias="for")  # the lesson it is due for (default: the group's next)


Homework = Annotated[HomeworkEntry, BeforeValidator(_text_entry)]


class Work(_Strict):
    type: str = "Ответ на уроке"  # the assignment type's name («Контрольная работа», «ВПР», …)
    name: str | None = None
    key: str | None = None  # a label to refer to this work from marks and expectations
    weight: int | None = None
    at: At | None = None
    by: str | None = None


class Change(_Strict):
    at: At
    value: str | None = None  # a mark's new value; None deletes it
    code: str | None = None  # an attendance code's new value; None deletes it
    by: str | None = None


class MarkEntry(_Strict):
    student: str
    value: str
    work: str | None = None  # the work's key or type; default: the lesson's only work
    at: At | None = None
    by: str | None = None
    changes: list[Change] = Field(default_factory=list)

    @field_validator("value", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class AttendanceEntry(_Strict):
    student: str
    code: str
    at: At | None = None
    by: str | None = None
    changes: list[Change] = Field(default_factory=list)


class LessonSpec(_Strict):
    group: str
    date: date
    number: int = Field(ge=1, le=12)
    teacher: str | None = None  # the teacher the server records for this lesson (a substitute)
    cancelled: bool = False
    topic: TopicText | None = None
    homework: Homework | None = None
    work: list[Work] = Field(default_factory=list)
    marks: list[MarkEntry] = Field(default_factory=list)
    attendance: list[AttendanceEntry] = Field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.group} {self.date:%d.%m.%Y} урок {self.number}"


class TermMarkEntry(_Strict):
    group: str
    term: str
    student: str
    value: str  # «5», «н/а», «осв», «зачёт»
    at: At | None = None
    by: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


# --- schedule, check, expectations ---------------------------------------------------------------------


class Observe(_Strict):
    """The observation schedule: a full sync at ``from`` 01:00, then a 16:05 snapshot every school day and a
    01:00 sync every night (with the access report) until the check."""

    from_: date | None = Field(default=None, alias="from")  # default: the day of the first lesson
    snapshots: bool = True
    nightly: bool = True
    access_log: bool = True


class Check(_Strict):
    at: datetime | None = None  # default: the Monday after the last lesson's week, 07:00
    from_: date | None = Field(default=None, alias="from")  # default: the first lesson's day
    to: date | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)  # [check.params.TML005] days = 7
    ignore: list[str] = Field(default_factory=list)  # rules left out of the comparison (not the check)


class Expect(_Strict):
    rule: str
    lesson: str | None = None  # «7Б/Литература 08.12.2026 урок 4»
    student: str | None = None
    group: str | None = None
    term: str | None = None
    work: str | None = None  # a work's key
    class_: str | None = Field(default=None, alias="class")  # a class-day item: the class …
    day: date | None = Field(default=None, alias="date")  # … and the day (entity {"class": id, "date": YYYYMMDD})
    owner: str | None = None  # a staff member's name, or «завуч»
    route: Route | None = None
    evidence: Literal["exact", "observed"] | None = None
    settled: bool | None = None


class Shadow(_Strict):
    """A shadow start (``[rules] shadow = true``): the rules released to teachers before the first letter."""

    released: list[str] = Field(default_factory=list)


class Letter(_Strict):
    """One letter of one week, built and rendered by the real remark-list path at the Monday after the week,
    07:00 (the check is made then), and then sent — so a later week's letter sees it as sent. Counts are the
    numbers of lines under each section (the header must say the same); ``present``/``absent`` are texts of the
    letter's plain-text part."""

    week: date  # any day of the (ISO) week the letter is about
    to: str  # a staff member's name, or «завуч» (the deputy's summary)
    release: list[str] = Field(default_factory=list)  # rules the deputy releases before this week's letters
    sent: bool | None = None  # the teacher receives a letter this week (false: nothing goes to her)
    new: int | None = None
    records: int | None = None  # «внесено позже срока — исправлять нечего»
    still_open: int | None = None
    resolved: int | None = None
    backlog: int | None = None  # older items kept out of the rule's first letter (the deputy's «накопленные»)
    shadow: int | None = None  # items of rules not released yet («учителям пока не отправляется»)
    empty_lessons: int | None = None  # the deputy's count of «урок не заполнен»
    info: int | None = None  # the deputy's «для сведения» items
    present: list[str] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)


class Scenario(_Strict):
    version: int
    id: str
    title: str
    section: str = ""
    rulings: list[str] = Field(default_factory=list)
    xfail: str | None = None  # «known to fail until …»: the issue that will make it pass
    school: SchoolSection = Field(default_factory=SchoolSection)
    terms: list[TermSpec] | None = None
    staff: list[StaffSpec] = Field(default_factory=list)
    classes: list[ClassSpec] = Field(default_factory=list)
    students: list[StudentSpec] = Field(default_factory=list)
    groups: list[GroupSpec] = Field(default_factory=list)
    lessons: list[LessonSpec] = Field(default_factory=list)
    term_marks: list[TermMarkEntry] = Field(default_factory=list)
    observe: Observe = Field(default_factory=Observe)
    check: Check = Field(default_factory=Check)
    expect: list[Expect] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)  # rules that must not fire at all
    undecided: dict[str, int] = Field(default_factory=dict)  # rule -> items the check must leave undecided
    shadow: Shadow | None = None
    letters: list[Letter] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != VERSION:
            raise ValueError(f"версия {v} не поддерживается: эта программа читает version = {VERSION}")
        return v


ClassSpec.model_rebuild()
