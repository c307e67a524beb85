"""The generated school and journal as served: determinism, clock visibility, rights, realism, ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from adapters.emulator import calendar as cal
from adapters.emulator.journal import WRITTEN_TYPES, generate_journal
from adapters.emulator.practice import CLEAN, HOLIDAY
from adapters.emulator.school import generate_structure
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.truth import CORE_RULES, ground_truth, write_jsonl
from tests.emu import client, fresh_school, generated_school, login

FROM = date(2026, 12, 7)
AS_OF = datetime(2027, 1, 4, 7, 0)


@pytest.fixture(scope="module")
def small() -> Emulator:
    return Emulator(EmulatorSettings(size="small", seed=7, control=True, clock=AS_OF))


async def fetch_all(emu: Emulator) -> dict[str, Any]:
    async with client(emu) as c:
        await login(c)
        out: dict[str, Any] = {}
        for path in (
            "classes?expand=chiefs",
            "subjects",
            "subjectgroups",
            "terms",
            "calendar/vacations",
            "schedule/times",
            "grade/assignment/types",
            "grade/attendance/reasons",
        ):
            out[path] = (await c.get(f"/webapi/{path}")).json()
        sg = sorted(emu.school.groups)[5]
        term = emu.school.terms_for_group(sg)[1]
        out["journal"] = (await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": term.id})).json()
        await c.post("/webapi/auth/logout", data={"at": c.headers["at"]})
        return out


async def test_same_seed_same_school_and_truth_different_seed_different() -> None:
    a = Emulator(EmulatorSettings(size="tiny", seed=3, clock=AS_OF))
    b = Emulator(EmulatorSettings(size="tiny", seed=3, clock=AS_OF))
    c = Emulator(EmulatorSettings(size="tiny", seed=4, clock=AS_OF))
    da, db, dc = await fetch_all(a), await fetch_all(b), await fetch_all(c)
    for key in da:
        da_key = {k: v for k, v in da[key]["journals"][0].items() if k != "lastAccess"} if key == "journal" else da[key]
        db_key = {k: v for k, v in db[key]["journals"][0].items() if k != "lastAccess"} if key == "journal" else db[key]
        assert da_key == db_key, key
    assert da["classes?expand=chiefs"] != dc["classes?expand=chiefs"]
    ga = write_jsonl(ground_truth(a.school, a.journal, FROM, AS_OF))
    gb = write_jsonl(ground_truth(b.school, b.journal, FROM, AS_OF))
    assert ga == gb and ga.encode() == gb.encode()
    assert ga != write_jsonl(ground_truth(c.school, c.journal, FROM, AS_OF))


def test_sizes_are_realistic() -> None:
    expect = {"tiny": (2, 2, 40), "small": (11, 200, 300), "medium": (33, 700, 900), "large": (60, 1400, 1600)}
    for size, (n_classes, lo, hi) in expect.items():
        s = generate_structure(1, size)  # type: ignore[arg-type]
        assert len(s.classes) == n_classes
        if size != "tiny":
            assert lo <= len(s.students) <= hi
        if size == "large":
            assert 90 <= len(s.staff) <= 140


def test_school_structure(small: Emulator) -> None:
    s = small.school
    assert sorted({c.grade for c in s.classes.values()}) == list(range(1, 12))
    assert all(c.chief_id in s.staff for c in s.classes.values())
    assert any(g.subgroup for g in s.groups.values())  # language / technology subgroups
    assert {t.type_id for t in s.terms.values()} == {cal.QUARTER, cal.HALF_YEAR}
    assert any(st.individual_educ for st in s.students.values())
    assert any(st.family_educ for st in s.students.values())
    assert any(st.leave_at for st in s.students.values())
    for lessons in s.lessons_by_sg.values():
        by_day: dict[date, list[int]] = {}
        for le in lessons:
            by_day.setdefault(le.day, []).append(le.number)
        for numbers in by_day.values():  # one lesson a day, or a double or triple one (consecutive numbers)
            assert len(numbers) <= 3 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert all(s.is_school_day(d) or d == HOLIDAY for d in by_day)  # the holiday's lessons: left in the schedule
    per_day = Counter((s.groups[le.sg_id].class_id, le.day, le.number) for le in s.lessons.values())
    daily = Counter((cls, d) for (cls, d, _) in per_day if cls)
    assert min(daily.values()) >= 4 and max(daily.values()) <= 10
    names = [st.full_name for st in s.students.values()]
    assert all(len(n.split()) == 3 for n in names)


def test_every_core_rule_is_planted_across_seeds() -> None:
    seen: Counter[str] = Counter()
    for seed in (1, 2, 3):  # generated once per test process (tests/emu.py), shared with test_practice
        seen.update(v.rule for v in ground_truth(*generated_school("small", seed), FROM, AS_OF))
    # the one holiday left in the schedule is 23.02 (CAL001), outside this period
    assert set(CORE_RULES) - {"CAL001"} <= set(seen), set(CORE_RULES) - set(seen)
    school, journal = generated_school("small", 1)
    assert any(v.rule == "CAL001" for v in ground_truth(school, journal, date(2027, 2, 22), AS_OF.replace(2027, 3)))


def test_a_fresh_school_is_the_generated_one_and_its_own() -> None:
    """``tests.emu.fresh_school`` (a copy of a school generated once per process) serves what generating serves."""
    import pickle

    a, b = fresh_school(), fresh_school()
    emu = Emulator(EmulatorSettings(size="tiny"))
    assert pickle.dumps(a) == pickle.dumps((emu.school, emu.journal))
    assert a[0] is not b[0] and a[1] is not b[1] and a[1].marks is not b[1].marks


def test_attends_between_is_the_window_of_attends() -> None:
    """The journal's generation asks ``attends_between`` instead of ``attends`` for every member of every lesson:
    both agree on every school day for each student who joins, leaves or changes subgroups, and for some others."""
    school, _ = generated_school("small", 1)
    days = school.school_days()
    checked = moving = 0
    for group in school.groups.values():
        for sid in group.student_ids:
            st = school.students[sid]
            moves = st.join_on or st.leave_at or sid in group.member_from or sid in group.member_to
            if not moves and sid % 9:
                continue
            first, last = school.attends_between(sid, group.id)
            assert [d for d in days if first <= d <= last] == [d for d in days if school.attends(sid, d, group.id)]
            checked, moving = checked + 1, moving + bool(moves)
    assert moving >= 10 and checked > moving, (checked, moving)


def test_profiles_keep_out_of_the_ambiguous_windows() -> None:
    """The teachers' profiles alone never enter in a window the standard schedule cannot decide (real practice puts
    entries there on purpose: practice.py, «entries at any hour»)."""
    school = generate_structure(7, "small", practice=CLEAN)
    j = generate_journal(school, practice=CLEAN)

    def ok(t: datetime) -> bool:
        return not (time(16, 0) < t.time() <= time(16, 15)) and time(7, 0) <= t.time() <= time(23, 30)

    times = [t.at for t in j.topics.values()] + [a.at for a in j.assignments.values()]
    times += [m.at for ms in j.marks.values() for m in ms]
    times += [t for atts in j.attendance.values() for a in atts for t, _ in a.versions]
    times += [tm.at for tms in j.term_marks.values() for tm in tms]
    assert all(ok(t) for t in times)
    for a in j.assignments.values():
        if a.type_id not in WRITTEN_TYPES:
            continue
        day7 = a.issue_date + timedelta(days=7)
        o1 = datetime.combine(day7, time(16, 5) if cal.is_school_day(day7) else time(1, 0))
        o2 = datetime.combine(day7 + timedelta(days=1), time(1, 0))
        assert not any(o1 < m.at <= o2 for m in j.marks[a.id])


def test_near_misses_exist_and_are_not_violations(small: Emulator) -> None:
    s, j = small.school, small.journal
    truth = {(v.rule, v.entity) for v in ground_truth(s, j, date(2026, 9, 1), datetime(2027, 5, 31, 7, 0))}
    at_1559 = [t for t in j.topics.values() if t.at.time() == time(15, 59) and t.at.date() == s.lessons[t.cm_id].day]
    assert at_1559 and all(("TML001", (("cm", t.cm_id),)) not in truth for t in at_1559)
    day7 = [
        a
        for a in j.assignments.values()
        if a.type_id in WRITTEN_TYPES
        and j.marks[a.id]
        and max(m.at for m in j.marks[a.id]).date() == a.issue_date + timedelta(days=7)
    ]
    assert day7 and all(("TML005", (("assignment", a.id),)) not in truth for a in day7)
    late_arrivals = [
        (a.cm_id, a.student_id) for atts in j.attendance.values() for a in atts if a.versions[-1][1] == "ОП"
    ]
    assert late_arrivals
    marked = {(a.cm_id, m.student_id) for a in j.assignments.values() for m in j.marks[a.id] if m.mark is not None}
    assert any(k in marked for k in late_arrivals)  # mark + ОП happens …
    assert not any(("MRK003", (("cm", cm), ("student", st))) in truth for cm, st in late_arrivals)  # … and is fine
    grade1 = [a for a in j.assignments.values() if s.grade_of_group(a.sg_id) == 1 and a.name == "Не предусмотрено"]
    assert grade1 and all(("CMP002", (("cm", a.issue_cm_id),)) not in truth for a in grade1)


async def test_items_appear_only_once_their_entry_time_has_passed() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", control=True))
    topic = next(t for t in emu.journal.topics.values() if t.at.date() > date(2026, 10, 1))
    async with client(emu) as c:
        await login(c)
        for clock, visible in ((topic.at - timedelta(seconds=1), False), (topic.at, True)):
            await c.post("/_emulator/clock", json={"now": clock.isoformat()})
            edit = (await c.get("/webapi/grade/journal/edit", params={"cmid": topic.cm_id})).json()
            assert (edit["lesson"] is not None) is visible
            if visible:
                assert edit["lesson"]["lessonName"] == topic.text
        assert (await c.post("/_emulator/clock", json={"advance_seconds": 60})).json()["now"] == (
            topic.at + timedelta(seconds=60)
        ).isoformat(timespec="seconds")


async def test_control_endpoint_exists_only_in_test_mode() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", control=False))
    async with client(emu) as c:
        assert (await c.get("/_emulator/clock")).status_code == 404


async def test_rights_teacher_student_parent() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", clock=AS_OF))
    s = emu.school
    teacher_acc = next(a for a in emu.accounts.values() if a.kind == "teacher" and not a.role_groups)
    own = [g for g in s.groups.values() if g.teacher_id == teacher_acc.user_id]
    other = [g for g in s.groups.values() if not emu.may_read_group(_fake(emu, teacher_acc.user_id), g.id)]
    term = s.terms_for_group(own[0].id)[1]
    async with client(emu) as c:
        await login(c, teacher_acc.login, teacher_acc.password)
        ok = await c.get("/webapi/grade/journal", params={"sgId": own[0].id, "termId": term.id})
        assert ok.status_code == 200
        if other:
            t2 = s.terms_for_group(other[0].id)[1]
            assert (
                await c.get("/webapi/grade/journal", params={"sgId": other[0].id, "termId": t2.id})
            ).status_code == 403
        mine = (await c.get("/webapi/users/teacher/subjectgroups")).json()
        assert {g["id"] for g in mine} == {g.id for g in own}
    student = next(st for st in s.students.values() if st.leave_at is None)
    async with client(emu) as c:
        await login(c, student.login, student.password)
        init = (await c.get("/webapi/student/diary/init")).json()
        assert init["students"][0]["studentId"] == student.id
        monday = AS_OF.date() - timedelta(days=AS_OF.weekday() + 21)
        diary = (
            await c.get(
                "/webapi/student/diary",
                params={"studentId": student.id, "weekStart": str(monday), "weekEnd": str(monday + timedelta(days=6))},
            )
        ).json()
        lessons = [le for d in diary["weekDays"] for le in d["lessons"]]
        assert lessons and {"classmeetingId", "startTime", "subjectName"} <= set(lessons[0])
        assign = next(a for le in lessons for a in le.get("assignments", []))
        details = (
            await c.get(f"/webapi/student/diary/assigns/{assign['id']}", params={"studentId": student.id})
        ).json()
        assert details["teachers"][0]["id"] in s.staff
        assert (await c.get("/webapi/grade/journal", params={"sgId": own[0].id, "termId": term.id})).status_code == 403
        other_student = next(x for x in s.students if x != student.id)
        assert (await c.get("/webapi/student/diary", params={"studentId": other_student})).status_code == 403
        assert (await c.get("/webapi/announcements")).json()[0]["author"]["id"] == s.deputy_id


def _fake(emu: Emulator, user_id: int) -> Any:
    from adapters.emulator.protocol import Session

    return Session("x", "y", user_id, "teacher", "t", 1000)


async def test_writes_are_refused_and_logged() -> None:
    emu = Emulator(EmulatorSettings(size="tiny"))
    async with client(emu) as c:
        await login(c)
        cm = next(iter(emu.school.lessons))
        r = await c.post("/webapi/grade/journal/edit", data={"cmid": cm, "lessonId": -1})
        assert r.status_code == 403
        assert (await c.post("/webapi/grade/journal/quickedit", json={"sgId": 1, "results": []})).status_code == 403
    assert ("POST", "/webapi/grade/journal/edit") in emu.write_attempts
    assert ("POST", "/webapi/grade/journal/quickedit") in emu.write_attempts
    assert ("POST", "/webapi/login") not in emu.write_attempts


async def test_directory_endpoints_shapes(small: Emulator) -> None:
    s = small.school
    async with client(small) as c:
        await login(c)
        classes = (await c.get("/webapi/classes", params={"expand": "chiefs"})).json()
        assert {"id", "name", "grade", "letter", "chiefs"} <= set(classes[0])
        cls = s.classes[classes[0]["id"]]
        sgs = (await c.get("/webapi/subjectgroups", params={"classId": cls.id})).json()
        assert sgs and all(g["teachers"] for g in sgs)
        terms = (await c.get("/webapi/terms")).json()
        assert {"id", "termName", "termTypeId", "startDate", "endDate", "schoolYearId"} <= set(terms[0])
        found = (await c.post("/webapi/terms/search", json={"classIds": [cls.id]})).json()
        assert {t["termTypeId"] for t in found} == {cal.term_type_for_grade(cls.grade)}
        meetings = (
            await c.get(
                "/webapi/schedule/classmeetings",
                params=[("start", "2026-12-07T00:00:00"), ("end", "2026-12-11T00:00:00"), ("classId", cls.id)],
            )
        ).json()
        assert meetings and {"id", "day", "number", "subjectGroupId", "scheduleTimeId"} <= set(meetings[0])
        teacher = s.groups[sgs[0]["id"]].teacher_id
        by_teacher = (
            await c.get(
                "/webapi/schedule/classmeetings",
                params={"start": "2026-12-07", "end": "2026-12-11", "teacherId": teacher},
            )
        ).json()
        assert by_teacher
        sg = sgs[0]["id"]
        term = s.terms_for_group(sg)[1]
        students = (await c.get("/webapi/grade/studentList", params={"sgid": sg, "termId": term.id})).json()
        assert {"id", "fullName", "free", "individualEduc"} == set(students[0])
        assert (await c.get("/webapi/subjectgroupstudents", params={"sgId": sg, "termId": term.id})).json() == students
        reasons = (await c.get("/webapi/grade/attendance/reasons")).json()
        assert {r["mark"] for r in reasons} == {"УП", "НП", "ОТ", "Б", "ОП"}
        plan = (await c.get("/webapi/subjectplans/getForSubjectGroup", params={"sgId": sg})).json()
        if plan["subjectPlanId"] is not None:
            lesson = (await c.get("/webapi/subjectplans/lessons", params={"lessonId": plan["lessons"][0]["id"]})).json()
            assert lesson["lessonName"] == plan["lessons"][0]["lessonName"]
        journal = (await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": term.id})).json()
        assert {"journals", "editLimit", "markSettings"} <= set(journal)
        jr = journal["journals"][0]
        assert {
            "subjectGroupId",
            "students",
            "classMeeting",
            "assignments",
            "marks",
            "attendance",
            "totals",
            "lastAccess",
        } <= set(jr)
        if jr["attendance"]:
            assert "classmeetingId" in jr["attendance"][0]  # lower-case m, unlike assignments' classMeetingId
        assert "classMeetingId" in jr["assignments"][0]
        assert (await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": 1})).status_code == 400


# --- every ground-truth line is visible in the served data at the right time ------------------


async def _edit(c: httpx.AsyncClient, cm: int) -> dict[str, Any]:
    return (await c.get("/webapi/grade/journal/edit", params={"cmid": cm})).json()


async def _at(c: httpx.AsyncClient, when: datetime) -> None:
    await c.post("/_emulator/clock", json={"now": when.isoformat()})


async def test_every_ground_truth_line_is_visible_in_served_data() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", seed=2, control=True, clock=AS_OF))
    s = emu.school
    start = date(2026, 11, 9)
    truth = ground_truth(s, emu.journal, start, AS_OF)
    assert {v.rule for v in truth} >= {"TML001", "TML002", "TML003", "DEN001", "FIN002"}
    journals: dict[tuple[int, int], dict[str, Any]] = {}
    async with client(emu) as c:
        await login(c)

        async def journal_for(sg: int, term_id: int) -> dict[str, Any]:
            if (sg, term_id) not in journals:
                await _at(c, AS_OF)
                r = await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": term_id})
                journals[(sg, term_id)] = r.json()["journals"][0]
            return journals[(sg, term_id)]

        for v in truth:
            ent = dict(v.entity)
            if "cm" in ent:
                lesson = s.lessons[ent["cm"]]
                deadline = datetime.combine(lesson.day, time(16, 0))
                await _at(c, deadline)
                at_deadline = await _edit(c, lesson.id)
                await _at(c, AS_OF)
                now = await _edit(c, lesson.id)
                if v.rule == "TML001":
                    assert at_deadline["lesson"] is None, v
                elif v.rule == "CMP001":
                    assert now["lesson"]["lessonName"] == v.note.split("'")[1], v
                elif v.rule == "TML003":
                    assert not [a for a in at_deadline.get("assignments") or [] if a["typeId"] != 3], v
                elif v.rule == "TML004":
                    late = [r for a in now["assignments"] for r in a["results"] if r["mark"] is not None]
                    early = [
                        r for a in at_deadline.get("assignments") or [] for r in a["results"] if r["mark"] is not None
                    ]
                    assert len(late) > len(early), v
                elif v.rule in ("MRK003", "MRK004", "MRK005", "ATT001", "ATT002"):
                    sid = ent["student"]
                    codes = {a["studentId"]: a["reason"] for a in now["attendance"]}
                    marks = {r["studentId"] for a in now["assignments"] for r in a["results"] if r["mark"] is not None}
                    assert sid in codes or sid in marks, v
                    if v.rule == "ATT002":
                        third = cal.next_school_day(cal.next_school_day(cal.next_school_day(lesson.day)))
                        nxt = datetime.combine(third, time(23, 59))  # ruling R12: the end of the 3rd school day
                        await _at(c, nxt)
                        then = {a["studentId"]: a["reason"] for a in (await _edit(c, lesson.id))["attendance"]}
                        assert then[sid] == "ОТ", v
                    if v.rule == "MRK005":
                        term = s.term_of(lesson.sg_id, lesson.day)
                        assert term is not None
                        listed = {x["id"]: x for x in (await journal_for(lesson.sg_id, term.id))["students"]}
                        assert listed[sid]["free"] is True, v
                elif v.rule == "TML002":
                    pass  # homework is checked through the journal below
                elif v.rule == "CMP002":
                    given = [a for a in emu.journal.assignments_by_sg[lesson.sg_id] if a.issue_cm_id == lesson.id]
                    assert given and given[0].name != "Не предусмотрено"
            if v.rule == "TML002":
                lesson = s.lessons[ent["cm"]]
                term = s.term_of(lesson.sg_id, lesson.day)
                assert term is not None
                await _at(c, datetime.combine(lesson.day, time(16, 0)))
                r = await c.get("/webapi/grade/journal", params={"sgId": lesson.sg_id, "termId": term.id})
                hw = [
                    a
                    for a in r.json()["journals"][0].get("assignments") or []
                    if a["typeId"] == 3 and a["date"].startswith(lesson.day.isoformat())
                ]
                grade1 = s.grade_of_group(lesson.sg_id) == 1
                assert not [a for a in hw if (a["name"] == "Не предусмотрено" if grade1 else a["name"].strip())], v
            elif v.rule in ("MRK001", "MRK002", "TML005"):
                a = emu.journal.assignments[ent["assignment"]]
                lesson = s.lessons[a.cm_id]
                term = s.term_of(lesson.sg_id, lesson.day)
                assert term is not None
                jr = await journal_for(lesson.sg_id, term.id)
                marks = [m for m in jr.get("marks") or [] if m["assignmentId"] == a.id]
                if v.rule == "TML005":
                    deadline = datetime.combine(lesson.day + timedelta(days=7), time(23, 59, 59))
                    await _at(c, deadline)
                    r = await c.get("/webapi/grade/journal", params={"sgId": lesson.sg_id, "termId": term.id})
                    then = [
                        m
                        for m in r.json()["journals"][0].get("marks") or []
                        if m["assignmentId"] == a.id and m["mark"] is not None
                    ]
                    assert len(then) < len([m for m in marks if m["mark"] is not None]) or not then, v
                else:
                    assert any(m["studentId"] == ent["student"] and m["mark"] is not None for m in marks), v
            elif v.rule in ("DEN001", "FIN001", "FIN002", "FIN003"):
                jr = await journal_for(ent["sg"], ent["term"])
                totals = {t["studentId"]: t for t in (jr.get("totals") or [{}])[0].get("marks", [])}
                if v.rule == "FIN002":
                    term = s.terms[ent["term"]]
                    await _at(c, datetime.combine(term.end + timedelta(days=3), time(23, 59, 59)))
                    r = await c.get("/webapi/grade/journal", params={"sgId": ent["sg"], "termId": ent["term"]})
                    then = {t["studentId"] for t in (r.json()["journals"][0].get("totals") or [{}])[0].get("marks", [])}
                    assert ent["student"] not in then, v
                elif v.rule in ("FIN001", "FIN003"):
                    assert totals[ent["student"]]["markType"] == 0, v
                n = sum(1 for m in jr.get("marks") or [] if m["studentId"] == ent["student"] and m["mark"] is not None)
                if v.rule == "DEN001":
                    assert n == int(v.note.split()[0]), v
            elif v.rule == "TML006":
                await _at(c, AS_OF)
                plan = (await c.get("/webapi/subjectplans/getForSubjectGroup", params={"sgId": ent["sg"]})).json()
                assert plan["subjectPlanId"] is None and plan["lessons"] == []
