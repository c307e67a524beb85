"""A hand-built mirror for rule tests: a few classes, groups, terms and lessons written straight into a real
cache through the cache's own unit/save API, observed at chosen server times."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from cache import open_cache, unit, widen_report_since
from rules.catalogue import Selection
from rules.engine import CheckResult, run_rules

MON, TUE = "2026-11-23", "2026-11-24"
SNAP = f"{MON}T16:05:00"
NIGHT = f"{TUE}T01:00:00"
SG, SG1, TERM = 10, 20, 100
STUDENTS = (1, 2, 3)
PLAIN_GROUP = {"is_iup": 0, "extracurricular": 0, "iup_grade": None}  # a lesson group of a class


class Mirror:
    """A tiny hand-built mirror: class 8а (group 10) and 1а (group 20), one quarter, Monday 23.11.2026."""

    def __init__(self, path: Path, *, access_report: bool = True) -> None:
        """``access_report``: the school reads the access report, and it covers the whole quarter (it names no
        substitute: the group's teacher answers, ruling R6); without it no lesson's teacher is known (R0)."""
        self.db = open_cache(path)
        if access_report:
            for class_id in (1, 2):
                self.report_read(class_id, "2026-11-02", "2027-01-10")
        with unit(self.db, "directory", None, observed_at=f"{MON}T01:00:00") as u:
            u.save(
                "school_class",
                [
                    {"id": 1, "name": "8а", "grade": 8, "letter": "а", "class_type": None, "step": None},
                    {"id": 2, "name": "1а", "grade": 1, "letter": "а", "class_type": None, "step": None},
                ],
            )
            u.save("class_chief", [{"class_id": 1, "user_id": 501}, {"class_id": 2, "user_id": 502}])
            u.save(
                "staff",
                [
                    {"id": 500, "name": "Учитель А. А.", "email": None},
                    {"id": 501, "name": "Классный Б. Б.", "email": None},
                    {"id": 502, "name": "Начальная В. В.", "email": None},
                ],
            )
            u.save(
                "subject",
                [
                    {
                        "id": 7,
                        "name": "Алгебра",
                        "short_name": None,
                        "global_subject_id": None,
                        "global_subject_name": None,
                    }
                ],
            )
            u.save(
                "subject_group",
                [
                    {"id": SG, "name": "8а/Алгебра", "class_id": 1, "subject_id": 7, **PLAIN_GROUP},
                    {"id": SG1, "name": "1а/Математика", "class_id": 2, "subject_id": 7, **PLAIN_GROUP},
                ],
            )
            u.save("subject_group_teacher", [{"sg_id": SG, "teacher_id": 500}, {"sg_id": SG1, "teacher_id": 502}])
            u.save(
                "term",
                [
                    {
                        "id": TERM,
                        "school_year_id": 1,
                        "name": "2 четверть",
                        "term_type_id": 1,
                        "start_date": "2026-11-05",
                        "end_date": "2026-12-28",
                    }
                ],
            )
            u.save(
                "assignment_type",
                [
                    {"id": 3, "name": "Домашнее задание", "abbr": "ДЗ", "sort_order": 1},
                    {"id": 10, "name": "Ответ на уроке", "abbr": "О", "sort_order": 2},
                    {"id": 4, "name": "Контрольная работа", "abbr": "КР", "sort_order": 3},
                ],
            )

    def report_read(self, class_id: int, since: str, through: str) -> None:
        """The class's access report read from ``since`` through ``through`` (its cursor: the sync's date)."""
        scope = {"class_id": class_id}
        with unit(self.db, "access_log", scope, observed_at=f"{through}T01:00:00", allow_empty=True) as u:
            widen_report_since(self.db, scope, since, observed_at=f"{through}T01:00:00")
            u.cursor = through

    def journal(
        self,
        at: str,
        sg: int,
        *,
        lessons: list[tuple[int, str]] | list[tuple[int, str, int]],
        assignments: list[dict[str, Any]] = (),  # type: ignore[assignment]
        marks: list[tuple[int, int, str | None]] = (),
        attendance: list[tuple[int, int, str]] = (),  # type: ignore[assignment]
        students: tuple[int, ...] = STUDENTS,
        individual: tuple[int, ...] = (),
        free: tuple[int, ...] = (),
        term: int = TERM,
        term_marks: list[tuple[int, str | None, int]] = (),  # type: ignore[assignment]
    ) -> None:
        scope = {"sg_id": sg, "term_id": term}
        tables = {
            "class_meeting": [
                {
                    "id": le[0],
                    "sg_id": sg,
                    "term_id": term,
                    "day": le[1],
                    "number": le[2] if len(le) > 2 else 2,  # type: ignore[misc]
                    "schedule_time_id": 2,
                    "room": None,
                    "is_tkr": 0,
                    "read_only": None,
                    "teacher_id": le[3] if len(le) > 3 else None,  # type: ignore[misc]
                    "relay": None,
                }
                for le in lessons
            ],
            "assignment": [{"sg_id": sg, "term_id": term, "weight": 10, "issue_cm_id": None, **a} for a in assignments],
            "mark": [
                {"assignment_id": a, "student_id": s, "sg_id": sg, "term_id": term, "mark": m, "duty": 0}
                for a, s, m in marks
            ],
            "attendance": [
                {"class_meeting_id": cm, "student_id": s, "sg_id": sg, "term_id": term, "reason": r}
                for cm, s, r in attendance
            ],
            "enrollment": [
                {
                    "sg_id": sg,
                    "term_id": term,
                    "student_id": s,
                    "free": int(s in free),
                    "individual_educ": int(s in individual),
                }
                for s in students
            ],
            "term_mark": [
                {"sg_id": sg, "term_id": term, "student_id": s, "mark": mark, "mark_type": kind}
                for s, mark, kind in term_marks
            ],
        }
        with unit(self.db, "journal", scope, observed_at=at, allow_empty=True) as u:
            for table, table_rows in tables.items():
                u.save(table, table_rows, scope=scope, complete=True)

    def add_term(self, term: int, name: str, type_id: int, start: str, end: str) -> None:
        with unit(self.db, "directory-term", {"term_id": term}, observed_at=f"{MON}T01:00:00") as u:
            u.save(
                "term",
                [
                    {
                        "id": term,
                        "school_year_id": 1,
                        "name": name,
                        "term_type_id": type_id,
                        "start_date": start,
                        "end_date": end,
                    }
                ],
            )

    def add_group(self, sg: int, name: str, class_id: int, teacher: int = 500) -> None:
        with unit(self.db, "directory-group", {"sg_id": sg}, observed_at=f"{MON}T01:00:00") as u:
            u.save("subject_group", [{"id": sg, "name": name, "class_id": class_id, "subject_id": 7, **PLAIN_GROUP}])
            u.save("subject_group_teacher", [{"sg_id": sg, "teacher_id": teacher}])

    def ktp(self, at: str, sg: int, *, loaded: bool) -> None:
        """The group's КТП unit observed at ``at``: with a plan, or read and found empty."""
        with unit(self.db, "ktp", {"sg_id": sg}, observed_at=at, allow_empty=True) as u:
            u.save("ktp_plan", [{"id": 9000 + sg, "sg_id": sg}] if loaded else [], scope={"sg_id": sg}, complete=True)

    def run(self, code: str, as_of: str, start: str, **kw: Any) -> CheckResult:
        return run_rules(
            self.db,
            as_of=datetime.fromisoformat(as_of),
            start=date.fromisoformat(start),
            selection=Selection(select=[code]),
            **kw,
        )

    def topic(self, at: str, cm: int, sg: int, text: str | None) -> None:
        with unit(self.db, "topic", {"cm_id": cm}, observed_at=at) as u:
            if text:
                u.save(
                    "lesson_topic",
                    [{"cm_id": cm, "sg_id": sg, "ktp_lesson_id": 1, "topic": text}],
                    scope={"cm_id": cm},
                    complete=True,
                )

    def check(
        self, code: str, as_of: str = f"{TUE}T01:00:00", start: str = MON, **kw: Any
    ) -> tuple[set[tuple[Any, ...]], int]:
        res = run_rules(
            self.db,
            as_of=datetime.fromisoformat(as_of),
            start=date.fromisoformat(start),
            selection=Selection(select=[code]),
            **kw,
        )
        return {tuple(sorted(f.entity.items())) for f in res.findings}, res.undecided.get(code, 0)


def hw(aid: int, cm_due: int, issue_cm: int, name: str, issue: str = MON) -> dict[str, Any]:
    return {
        "id": aid,
        "class_meeting_id": cm_due,
        "type_id": 3,
        "name": name,
        "issue_date": issue,
        "due_date": "2026-11-25",
        "issue_cm_id": issue_cm,
    }


def cw(aid: int, cm: int, type_id: int = 10, day: str = MON) -> dict[str, Any]:
    return {"id": aid, "class_meeting_id": cm, "type_id": type_id, "name": "Работа", "issue_date": day, "due_date": day}
