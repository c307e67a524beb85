"""Real practice the generated school plants, at stated rates (adapters/emulator/CHOICES.md, «Real practice»).

A real journal is full of situations where a naive reading of the Положение gives a false remark: double lessons,
substitutions, make-up work, hospital marks, exemptions, late lessons, Saturdays, entries at 16:03 or 00:30.
``Practice`` holds how often the generator plants each; ``SITUATIONS`` names each kind as the demo's summary and
the counting test show it (``situations.py`` finds them in a generated school).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Practice:
    """How often the generator plants each situation of a real school (0 turns one off). Sources and reasoning for
    every figure: CHOICES.md, «Real practice»."""

    double_lesson: float = 0.12  # of a class's subjects with ≥ 2 weekly hours in grades 5–11: one double a week
    triple_lesson: float = 0.02  # of subjects with ≥ 3 weekly hours in grades 8–11: one triple a week
    substitution: float = 0.012  # of lessons: another teacher takes the lesson
    substitution_recorded: float = 0.5  # of substitutions: the schedule records the substitute for the lesson
    cancelled: float = 0.003  # of lessons: not held, left in the schedule, nothing entered
    quarantine_days: int = 1  # class-days with nothing entered on any lesson (quarantine, актированный день)
    joiners: float = 0.012  # of students: join a class during the year
    subgroup_moves: float = 0.03  # of students in split subjects: move to the other subgroup during the year
    pe_exempt: float = 0.03  # of students of grades 2–11: exempt from PE («осв»)
    osv_entered: float = 0.6  # of an exempt student's PE lessons: the teacher enters «ОСВ»
    sanatorium: float = 0.006  # of students: three weeks in a sanatorium, marks entered later by the class teacher
    makeup: float = 0.5  # of students absent from a written work: a make-up mark 8–14 days later
    homework_marked: float = 0.06  # of homework: marks for it entered 1–6 days after the lesson it was due for
    mark_one: float = 0.005  # of current marks: «1»
    mark_corrected: float = 0.01  # of on-time marks: changed later (a different value, days later)
    mark_deleted: float = 0.003  # of on-time marks: deleted later
    grade1_spelling: float = 0.3  # of grade-1 homework entries: «Не предусмотрено» spelled another way
    evening_window: float = 0.01  # of sittings: in 16:00–16:10 (the 16:05 snapshot's blind spot)
    after_midnight: float = 0.01  # of sittings: 00:00–01:59 the next night
    any_hour: float = 0.01  # of sittings: at any hour of the next two days
    teacher_leaves: bool = True  # a subject teacher leaves on a Friday in December; a new one takes the groups
    working_saturday: bool = True  # a five-day school works one Saturday (Monday's timetable)
    holiday_lesson: bool = True  # one class's lessons left in the schedule on 23.02 (a holiday)
    course_groups: bool = True  # extracurricular courses, electives after 16:00, ИУП groups, a зачёт course


# No real practice: every rate 0, every switch off (the idealised school the generator made before it).
_OFF: dict[str, Any] = {f.name: False if f.type == "bool" else 0 for f in fields(Practice)}
CLEAN = Practice(**_OFF)

# Grade-1 «no homework» as teachers really type it (ruling R10 reads them all as «Не предусмотрено»).
GRADE1_SPELLINGS = (
    "не предусмотрено",
    "Не предусмотрено.",
    "НЕ ПРЕДУСМОТРЕНО",
    "Не задано",
    "нет",
    "не предусмотрено!",
)
HOSPITAL_TYPE = "Оценка, полученная в больнице"
EXTRACURRICULAR = ("Разговоры о важном", "Функциональная грамотность")
ELECTIVE = "Элективный курс «Решение задач по физике»"
PASS_FAIL_SUBJECT = "Индивидуальный проект"
IUP_SUBJECT = "Химия (углублённый уровень)"
PE = "Физическая культура"
HOLIDAY = date(2027, 2, 23)

# situation kind -> its Russian name (the demo's summary, the counting test)
SITUATIONS: dict[str, str] = {
    "double": "сдвоенные уроки",
    "triple": "строенные уроки",
    "saturday": "уроки в субботу",
    "late_lesson": "уроки, которые кончаются после 16:00",
    "substitution_recorded": "замены, записанные в расписании",
    "substitution_unrecorded": "замены, видные только в отчёте о доступе",
    "cancelled": "несостоявшиеся уроки, оставленные в расписании",
    "quarantine": "дни класса без единой записи (карантин)",
    "holiday": "уроки в праздничный день",
    "joiner": "ученики, пришедшие в течение года",
    "subgroup_move": "переходы между подгруппами",
    "pe_exempt": "освобождённые от физкультуры («ОСВ»)",
    "sanatorium": "отметки, полученные в санатории (больнице)",
    "makeup": "отработка письменных работ",
    "homework_marks_later": "отметки за домашнюю работу через несколько дней",
    "mark_one": "отметки «1»",
    "pass_fail": "зачётные курсы",
    "extracurricular": "внеурочная деятельность",
    "iup": "группы ИУП (10–11 классы)",
    "teacher_left": "учитель уволился, группу взял новый",
    "grade1_spelling": "«нет домашнего задания» в 1 классе разными словами",
    "mark_corrected": "исправленные отметки",
    "mark_deleted": "удалённые отметки",
    "entry_16_00_16_10": "записи в 16:00–16:10",
    "entry_after_midnight": "записи после полуночи",
}

ORDINARY = "обычные ситуации"
