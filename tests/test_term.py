"""A term with people in it (issue #30, item 6): reading letters as sent, teachers' fixes as later journal entries,
and a short simulated term through the real scheduler, SMTP and the cabinet's release rule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from adapters.emulator.answers import PROFILES_BY_NAME, Answering, Answers, SchoolProfile
from adapters.emulator.reports import class_rows
from adapters.emulator.school import PROFILES
from adapters.emulator.truth import ground_truth
from asurso_sync.remarks import Week, render_teacher
from asurso_sync.remarks.model import SETTLED_ADVICE, Footer, Part, Remark, TeacherList
from benchmarks.letters import parse
from tests.emu import tiny


def _remark(
    rule: str, ref: str, state: str, *, advice: str = "сделайте", late_what: str = "", record: str = ""
) -> Remark:
    return Remark(
        fingerprint=ref * 8,
        rule=rule,
        title=rule,
        severity="error",
        advice=advice,
        state=state,
        owner="teacher",
        teacher_id=5,
        class_name="7Б",
        subject="Алгебра",
        day=date(2026, 12, 8),
        lesson="урок 2",
        detail=f"{rule}: подробности",
        student=None,
        first_seen=date(2026, 12, 8),
        resolved_at=None,
        message="",
        cm=int(ref, 16),
        late_what=late_what,
        record=record,
    )


def test_a_rendered_letter_is_read_back_section_by_section() -> None:
    """The benchmark reads what the template renders: sections, their counts, tasks and records, no mismatch."""
    part = Part(
        new=[_remark("TML002", "a", "new")],
        records=[_remark("TML001", "b", "new", advice=SETTLED_ADVICE, late_what="тема", record="внесено позже срока")],
        still_open=[_remark("TML003", "c", "open")],
        resolved=[_remark("CMP001", "d", "resolved")],
    )
    footer = Footer("Школа", "Положение", "1", "0", "08.12.2026 07:00", "—", "")
    tl = TeacherList(Week.of(date(2026, 12, 8)), 5, "Иванова Анна Петровна", "t5@x", part, Part(), [], footer)
    letter = parse(render_teacher(tl).text)
    assert sorted(i.ref for i in letter.tasks) == ["aaaaaaaa", "cccccccc"]
    assert [i.ref for i in letter.records] == ["bbbbbbbb"]
    assert [i.kind for i in letter.items if i.ref == "dddddddd"] == ["resolved"]
    assert letter.mismatches() == []


def test_numbers_that_disagree_with_their_sections_are_found() -> None:
    """R24: a header that counts more than is listed, and the deputy's «— 22» over 20 lines, are mismatches."""
    letter = parse(
        "СПИСОК\nНовых: 3 · не устранено с прошлых недель: 0 · устранено за неделю: 0.\n\n"
        "НОВЫЕ ЗА НЕДЕЛЮ — 2\n  7Б, Алгебра\n  - 08.12: тема [TML001 · 0123abcd]\n  - 09.12: дз [TML002 · 0123abce]\n"
    )
    assert letter.mismatches() == ["«Новых: 3», в разделах 2"]
    info = "\n".join(f"- урок {n} [CAL001 · {n:08x}]" for n in range(20))
    summary = parse(
        f"СВОДКА\nНовых замечаний: 5\n\nДЛЯ СВЕДЕНИЯ ЗАМЕСТИТЕЛЯ ДИРЕКТОРА — 22\n{info}\n", header_line=False
    )
    assert summary.mismatches() == ["«ДЛЯ СВЕДЕНИЯ ЗАМЕСТИТЕЛЯ ДИРЕКТОРА»: 22, перечислено 20"]
    # headings as R22 words them are read too
    merged = parse("Внесено позже срока — исправлять нечего — 1\n  7Б, Алгебра: 08.12, урок 2 — тема [0123abcd]\n")
    assert [(s.kind, s.declared, len(s.items)) for s in merged.sections] == [("record", 1, 1)]
    # a late code (ATT003) is a record wherever today's letter lists it (R22)
    carried = parse("НЕ УСТРАНЕНЫ — 1\n  - 08.12 · Петров: код внесён поздно [ATT003 · 0123abcf]\n")
    assert [i.kind for i in carried.items] == ["record"]


def test_a_teachers_fix_is_a_later_entry_the_server_and_the_report_show() -> None:
    """A missing topic, fixed after the letter, appears with the moment it was entered: in the journal the
    server serves, in the access report, and the ground truth still counts the lesson late (TML001, a record)."""
    emu = tiny()
    s, j = emu.school, emu.journal
    lesson = next(
        le
        for le in sorted(s.lessons.values(), key=lambda le: (le.day, le.id))
        if le.day >= date(2026, 12, 1) and s.is_school_day(le.day) and le.id in j.topics
    )
    del j.topics[lesson.id]  # the teacher never entered it
    teacher = s.groups[lesson.sg_id].teacher_on(lesson.day)
    always = SchoolProfile(
        "test", "школа", {"diligent": 1}, 1.0, {p: Answering(1.0, (1, 1)) for p in PROFILES_BY_NAME["typical"].weights}
    )
    answers = Answers(s, j, always, seed=1)
    letter = datetime.combine(lesson.day + timedelta(days=7), time(7, 0))
    (fix,) = answers.answer(teacher, [("TML001", {"cm": lesson.id})], letter)
    assert fix.at.date() == letter.date() + timedelta(days=1) and time(16, 30) <= fix.at.time() <= time(21, 31)
    assert answers.apply_due(fix.at - timedelta(seconds=1)) == 0 and lesson.id not in j.topics
    assert answers.apply_due(fix.at) == 1
    topic = j.topics[lesson.id]
    assert topic.at == fix.at and topic.text and fix.applied == "тема"
    emu.reports.forget()
    cls = s.groups[lesson.sg_id].class_id
    assert any(r.at == fix.at and r.action.startswith("Тема урока") for r in class_rows(s, j, cls))
    truth = ground_truth(s, j, lesson.day, fix.at + timedelta(days=1))
    assert any(v.rule == "TML001" and dict(v.entity) == {"cm": lesson.id} for v in truth)  # entered late: a record
    # a fix of something nobody can enter any more (a late mark, TML004) is not planned at all, nor one the journal
    # no longer allows (the lesson is past its edit limit: read-only, R22)
    assert answers.answer(teacher, [("TML004", {"cm": lesson.id})], letter) == []
    assert answers.answer(teacher, [("TML003", {"cm": lesson.id})], letter + timedelta(days=14)) == []
    assert answers.read_only == 1


@pytest.mark.slow  # five weeks of a tiny school through the scheduler, SMTP and the cabinet (~1.5 min of CPU)
def test_a_short_term_keeps_the_letters_honest_and_fixes_shrink_them(tmp_path: Path) -> None:
    from benchmarks.term import Term, TermOptions, chart_svg, markdown

    # a tiny school has few findings a week: the deputy judges every one she can (the release rule is the cabinet's);
    # its teachers fix every task they still can, within two days — the mechanism under test, not a school's rates
    opt = TermOptions(profile="always", weeks=5, size="tiny", out=tmp_path, per_day=60, per_rule=20)
    typical = PROFILES_BY_NAME["typical"]
    always = SchoolProfile("always", "школа", typical.weights, 1.0, {p: Answering(1.0, (0, 2)) for p in PROFILES})
    result = Term(opt, always).run()
    assert result["errors"] == []
    weeks = result["weeks"]
    assert [w["week"] for w in weeks] == ["2027-W02", "2027-W03", "2027-W04", "2027-W05", "2027-W06"]
    assert (
        result["released"] and sum(w["letters"] for w in weeks) > 0
    )  # the deputy released rules, teachers got letters
    for w in weeks:  # what the harness says must be 0
        assert w["false_items"] == 0, w["false_examples"]
        assert w["teacher_count_mismatches"] == 0, w["count_mismatch_examples"]
        assert w["fixed_still_listed"] == 0  # a task the teacher fixed is gone from her next letter
    assert sum(result["fixes_entered"].values()) > 0  # the teachers entered things into the journal …
    answered = [w["last_week_tasks_fixed"] for w in weeks if w["last_week_tasks_fixed"] is not None]
    assert any(answered)  # … and last week's tasks left the next letters (what stays is past the edit limit)
    assert "<svg" in chart_svg([result]) and "| 2027-W06 |" in markdown([result], opt)


def test_the_deputys_shadow_block_counts_its_rules_per_teacher() -> None:
    """R23/R24: the summary's «В ТЕНИ — …— N» lists «name: RULE × n, …» per teacher; N is their sum."""
    block = "- Иванова А. П.: TML001 × 3, TML002 × 1\n- Петров И. И.: MRK001 × 2\n"
    summary = parse(
        f"СВОДКА\n\nВ ТЕНИ — УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ — 6\nТак их получили бы учителя.\n{block}", header_line=False
    )
    assert summary.mismatches() == []
    wrong = parse(
        f"СВОДКА\n\nВ ТЕНИ — УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ — 7\nТак их получили бы учителя.\n{block}", header_line=False
    )
    assert wrong.mismatches() == ["«В ТЕНИ — УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ»: 7, перечислено 6"]


def test_a_line_naming_several_findings_is_one_item_and_and_more_is_counted() -> None:
    """R24: one line per lesson names its children and all its findings («[ATT002 · 7fa5c516, 00e8388a]»); the
    deputy's «- и ещё 2 — в приложении» counts what is not printed. Neither is a mismatch."""
    letter = parse(
        "СПИСОК\nНовых: 1 · не устранено с прошлых недель: 0 · устранено за неделю: 0.\n\n"
        "НОВЫЕ ЗА НЕДЕЛЮ — 1\n  4а, Русский язык\n"
        "  - 14.12, урок 3 · А, Б: «ОТ» не уточнена [ATT002 · 951f6d93, 8afc36b9]\n"
    )
    assert [i.ref for i in letter.items] == ["951f6d93"] and letter.mismatches() == []
    info = "\n".join(f"- урок {n} [CAL001 · {n:08x}]" for n in range(20))
    summary = parse(
        f"СВОДКА\n\nДЛЯ СВЕДЕНИЯ ЗАМЕСТИТЕЛЯ ДИРЕКТОРА — 22\n{info}\n- и ещё 2 — в приложении\n", header_line=False
    )
    assert summary.mismatches() == []
