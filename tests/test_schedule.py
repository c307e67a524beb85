"""Running unattended: scheduler wiring, the jobs against a real emulator server, purge, selfcheck, status."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from typer.testing import CliRunner

from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.netschool.errors import LoginError
from asurso_sync.cli import app
from asurso_sync.config import Config, load_config
from asurso_sync.demo import prepare
from asurso_sync.scheduler import Jobs, configure, fire_times, is_school_day, triggers
from cache import audit_entries, open_cache, outbox_rows, owner_name, rows
from tests.conftest import edit_config
from tests.emu import serve
from tests.schools import Schools, Spec
from tests.smtp import Recorder, smtp_server

MONDAY = date(2026, 12, 7)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Recorder]]:
    with smtp_server() as server:
        yield server


def _school(folder: Path, smtp_port: int = 25, **env: str) -> tuple[Emulator, Config]:
    emu = Emulator(EmulatorSettings(size="tiny", seed=1, control=True, clock=datetime(2026, 12, 7, 0, 30)))
    config = prepare(folder, emu, smtp_port)
    return emu, config


def _synced(schools: Schools, folder: Path, smtp_port: int = 25) -> tuple[Emulator, Config]:
    """The tiny school after a week of the standard schedule from Monday 07.12.2026 (built once per run)."""
    return schools.copy(folder, Spec(start=MONDAY, weeks=1), smtp_port=smtp_port)


# --- wiring -------------------------------------------------------------------------------------


def test_triggers_fire_on_the_right_days(tmp_path: Path) -> None:
    _emu, config = _school(tmp_path)
    tz = config.school.tz
    times = fire_times(config, datetime(2026, 12, 7, tzinfo=tz), datetime(2026, 12, 21, tzinfo=tz))
    by_job: dict[str, list[datetime]] = {}
    for moment, name in times:
        by_job.setdefault(name, []).append(moment)
    assert all(t.utcoffset() == timedelta(hours=4) for t, _n in times)  # Samara time, no DST
    assert [t.strftime("%a %H:%M") for t in by_job["weekly"]] == ["Mon 07:00", "Mon 07:00"]
    assert len(by_job["nightly"]) == 14 and {t.strftime("%H:%M") for t in by_job["nightly"]} == {"01:00"}
    assert len(by_job["snapshot"]) == 12 and all(t.weekday() < 6 for t in by_job["snapshot"])
    assert {t.strftime("%H:%M") for t in by_job["daily_check"]} == {"18:00"}
    assert times == sorted(times, key=lambda x: x[0])


def test_school_days_come_from_the_mirror(tmp_path: Path, schools: Schools) -> None:
    _emu, config = _school(tmp_path / "new")
    assert is_school_day(config, date(2026, 12, 7)) and not is_school_day(config, date(2026, 12, 12))  # no sync yet
    _emu, config = _synced(schools, tmp_path)
    assert is_school_day(config, date(2026, 12, 8))
    assert not is_school_day(config, date(2026, 12, 13))  # Sunday: no lessons
    assert is_school_day(config, date(2026, 12, 12))  # the generated school's working Saturday has lessons
    assert not is_school_day(config, date(2026, 12, 31))  # winter holidays (a vacation in the mirror)
    config.school.days_off = [date(2026, 12, 8)]  # an актированный день the server's calendar does not know (R7)
    assert not is_school_day(config, date(2026, 12, 8))


def test_job_options_misfire_coalescing_and_error_isolation(tmp_path: Path) -> None:
    """A machine that was off: each missed job runs once (coalesce, grace in hours); a failing job is logged and
    audited and the others still run; the scheduler keeps running."""
    _emu, config = _school(tmp_path)
    open_cache(config.cache.path).close()
    calls: list[str] = []
    done = threading.Event()

    class FakeJobs(Jobs):
        def run(self, name: str) -> str:
            calls.append(name)
            if len(calls) == 4:
                done.set()
            if name == "nightly":
                raise RuntimeError("сервер недоступен")
            return "ok"

    scheduler = BackgroundScheduler(timezone=config.school.tz)
    configure(scheduler, config, FakeJobs(config))
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"snapshot", "nightly", "daily_check", "weekly"}
    for j in jobs.values():
        assert j.misfire_grace_time == 6 * 3600 and j.coalesce and j.max_instances == 1
    scheduler.start(paused=True)
    try:
        resumed = datetime.now(config.school.tz)
        for j in scheduler.get_jobs():
            j.modify(next_run_time=resumed - timedelta(hours=3))  # three hours of missed runs
        scheduler.resume()
        assert done.wait(20)
        assert scheduler.running
    finally:
        scheduler.shutdown(wait=True)  # its pass over the due jobs and every run it started end first
    assert sorted(calls) == ["daily_check", "nightly", "snapshot", "weekly"]  # each once, none twice
    assert all(j.next_run_time > resumed for j in scheduler.get_jobs())  # no missed run left to repeat
    with closing(open_cache(config.cache.path)) as db:
        actions = [e["action"] for e in audit_entries(db)]
    assert actions.count("schedule-error") == 1 and actions.count("schedule-job") == 3


# --- the jobs against a real emulator server -------------------------------------------------------


@pytest.mark.slow  # nine days of jobs against a served emulator
def test_jobs_against_emulator_serve(tmp_path: Path, smtp: tuple[int, Recorder]) -> None:
    """The triggers' fire times over nine days, each job run at its time with the emulator's clock moved there
    through its control endpoint: snapshots on school days only, the Monday send once."""
    port, handler = smtp
    emu, _ = _school(tmp_path, port)
    with serve(emu) as base:
        edit_config(tmp_path / "config.toml", 'base_url = "http://emulator.invalid"', f'base_url = "{base}"')
        config = load_config(tmp_path / "config.toml", environ={})
        clock: dict[str, datetime] = {"now": datetime(2026, 12, 7, 0, 30)}

        def at(moment: datetime) -> None:
            clock["now"] = moment
            r = httpx.post(f"{base}/_emulator/clock", json={"now": moment.isoformat()})
            assert r.status_code == 200

        jobs = Jobs(config, now=lambda: clock["now"])
        at(datetime(2026, 12, 7, 0, 30))
        jobs._sync("all")  # the first run of a new installation: «asurso-sync sync --all»
        tz = config.school.tz
        for moment, name in fire_times(config, datetime(2026, 12, 7, 1, tzinfo=tz), datetime(2026, 12, 15, tzinfo=tz)):
            at(moment.replace(tzinfo=None))
            jobs.run(name)
        weekly_again = jobs.run("weekly")  # rerun on the same Monday: nothing goes twice
    snapshots = [r for n, r in jobs.results if n == "snapshot"]
    skipped = [r for r in snapshots if r.startswith("пропущено")]
    # Mon 7 – Sat 12 and Mon 14: Saturday 12.12 is the generated school's working Saturday (it has lessons, R7);
    # a day without lessons is skipped (test_school_days_come_from_the_mirror)
    assert len(snapshots) == 7 and not skipped
    with closing(open_cache(config.cache.path)) as db:
        kinds = [r["kind"] for r in rows(db, 'SELECT "kind" FROM "sync_run" WHERE "status" = \'ok\'')]
        sent = outbox_rows(db, period="2026-W50")
    assert kinds.count("snapshot") == 7 and kinds.count("nightly") == 8 and kinds.count("full") == 1
    assert sent and all(r.state == "sent" for r in sent)
    assert any(r.kind == "deputy" for r in sent)
    assert len(handler.envelopes) == len(sent)
    assert weekly_again == "отправлено писем: 0"


def test_weekly_send_waits_for_fresh_data(tmp_path: Path, smtp: tuple[int, Recorder], schools: Schools) -> None:
    """After a failed sync the weekly job sends the operator a notice instead of teacher lists."""
    port, handler = smtp
    emu, config = _synced(schools, tmp_path, port)
    os.environ["ASURSO_DEMO_PASSWORD"] = "неверный"
    jobs = Jobs(config, now=lambda: datetime(2026, 12, 14, 7, 0), transport=EmulatorTransport(emu))
    emu.clock = datetime(2026, 12, 14, 7, 0)
    with pytest.raises(LoginError):
        jobs.run("nightly")
    result = jobs.run("weekly")
    assert result.startswith("рассылка не выполнена")
    with closing(open_cache(config.cache.path)) as db:
        items = outbox_rows(db)
    assert [(r.kind, r.recipient) for r in items] == [("alert", config.mail.deputy_addr)]
    assert len(handler.envelopes) == 1 and b"asurso-sync" in handler.envelopes[0].original_content
    assert jobs.run("weekly").startswith("рассылка не выполнена") and len(handler.envelopes) == 1  # once a week


# --- purge, selfcheck, status, outputs --------------------------------------------------------------


def test_purge_removes_exactly_the_old_personal_data(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    _emu, config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    marks_sql = """SELECT count(*) AS n FROM "mark" m JOIN "assignment" a ON a."id" = m."assignment_id"
                   JOIN "class_meeting" cm ON cm."id" = a."class_meeting_id" WHERE cm."day" {} '2026-12-10'"""
    access_sql = """SELECT "kind", count(*) AS n FROM "access_log" WHERE "lesson_day" {} '2026-12-10' GROUP BY 1"""
    with closing(open_cache(config.cache.path)) as db:
        old = rows(db, marks_sql.format("<"))[0]["n"]
        new = rows(db, marks_sql.format(">="))[0]["n"]
        access_old = {r["kind"]: r["n"] for r in rows(db, access_sql.format("<"))}
        access_new = {r["kind"]: r["n"] for r in rows(db, access_sql.format(">="))}
    assert old and new
    assert access_old.get("attendance") and access_old.get("mark") and access_old.get("topic")
    with closing(open_cache(config.cache.path)) as db:  # a sent list (it names children) and one still waiting
        from cache import enqueue, mark_sent

        sent_id, _ = enqueue(
            db, recipient="t@school.example", kind="teacher", period="2026-W49", subject="s", message=b"list"
        )
        mark_sent(db, sent_id, "<1@school.example>")
        enqueue(db, recipient="u@school.example", kind="teacher", period="2026-W49", subject="s", message=b"waiting")
        with db.conn:  # both queued on Monday 07.12.2026 (not «now»: the test must not depend on the real date)
            db.execute('UPDATE "outbox" SET "created_at" = \'2026-12-07T03:00:00+00:00\'')
    with closing(open_cache(config.cache.path)) as db:  # the deputy's cabinet comments: free text, may name a child
        from cache.cabinet import adjudicate, review_lesson

        old_fp, new_fp = "f-old", "f-new"
        with db.conn:  # two lesson findings (no child in them: they stay), one before the cutoff, one after
            for fp, day in ((old_fp, "2026-12-01"), (new_fp, "2026-12-14")):
                db.execute(
                    'INSERT INTO "finding" ("fingerprint", "rule", "entity", "severity", "date", "message", '
                    '"evidence", "state", "first_seen", "last_seen") VALUES (?, \'TML001\', \'{"cm": 1}\', '
                    "'error', ?, 'тема', 'observed', 'open', ?, ?)",
                    [fp, day, day, day],
                )
        old_cm, new_cm = (
            rows(db, f'SELECT "id" FROM "class_meeting" WHERE "day" {op} \'2026-12-10\' LIMIT 1')[0]["id"]
            for op in ("<", ">=")
        )
        for fp in (old_fp, new_fp):
            adjudicate(db, fp, "TML001", "wrong", "Иванов Петя болел", "кабинет завуча")
        for cm in (old_cm, new_cm):
            review_lesson(db, cm, "missed", "у Пети нет отметки", "кабинет завуча")
    dry = runner.invoke(app, ["-c", cfg, "purge", "--before", "2026-12-10", "--dry-run"])
    assert dry.exit_code == 0 and "отметки" in dry.output and "комментарии завуча в кабинете" in dry.output
    done = runner.invoke(app, ["-c", cfg, "purge", "--before", "2026-12-10", "--yes", "--reason", "тест"])
    assert done.exit_code == 0, done.output
    with closing(open_cache(config.cache.path)) as db:
        assert rows(db, marks_sql.format("<"))[0]["n"] == 0
        assert rows(db, marks_sql.format(">="))[0]["n"] == new  # newer data untouched
        # the access report: rows that may name a child go, the record of topics and tasks stays
        left = {r["kind"]: r["n"] for r in rows(db, access_sql.format("<"))}
        assert "attendance" not in left and "mark" not in left and left.get("topic") == access_old["topic"]
        assert {r["kind"]: r["n"] for r in rows(db, access_sql.format(">="))} == access_new
        names = rows(
            db,
            """SELECT count(*) AS n FROM "access_log" WHERE "action" LIKE 'Посещаемость%'
                            AND "lesson_day" < '2026-12-10'""",
        )[0]["n"]
        agg = rows(db, 'SELECT "kind", sum("count") AS n FROM "purge_aggregate" GROUP BY 1')
        actions = [e["action"] for e in audit_entries(db)]
        mail = {r.recipient: r for r in outbox_rows(db)}
    assert names == 0
    with closing(open_cache(config.cache.path)) as db:
        verdicts_left = {r["fingerprint"]: r for r in rows(db, 'SELECT * FROM "adjudication"')}
        reviews_left = {r["cm_id"]: r for r in rows(db, 'SELECT * FROM "lesson_review"')}
    assert verdicts_left[old_fp]["comment"] == "" and verdicts_left[old_fp]["verdict"] == "wrong"  # the verdict stays
    assert verdicts_left[new_fp]["comment"] == "Иванов Петя болел"
    assert reviews_left[old_cm]["comment"] == "" and reviews_left[new_cm]["comment"] == "у Пети нет отметки"
    assert mail["t@school.example"].message == b"" and mail["t@school.example"].state == "sent"  # the record stays
    assert mail["t@school.example"].message_id == "<1@school.example>"
    assert mail["u@school.example"].message == b"waiting"  # not sent yet: kept
    assert {a["kind"] for a in agg} >= {"marks"} and sum(a["n"] for a in agg if a["kind"] == "marks") <= old
    assert "purge" in actions
    report = runner.invoke(app, ["-c", cfg, "purge", "--report"])
    assert "АКТ № 1" in report.output and "тест" in report.output and "отметки" in report.output
    again = runner.invoke(app, ["-c", cfg, "purge", "--before", "2026-12-10", "--yes"])
    assert "Удалять нечего" in again.output
    no_date = runner.invoke(app, ["-c", cfg, "purge"])  # no --before and no retention period configured
    assert no_date.exit_code == 2 and "[retention] keep_days" in no_date.output  # the key, not eaten as markup
    assert ((tmp_path / "cache.db").stat().st_mode & 0o077) == 0


def test_selfcheck_explains_what_to_fix(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    _emu, config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    config.cache.path.chmod(0o644)
    result = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert result.exit_code == 1
    assert "chmod 600" in result.output and "[retention] keep_days" in result.output
    assert "https" in result.output
    config.cache.path.chmod(0o600)
    edit_config(tmp_path / "config.toml", "[rules]", "[retention]\nkeep_days = 1095\n\n[rules]")
    fixed = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert "chmod 600" not in fixed.output and "срок хранения персональных данных установлен" in fixed.output
    # a young cache (its oldest lesson within keep_days) has nothing to purge yet; an older one must be purged
    assert "срок хранения ещё не прошёл" in " ".join(fixed.output.split())
    edit_config(tmp_path / "config.toml", "keep_days = 1095", "keep_days = 30")
    old = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert "удалялись в последние 40 дней" in old.output and "asurso-sync purge" in old.output
    # issue #19 (10): plain http to this machine is not called «encrypted», and is not a problem either
    for url, good, bad in (
        ("http://127.0.0.1:8080", "не выходит за пределы этого компьютера (127.0.0.1)", "шифруется (https)"),
        ("http://asurso.example", "не шифруется (http)", "за пределы этого компьютера"),
        ("https://asurso.ru", "шифруется (https)", "не шифруется"),
    ):
        shown = " ".join(
            runner.invoke(app, ["-c", cfg, "selfcheck"], env={"ASURSO_SYNC_ASURSO__BASE_URL": url}).output.split()
        )
        assert good in shown and bad not in shown, (url, shown)
        # issue #33: a certificate is checked only where there is one (https)
        assert ("сертификат сервера АСУ РСО проверяется" in shown) == url.startswith("https://"), (url, shown)


def test_status_shows_mail_and_schedule(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    _emu, config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    result = runner.invoke(app, ["-c", cfg, "status"])
    assert "Следующие запуски" in result.output and "Письма: не отправлялись" in result.output
    with closing(open_cache(config.cache.path)) as db:
        from cache import enqueue, mark_failed

        row_id, _ = enqueue(db, recipient="a@b.example", kind="teacher", period="2026-W50", subject="x", message=b"x")
        mark_failed(db, row_id, "550 нет такого адресата")
    failed = runner.invoke(app, ["-c", cfg, "status", "--format", "json"])
    assert failed.exit_code == 1 and '"failed": 1' in failed.output


def test_outputs_refuse_folders_open_to_others(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    _emu, _config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    base = ["-c", cfg, "check", "--as-of", "2026-12-14T07:00", "--format", "csv", "--output"]
    refused = runner.invoke(app, [*base, str(shared / "r.csv")])
    assert refused.exit_code == 2 and "chmod 700" in refused.output and not (shared / "r.csv").exists()
    forced = runner.invoke(app, [*base, str(shared / "r.csv"), "--force"])
    assert forced.exit_code in (0, 1, 8) and (shared / "r.csv").exists()
    assert ((shared / "r.csv").stat().st_mode & 0o077) == 0


def test_systemd_units_and_job_log(tmp_path: Path, runner: CliRunner) -> None:
    _emu, config = _school(tmp_path)
    cfg = str(tmp_path / "config.toml")
    out = tmp_path / "units"
    result = runner.invoke(app, ["-c", cfg, "schedule", "systemd", "--out", str(out)])
    assert result.exit_code == 0, result.output
    service = (out / "asurso-sync.service").read_text(encoding="utf-8")
    assert "schedule run" in service and "UMask=0077" in service
    # issue #19 (6): never as root — the owner of the installation, or the dedicated account README creates
    owner = owner_name(tmp_path)
    expected = "asurso-sync" if owner == "root" else owner
    assert f"User={expected}\nGroup={expected}\n" in service
    assert f"User={expected}\n" in (out / "asurso-sync-nightly.service").read_text(encoding="utf-8")
    assert f"sudo chown -R {expected}:" in result.output
    as_root = runner.invoke(app, ["-c", cfg, "schedule", "systemd", "--out", str(out), "--user", "root"])
    assert as_root.exit_code == 2 and "не должны работать от root" in as_root.output
    timer = (out / "asurso-sync-snapshot.timer").read_text(encoding="utf-8")
    assert "OnCalendar=Mon..Sat *-*-* 16:05:00 Europe/Samara" in timer and "Persistent=true" in timer
    assert "schedule job weekly" in (out / "asurso-sync-weekly.service").read_text(encoding="utf-8")
    listing = runner.invoke(app, ["-c", cfg, "schedule", "list"])
    assert listing.exit_code == 0 and "weekly" in listing.output
    # a job from the command line against an unreachable server: a clear error, exit 1, a log line, no password
    os.environ["ASURSO_DEMO_PASSWORD"] = "Секрет-Пароль-42"
    job = runner.invoke(app, ["-c", cfg, "schedule", "job", "nightly"])
    assert job.exit_code == 1 and "nightly" in job.output
    log_file = tmp_path / "asurso-sync.log"
    assert log_file.exists() and (log_file.stat().st_mode & 0o077) == 0
    assert "Секрет-Пароль-42" not in log_file.read_text(encoding="utf-8")
    with closing(open_cache(config.cache.path)) as db:
        assert "schedule-error" in [e["action"] for e in audit_entries(db)]
    assert triggers(config)["weekly"].timezone == config.school.tz


@pytest.mark.slow  # its own process and a signal; in process: the wiring tests above
def test_schedule_run_starts_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The long-lived process (as systemd runs it): starts, lists its jobs, and stops cleanly on SIGTERM."""
    import signal
    import subprocess
    import sys

    _school(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASURSO_SYNC_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "asurso_sync", "-c", str(tmp_path / "config.toml"), "schedule", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 180  # a safety net: a loaded machine may take a minute to start Python
        log_file = tmp_path / "asurso-sync.log"
        while "Scheduler started" not in (log_file.read_text(encoding="utf-8") if log_file.exists() else ""):
            assert proc.poll() is None and time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "следующий запуск" in err and "Планировщик остановлен" in err
    assert "INFO" not in err  # the terminal gets what -v asks for; the details go to the log file
