from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asurso_sync import exitcodes
from asurso_sync.cli import app
from asurso_sync.config import load_config
from cache import finish_run, open_cache, plan_full_load, start_run
from tests.conftest import edit_config


def test_help_is_russian_and_lists_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Проверка электронного журнала" in result.stdout
    assert "init" in result.stdout and "status" in result.stdout


def test_the_entry_points_help_is_fully_russian(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, through ``main()`` as the console script calls it (its own process: the slow twin below)."""
    import signal

    from asurso_sync.cli import main

    handled: list[tuple[int, object]] = []  # main() handles SIGTERM: not this test process's
    monkeypatch.setattr(signal, "signal", lambda signum, handler: handled.append((signum, handler)))
    monkeypatch.setattr(sys, "argv", ["asurso-sync", "init", "--help"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code in (0, None)
    # SIGTERM as Ctrl+C while the command runs; once it is over, neither can break the interpreter's shutdown
    assert handled[0][0] == signal.SIGTERM and callable(handled[0][1])
    assert handled[1:] == [(signal.SIGTERM, signal.SIG_IGN), (signal.SIGINT, signal.SIG_IGN)]
    out = capsys.readouterr().out
    assert "Показать эту справку" in out and "Show this message" not in out


@pytest.mark.slow  # a Python process; in process: test_the_entry_points_help_is_fully_russian
def test_console_script_help_is_fully_russian() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "asurso_sync", "init", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "Показать эту справку" in proc.stdout
    assert "Show this message" not in proc.stdout


def test_usage_errors_are_russian(runner: CliRunner) -> None:
    """Typer's own usage errors come in English; the error panel shows them in Russian, with the names kept."""
    cases = {
        ("check", "--fro", "2026-01-01"): "Нет такого параметра: --fro (есть: --force, --from, --to)",
        ("chek",): "Нет такой команды «chek». Возможно, имелась в виду: 'check'",
        ("check", "--format"): "Параметру «--format» нужно значение.",
        ("schedule", "job"): "Не указан аргумент «name».",
        ("emulator", "serve", "--port", "abc"): "Недопустимое значение «--port»: нужно целое число",
        ("check", "extra"): "Лишние аргументы: extra",
    }
    for args, russian in cases.items():
        result = runner.invoke(app, list(args))
        text = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and russian in text, (args, result.output)
        assert "No such" not in text and "Missing" not in text and "Invalid value" not in text


def test_init_writes_config_and_private_cache(runner: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    result = runner.invoke(app, ["--config", str(cfg), "init"])
    assert result.exit_code == 0, result.output
    assert cfg.exists()
    assert "[asurso]" in cfg.read_text(encoding="utf-8")
    cache = tmp_path / "cache.db"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    db = open_cache(cache)
    assert db.execute("SELECT action FROM audit_log").fetchall() == [("init",)]
    written = load_config(cfg)  # not the emulator's school: the school's own values are left to fill in
    assert (written.school.name, written.school.scid, written.asurso.login) == ("", None, "")
    assert "Сота" not in cfg.read_text(encoding="utf-8") and "ЗАПОЛНИТЕ" in cfg.read_text(encoding="utf-8")


def test_init_leaves_the_school_to_fill_in_and_nothing_runs_until_it_is(runner: CliRunner, tmp_path: Path) -> None:
    """init writes empty marked values; login-check, sync and check refuse with exit 2 naming the key."""
    cfg = tmp_path / "config.toml"
    assert runner.invoke(app, ["--config", str(cfg), "init"]).exit_code == 0
    for command in (["sync"], ["check"], ["login-check"]):
        result = runner.invoke(app, ["--config", str(cfg), *command])
        assert result.exit_code == exitcodes.CONFIG, result.output
        assert "не заполнен ключ [school] name" in " ".join(result.stderr.split()), result.stderr
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('name = ""', 'name = "МБОУ Школа № 1"', 1), "utf-8")
    for command in (["sync"], ["login-check"]):
        result = runner.invoke(app, ["--config", str(cfg), *command])
        assert result.exit_code == exitcodes.CONFIG and "[asurso] login" in " ".join(result.stderr.split())


def test_init_refuses_to_overwrite_without_force(runner: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("# мой файл\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(cfg), "init"])
    assert result.exit_code == exitcodes.CONFIG
    assert "--force" in result.stderr
    assert cfg.read_text(encoding="utf-8") == "# мой файл\n"
    result = runner.invoke(app, ["--config", str(cfg), "init", "--force"])
    assert result.exit_code == 0
    assert "[school]" in cfg.read_text(encoding="utf-8")


def test_config_errors_exit_2_with_one_message_and_write_nothing(runner: CliRunner, config_file: Path) -> None:
    edit_config(config_file, "concurrency = 2", "concurency = 2")
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == exitcodes.CONFIG
    assert "[sync] concurency" in result.stderr
    assert "Traceback" not in result.output
    assert not (config_file.parent / "cache.db").exists()


def test_config_via_environment_variable(runner: CliRunner, config_file: Path) -> None:
    edit_config(config_file, 'password_env = "ASURSO_PASSWORD"', 'password = "x"')
    result = runner.invoke(app, ["status"], env={"ASURSO_SYNC_CONFIG": str(config_file)})
    assert result.exit_code == exitcodes.CONFIG
    assert "[asurso] password" in result.stderr


def test_status_before_any_sync_needs_attention(runner: CliRunner, config_file: Path) -> None:
    open_cache(config_file.parent / "cache.db").close()
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == exitcodes.ATTENTION
    assert "синхронизаций ещё не было" in result.stderr
    text = " ".join(result.stdout.split())
    assert "доступ только у владельца (0600)" in text and "0o600" not in text
    # Russian for the user: no table names, run kinds, migration names or UTC stamps
    for english in ("nightly", "snapshot", "school_class", "_lesson_teacher", "UTC", "daily_check"):
        assert english not in text, english


def test_status_missing_cache_says_what_to_do(runner: CliRunner, config_file: Path) -> None:
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == exitcodes.STORAGE
    assert "Кэш не найден" in result.stderr
    assert not (config_file.parent / "cache.db").exists()


def test_status_fresh_ok_and_json(runner: CliRunner, config_file: Path) -> None:
    db = open_cache(config_file.parent / "cache.db")
    finish_run(db, start_run(db, "full"), "ok")  # the year was loaded completely once
    run = start_run(db, "nightly")
    finish_run(db, run, "ok", counts={"units": 3}, server_time="2026-11-23T01:00:03")
    db.close()
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == 0, result.output
    assert "Данные свежие" in result.stdout
    result = runner.invoke(app, ["--config", str(config_file), "status", "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["runs"][0]["status"] == "ok"
    assert payload["runs"][0]["counts"] == {"units": 3}
    assert payload["cache"]["mode"] == "0o600"
    assert payload["problems"] == []


def test_status_after_failed_sync_needs_attention(runner: CliRunner, config_file: Path) -> None:
    db = open_cache(config_file.parent / "cache.db")
    finish_run(db, start_run(db, "nightly"), "ok")
    finish_run(db, start_run(db, "nightly"), "failed", errors=["нет связи"])
    db.close()
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == exitcodes.ATTENTION
    assert "завершилась ошибкой" in result.stderr


def test_status_rejects_unknown_format(runner: CliRunner, config_file: Path) -> None:
    result = runner.invoke(app, ["--config", str(config_file), "status", "--format", "xml"])
    assert result.exit_code == exitcodes.CONFIG


def test_status_says_the_first_full_load_is_not_complete(runner: CliRunner, config_file: Path) -> None:
    """Issue #19 (1): a nightly success does not hide a full load that never finished: status names the parts
    loaded and planned, says how to go on, and exits 1; once a full load ends «ok» it is quiet."""
    db = open_cache(config_file.parent / "cache.db")
    full = start_run(db, "full")
    plan_full_load(db, 40, full)
    db.execute(
        'INSERT INTO "observation" ("run_id", "resource", "scope", "observed_at") VALUES (?, ?, ?, ?)',
        [full, "journal", '{"sg_id":1,"term_id":2}', "2026-11-23T01:00:00"],
    )
    db.conn.commit()
    finish_run(db, start_run(db, "nightly"), "ok")
    db.close()
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    assert result.exit_code == exitcodes.ATTENTION
    text = " ".join(result.stderr.split())
    assert "первая полная загрузка учебного года не завершена: загружено 1 из 40 частей" in text
    assert "asurso-sync sync --all" in text
    db = open_cache(config_file.parent / "cache.db")
    finish_run(db, start_run(db, "full"), "ok")
    db.close()
    assert runner.invoke(app, ["--config", str(config_file), "status"]).exit_code == exitcodes.OK


def test_status_between_two_stages_of_the_full_load(runner: CliRunner, config_file: Path) -> None:
    """Ctrl+C after every part planned so far was read, before the next stage planned its own: not «1 из 1», which
    reads as finished, but the parts read and that the rest has not begun."""
    db = open_cache(config_file.parent / "cache.db")
    full = start_run(db, "full")
    plan_full_load(db, 1, full)
    db.execute(
        'INSERT INTO "observation" ("run_id", "resource", "scope", "observed_at") VALUES (?, ?, ?, ?)',
        [full, "journal", '{"sg_id":1,"term_id":2}', "2026-11-23T01:00:00"],
    )
    db.conn.commit()
    finish_run(db, full, "interrupted")
    db.close()
    result = runner.invoke(app, ["--config", str(config_file), "status"])
    text = " ".join(result.stderr.split())
    assert "не завершена: загружено 1 часть, остальные ещё не начаты" in text, text


def test_texts_read_as_russian(runner: CliRunner, config_file: Path) -> None:
    """«Ошибка в конфигурации» once, not «Ошибка: Ошибка …»; no certificate line for an http:// server; the letters
    left in the queue agree with their number."""
    from asurso_sync.cli.remarks import _will_go

    config_file.write_text(config_file.read_text(encoding="utf-8") + "\n[school]\n", encoding="utf-8")
    broken = runner.invoke(app, ["--config", str(config_file), "status"])
    assert broken.exit_code == exitcodes.CONFIG
    assert broken.stderr.startswith("Ошибка в конфигурации") and "Ошибка: Ошибка" not in broken.stderr
    assert [_will_go(n) for n in (1, 2, 5, 11, 21)] == ["оно уйдёт", "они уйдут", "они уйдут", "они уйдут", "оно уйдёт"]
