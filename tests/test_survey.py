"""``asurso-sync survey``: every assumption checked on a small sample of a served emulator, variants named, and a
bundle that keeps the structure of the answers and nothing of a person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.emulator.faults import Faults
from adapters.emulator.server import Emulator, EmulatorSettings
from asurso_sync import exitcodes
from asurso_sync.cli import app
from tests.emu import serve
from tests.sync_helpers import make_config

CLOCK = datetime(2026, 12, 14, 10, 0)


def _survey(runner: CliRunner, tmp_path: Path, emu: Emulator) -> tuple[int, str, dict[str, object]]:
    with serve(emu) as base:
        make_config(tmp_path, base_url=base)
        # no pacing between requests (0.3 s each by default: 25 requests were 8 s of waiting per survey)
        env = {
            "ASURSO_PASSWORD": "Сота-2026",
            "ASURSO_SYNC_ASURSO__BASE_URL": base,
            "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        }
        bundle = tmp_path / "bundle.json"
        result = runner.invoke(app, ["-c", str(tmp_path / "config.toml"), "survey", "--out", str(bundle)], env=env)
    text = " ".join(result.output.split())
    return result.exit_code, text, json.loads(bundle.read_text(encoding="utf-8")) if bundle.exists() else {}


@pytest.fixture
def plain(tmp_path: Path, runner: CliRunner) -> Iterator[tuple[Emulator, int, str, dict[str, object]]]:
    emu = Emulator(EmulatorSettings(size="tiny", clock=CLOCK))
    code, text, bundle = _survey(runner, tmp_path, emu)
    yield emu, code, text, bundle


def test_every_assumption_holds_on_the_emulator(plain: tuple[Emulator, int, str, dict[str, object]]) -> None:
    emu, code, text, bundle = plain
    # the one open line on the default emulator: like the evidence, it names no period of the year
    assert code == exitcodes.ATTENTION, text
    checks = bundle["checks"]
    assert isinstance(checks, list) and len(checks) >= 12
    assert [c["title"] for c in checks if c["verdict"] != "ok"] == ["Годовые отметки"]
    seen = " ".join(str(c["seen"]) for c in checks)
    assert "действия кодами" in seen and "без пользователя" in seen and "✓" in text
    assert "сначала удалён" in seen and "{taskId, queueKey}" in seen  # the real shapes, named
    variants = bundle["variants"]
    assert isinstance(variants, dict)
    assert {k: variants[k] for k in ("esrnsec", "report_layout", "report_period", "extracurricular", "ea_journal",
            "lesson_teacher", "year_marks", "renewal_token")} == {
        "esrnsec": "deletion_then_value", "report_layout": "log", "report_period": "action_date",
        "extracurricular": "subjects", "ea_journal": "absent", "lesson_teacher": "absent",
        "year_marks": "not_in_terms", "renewal_token": "not_tested"}  # fmt: skip
    assert variants["report_time_header"] == "дата и время изменений" and "detailed" in variants["report_cells"]
    assert variants["class_filter"]["-1"].startswith("rows")  # type: ignore[index]
    assert emu.write_attempts == []  # read-only


def test_the_bundle_holds_nothing_of_a_person(plain: tuple[Emulator, int, str, dict[str, object]]) -> None:
    """No name, mark, text or id of a student or a staff member: only keys, types, counts and dictionaries."""
    emu, _code, _text, bundle = plain
    raw = json.dumps(bundle, ensure_ascii=False)
    people = [s.full_name for s in emu.school.students.values()] + [s.full_name for s in emu.school.staff.values()]
    surnames = {name.split()[0] for name in people}
    ids = {str(i) for i in (*emu.school.students, *emu.school.staff)}
    topics = {t.text for t in emu.journal.topics.values() if len(getattr(t, "text", "") or "") >= 12}
    assert not [n for n in surnames if n in raw]
    assert not [i for i in ids if i in raw]
    assert not [t for t in topics if t and t in raw]
    endpoints = bundle["endpoints"]
    assert isinstance(endpoints, dict) and "grade/journal" in endpoints
    journal_shape = json.dumps(endpoints["grade/journal"], ensure_ascii=False)
    assert '"marks"' in journal_shape and '"str"' in journal_shape  # structure kept, values gone
    enums = bundle["enumerations"]
    assert isinstance(enums, dict) and {"term_kinds", "assignment_types", "attendance_codes", "access_report"} <= set(
        enums
    )


@pytest.mark.slow  # one survey over loopback per drift
@pytest.mark.parametrize(
    ("drift", "key", "value"),
    [
        ("esrnsec_once", "esrnsec", "once"),
        ("esrnsec_empty_last", "esrnsec", "empty_last"),
        ("report_bare_codes", "report_cells", "bare"),
        ("report_joined_codes", "report_cells", "joined"),
        ("report_2013", "report_layout", "last_change_2013"),
        ("group_extracurricular", "extracurricular", "subjectgroups"),
        ("no_extracurricular_flag", "extracurricular", "nowhere"),
        ("lesson_teacher", "lesson_teacher", "named"),
        ("ea_journal", "ea_journal", "exists"),
    ],
)
def test_each_open_question_names_its_variant(
    tmp_path: Path, runner: CliRunner, drift: str, key: str, value: str
) -> None:
    """Issue #32: against each drift the bundle's ``variants`` names what the server showed."""
    emu = Emulator(EmulatorSettings(size="tiny", clock=CLOCK, faults=Faults(drifts=frozenset({drift}))))
    code, text, bundle = _survey(runner, tmp_path, emu)
    assert code in (exitcodes.OK, exitcodes.ATTENTION), text
    variants = bundle["variants"]
    assert isinstance(variants, dict) and value in variants[key].split("+"), variants  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("drift", "named"),
    [
        ("assignments_nested", "задания в уроках"),
        ("report_texts", "действия словами"),
        ("lesson_flat", "lessonId/lessonName"),
        ("reason_mark", "поле «ReasonMark»"),
        ("esrnsec_once", "выдан один раз"),
        ("esrnsec_empty_last", "последний пустой"),
        ("routine_warning", "обычное уведомление (warnType 1)"),
        ("queue_bare_id", "номер задачи"),
        ("asp_adt", "строк через ASP"),
    ],
)
def test_each_variant_is_named(tmp_path: Path, runner: CliRunner, drift: str, named: str) -> None:
    """Against each of the emulator's variants the survey says which shape it met (the client reads them all)."""
    emu = Emulator(EmulatorSettings(size="tiny", clock=CLOCK, faults=Faults(drifts=frozenset({drift}))))
    code, text, bundle = _survey(runner, tmp_path, emu)
    assert code in (exitcodes.OK, exitcodes.ATTENTION), text
    checks = bundle["checks"]
    assert isinstance(checks, list)
    assert named in " ".join(str(c["seen"]) for c in checks)


def test_a_server_that_cannot_log_in_ends_the_survey_with_its_reason(tmp_path: Path, runner: CliRunner) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", clock=CLOCK, faults=Faults(drifts=frozenset({"login_down"}))))
    code, text, bundle = _survey(runner, tmp_path, emu)
    assert code == exitcodes.TEMPFAIL and "Ошибка входа в систему" in text and bundle == {}
