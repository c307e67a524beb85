"""JSON views of the emulated school as of the emulator's clock, in the server's field names and casing.

Only items whose entry time has passed on the clock are shown. Drifts (see ``faults.DRIFTS``) change
shapes the way some real servers do.
"""

from __future__ import annotations

import random
import zlib
from datetime import date, datetime, timedelta
from typing import Any

from adapters.emulator.journal import ATTENDANCE_REASONS, HOMEWORK, Journal
from adapters.emulator.school import YEAR_TERM_TYPE, School, Term

EDIT_LIMIT_DAYS = 14


def d2s(d: date) -> str:
    return f"{d.isoformat()}T00:00:00"


class Views:
    def __init__(self, school: School, journal: Journal, drifts: frozenset[str] = frozenset()) -> None:
        self.s = school
        self.j = journal
        self.drifts = drifts
        self._frac = random.Random(f"asurso-emulator:{school.seed}:frac")

    # --- helpers ------------------------------------------------------------------------------

    def dt(self, t: datetime) -> str:
        base = t.strftime("%Y-%m-%dT%H:%M:%S")
        if "frac_digits" in self.drifts:
            n = self._frac.randint(1, 7)
            return f"{base}.{self._frac.randint(0, 10**n - 1):0{n}d}"
        return base

    def id(self, v: int) -> int | str:
        return str(v) if "string_ids" in self.drifts else v

    def arr(self, items: list[Any], obj: dict[str, Any], key: str) -> None:
        """Put an array into ``obj``; with the null_arrays drift, empty ones become null or vanish."""
        if not items and "null_arrays" in self.drifts:
            if zlib.crc32(key.encode()) % 2:  # deterministic across processes (no hash())
                obj[key] = None
            return
        obj[key] = items

    def person(self, pid: int) -> dict[str, Any]:
        st = self.s.staff[pid]
        return {"id": self.id(pid), "name": st.full_name}

    # --- directory ----------------------------------------------------------------------------

    def school_year(self) -> dict[str, Any]:
        return {
            "globalYear": {
                "startDate": d2s(date(self.s.year_start.year, 9, 1)),
                "endDate": d2s(date(self.s.year_start.year + 1, 8, 31)),
                "id": self.s.global_year_id,
                "name": self.s.year_name,
            },
            "schoolId": self.s.scid,
            "startDate": d2s(self.s.year_start),
            "endDate": d2s(date(self.s.year_start.year + 1, 8, 31)),
            "closed": "Open",
            "id": self.s.year_id,
            "name": self.s.year_name,
        }

    def terms(self) -> list[dict[str, Any]]:
        return [self.term(t) for t in self.s.terms.values() if self.lists_term(t)]

    def lists_term(self, t: Term) -> bool:
        """Whether a term is in the server's term lists. The year's own period is not by default: IRTech's report
        pages address the year as ``TERMID`` -1 «год» and -2 «итог» (issue #32), and no public source shows a
        year period in ``terms``; the ``year_period`` drift lists it with ``termTypeId`` 4."""
        return t.type_id != YEAR_TERM_TYPE or "year_period" in self.drifts

    def term(self, t: Term) -> dict[str, Any]:
        return {
            "id": self.id(t.id),
            "termName": t.name,
            "termTypeId": t.type_id,
            "startDate": d2s(t.start),
            "endDate": d2s(t.end),
            "schoolYearId": self.s.year_id,
        }

    def vacations(self) -> list[dict[str, Any]]:
        return [
            {"id": 111_480 + i, "name": name, "startTime": d2s(a), "endTime": d2s(b)}
            for i, (name, a, b) in enumerate(self.s.vacations)
        ]

    def classes(self, class_ids: list[int], expand: list[str], now: datetime) -> list[dict[str, Any]]:
        out = []
        for cid in class_ids:
            c = self.s.classes[cid]
            step = (
                {"id": 1, "name": " 1- 4 кл."}
                if c.grade <= 4
                else ({"id": 2, "name": " 5- 9 кл."} if c.grade <= 9 else {"id": 3, "name": "10-11 кл."})
            )
            item: dict[str, Any] = {
                "id": self.id(cid),
                "name": c.name,
                "grade": {"id": c.grade, "name": str(c.grade)},
                "letter": c.letter,
                "step": step,
                "iup": False,
                "funcType": "School",
                "profileId": 1305,
                "classType": {"id": 1, "name": "Общеобразовательный"},
                "plannedOccupancy": None,
                "hasClassNotWorkingTeacher": None,
            }
            if "chiefs" in expand:  # the class teacher of the clock's date (a scenario's ``chiefs`` by date)
                item["chiefs"] = [self.person(c.chief_on(now.date()))]
            out.append(item)
        return out

    def subjects(self) -> list[dict[str, Any]]:
        # where the captured response has it: ``extraCurricular`` on the subject (issue #32); ``isModular`` and
        # ``useExemption`` beside it (the emulator: false)
        extra = {g.subject_id for g in self.s.groups.values() if g.extracurricular}
        flag = "no_extracurricular_flag" not in self.drifts
        return [
            {
                "id": self.id(s.id),
                "name": s.name,
                "shortName": s.name[:12],
                "globalSubject": {"id": s.global_id, "name": s.name.lower()},
                "teachers": None,
                "groups": None,
                "parentSubject": None,
                "subjectField": None,
                "order": None,
                "using": True,
                "usingInYear": True,
                "extraCurricular": flag and s.id in extra,
                "isModular": False,
                "useExemption": False,
                "direction": None,
            }
            for s in self.s.subjects.values()
        ]

    def subject_groups(self, sg_ids: list[int], now: datetime) -> list[dict[str, Any]]:
        out = []
        for sg in sg_ids:
            g = self.s.groups[sg]
            c = self.s.classes.get(g.class_id)
            out.append(
                {
                    "id": self.id(sg),
                    "name": g.name,
                    # an ИУП group belongs to no class [I: the field's shape for ИУП groups is not seen]
                    "class": {"id": self.id(c.id), "name": c.name} if c else None,
                    "subject": {"id": self.id(g.subject_id), "name": self.s.subjects[g.subject_id].name},
                    # a teacher who left the school is no group's teacher any more (nobody, until a successor)
                    "teachers": [
                        self.person(t) for t in [g.teacher_on(now.date())] if self.s.staff[t].on_staff(now.date())
                    ],
                    "isIup": g.iup_grade is not None,
                    "extraCurricular": g.extracurricular,
                }
            )
            # the flag on the group is not in evidence (issue #32: it is on the subject): served only under the
            # ``group_extracurricular`` drift; ``no_extracurricular_flag`` removes it everywhere (the relay tells)
            if "group_extracurricular" not in self.drifts or "no_extracurricular_flag" in self.drifts:
                out[-1].pop("extraCurricular")
        return out

    def enrolled(self, sg_id: int, term: Term, now: datetime) -> list[dict[str, Any]]:
        """grade/studentList?sgid=&termId= : the group's students in a term, with `free` once they left."""
        out = []
        group = self.s.groups[sg_id]
        for sid in group.student_ids:
            st = self.s.students[sid]
            if st.leave_at is not None and st.leave_at.date() < term.start:
                continue
            if st.join_on is not None and (st.join_on > now.date() or st.join_on > term.end):
                continue  # not yet at the school, or not in that term (a term's list: who was in it) [I]
            came, moved = group.member_from.get(sid), group.member_to.get(sid)
            if (came is not None and (came > now.date() or came > term.end)) or (
                moved is not None and moved < now.date()
            ):
                continue  # a move to the other subgroup: listed in the new one from that day, no longer in the old
            free = st.leave_at is not None and st.leave_at <= now
            out.append(
                {"id": self.id(sid), "fullName": st.full_name, "free": free, "individualEduc": st.individual_educ}
            )
        return out

    def class_students(self, cid: int, now: datetime) -> list[dict[str, Any]]:
        out = []
        for sid in self.s.classes[cid].student_ids:
            st = self.s.students[sid]
            if st.join_on is not None and st.join_on > now.date():
                continue
            out.append(
                {
                    "id": self.id(sid),
                    "fullName": st.full_name,
                    "free": st.leave_at is not None and st.leave_at <= now,
                    "individualEduc": st.individual_educ,
                }
            )
        return out

    def times(self) -> list[dict[str, Any]]:
        return [
            {
                "id": n + 1,
                "number": n + 1,
                "name": f"{n + 1} урок",
                "startTime": f"1900-01-01T{a.strftime('%H:%M:%S')}",
                "endTime": f"1900-01-01T{b.strftime('%H:%M:%S')}",
            }
            for n, (a, b) in enumerate(self.s.bells)
        ]

    def class_meetings(self, sg_ids: set[int], start: date, end: date) -> list[dict[str, Any]]:
        found = sorted(
            (le for sg in sg_ids for le in self.s.lessons_by_sg.get(sg, []) if start <= le.day <= end),
            key=lambda le: (le.day, le.number, le.sg_id),
        )
        out = []
        for le in found:
            item: dict[str, Any] = {
                "id": self.id(le.id),
                "day": d2s(le.day),
                "number": le.number,
                "relay": 2 if self.s.groups[le.sg_id].extracurricular else 1,
                "room": None,
                "subjectGroupId": self.id(le.sg_id),
                "scheduleTimeId": le.number,
            }
            if le.teacher_id is not None and "lesson_teacher" in self.drifts:
                # a substitute recorded for this lesson: no public evidence of such a field (issue #32) — a drift
                item["teacher"] = self.person(le.teacher_id)
            out.append(item)
        return out

    def assignment_types(self) -> list[dict[str, Any]]:
        return [
            {"abbr": abbr, "order": order, "id": tid, "name": name}
            for tid, name, abbr, order in self.j.assignment_types
        ]

    def attendance_reasons(self) -> list[dict[str, Any]]:
        key = "ReasonMark" if "reason_mark" in self.drifts else "mark"
        return [{key: code, "localMark": code, "name": name} for code, name in ATTENDANCE_REASONS]

    def settings(self) -> dict[str, Any]:
        return {
            "minMark": 1,
            "maxMark": 5,
            "juniorStepGrade": {"start": 1, "end": 4},
            "middleStepGrade": {"start": 5, "end": 9},
            "seniorStepGrade": {"start": 10, "end": 11},
            "useWeight": True,
            "yearId": self.s.year_id,
        }

    # --- journal ------------------------------------------------------------------------------

    def journal(self, sg_id: int, term: Term, now: datetime) -> dict[str, Any]:
        lessons = [le for le in self.s.lessons_by_sg.get(sg_id, []) if term.start <= le.day <= term.end]
        cm_ids = {le.id for le in lessons}
        assignments = [a for a in self.j.assignments_by_sg.get(sg_id, []) if a.cm_id in cm_ids and a.at <= now]
        marks = []
        last_edit: tuple[datetime, int] | None = None
        for a in assignments:
            last_edit = max(last_edit or (a.at, a.cm_id), (a.at, a.cm_id))
            for m in self.j.marks.get(a.id, []):
                shown, value = m.value_at(now)
                if shown:
                    marks.append(
                        {
                            "studentId": self.id(m.student_id),
                            "assignmentId": self.id(a.id),
                            "mark": value,
                            "dutyMark": m.duty,
                        }
                    )
                    last_edit = max(last_edit, (m.at, a.cm_id))
        attendance = []
        for le in lessons:
            for att in self.j.attendance.get(le.id, []):
                code = att.code_at(now)
                if code is not None:
                    attendance.append(
                        {"classmeetingId": self.id(le.id), "studentId": self.id(att.student_id), "reason": code}
                    )
        totals = [
            {"studentId": self.id(tm.student_id), "mark": tm.mark, "markType": tm.mark_type}
            for tm in self.j.term_marks.get((sg_id, term.id), [])
            if tm.at <= now
        ]
        today = now.date()
        jr: dict[str, Any] = {
            "subjectGroupId": self.id(sg_id),
            "studentId": None,
            "gradingSys": 0,
            "students": self.enrolled(sg_id, term, now),
            "classMeeting": [
                {
                    "id": self.id(le.id),
                    "date": d2s(le.day),
                    "isTkr": False,
                    "readOnly": (today - le.day).days > EDIT_LIMIT_DAYS,
                }
                for le in lessons
            ],
        }
        self.arr(
            [
                {
                    "id": self.id(a.id),
                    "classMeetingId": self.id(a.cm_id),
                    "typeId": a.type_id,
                    "name": a.name,
                    "weight": a.weight,
                    "date": d2s(a.issue_date),
                    "dueDate": d2s(a.due_date),
                    "activityId": None,
                    # the homework's issue lesson, under the name real responses use (docs/server-api.md §3)
                    **({"issueClassMeetingId": self.id(a.issue_cm_id)} if a.type_id == HOMEWORK else {}),
                }
                for a in assignments
            ],
            jr,
            "assignments",
        )
        if "assignments_nested" in self.drifts:  # each lesson carries its own assignments
            by_cm: dict[Any, list[dict[str, Any]]] = {}
            for item in jr.pop("assignments", None) or []:
                by_cm.setdefault(item["classMeetingId"], []).append(item)
            for meeting in jr["classMeeting"]:
                meeting["assignments"] = by_cm.get(meeting["id"], [])
        self.arr(marks, jr, "marks")
        self.arr(attendance, jr, "attendance")
        jr["totals"] = [{"marks": totals}] if totals or "null_arrays" not in self.drifts else None
        teacher = self.s.staff[self.s.groups[sg_id].teacher_on(now.date())]
        jr["lastAccess"] = {"date": self.dt(last_edit[0]), "nickName": teacher.short_name} if last_edit else None
        return {
            "journals": [jr],
            "editLimit": {
                "readOnly": False,
                "limitPastEdit": True,
                "limitPastDays": EDIT_LIMIT_DAYS,
                "limitCmAccess": [],
                "limitPastEditHomeAssigns": True,
                "attendanceReleasedMarkAllowed": False,
            },
            "markSettings": {"minMark": 1, "maxMark": 5, "useWeight": True},
            "lastEditCmId": self.id(last_edit[1]) if last_edit else None,
        }

    def journal_edit(self, cm_id: int, now: datetime) -> dict[str, Any]:
        topic = self.j.topics.get(cm_id)
        out: dict[str, Any] = {"moduleQA": False}
        visible = topic is not None and topic.at <= now
        if "lesson_flat" in self.drifts:
            out["lessonId"] = self.id(topic.ktp_lesson_id) if visible and topic else -1
            out["lessonName"] = topic.text if visible and topic else None
        else:
            out["lesson"] = (
                {"id": self.id(topic.ktp_lesson_id), "lessonName": topic.text} if visible and topic else None
            )
        self.arr(
            [
                {"studentId": self.id(att.student_id), "reason": code}
                for att in self.j.attendance.get(cm_id, [])
                if (code := att.code_at(now)) is not None
            ],
            out,
            "attendance",
        )
        items = []
        for a in self.j.assignments_by_cm.get(cm_id, []):
            if a.at > now:
                continue
            item: dict[str, Any] = {
                "id": self.id(a.id),
                "typeId": a.type_id,
                "name": a.name,
                "activityId": None,
                "productId": None,
            }
            self.arr(
                [
                    {"studentId": self.id(m.student_id), "mark": value, "duty": m.duty}
                    for m in self.j.marks.get(a.id, [])
                    for shown, value in [m.value_at(now)]
                    if shown
                ],
                item,
                "results",
            )
            self.arr([], item, "comments")
            self.arr([], item, "answers")
            items.append(item)
        self.arr(items, out, "assignments")
        return out

    def plan(self, sg_id: int, now: datetime) -> dict[str, Any]:
        plan = self.s.ktp.get(sg_id)
        if plan is None or plan.uploaded_at is None or plan.uploaded_at > now:
            return {"subjectPlanId": None, "variantsExists": False, "lessons": []}
        lessons = self.s.lessons_by_sg.get(sg_id, [])
        out = []
        for i, kl in enumerate(plan.lessons):
            studied = i < len(lessons) and lessons[i].day <= now.date()
            out.append(
                {
                    "id": self.id(kl.id),
                    "lessonName": kl.name,
                    "hours": 1,
                    "hoursStudied": 1 if studied else 0,
                    "lastStudyDay": d2s(lessons[i].day) if studied else None,
                    "homeAssignment": kl.home_assignment,
                }
            )
        return {"subjectPlanId": self.id(plan.id), "variantsExists": False, "lessons": out}

    def plan_lesson(self, lesson_id: int) -> dict[str, Any] | None:
        for plan in self.s.ktp.values():
            for kl in plan.lessons:
                if kl.id == lesson_id:
                    return {
                        "unitNum": kl.unit_num,
                        "lessonNum": kl.lesson_num,
                        "lessonName": kl.name,
                        "homeAssign": kl.home_assignment,
                        "attachments": [],
                    }
        return None

    # --- student diary ------------------------------------------------------------------------

    def diary_init(self, sid: int, now: datetime) -> dict[str, Any]:
        st = self.s.students[sid]
        c = self.s.classes[st.class_id]
        item = {
            "studentId": self.id(sid),
            "nickName": f"{st.last} {st.first}",
            "className": c.name,
            "classId": self.id(c.id),
            "iupGrade": 0,
        }
        monday = now.date() - timedelta(days=now.weekday())
        students: Any = {"0": item} if "students_dict" in self.drifts else [item]
        return {
            "students": students,
            "currentStudentId": 0,
            "weekStart": d2s(monday),
            "yaClass": False,
            "yaClassAuthUrl": None,
            "newDiskToken": "",
            "newDiskWasRequest": False,
            "ttsuRl": "http://NETCITY:80/",
            "externalUrl": "http://netcity.ru/",
            "weight": True,
            "maxMark": 5,
            "withLaAssigns": True,
        }

    def student_groups(self, sid: int) -> list[int]:
        return [g.id for g in self.s.groups.values() if sid in g.student_ids]

    def diary(self, sid: int, week_start: date, week_end: date, now: datetime) -> dict[str, Any]:
        st = self.s.students[sid]
        days: dict[date, list[dict[str, Any]]] = {}
        for sg in self.student_groups(sid):
            g = self.s.groups[sg]
            subject = self.s.subjects[g.subject_id].name
            for le in self.s.lessons_by_sg.get(sg, []):
                if not week_start <= le.day <= week_end:
                    continue
                lesson: dict[str, Any] = {
                    "classmeetingId": self.id(le.id),
                    "day": d2s(le.day),
                    "number": le.number,
                    # «Разговоры о важном» in a captured diary: relay 2, isEaLesson true (issue #32)
                    "relay": 2 if self.s.groups[sg].extracurricular else 1,
                    "room": None,
                    "startTime": self.s.bells[le.number - 1][0].strftime("%H:%M"),
                    "endTime": self.s.bells[le.number - 1][1].strftime("%H:%M"),
                    "subjectName": subject,
                    "isEaLesson": self.s.groups[sg].extracurricular,
                    "isDistanceLesson": False,
                }
                assigns = []
                for a in self.j.assignments_by_cm.get(le.id, []):
                    if a.at > now:
                        continue
                    item: dict[str, Any] = {
                        "id": self.id(a.id),
                        "typeId": a.type_id,
                        "assignmentName": a.name,
                        "weight": 0,
                        "dueDate": d2s(a.due_date),
                        "classMeetingId": self.id(le.id),
                        "classAssignment": a.type_id != HOMEWORK,
                    }
                    for m in self.j.marks.get(a.id, []):
                        shown, value = m.value_at(now)
                        if m.student_id == sid and shown:
                            item["mark"] = {
                                "assignmentId": self.id(a.id),
                                "studentId": self.id(sid),
                                "mark": value,
                                "resultScore": None,
                                "dutyMark": m.duty,
                            }
                    assigns.append(item)
                if assigns:
                    lesson["assignments"] = assigns
                days.setdefault(le.day, []).append(lesson)
        term = next(
            (
                t
                for t in self.s.terms.values()
                if t.type_id == self.s.grade_term_type.get(self.s.classes[st.class_id].grade)
                and t.start <= week_start <= t.end
            ),
            None,
        )
        return {
            "weekStart": d2s(week_start),
            "weekEnd": d2s(week_end),
            "termName": term.name if term else None,
            "className": self.s.classes[st.class_id].name,
            "laAssigns": [],
            "weekDays": [
                {"date": d2s(d), "lessons": sorted(ls, key=lambda x: x["number"])} for d, ls in sorted(days.items())
            ],
        }

    def assign_details(self, aid: int, now: datetime) -> dict[str, Any] | None:
        a = self.j.assignments.get(aid)
        if a is None or a.at > now:
            return None
        g = self.s.groups[a.sg_id]
        out: dict[str, Any] = {
            "id": self.id(a.id),
            "assignmentName": a.name,
            "activityName": None,
            "problemName": None,
            "subjectGroup": {"id": self.id(g.id), "name": g.name},
        }
        if "teacher_single" in self.drifts:
            out["teacher"] = self.person(g.teacher_id)
        else:
            out["teachers"] = [self.person(g.teacher_id)]
        out.update(
            {
                "productId": None,
                "isDeleted": False,
                "weight": a.weight,
                "date": d2s(a.issue_date),
                "description": None,
                "attachments": [],
                "contentElements": None,
                "codeContentElements": None,
            }
        )
        return out

    def past_mandatory(self, sid: int, before: date, now: datetime) -> list[dict[str, Any]]:
        out = []
        for sg in self.student_groups(sid):
            subject = self.s.subjects[self.s.groups[sg].subject_id].name
            for a in self.j.assignments_by_sg.get(sg, []):
                if a.due_date >= before or a.at > now:
                    continue
                for m in self.j.marks.get(a.id, []):
                    if m.student_id == sid and m.duty and m.mark is None and m.at <= now:
                        out.append(
                            {
                                "id": self.id(a.id),
                                "subjectName": subject,
                                "assignmentName": a.name,
                                "dueDate": d2s(a.due_date),
                                "classMeetingId": self.id(a.cm_id),
                                "typeId": a.type_id,
                                "mark": None,
                            }
                        )
        return out

    def announcements(self, now: datetime) -> list[dict[str, Any]]:
        deputy = self.s.staff[self.s.deputy_id]
        items = [
            (
                1,
                "Родительское собрание",
                "<p>Общешкольное родительское собрание в четверг в 18:00.</p>",
                datetime(2026, 9, 3, 10, 0),
            ),
            (2, "Каникулы", "<p>Зимние каникулы с 29 декабря по 11 января.</p>", datetime(2026, 12, 1, 9, 0)),
        ]
        return [
            {
                "id": i,
                "name": name,
                "description": text,
                "postDate": self.dt(at),
                "deleteDate": None,
                "author": {"id": self.id(deputy.id), "fio": deputy.full_name, "nickName": deputy.short_name},
                "em": None,
                "recipientInfo": None,
                "attachments": [],
            }
            for i, name, text, at in items
            if at <= now
        ]


def week_bounds(d: date) -> tuple[date, date]:
    monday = d - timedelta(days=d.weekday())
    return monday, monday + timedelta(days=6)


__all__ = ["Views", "d2s", "week_bounds"]
