"""The mirror's entities: one spec per table drives both the DDL and the save API.

Every mirrored table has the server's ids as primary key, data columns, and four
history columns, all in *server time* (school-local, ISO without zone, the way the
server itself writes times; Europe/Samara has no DST, so such strings compare
correctly):

- ``first_seen_at`` — the first observation that returned the row;
- ``last_seen_at``  — the latest observation that returned it;
- ``changed_at``    — the observation at which its data last changed (or it (re)appeared);
- ``gone_at``       — set when a fully read unit no longer returned it (rows are never deleted).

The DDL of released migrations is frozen in ``cache/sql``; this spec is what the save API uses, and the schema
test checks that the migrations produce exactly these columns and indexes.
Column types are SQLite affinities. Dates are ``YYYY-MM-DD``; datetimes ``YYYY-MM-DDTHH:MM:SS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HISTORY_COLUMNS: tuple[str, ...] = ("first_seen_at", "last_seen_at", "changed_at", "gone_at")


@dataclass(frozen=True)
class Entity:
    name: str
    key: tuple[str, ...]
    columns: dict[str, str]  # data columns (key columns included) -> SQLite type
    doc: str
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def data_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.columns, *HISTORY_COLUMNS)


def _e(name: str, key: tuple[str, ...], columns: dict[str, str], doc: str, *indexes: tuple[str, ...]) -> Entity:
    return Entity(name=name, key=key, columns=columns, doc=doc, indexes=tuple(indexes))


INT, TXT, REAL = "INTEGER", "TEXT", "REAL"

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in [
        _e(
            "school_year",
            ("id",),
            {
                "id": INT,
                "school_id": INT,
                "global_year_id": INT,
                "name": TXT,
                "start_date": TXT,
                "end_date": TXT,
                "closed": INT,
            },
            "Учебный год (years/current, context/years).",
        ),
        _e(
            "term",
            ("id",),
            {"id": INT, "school_year_id": INT, "name": TXT, "term_type_id": INT, "start_date": TXT, "end_date": TXT},
            "Учебный период: четверть, полугодие (terms).",
        ),
        _e(
            "vacation",
            ("id",),
            {"id": INT, "name": TXT, "start_date": TXT, "end_date": TXT},
            "Каникулы (calendar/vacations).",
        ),
        _e(
            "school_class",
            ("id",),
            {"id": INT, "name": TXT, "grade": INT, "letter": TXT, "class_type": TXT, "step": TXT},
            "Класс (classes).",
        ),
        _e(
            "class_chief",
            ("class_id", "user_id"),
            {"class_id": INT, "user_id": INT},
            "Классный руководитель (classes?expand=chiefs).",
        ),
        _e(
            "staff",
            ("id",),
            {"id": INT, "name": TXT, "email": TXT},
            "Сотрудник: учитель, классный руководитель, администрация.",
        ),
        _e(
            "student",
            ("id",),
            {"id": INT, "full_name": TXT, "class_id": INT},
            "Обучающийся (grade/studentList).",
            ("class_id",),
        ),
        _e(
            "subject",
            ("id",),
            {"id": INT, "name": TXT, "short_name": TXT, "global_subject_id": INT, "global_subject_name": TXT},
            "Предмет (subjects).",
        ),
        _e(
            "subject_group",
            ("id",),
            {
                "id": INT,
                "name": TXT,
                "class_id": INT,
                "subject_id": INT,
                "is_iup": INT,
                "extracurricular": INT,
                "iup_grade": INT,
            },
            "Учебная группа: класс × предмет × подгруппа (subjectgroups); extracurricular = внеурочная деятельность; "
            "iup_grade = параллель группы ИУП (без класса).",
            ("class_id",),
        ),
        _e(
            "subject_group_teacher",
            ("sg_id", "teacher_id"),
            {"sg_id": INT, "teacher_id": INT},
            "Учитель группы (subjectgroups → teachers).",
            ("teacher_id",),
        ),
        _e(
            "enrollment",
            ("sg_id", "term_id", "student_id"),
            {"sg_id": INT, "term_id": INT, "student_id": INT, "free": INT, "individual_educ": INT},
            "Состав группы в периоде; free = выбыл, individual_educ = обучение на дому.",
            ("student_id",),
        ),
        _e(
            "schedule_time",
            ("id",),
            {"id": INT, "number": INT, "start_time": TXT, "end_time": TXT},
            "Расписание звонков (schedule/times).",
        ),
        _e(
            "class_meeting",
            ("id",),
            {
                "id": INT,
                "sg_id": INT,
                "term_id": INT,
                "day": TXT,
                "number": INT,
                "schedule_time_id": INT,
                "room": TXT,
                "is_tkr": INT,
                "read_only": INT,
                "teacher_id": INT,
                "relay": INT,
            },
            "Урок (schedule/classmeetings, grade/journal → classMeeting); teacher_id = учитель, которого сервер "
            "записал на этот урок (замена).",
            ("sg_id", "day"),
            ("day",),
        ),
        _e(
            "lesson_topic",
            ("cm_id",),
            {"cm_id": INT, "sg_id": INT, "ktp_lesson_id": INT, "topic": TXT},
            "Тема урока: связь урока с уроком КТП (grade/journal/edit → lesson).",
            ("sg_id",),
        ),
        _e(
            "assignment_type",
            ("id",),
            {"id": INT, "name": TXT, "abbr": TXT, "sort_order": INT},
            "Вид работы (grade/assignment/types).",
        ),
        _e(
            "assignment",
            ("id",),
            {
                "id": INT,
                "sg_id": INT,
                "term_id": INT,
                "class_meeting_id": INT,
                "type_id": INT,
                "name": TXT,
                "weight": REAL,
                "issue_date": TXT,
                "due_date": TXT,
                "issue_cm_id": INT,
            },
            "Задание: домашнее, классная работа, контрольная (grade/journal → assignments).",
            ("sg_id",),
            ("class_meeting_id",),
        ),
        _e(
            "mark",
            ("assignment_id", "student_id"),
            {"assignment_id": INT, "student_id": INT, "sg_id": INT, "term_id": INT, "mark": TXT, "duty": INT},
            "Отметка; mark NULL при duty=1 — «точка» (долг).",
            ("sg_id",),
            ("student_id",),
        ),
        _e(
            "attendance",
            ("class_meeting_id", "student_id"),
            {"class_meeting_id": INT, "student_id": INT, "sg_id": INT, "term_id": INT, "reason": TXT},
            "Посещаемость: код причины отсутствия на уроке.",
            ("sg_id",),
        ),
        _e(
            "attendance_reason",
            ("code",),
            {"code": TXT, "name": TXT},
            "Справочник причин отсутствия (grade/attendance/reasons).",
        ),
        _e(
            "term_mark",
            ("sg_id", "term_id", "student_id"),
            {"sg_id": INT, "term_id": INT, "student_id": INT, "mark": TXT, "mark_type": INT},
            "Итоговая отметка за период; mark_type: 0 отметка, -1 н/а, -2 освобождён, -3 зачтено …",
            ("term_id",),
        ),
        _e(
            "ktp_plan",
            ("id",),
            {"id": INT, "sg_id": INT},
            "КТП группы (subjectplans/getForSubjectGroup).",
            ("sg_id",),
        ),
        _e(
            "ktp_lesson",
            ("id",),
            {
                "id": INT,
                "plan_id": INT,
                "sg_id": INT,
                "unit_num": INT,
                "lesson_num": INT,
                "name": TXT,
                "hours": REAL,
                "hours_studied": REAL,
                "last_study_day": TXT,
                "home_assignment": TXT,
            },
            "Урок КТП (subjectplans/*).",
            ("plan_id",),
            ("sg_id",),
        ),
        _e(
            "school_setting",
            ("key",),
            {"key": TXT, "value": TXT},
            "Настройки школы (school/settings, editLimit, markSettings) как пары ключ — значение.",
        ),
    ]
}


def label(name: str) -> str:
    """A mirror table as a user names it: the start of its description, «урок», «учебная группа», «КТП группы»."""
    entity = ENTITIES.get(name)
    if entity is None:
        return name
    text = entity.doc
    for stop in (" (", ":", ";", ","):
        text = text.split(stop)[0]
    text = text.rstrip(".")
    return text if text[:2].isupper() else text[:1].lower() + text[1:]
