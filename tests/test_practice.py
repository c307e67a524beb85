"""The generated school plants real practice (adapters/emulator/practice.py), and the ground truth reads it by the
casebook's rulings (adapters/emulator/truth.py), never by the rules engine."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time

import pytest

from adapters.emulator.journal import HOMEWORK, HOSPITAL, Journal, generate_journal
from adapters.emulator.practice import CLEAN, SITUATIONS
from adapters.emulator.school import LEAVE_DAY, WORKING_SATURDAY, School, generate_structure
from adapters.emulator.situations import situation_counts, situations
from adapters.emulator.truth import DEPUTY, deadline_of, ground_truth, lesson_teacher
from tests.emu import generated_school

START, AS_OF = date(2026, 9, 1), datetime(2027, 6, 1, 7, 0)


@pytest.fixture(scope="module")
def small() -> tuple[School, Journal]:
    return generated_school("small", 1)  # generated once per test process (tests/emu.py), read here


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_small_school_shows_every_situation(seed: int) -> None:
    found = situations(*generated_school("small", seed))
    counts = {kind: len(found.get(kind, ())) for kind in SITUATIONS}
    assert all(counts.values()), {k: n for k, n in counts.items() if not n}


def test_a_clean_school_plants_none() -> None:
    school = generate_structure(1, "small", practice=CLEAN)
    found = situations(school, generate_journal(school, practice=CLEAN))
    assert not {k for k in SITUATIONS if found.get(k)}


def test_six_day_week_has_saturday_lessons_and_five_day_only_the_working_one() -> None:
    five = generate_structure(1, "tiny")
    six = generate_structure(1, "tiny", week=6)
    assert {le.day for le in five.lessons.values() if le.day.weekday() == 5} == {WORKING_SATURDAY}
    saturdays = {le.day for le in six.lessons.values() if le.day.weekday() == 5}
    assert len(saturdays) > 25 and all(six.is_school_day(d) for d in saturdays)
    with pytest.raises(ValueError, match="5 или 6"):
        generate_structure(1, "tiny", week=7)


def test_double_lessons_share_their_homework(small: tuple[School, Journal]) -> None:
    """R8: one homework per run, given at one of its lessons and due at the next run; a missing one is TML002 on
    the run's last lesson only."""
    school, journal = small
    runs = [run for run in school.runs() if len(run) >= 2 and school.is_school_day(run[0].day)]
    assert runs
    for run in runs[:200]:
        given = [a for le in run for a in journal.homework_given.get(le.id, [])]
        assert len(given) <= 1
    truth = ground_truth(school, journal, START, AS_OF)
    tml002 = {dict(v.entity)["cm"] for v in truth if v.rule == "TML002"}
    assert not any(le.id in tml002 for run in runs for le in run[:-1])
    missing = [
        run
        for run in runs
        if not any(journal.homework_given.get(le.id) for le in run)
        and date(2026, 11, 9) <= run[0].day <= date(2026, 12, 20)  # no vacation after it (R9)
        and run[-1].id not in school.cancelled
        and (school.groups[run[0].sg_id].class_id, run[0].day) not in school.quarantine
    ]
    assert missing and all(run[-1].id in tml002 for run in missing)


def test_truth_by_the_rulings(small: tuple[School, Journal]) -> None:
    school, journal = small
    truth = ground_truth(school, journal, START, AS_OF)
    by_rule = Counter(v.rule for v in truth)
    keyed = {(v.rule, dict(v.entity).get("cm")): v for v in truth}
    # R7: the holiday's lessons are CAL001 for the deputy, and no lesson remark; the quarantine day is one CAL002
    holiday = [le for le in school.lessons.values() if not school.is_school_day(le.day)]
    assert holiday and all(keyed[("CAL001", le.id)].owner == DEPUTY for le in holiday)
    assert not any((rule, le.id) in keyed for le in holiday for rule in ("TML001", "TML002", "TML003"))
    ((cls, day),) = school.quarantine
    key = day.year * 10000 + day.month * 100 + day.day
    assert any(v.rule == "CAL002" and dict(v.entity) == {"class": cls, "date": key} for v in truth)
    quarantined = [le for le in school.lessons.values() if (school.groups[le.sg_id].class_id, le.day) == (cls, day)]
    assert quarantined and not any(("TML001", le.id) in keyed for le in quarantined)
    # R1: a lesson ending after 16:00 has until the end of its day
    late = [le for le in school.lessons.values() if school.bells[le.number - 1][1] > time(16, 0)]
    assert late and all(deadline_of(school, le).time() == time(23, 59, 59) for le in late)
    # R6: a substituted lesson's remarks go to the substitute: the one the schedule records, or the one who entered
    # the topic on the lesson day (the access report's user)
    recorded = [le for le in school.lessons.values() if le.teacher_id is not None]
    assert recorded and all(lesson_teacher(school, journal, le) == le.teacher_id for le in recorded)
    seen = [
        le
        for le in school.lessons.values()
        if le.id in school.substitutes
        and le.teacher_id is None
        and (topic := journal.topics.get(le.id)) is not None
        and topic.at.date() == le.day
    ]
    assert seen and all(lesson_teacher(school, journal, le) == school.substitutes[le.id] for le in seen)
    owned = [v for v in truth if dict(v.entity).get("cm") in {le.id for le in recorded} and v.rule != "ATT002"]
    assert owned and all(v.owner in (school.lessons[dict(v.entity)["cm"]].teacher_id, DEPUTY) for v in owned)
    # R6: the departed teacher's lessons go to the deputy, the successor's to the successor
    departed = next(t for t in school.staff.values() if t.left_on == LEAVE_DAY)
    assert not any(v.owner == departed.id for v in truth)
    # R19: extracurricular groups only get topic and attendance items
    extra = {g.id for g in school.groups.values() if g.extracurricular}
    allowed = {"TML001", "CMP001", "ATT001", "ATT002", "ATT003"}
    assert (
        not {v.rule for v in truth if "cm" in dict(v.entity) and school.lessons[dict(v.entity)["cm"]].sg_id in extra}
        - allowed
    )
    # R4, R3: hospital and make-up marks are never late
    hospital = {a.id for a in journal.assignments.values() if a.type_id == HOSPITAL}
    assert hospital and not any(dict(v.entity).get("assignment") in hospital for v in truth)
    assert by_rule["TML001"] and by_rule["DEN001"]


def test_truth_ignores_corrections_of_on_time_marks(small: tuple[School, Journal]) -> None:
    """R17: a mark changed days later is no late entry."""
    school, journal = small
    changed = [
        (a, m)
        for a in journal.assignments.values()
        for m in journal.marks.get(a.id, [])
        if m.changes and a.type_id != HOMEWORK
    ]
    assert changed
    truth = ground_truth(school, journal, START, AS_OF)
    late = {dict(v.entity).get("cm") for v in truth if v.rule == "TML004"}
    on_time = [a for a, m in changed if m.at <= deadline_of(school, school.lessons[a.cm_id])]
    assert on_time and not any(a.cm_id in late and all(
        x.at <= deadline_of(school, school.lessons[a.cm_id]) for x in journal.marks[a.id]
    ) for a in on_time)  # fmt: skip


def test_situation_counts_name_every_finding(small: tuple[School, Journal]) -> None:
    school, journal = small
    truth = ground_truth(school, journal, date(2026, 12, 7), datetime(2027, 1, 4, 7))
    counts = situation_counts(school, journal, (dict(v.entity) for v in truth))
    assert counts["обычные ситуации"] > 0 and counts["quarantine"] == 1
    assert sum(counts.values()) >= len(truth)
