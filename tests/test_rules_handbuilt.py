"""Rules checked against hand-built journals written from the Положение, not against the emulator.

The emulator and the engine share one reading of the Положение; these cases are built by hand from the clauses,
each with the on-time and the late side of its boundary, so that a rule that agrees with the emulator for the
wrong reason still fails here. Thresholds the Положение leaves to the school (DEN001, FIN001: ruling R13) are
passed explicitly, as a school that turns those rules on would configure them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from rules.catalogue import REGISTRY
from tests.mirror import SG, SG1, Mirror, cw

Q1, Q1_START, Q1_END = 101, "2026-09-01", "2026-10-25"  # 1st quarter, ends on a Sunday
AFTER_Q1 = "2026-11-05T07:00:00"  # the check: after the autumn vacation


@pytest.fixture
def m(tmp_path: Path) -> Mirror:
    mirror = Mirror(tmp_path / "c.db")
    mirror.add_term(Q1, "1 четверть", 1, Q1_START, Q1_END)
    return mirror


def entities(result: Any) -> set[tuple[Any, ...]]:
    return {tuple(sorted(f.entity.items())) for f in result.findings}


def twice_a_week(first_cm: int, weeks: int) -> list[tuple[int, str]]:
    """Monday and Wednesday lessons from 07.09.2026 for ``weeks`` weeks: a group with 2 hours a week."""
    out = []
    monday = date(2026, 9, 7)
    for w in range(weeks):
        for shift in (0, 2):
            out.append((first_cm + len(out), (monday + timedelta(weeks=w, days=shift)).isoformat()))
    return out


def quarter_journal(m: Mirror, marks_per_student: dict[int, int], **kw: Any) -> None:
    """Group 8а/Алгебра in Q1, 2 h a week for 7 weeks; each lesson has one classwork assignment; student s gets
    ``marks_per_student[s]`` marks (a «4», on the first lessons)."""
    lessons = twice_a_week(1000, 7)
    assignments = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    marks = [(5000 + i, s, "4") for s, n in marks_per_student.items() for i in range(n)]
    students = tuple(sorted({*marks_per_student, *kw.pop("students", ())}))
    # the mirror has read the group's list since the term's first day: who was there from the start is known (R13)
    m.journal("2026-09-01T01:00:00", SG, lessons=lessons, students=students, term=Q1)
    m.journal("2026-10-28T01:00:00", SG, lessons=lessons, assignments=assignments, marks=marks, students=students,
              term=Q1, **kw)  # fmt: skip


# --- DEN001: marks accumulate in line with the weekly load (4.2.5.2) --------------------------------------

DENSITY = {"DEN001": {"quarter": {"1": 3, "2": 5, "3": 7}, "half_year": {"1": 5, "2": 8, "3": 10}}}


def test_den001_counts_against_the_weekly_hours_and_skips_the_exempt_and_the_departed(m: Mirror) -> None:
    # 2 lessons a week -> 5 marks needed in a quarter (the school's table)
    quarter_journal(m, {1: 5, 2: 4, 3: 0}, individual=(3,))
    found = entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY))
    assert found == {(("sg", SG), ("student", 2), ("term", Q1))}  # 4 < 5; 5 is enough; home schooling is exempt


def test_den001_not_before_the_term_ends_and_not_in_grade_1(m: Mirror) -> None:
    quarter_journal(m, {1: 0, 2: 5})
    assert entities(m.run("DEN001", "2026-10-20T07:00:00", Q1_START, rule_params=DENSITY)) == set()  # term runs
    lessons = [(cm + 100, day) for cm, day in twice_a_week(1000, 7)]
    m.journal("2026-10-28T01:00:00", SG1, lessons=lessons, students=(7,), term=Q1)  # grade 1: no marks at all
    assert entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY)) == {
        (("sg", SG), ("student", 1), ("term", Q1))
    }


def test_den001_a_student_who_left_before_the_end_is_not_counted(m: Mirror) -> None:
    lessons = twice_a_week(1000, 7)
    work = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    marks = [(5000 + i, 3, "5") for i in range(6)]  # a classmate's marks: the group is marked
    m.journal("2026-09-01T01:00:00", SG, lessons=lessons, students=(1, 2, 3), term=Q1)  # the list from the start
    m.journal("2026-09-20T01:00:00", SG, lessons=lessons, students=(1, 2, 3), term=Q1, assignments=work)
    m.journal(
        "2026-10-01T01:00:00",
        SG,
        lessons=lessons,
        students=(1, 2, 3),
        free=(2,),
        term=Q1,
        assignments=work,
        marks=marks,
    )  # fmt: skip  (2 left in Q1)
    found = entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY))
    assert found == {(("sg", SG), ("student", 1), ("term", Q1))}


def test_den001_and_fin001_need_the_schools_numbers_and_follow_r13s_exclusions(m: Mirror) -> None:
    """Ruling R13: without the school's thresholds neither rule runs; with them, a student away (Б, УП) for more
    than half the lessons and one exempt from the subject (term mark «осв») are not counted."""
    lessons = twice_a_week(1000, 7)
    work = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    marks = [(5000 + i, 1, "4") for i in range(2)] + [(5000 + i, 4, "5") for i in range(6)]
    away = [(cm, 2, "Б") for cm, _day in lessons[:10]]
    m.journal("2026-10-28T01:00:00", SG, lessons=lessons, assignments=work, marks=marks, attendance=away,
              students=(1, 2, 3, 4), term=Q1, term_marks=[(1, "4", 0), (2, "4", 0), (3, "осв", -2)])  # fmt: skip
    assert entities(m.run("DEN001", AFTER_Q1, Q1_START)) == set()
    assert entities(m.run("FIN001", AFTER_Q1, Q1_START)) == set()
    expected = {(("sg", SG), ("student", 1), ("term", Q1))}
    assert entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY)) == expected
    assert entities(m.run("FIN001", AFTER_Q1, Q1_START, rule_params={"FIN001": {"quarter": 3}})) == expected


def test_den001_on_the_first_day_a_student_without_any_trace_is_not_counted(m: Mirror) -> None:
    """The mirror began after the term did (a first sync at the quarter's end): the server's list gives no joining
    date, so a student with no mark and no absence all term may have joined at its very end — not counted (R13,
    R0); one with a trace in the first week was there from the start and is counted as usual."""
    lessons = twice_a_week(1000, 7)
    work = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    marks = [(5000, 1, "4")] + [(5000 + i, 3, "5") for i in range(6)]  # 1: one mark on the first lesson
    m.journal("2026-10-28T01:00:00", SG, lessons=lessons, assignments=work, marks=marks, students=(1, 2, 3), term=Q1)
    found = entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY))
    assert found == {(("sg", SG), ("student", 1), ("term", Q1))}  # 2: no trace at all, not counted


def test_den001_a_student_with_osv_codes_is_exempt_before_his_term_mark(m: Mirror) -> None:
    """R11 + R13: «ОСВ» on the group's lessons says the student is exempt from the subject; with no term mark «осв»
    entered yet he is still not counted (CB-34)."""
    lessons = twice_a_week(1000, 7)
    work = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    marks = [(5000 + i, 1, "5") for i in range(6)]
    osv = [(cm, 2, "ОСВ") for cm, _day in lessons[:3]]
    m.journal("2026-09-01T01:00:00", SG, lessons=lessons, students=(1, 2, 3), term=Q1)
    m.journal("2026-10-28T01:00:00", SG, lessons=lessons, assignments=work, marks=marks, attendance=osv,
              students=(1, 2, 3), term=Q1)  # fmt: skip
    found = entities(m.run("DEN001", AFTER_Q1, Q1_START, rule_params=DENSITY))
    assert found == {(("sg", SG), ("student", 3), ("term", Q1))}  # 2 is exempt; 3 has no mark at all


# --- FIN001 / FIN003: a term mark and the current marks behind it (5.9) -----------------------------------


def test_fin001_a_numeric_term_mark_needs_the_minimum_of_current_marks(m: Mirror) -> None:
    quarter_journal(
        m,
        {1: 5, 2: 2, 3: 0, 4: 3},
        term_marks=[(1, "4", 0), (2, "4", 0), (3, "н/а", -1), (4, "4", 0)],
    )
    found = entities(m.run("FIN001", AFTER_Q1, Q1_START, rule_params={"FIN001": {"quarter": 3}}))
    # 2 marks behind a «4»: too few; 3 is the minimum; «н/а» is what the Положение asks for when there are too few
    assert found == {(("sg", SG), ("student", 2), ("term", Q1))}


def test_fin003_a_term_mark_far_from_the_average_is_deputy_information(m: Mirror) -> None:
    lessons = twice_a_week(1000, 3)
    assignments = [cw(5000 + i, cm, day=day) for i, (cm, day) in enumerate(lessons)]
    # student 1: 3,3,4,4,3 -> 3.4, term «5» (gap 1.6); student 2: 4,4,3,4,3 -> 3.6, term «4» (gap 0.4)
    marks = [(5000 + i, 1, v) for i, v in enumerate("33443")] + [(5000 + i, 2, v) for i, v in enumerate("44343")]
    m.journal("2026-10-28T01:00:00", SG, lessons=lessons, assignments=assignments, marks=marks, students=(1, 2),
              term=Q1, term_marks=[(1, "5", 0), (2, "4", 0)])  # fmt: skip
    result = m.run("FIN003", AFTER_Q1, Q1_START)
    assert entities(result) == {(("sg", SG), ("student", 1), ("term", Q1))}
    assert "3,40" in result.findings[0].message
    rule = REGISTRY["FIN003"]
    assert rule.owner == "deputy" and rule.severity == "info"  # never a remark in a teacher's list (R0)


# --- FIN002: term marks within N days after the term (4.2.5.4) ----------------------------------------------


def test_fin002_term_marks_within_three_days_after_the_term(m: Mirror) -> None:
    lessons = twice_a_week(1000, 7)
    everyone = (1, 2, 3, 4)
    # 27.10 (day 2 after the end): 1 has «4», 3 is exempt from the subject («осв» counts as given)
    on_time = [(1, "4", 0), (3, "осв", -2)]
    m.journal("2026-10-27T01:00:00", SG, lessons=lessons, students=everyone, term=Q1, term_marks=on_time)
    # 29.10 01:00, after the 28.10 23:59 deadline: 2 and 4 still have none
    m.journal("2026-10-29T01:00:00", SG, lessons=lessons, students=everyone, term=Q1, term_marks=on_time)
    # 30.10: 4's mark appears only now (late, and settled), 2 still has none
    late = [*on_time, (4, "5", 0)]
    m.journal("2026-10-30T01:00:00", SG, lessons=lessons, students=everyone, term=Q1, term_marks=late)
    found = entities(m.run("FIN002", AFTER_Q1, Q1_START))
    assert found == {(("sg", SG), ("student", 2), ("term", Q1)), (("sg", SG), ("student", 4), ("term", Q1))}


def test_fin002_without_an_observation_after_the_deadline_is_undecided(m: Mirror) -> None:
    lessons = twice_a_week(1000, 7)
    m.journal("2026-10-27T01:00:00", SG, lessons=lessons, students=(1, 2), term=Q1)
    before = m.run("FIN002", AFTER_Q1, Q1_START)
    assert before.findings == [] and before.undecided["FIN002"] == 2  # never read after the deadline
    # both marks are first seen after the deadline, but nothing was read between the deadline and then: they may
    # have been entered on time (28.10) — undecided, never a violation (R18)
    both = [(1, "4", 0), (2, "5", 0)]
    m.journal("2026-10-30T01:00:00", SG, lessons=lessons, students=(1, 2), term=Q1, term_marks=both)
    result = m.run("FIN002", AFTER_Q1, Q1_START)
    assert result.findings == [] and result.undecided["FIN002"] == 2


# --- MRK005: nothing is entered for a student after they left (5.7) ----------------------------------------


def test_mrk005_marks_and_codes_after_the_leave_day(m: Mirror) -> None:
    # student 3 is shown as left from Thursday 26.11; lessons on 26.11 (that day), 30.11 and 01.12
    lessons = [(1, "2026-11-26"), (2, "2026-11-30"), (3, "2026-12-01")]
    work = [cw(80, 1, day="2026-11-26"), cw(81, 2, day="2026-11-30")]
    m.journal("2026-11-20T01:00:00", SG, lessons=lessons[:1], assignments=work[:1])
    m.journal("2026-11-26T16:05:00", SG, lessons=lessons[:1], assignments=work[:1], free=(3,))
    m.journal(
        "2026-12-02T01:00:00",
        SG,
        lessons=lessons,
        assignments=work,
        marks=[(80, 3, "4"), (81, 3, "5"), (81, 1, "4")],
        attendance=[(3, 3, "НП")],
        free=(3,),
    )
    found = entities(m.run("MRK005", "2026-12-02T07:00:00", "2026-11-23"))
    # the mark of the leave day itself is not after it; a classmate's mark is nobody's business here
    assert found == {(("cm", 2), ("student", 3)), (("cm", 3), ("student", 3))}


# --- TML006: the КТП within a week of the work programme's approval (3.5) ---------------------------------


def test_tml006_ktp_loaded_missing_or_unknown(m: Mirror) -> None:
    m.add_group(30, "8а/Физика", 1)
    m.ktp("2026-09-05T01:00:00", SG, loaded=True)  # in time
    m.ktp("2026-09-10T01:00:00", SG1, loaded=False)  # read after the deadline (08.09 23:59): no plan
    # group 30 was never read after the deadline: undecided
    result = m.run("TML006", "2026-09-14T07:00:00", Q1_START, work_program_approved=date(2026, 9, 1))
    assert entities(result) == {(("sg", SG1),)} and result.undecided["TML006"] == 1
    before = m.run("TML006", "2026-09-08T12:00:00", Q1_START, work_program_approved=date(2026, 9, 1))
    assert before.findings == [] and not before.undecided["TML006"]  # the week is not over yet


# --- OCP003 (federal recommendation, preview): no control work on the day's first or last lesson -----------


def test_ocp003_control_work_on_the_first_or_last_lesson_of_the_class_day(m: Mirror) -> None:
    m.add_group(30, "8а/Физика", 1)
    m.add_group(31, "8а/Музыка", 1)
    monday, tuesday = "2026-11-23", "2026-11-24"
    algebra = [(1, monday, 1), (2, monday, 3), (3, tuesday, 5), (4, tuesday, 2)]  # 4 lessons over two days
    physics = [(11, monday, 2), (12, monday, 4), (13, tuesday, 1)]
    kr = 4  # «Контрольная работа»
    m.journal(
        "2026-11-25T01:00:00",
        SG,
        lessons=algebra,
        assignments=[cw(90, 1, kr, monday), cw(91, 2, kr, monday), cw(92, 3, kr, tuesday)],
    )
    m.journal("2026-11-25T01:00:00", 30, lessons=physics)
    wednesday = "2026-11-25"
    m.journal("2026-11-26T01:00:00", 31, lessons=[(21, wednesday, 1)], assignments=[cw(93, 21, kr, wednesday)])
    found = entities(m.run("OCP003", "2026-11-26T07:00:00", monday))
    # Monday: algebra's lesson 1 is the day's first (lesson 3 is in the middle, physics has 4);
    # Tuesday: lesson 5 is the day's last; Wednesday: music's only lesson is first and last, but a subject with
    # one lesson a week is exempt from the recommendation
    assert found == {(("cm", 1),), (("cm", 3),)}
