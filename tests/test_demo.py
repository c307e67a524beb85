"""`asurso-sync demo`: the whole job on the built-in emulator, end to end (real sync, rules, lists, SMTP)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.emulator.practice import SITUATIONS
from asurso_sync.cli import app
from asurso_sync.demo import DEFAULT_FROM, DemoOptions, run_demo
from tests.schools import no_wait


@pytest.mark.slow  # the whole demo twice through the CLI (~13 s)
def test_demo_produces_everything(tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "demo-out"
    result = runner.invoke(app, ["demo", "--size", "tiny", "--weeks", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Точность" in result.output and "Писем отправлено" in result.output
    assert "кабинет завуча в браузере" in result.output and "web" in result.output
    accuracy = (out / "accuracy.txt").read_text(encoding="utf-8")
    families = ("CAL", "TML", "CMP", "MRK", "ATT", "DEN", "FIN", "KTP")
    rows = [line.split() for line in accuracy.splitlines() if line[:3] in families and line[3:6].isdigit()]
    # rule, planted, found, right (rule, entity and owner), undecided, precision, recall: no false finding
    assert len(rows) == 24 and all(r[5] == "1.000" and r[2] == r[3] for r in rows)  # 24: TML007 (R21)
    planted, right = sum(int(r[1]) for r in rows), sum(int(r[3]) for r in rows)
    assert planted > 20 and right / planted >= 0.98  # violations were planted and found
    # where the remarks came from: the kinds of real practice (practice.SITUATIONS) and ordinary lessons
    assert "Замечания по видам ситуаций" in result.output and "обычные ситуации" in result.output
    assert "Замечания по видам ситуаций" in accuracy and any(name in accuracy for name in SITUATIONS.values())
    findings = [json.loads(line) for line in (out / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert findings and set(findings[0]) >= {"rule", "entity", "fingerprint", "state", "message", "evidence"}
    assert (out / "ground_truth.jsonl").stat().st_size > 0
    mails = sorted((out / "mail").glob("*.eml"))
    assert mails
    subjects = {str(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]) for p in mails}
    assert any(s.startswith("Сводка") for s in subjects) and any(s.startswith("Список замечаний") for s in subjects)
    lists = out / "remarks"
    assert sorted(p.name for p in lists.iterdir()) == ["2026-W50", "2026-W51"]
    assert (lists / "2026-W51" / "svodka-ezh-2026-W51.xlsx").exists()
    assert ((out / "cache.db").stat().st_mode & 0o077) == 0
    # a second run starts afresh in the same folder (its own files only)
    (out / "notes.txt").write_text("мои заметки", encoding="utf-8")
    again = runner.invoke(app, ["demo", "--size", "tiny", "--weeks", "1", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / "notes.txt").exists() and sorted(p.name for p in lists.iterdir()) == ["2026-W50"]


@pytest.mark.slow  # two demos, one under the fault preset
def test_demo_under_faults_finds_the_same(tmp_path: Path) -> None:
    """The standard fault preset (5xx, hangs, expired sessions, a SecurityWarning, a schema drift) changes
    nothing in the findings."""
    start = date(2026, 12, 14)
    clean = run_demo(DemoOptions(size="tiny", weeks=1, start=start, out=tmp_path / "clean"), sleep=no_wait)
    faulty = run_demo(
        DemoOptions(size="tiny", weeks=1, start=start, out=tmp_path / "faulty", faults=True), sleep=no_wait
    )
    assert clean.fingerprints and clean.fingerprints == faulty.fingerprints
    assert clean.perfect and faulty.perfect
    assert faulty.requests > clean.requests  # the faults happened and were retried


@pytest.mark.slow  # a week of a six-day school
def test_demo_six_day_week(tmp_path: Path, runner: CliRunner) -> None:
    """«demo --week 6»: Saturdays are school days — the 16:05 snapshot runs on them and their lessons are checked."""
    result = run_demo(DemoOptions(size="tiny", weeks=1, out=tmp_path / "six", week=6), sleep=no_wait)
    assert result.meets_targets
    findings = [json.loads(x) for x in (tmp_path / "six" / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    saturday = DEFAULT_FROM + timedelta(days=5)
    assert any(f["date"] == saturday.isoformat() for f in findings)
    bad = runner.invoke(app, ["demo", "--week", "7", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--week" in bad.output


def test_demo_never_overwrites_a_real_installation(tmp_path: Path, runner: CliRunner) -> None:
    """Issue #19 (4): ``demo --out`` into a folder with a school's config, cache and directory refuses (exit 2)
    and leaves every byte and the folder's mode as they were; a file given as the folder is refused too."""
    school = tmp_path / "школа"
    school.mkdir(mode=0o750)
    files = {"config.toml": b'[school]\nname = "\xd0\xa1"\n', "cache.db": b"SQLite history", "teachers.csv": b"id;"}
    for name, data in files.items():
        (school / name).write_bytes(data)
    result = runner.invoke(app, ["demo", "--size", "tiny", "--weeks", "1", "--out", str(school)])
    assert result.exit_code == 2, result.output
    assert "рабочая установка" in result.output and "config.toml" in result.output
    assert {p.name: p.read_bytes() for p in school.iterdir()} == files
    assert school.stat().st_mode & 0o777 == 0o750
    result = runner.invoke(app, ["demo", "--size", "tiny", "--weeks", "1", "--out", str(school / "cache.db")])
    assert result.exit_code == 2 and "это файл, а не папка" in result.output


@pytest.mark.slow  # two demos; in process: test_esia (QR login, renewals every run)
def test_demo_on_an_esia_only_server(tmp_path: Path) -> None:
    """«demo --auth esia»: the Госуслуги login by QR code (the demo plays the app), then every run renews it; the
    remarks are those of the password demo."""
    start = date(2026, 12, 7)
    result = run_demo(DemoOptions(size="tiny", weeks=1, start=start, out=tmp_path / "esia", auth="esia"), sleep=no_wait)
    assert result.perfect
    stored = json.loads((tmp_path / "esia" / "cache-esia-token.json").read_text(encoding="utf-8"))
    assert stored["renewals"] == 14 and stored["refused"] is None  # a full sync, 6 snapshots (Saturday 12.12), 7 nights
    assert ((tmp_path / "esia" / "cache-esia-token.json").stat().st_mode & 0o777) == 0o600
    config = (tmp_path / "esia" / "config.toml").read_text(encoding="utf-8")
    assert 'auth = "esia"' in config and "password_env" not in config
    plain = run_demo(DemoOptions(size="tiny", weeks=1, start=start, out=tmp_path / "plain"), sleep=no_wait)
    assert plain.fingerprints == result.fingerprints
