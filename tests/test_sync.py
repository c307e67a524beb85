"""The sync against the emulator: temporal correctness, faults, crash safety, the empty-remote guard."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from filelock import FileLock
from typer.testing import CliRunner

from adapters.emulator.faults import parse_faults
from adapters.emulator.server import Emulator, EmulatorSettings
from asurso_sync.cli import app
from asurso_sync.sync import SyncLocked
from cache import canonical_dump, open_cache, rows
from tests.emu import fresh_school, serve
from tests.schools import Schools
from tests.sync_helpers import make_config, only_new_garbage, run, sync_all_process, wait_until_observed

START = datetime(2026, 11, 23, 16, 5)


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASURSO_PASSWORD", "Сота-2026")


def standard_schedule(emu: Emulator, config: object, start: datetime, days: int) -> list[datetime]:
    """A full sync at ``start``, then 01:00 nightly and 16:05 snapshots on school days for ``days`` days."""
    times = [start]
    run(emu, config, "all", at=start)  # type: ignore[arg-type]
    day = start.date()
    for _ in range(days):
        day += timedelta(days=1)
        night = datetime.combine(day, datetime.min.time()).replace(hour=1)
        run(emu, config, "incremental", at=night)  # type: ignore[arg-type]
        times.append(night)
        if emu.school.is_school_day(day):  # Saturdays with lessons too (ruling R7)
            snap = night.replace(hour=16, minute=5)
            run(emu, config, "snapshot", at=snap)  # type: ignore[arg-type]
            times.append(snap)
    return times


@pytest.mark.slow  # a small school over four days
def test_items_are_first_seen_at_the_first_sync_after_their_entry(tmp_path: Path) -> None:
    emu = Emulator(EmulatorSettings(size="small", clock=START))
    config = make_config(tmp_path)
    times = standard_schedule(emu, config, START, 4)
    db = open_cache(config.cache.path)
    horizon = times[-1]

    def first_after(entered: datetime, lesson_day: object = None) -> str:
        """Journals are read by every sync; a topic by the nightly sync, or by the snapshot of its own day."""
        return min(
            t
            for t in times
            if t >= entered and (lesson_day is None or t.hour == 1 or t == START or t.date() == lesson_day)
        ).isoformat()

    checked = 0
    for r in rows(db, 'SELECT "cm_id", "first_seen_at" FROM "lesson_topic"'):
        entered = emu.journal.topics[r["cm_id"]].at
        if entered > START:
            assert r["first_seen_at"] == first_after(entered, emu.school.lessons[r["cm_id"]].day), r
            checked += 1
    assert checked > 20
    marks = rows(db, 'SELECT "assignment_id", "student_id", "first_seen_at" FROM "mark"')
    by_key = {(m.assignment_id, m.student_id): m for ms in emu.journal.marks.values() for m in ms}
    late = [r for r in marks if by_key[(r["assignment_id"], r["student_id"])].at > START]
    assert len(late) > 20
    for r in late:
        assert r["first_seen_at"] == first_after(by_key[(r["assignment_id"], r["student_id"])].at), r
    homework = rows(db, 'SELECT "id", "first_seen_at" FROM "assignment" WHERE "type_id" = 3')
    new_hw = [r for r in homework if emu.journal.assignments[r["id"]].at > START]
    assert new_hw and all(r["first_seen_at"] == first_after(emu.journal.assignments[r["id"]].at) for r in new_hw)
    # every mark the journal shows at the last sync (a deleted one is gone), on a lesson of a synced term, is in
    # the mirror
    lessons_synced = {r["id"] for r in rows(db, 'SELECT "id" FROM "class_meeting"')}
    entered = {
        k for k, m in by_key.items() if m.value_at(horizon)[0] and emu.journal.assignments[k[0]].cm_id in lessons_synced
    }
    assert entered <= {(r["assignment_id"], r["student_id"]) for r in marks}
    # «ОТ» replaced by the class chief later: the old and new codes are both in the history
    changes = rows(db, """SELECT "old", "new" FROM "change_log" WHERE "tbl" = 'attendance' AND "op" = 'change'""")
    expected = [
        a
        for atts in emu.journal.attendance.values()
        for a in atts
        if a.cm_id in lessons_synced
        and len(a.versions) > 1
        and a.versions[1][0] <= horizon
        and any(a.versions[0][0] <= t < a.versions[1][0] for t in times)
    ]
    assert expected and len(changes) == len(expected)
    assert all('"ОТ"' in c["old"] for c in changes)


@pytest.mark.slow  # three syncs, twice; in process at the client: test_standard_fault_preset_gives_the_same_data
def test_standard_faults_give_the_same_mirror(tmp_path: Path) -> None:
    clean = Emulator(EmulatorSettings(size="tiny", clock=START))
    faulty = Emulator(EmulatorSettings(size="tiny", clock=START, faults=parse_faults("standard", seed=4)))
    c1 = make_config(tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path)
    c2 = make_config(
        tmp_path / "b" if (tmp_path / "b").mkdir() is None else tmp_path, ASURSO_SYNC_SYNC__CONCURRENCY="2"
    )
    for emu, cfg in ((clean, c1), (faulty, c2)):
        run(emu, cfg, "all", at=START)
        run(emu, cfg, "incremental", at=START + timedelta(hours=9))
        run(emu, cfg, "snapshot", at=START + timedelta(days=1))
    d1, d2 = canonical_dump(open_cache(c1.cache.path)), canonical_dump(open_cache(c2.cache.path))
    assert sum(len(v) for v in d1.values()) > 5000
    assert d1 == d2
    runs = rows(open_cache(c2.cache.path), 'SELECT "status", "counts" FROM "sync_run"')
    assert all(r["status"] == "ok" for r in runs)
    assert any('"retries": 0' not in r["counts"] for r in runs)


def test_empty_remote_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schools: Schools) -> None:
    emu, config, _ = schools.full_sync(tmp_path, START)
    db = open_cache(config.cache.path)
    before = canonical_dump(db)
    original = emu.views.journal

    def empty_journal(sg_id: int, term: object, now: datetime) -> dict[str, object]:
        out = original(sg_id, term, now)  # type: ignore[arg-type]
        body = out["journals"][0]
        for key in ("students", "classMeeting", "assignments", "marks", "attendance"):
            body[key] = []
        return out

    monkeypatch.setattr(emu.views, "journal", empty_journal)
    report = run(emu, config, "incremental")
    assert report.status == "partial" and report.units_empty
    assert canonical_dump(db) == before  # nothing marked gone
    report = run(emu, config, "incremental", accept_empty=True)
    assert report.status == "ok" and report.rows.gone > 0
    assert rows(db, 'SELECT count(*) AS n FROM "mark" WHERE "gone_at" IS NOT NULL')[0]["n"] > 0
    assert rows(db, 'SELECT count(*) AS n FROM "mark"')[0]["n"] == sum(1 for _ in before["mark"])  # never deleted


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", prebuilt=fresh_school(), clock=START))
    config = make_config(tmp_path)
    open_cache(config.cache.path).close()
    report = run(emu, config, "all", dry_run=True)
    assert report.rows.new > 1000 and report.dry_run
    db = open_cache(config.cache.path)
    assert all(not v for v in canonical_dump(db).values())
    assert rows(db, 'SELECT count(*) AS n FROM "sync_run"')[0]["n"] == 0
    assert rows(db, 'SELECT count(*) AS n FROM "change_log"')[0]["n"] == 0


def test_second_sync_is_refused_while_one_runs(tmp_path: Path) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", prebuilt=fresh_school(), clock=START))
    config = make_config(tmp_path)
    with FileLock(f"{config.cache.path}.lock", timeout=0), pytest.raises(SyncLocked, match="занят"):
        run(emu, config, "incremental")


def test_cursors_and_observations_commit_with_their_rows(tmp_path: Path, schools: Schools) -> None:
    _emu, config, _ = schools.full_sync(tmp_path, START)
    db = open_cache(config.cache.path)
    orphans = rows(
        db,
        """SELECT s.* FROM "sync_state" s WHERE NOT EXISTS (SELECT 1 FROM "observation" o
            WHERE o."resource" = s."resource" AND o."scope" = s."scope"
              AND o."observed_at" = s."updated_at" AND o."run_id" = s."run_id")""",
    )
    assert orphans == []
    journal_units = rows(db, """SELECT count(*) AS n FROM "sync_state" WHERE "resource" = 'journal'""")[0]["n"]
    assert journal_units == len(rows(db, 'SELECT DISTINCT "sg_id", "term_id" FROM "class_meeting"'))


def _dump_db(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = open_cache(path)
    try:
        return canonical_dump(db)
    finally:
        db.close()


@pytest.mark.slow  # two real processes over loopback
def test_kill_9_mid_sync_then_rerun_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", clock=START, faults=replace(parse_faults(None), latency=0.01)))
    reference = make_config(tmp_path / "ref" if (tmp_path / "ref").mkdir() is None else tmp_path)
    with serve(emu) as base:
        run_ref = make_config(tmp_path / "ref", base_url=base)
        asyncio_sync(run_ref)
        expected = _dump_db(reference.cache.path)
        work = tmp_path / "work"
        work.mkdir()
        config = make_config(work, base_url=base)
        proc = sync_all_process(work, base)
        wait_until_observed(config.cache.path, 40, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        partial = _dump_db(config.cache.path)
        assert sum(map(len, partial.values())) < sum(map(len, expected.values()))  # really interrupted
        db = open_cache(config.cache.path)
        assert rows(db, 'SELECT "status" FROM "sync_run"')[0]["status"] == "running"
        db.close()
        emu.sessions.clear()  # the killed process could not log out; its session would only cause a warning
        done = sync_all_process(work, base, capture=True)
        _out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err.decode()
    assert _dump_db(config.cache.path) == expected
    db = open_cache(config.cache.path)
    dup = rows(db, 'SELECT "assignment_id", "student_id", count(*) AS n FROM "mark" GROUP BY 1, 2 HAVING n > 1')
    assert dup == []


def test_ctrl_c_mid_sync_in_process_logs_out_and_stores_the_run_as_interrupted(tmp_path: Path) -> None:
    """What Ctrl+C does inside the process (asyncio.run cancels the main task on SIGINT; the CLI sends SIGTERM the
    same way): the session is ended on the server, the run is stored «прервана», the cancellation goes on up —
    (the next full load continues it: test_an_interrupted_full_load_…). Processes and signals: the slow test below."""
    from adapters.emulator.transport import EmulatorTransport
    from asurso_sync.sync import SyncOptions, sync_once
    from tests.schools import no_wait

    emu = Emulator(EmulatorSettings(size="tiny", prebuilt=fresh_school(), clock=START))
    config = make_config(tmp_path)

    class Interrupting(EmulatorTransport):
        """Cancels the sync at its 120th request, as the user's Ctrl+C would, half way through the load."""

        task: asyncio.Task[object] | None = None
        seen = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.seen += 1
            if self.seen == 120 and self.task is not None:
                self.task.cancel()
            return await super().handle_async_request(request)

    async def go() -> None:
        transport = Interrupting(emu)
        options = SyncOptions(mode="all", lookback_days=config.sync.lookback_days)
        transport.task = asyncio.create_task(sync_once(config, options, transport=transport, sleep=no_wait))
        with pytest.raises(asyncio.CancelledError):
            await transport.task

    asyncio.run(go())
    assert not emu.sessions  # logged out
    with closing(open_cache(config.cache.path)) as db:
        assert rows(db, 'SELECT "status" FROM "sync_run"')[0]["status"] == "interrupted"
        assert len(rows(db, 'SELECT 1 FROM "observation"')) > 0


@pytest.mark.slow  # a real process and a real signal; in process: the test above
def test_sigterm_mid_sync_logs_out_and_stores_the_run_as_interrupted(tmp_path: Path) -> None:
    """Issue #19 (10): ``systemctl stop`` sends SIGTERM; it is handled like Ctrl+C — the session is ended on the
    server, the run is stored «прервана» (not «идёт» forever), exit 130 — and the next full load continues."""
    emu = Emulator(EmulatorSettings(size="tiny", clock=START, faults=replace(parse_faults(None), latency=0.01)))
    with serve(emu) as base:
        config = make_config(tmp_path, base_url=base)
        proc = sync_all_process(tmp_path, base, capture=True)
        wait_until_observed(config.cache.path, 40, proc)
        assert emu.sessions, "the sync should be logged in by now"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err.decode()
        assert "Прервано" in err.decode() and "Traceback" not in err.decode()
        assert not emu.sessions  # logged out
        db = open_cache(config.cache.path)
        assert rows(db, 'SELECT "status" FROM "sync_run"')[0]["status"] == "interrupted"
        db.close()


def test_sync_and_status_commands_over_loopback(runner: CliRunner, tmp_path: Path, schools: Schools) -> None:
    """``sync`` and ``status`` as typed, over loopback HTTP, on a school synced for a week (built once per run)."""
    emu, config = schools.copy(tmp_path)
    with serve(emu) as base:
        env = {"ASURSO_SYNC_ASURSO__BASE_URL": base, "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0"}
        result = runner.invoke(app, ["--config", str(config.source), "sync"], env=env)
        assert result.exit_code == 0, result.output
        assert "Синхронизация №" in result.stdout and "успешно" in result.stdout
        assert "Записей изменено" in result.stdout
        result = runner.invoke(app, ["--config", str(config.source), "status"], env=env)
        assert result.exit_code == 0 and "Данные свежие" in result.stdout, result.output
    with closing(open_cache(config.cache.path)) as db:
        audit = rows(db, """SELECT count(*) AS n FROM "audit_log" WHERE "action" = 'sync'""")
    assert audit[0]["n"] >= 1


def asyncio_sync(config: object) -> None:
    from asurso_sync.sync import SyncOptions, sync_once

    asyncio.run(sync_once(config, SyncOptions(mode="all")))


@pytest.mark.slow  # two full loads over loopback HTTP; the summary of an incremental sync: the test below
def test_sync_command_over_loopback_with_summary(runner: CliRunner, tmp_path: Path) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", clock=START))
    with serve(emu) as base:
        make_config(tmp_path, base_url=base)
        env = {
            "ASURSO_PASSWORD": "Сота-2026",
            "ASURSO_SYNC_ASURSO__BASE_URL": base,
            "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        }
        result = runner.invoke(app, ["--config", str(tmp_path / "config.toml"), "sync", "--all"], env=env)
        assert result.exit_code == 0, result.output
        assert "Синхронизация №1" in result.stdout and "успешно" in result.stdout
        result = runner.invoke(app, ["--config", str(tmp_path / "config.toml"), "sync"], env=env)
        assert result.exit_code == 0 and "Записей изменено" in result.stdout
        result = runner.invoke(app, ["--config", str(tmp_path / "config.toml"), "status"], env=env)
        assert result.exit_code == 0 and "Данные свежие" in result.stdout
    db = open_cache(tmp_path / "cache.db")
    counts = {k: len(v) for k, v in canonical_dump(db).items()}
    assert counts["school_class"] == len(emu.school.classes) == 2
    joined = [st for st in emu.school.students.values() if st.join_on is None or st.join_on <= emu.clock.date()]
    assert counts["student"] == len(joined) and counts["mark"] > 1_000
    audit = rows(db, """SELECT count(*) AS n FROM "audit_log" WHERE "action" = 'sync'""")
    assert audit[0]["n"] == 2


def test_year_period_keeps_only_its_students_and_year_marks() -> None:
    """The year's own period repeats the terms' lessons: of its journal only the list and `totals` are mirrored,
    so a lesson never moves from its quarter to the year (docs/server-api.md §3, «year marks»)."""
    from adapters.netschool.models import JournalBody
    from asurso_sync.mirror import journal_rows

    body = JournalBody.model_validate(
        {
            "subjectGroupId": 5,
            "students": [{"id": 7, "fullName": "Кузнецова Ольга"}],
            "classMeeting": [{"id": 11, "date": "2027-04-06T00:00:00"}],
            "assignments": [{"id": 21, "classMeetingId": 11, "typeId": 1, "weight": 1}],
            "marks": [{"assignmentId": 21, "studentId": 7, "mark": 5}],
            "attendance": [{"classmeetingId": 11, "studentId": 7, "reason": "Б"}],
            "totals": [{"marks": [{"studentId": 7, "mark": "5", "markType": 0}]}],
        }
    )
    term = journal_rows(body, 5, 703)
    year = journal_rows(body, 5, 704, marks_only=True)
    assert all(term[t] for t in ("class_meeting", "assignment", "mark", "attendance", "enrollment", "term_mark"))
    assert not any(year[t] for t in ("class_meeting", "assignment", "mark", "attendance"))
    assert [r["student_id"] for r in year["enrollment"]] == [7]
    assert [(r["term_id"], r["mark"]) for r in year["term_mark"]] == [(704, "5")]


@pytest.mark.parametrize("drift", ["", "year_period"])
def test_year_marks_are_read_as_the_report_pages_address_the_year_and_as_a_listed_period(
    tmp_path: Path, drift: str
) -> None:
    """Issue #32, through the real client: by default the server lists no period of the year and serves its marks
    for ``termId=-1`` «год» (the report pages' ``TERMID``); under ``year_period`` the year is a listed period of
    ``termTypeId`` 4. CB-42's year marks are mirrored either way, under the id the server knows them by."""
    from adapters.emulator.faults import Faults
    from adapters.emulator.scenario import build, load

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-42.toml"))
    year = next(t for t in built.school.terms.values() if t.type_id == 4)
    faults = Faults(drifts=frozenset({drift} - {""}))
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal), faults=faults))
    config = make_config(tmp_path)
    report = run(emu, config, mode="all", at=datetime(2027, 6, 1, 7, 0))
    assert report.status == "ok", report.units_failed
    with closing(open_cache(config.cache.path)) as db:
        terms = {
            r["id"]: (r["name"], r["term_type_id"]) for r in rows(db, 'SELECT * FROM "term" WHERE "gone_at" IS NULL')
        }
        marks = rows(db, 'SELECT "term_id", "mark" FROM "term_mark" WHERE "gone_at" IS NULL AND "term_id" IN (?, -1)',
                     [year.id])  # fmt: skip
    expected = year.id if drift else -1
    assert terms[expected] == (("Год", 4) if drift else ("Год", None))
    assert (year.id in terms) is bool(drift) and (-1 in terms) is not bool(drift)
    assert [(m["term_id"], m["mark"]) for m in marks] == [(expected, "5")]


@pytest.mark.parametrize("drifts", [set(), {"ea_journal"}, {"ea_journal", "no_extracurricular_flag"}])
def test_the_extra_activity_journal_is_read_when_the_server_keeps_one(tmp_path: Path, drifts: set[str]) -> None:
    """Issue #32, through the real client: a server with IRTech's extra-activity journal (``ea_journal``) keeps
    CB-48's «Разговоры о важном» there — its filters name the group (``EASGID``), the class journal does not know
    it. The sync asks the filters, reads the group's journal with ``extraActivity=true`` and mirrors the group as
    внеурочная деятельность even with no flag on the subject; without that journal nothing changes."""
    from adapters.emulator.faults import Faults
    from adapters.emulator.scenario import build, load
    from asurso_sync.sync import Sync

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-48.toml"))
    extra = next(g.id for g in built.school.groups.values() if g.extracurricular)
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal), faults=Faults(drifts=frozenset(drifts))))
    config = make_config(tmp_path)
    seen: list[str | None] = []
    original = Sync._extra_activity_groups

    async def spy(self: Sync) -> set[int]:
        found = await original(self)
        seen.append(self.ea_journal)
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Sync, "_extra_activity_groups", spy)
        report = run(emu, config, mode="all", at=datetime(2026, 11, 30, 7, 0))
    assert report.status == "ok", report.units_failed
    assert set(seen) == {"read" if drifts else "absent"}
    with closing(open_cache(config.cache.path)) as db:
        group = rows(db, 'SELECT "extracurricular" FROM "subject_group" WHERE "id" = ?', [extra])
        lessons = rows(db, 'SELECT "day" FROM "class_meeting" WHERE "sg_id" = ? AND "gone_at" IS NULL', [extra])
    assert group == [{"extracurricular": 1}] and {r["day"] for r in lessons} >= {"2026-11-23"}


def test_a_failed_extra_activity_probe_keeps_the_mirrored_flags(tmp_path: Path) -> None:
    """R0: a night whose extra-activity filters fail (5xx after the retries) does not know which groups are
    внеурочная деятельность; the directory unit fails and the mirror keeps its groups' flags — saving the directory
    would turn «Разговоры о важном» into an ordinary lesson and its teacher's list would get false remarks."""
    from adapters.emulator.faults import Faults
    from adapters.emulator.scenario import build, load
    from adapters.netschool.client import NetSchoolClient
    from adapters.netschool.errors import ServerUnavailable

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-48.toml"))
    extra = next(g.id for g in built.school.groups.values() if g.extracurricular)
    drifts = frozenset({"ea_journal", "no_extracurricular_flag"})
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal), faults=Faults(drifts=drifts)))
    config = make_config(tmp_path)
    assert run(emu, config, mode="all", at=datetime(2026, 11, 30, 7, 0)).status == "ok"
    original = NetSchoolClient.post_read_json

    async def failing(self: NetSchoolClient, path: str, *args: Any, **kw: Any) -> Any:
        if "filter/init" in path:
            raise ServerUnavailable(path, "503", 3)
        return await original(self, path, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NetSchoolClient, "post_read_json", failing)
        report = run(emu, config, mode="all", at=datetime(2026, 12, 1, 7, 0))
    assert "справочники" in " ".join(report.units_failed)
    with closing(open_cache(config.cache.path)) as db:
        group = rows(db, 'SELECT "extracurricular" FROM "subject_group" WHERE "id" = ? AND "gone_at" IS NULL', [extra])
    assert group == [{"extracurricular": 1}]


def test_a_server_that_refuses_the_year_by_termid_costs_nothing(tmp_path: Path) -> None:
    """A school without a year period answers ``termId=-1`` with 400: no unit fails, no year mark is invented."""
    from adapters.emulator.scenario import build, load

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-42.toml"))
    built.school.terms = {k: t for k, t in built.school.terms.items() if t.type_id != 4}
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal)))
    config = make_config(tmp_path)
    report = run(emu, config, mode="all", at=datetime(2027, 6, 1, 7, 0))
    assert report.status == "ok" and not report.units_failed
    with closing(open_cache(config.cache.path)) as db:
        assert rows(db, 'SELECT * FROM "term_mark" WHERE "term_id" = -1') == []
        assert rows(db, 'SELECT * FROM "enrollment" WHERE "term_id" = -1') == []


def test_a_grade_whose_iup_groups_the_server_refuses_costs_only_those_groups(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ruling R20: ИУП groups are asked for per grade; a server that answers one grade with an error keeps the
    other grades' ИУП groups and the directory (the refusal is logged)."""
    from adapters.netschool import api
    from adapters.netschool.errors import NetSchoolError
    from adapters.netschool.models import SchoolClass, SubjectGroup
    from asurso_sync.sync import Sync

    async def fetch(_client: object, grade: int) -> list[SubjectGroup]:
        if grade == 10:
            raise NetSchoolError("Сервер ответил 400 на /webapi/subjectgroups")
        return [SubjectGroup.model_validate({"id": 900 + grade, "name": f"{grade} ИУП/Химия", "teachers": []})]

    monkeypatch.setattr(api, "fetch_iup_groups", fetch)
    sync = object.__new__(Sync)
    sync.client = None  # type: ignore[assignment]
    classes = [
        SchoolClass.model_validate({"id": i, "name": f"{g}А", "grade": {"id": g}}) for i, g in ((1, 10), (2, 11))
    ]
    with caplog.at_level("WARNING"):
        groups, grades = asyncio.run(sync._iup_groups(classes))
    assert grades == {911: 11} and [g.id for g in groups] == [911]
    assert "Группы ИУП 10 параллели не получены" in caplog.text


def test_an_interrupted_full_load_is_continued_not_restarted_and_not_passed_off_as_fresh(
    tmp_path: Path, schools: Schools
) -> None:
    """Issue #19 (1): a full load that did not end «ok» is continued by the next sync — a nightly one too — and
    the units it already read are not read again; only a completed full load lets the nightly sync be nightly."""
    from cache import full_load_state

    emu, config, first = schools.full_sync(tmp_path, START)
    planned = first.report["planned"]
    assert planned > 10 and first.report["status"] == "ok"
    db = open_cache(config.cache.path)
    with db.conn:  # as if the machine had been switched off at the very end of it
        db.execute('UPDATE "sync_run" SET "status" = \'failed\' WHERE "id" = ?', [first.report["run_id"]])
    state = full_load_state(db)
    assert state is not None and state.planned == planned and state.done >= planned - 1
    db.close()
    requests = emu.total_requests
    again = run(emu, config, "incremental", at=START + timedelta(hours=9))
    assert again.mode == "all" and again.status == "ok"
    assert emu.total_requests - requests < planned / 2  # the journals, topics and plans were not read again
    db = open_cache(config.cache.path)
    assert full_load_state(db) is None
    db.close()
    nightly = run(emu, config, "incremental", at=START + timedelta(hours=10))
    assert nightly.mode == "incremental"


def test_progress_names_units_as_people_do(tmp_path: Path, schools: Schools) -> None:
    """Issue #19 (1): the progress line says «8а, Алгебра, 2 четверть», «тема: 8а, Алгебра, 10.12» — never an id."""
    import re as re_

    seen = schools.full_sync(tmp_path, START)[2].progress  # a full load's progress lines, as sync_once gave them
    assert len(seen) > 50
    assert not [s for s in seen if re_.search(r"\d{4,}", s)], "an internal id reached the progress line"
    assert any(re_.fullmatch(r"\d+[а-я], [А-Яа-я ()]+, \d четверть", s) for s in seen), seen[:20]
    assert any(re_.fullmatch(r"тема: \d+[а-я], .+, \d\d\.\d\d", s) for s in seen)
    assert any(s.startswith("ученики ") and re_.search(r"\d+[а-я]$", s) for s in seen)


class Recording(httpx.AsyncBaseTransport):
    """The emulator's transport, keeping every request (url and body) — and refusing the paths in ``refuse``."""

    def __init__(self, emu: Emulator, refuse: frozenset[str] = frozenset()) -> None:
        from adapters.emulator.transport import EmulatorTransport

        self.inner = EmulatorTransport(emu)
        self.seen: list[httpx.Request] = []
        self.refuse = refuse

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.seen.append(request)
        if request.url.path in self.refuse:
            return httpx.Response(400, json={"message": "Неверные параметры запроса"}, request=request)
        return await self.inner.handle_async_request(request)


def test_directory_calls_send_what_the_journal_page_sends(tmp_path: Path, schools: Schools) -> None:
    """Issue #20: subject groups are asked class by class (and ИУП groups grade by grade), never bare;
    ``terms/search`` carries the school year's period; its refusal ends the run with one clear message."""
    from asurso_sync.sync import SyncOptions, sync_once
    from tests.schools import no_wait

    emu, config, full = schools.full_sync(tmp_path, START)  # what a full load sent, recorded below the client
    assert full.report["status"] == "ok"
    groups = [r["params"] for r in full.requests if r["path"] == "/webapi/subjectgroups"]
    assert groups and all("classId" in p or "iupClassId" in p for p in groups)
    searches = [json.loads(r["body"]) for r in full.requests if r["path"] == "/webapi/terms/search"]
    assert searches and all(
        s["startPeriod"] == "2026-09-01T00:00:00" and s["endPeriod"][:4] == "2027" for s in searches
    ), searches[:2]

    refused = Recording(emu, frozenset({"/webapi/terms/search"}))
    broken = asyncio.run(sync_once(config, SyncOptions(mode="incremental"), transport=refused, sleep=no_wait))
    assert broken.status == "failed" and "не получены учебные периоды класса" in (broken.error or "")
    assert "Traceback" not in (broken.error or "") and "(terms/search)" in (broken.error or "")


@pytest.mark.slow  # two emulator processes and two sync processes over loopback
def test_resets_and_429_over_http_give_the_same_mirror_as_a_clean_run(tmp_path: Path) -> None:
    """Issue #31 (2): ``emulator serve --faults reset=0.1,429=0.1`` used to end ``sync`` with exit 4
    («_Transient: соединение разорвано», from the access-report probe). Every request now passes the one retry
    policy: the sync exits 0 and mirrors exactly what a fault-free run mirrors."""
    from tests.emu import serve_process

    dumps = []
    # «Retry-After: 0» (no hint: the client's own back-off) rather than the emulator's default 1 s: each 429 cost a
    # second of waiting (~35 s a run); honouring a Retry-After is test_netschool_respx's
    for name, faults in (("clean", "none"), ("faulty", "reset=0.1,429=0.1,retry_after=0")):
        folder = tmp_path / name
        folder.mkdir()
        args = ("--size", "tiny", "--clock", START.isoformat(), "--faults", faults)
        with serve_process(*args) as base:
            config = make_config(folder, base_url=base)
            proc = sync_all_process(folder, base, capture=True)
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, (out + err).decode()
            assert b"RuntimeWarning" not in err and b"Traceback" not in err
        db = open_cache(config.cache.path)
        counts = json.loads(rows(db, 'SELECT "counts" FROM "sync_run"')[0]["counts"])
        dumps.append(canonical_dump(db))
        db.close()
        if name == "faulty":
            assert counts["retries"] > 0, counts
    assert sum(map(len, dumps[0].values())) > 5000
    assert dumps[0] == dumps[1]


def test_cancelling_the_sync_at_random_moments_leaves_nothing_unawaited(tmp_path: Path) -> None:
    """Issue #31 (8): Ctrl+C (the runner cancels the sync's task) at any moment — while logging in, between a
    stage's units being planned and started, mid-unit, while logging out — leaves no un-awaited coroutine, no
    asyncio complaint, and the run stored «прервана». The moments are event-loop turns drawn at random over a
    whole run, plus the first turns (cancelled while logging in)."""
    import gc
    import random
    import warnings

    from adapters.emulator.scenario import build, load
    from adapters.emulator.transport import EmulatorTransport
    from asurso_sync.sync import SyncOptions, sync_once
    from tests.schools import no_wait

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-01.toml"))  # a small school: fast runs
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal)))
    emu.reports.build_seconds = 0
    problems: list[str] = []

    async def attempt(folder: Path, turns: int | None) -> tuple[str, int]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: problems.append(str(ctx.get("message"))))
        config = make_config(folder)
        options = SyncOptions(mode="all", lookback_days=config.sync.lookback_days)
        task = asyncio.create_task(sync_once(config, options, transport=EmulatorTransport(emu), sleep=no_wait))
        done = 0
        while not task.done() and (turns is None or done < turns):
            await asyncio.sleep(0)
            done += 1
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled", done
        return "finished", done

    def run_at(i: int, turns: int | None) -> tuple[str, int]:
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outcome = asyncio.run(attempt(folder, turns))
            gc.collect()
        assert not [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)], (i, turns)
        assert not problems, (turns, problems)
        db = open_cache(folder / "cache.db")
        statuses = [r["status"] for r in rows(db, 'SELECT "status" FROM "sync_run"')]
        db.close()
        assert statuses == (["ok"] if outcome[0] == "finished" else ["interrupted"]), (turns, outcome, statuses)
        return outcome

    with only_new_garbage():  # the collections look at this test's objects only
        _, whole = run_at(0, None)  # how many loop turns a whole run takes
        rng = random.Random(31)
        moments = sorted({1, 2, 5, *(1 + rng.randrange(whole) for _ in range(6))})
        outcomes = [run_at(i + 1, turns)[0] for i, turns in enumerate(moments)]
    assert outcomes.count("cancelled") >= len(moments) - 1


@pytest.mark.slow  # 20 sync processes over loopback: about a minute alone, three under load
def test_ctrl_c_or_sigterm_at_random_moments_of_a_sync_process(tmp_path: Path) -> None:
    """Issue #31 (8): Ctrl+C or SIGTERM at any moment of a real ``sync`` — from the moment it holds the cache
    (logging in, the directory, units planned but not started, mid-unit, logging out) — ends with exit 130,
    «Прервано», no traceback, no warning, and the run stored «прервана» (or, when the signal came after the
    sync had stored its complete run, that run, finished before the signal). The moments are drawn at random over
    the time a clean run takes from holding the cache to storing its run."""
    import random
    import sqlite3
    import time
    from contextlib import closing

    from adapters.emulator.scenario import build, load

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-01.toml"))
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal)))
    emu.reports.build_seconds = 0
    rng = random.Random(3108)
    deadline = time.monotonic() + 400

    def stored_status(cache: Path) -> str | None:
        try:
            with closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5)) as conn:
                row = conn.execute('SELECT "status" FROM "sync_run"').fetchone()
        except sqlite3.Error:
            return None
        return str(row[0]) if row else None

    def one(folder: Path, base: str, delay: float | None, sig: int) -> tuple[str, float]:
        folder.mkdir()
        config = make_config(folder, base_url=base)
        cache = config.cache.path
        proc = sync_all_process(folder, base, capture=True)
        while not cache.exists() and proc.poll() is None:  # the sync holds the cache from here on
            time.sleep(0.005)
        opened = time.monotonic()
        signalled = None
        if delay is not None:
            time.sleep(delay)
            signalled = datetime.now(UTC)
            proc.send_signal(sig)
        else:  # the clean run: how long from holding the cache to the run stored as finished
            while proc.poll() is None and stored_status(cache) in (None, "running"):
                time.sleep(0.01)
            opened = time.monotonic() - opened
        out, err = proc.communicate(timeout=60)
        text = (out + err).decode()
        for bad in (
            "Traceback",
            "RuntimeWarning",
            "ResourceWarning",
            "never awaited",
            "Task was destroyed",
            "Exception ignored",
        ):
            assert bad not in text, (delay, sig, text)
        db = open_cache(cache)
        runs = rows(db, 'SELECT "status", "finished_at" FROM "sync_run"')
        db.close()
        statuses = [r["status"] for r in runs]
        if statuses == ["ok"] and signalled is not None:  # finished before the signal, not despite it
            assert datetime.fromisoformat(runs[0]["finished_at"]) <= signalled, (delay, runs, signalled)
        if statuses == ["interrupted"]:
            assert proc.returncode == 130 and "Прервано" in text, (delay, sig, proc.returncode, text)
        else:  # the signal came after the sync had stored its complete run: while logging out, printing the
            # summary (exit 130, «Прервано») or shutting the interpreter down (killed by the signal)
            assert statuses == ["ok"], (delay, sig, proc.returncode, statuses, text)
            assert proc.returncode in (0, 130, -sig), (delay, sig, proc.returncode, text)
        emu.sessions.clear()  # each run on its own: a session a cut-off login left behind would only warn
        return statuses[0], opened

    with serve(emu) as base:
        # the span of a clean run; the first run of a fresh emulator is slower (it builds its pages), so the
        # shorter of two
        spans = [one(tmp_path / f"clean{n}", base, None, signal.SIGINT) for n in range(2)]
        assert [status for status, _ in spans] == ["ok", "ok"]
        whole = min(span for _, span in spans)
        stored = []
        for i in range(20):
            assert time.monotonic() < deadline, "the interrupts took too long"
            sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
            stored.append(one(tmp_path / f"i{i}", base, rng.uniform(0, whole), sig)[0])
    assert stored.count("interrupted") >= 6, stored  # how many land inside depends on the machine's load


def test_a_fatal_error_in_any_unit_leaves_nothing_unawaited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #31 (8): «database or disk is full» in one unit (a fatal error: not the server's) came with
    «RuntimeWarning: coroutine … never awaited». The units run in task groups now: the error cancels and awaits
    the others and reaches the caller as itself (not an ExceptionGroup, which would be exit 4 whatever the
    error), with no warning and the run stored as failed — at whichever unit it happens."""
    import gc
    import sqlite3
    import warnings

    from adapters.emulator.scenario import build, load
    from asurso_sync.sync import Sync

    built = build(load(Path(__file__).parent.parent / "casebook" / "cb-01.toml"))
    emu = Emulator(EmulatorSettings(prebuilt=(built.school, built.journal)))
    emu.reports.build_seconds = 0
    real_save = Sync._save
    for n, nth in enumerate((2, 7, 15)):  # a class list, journals
        calls = {"n": 0}

        def save(self: Sync, *args: object, nth: int = nth, calls: dict[str, int] = calls, **kw: object) -> None:
            calls["n"] += 1
            if calls["n"] == nth:
                raise sqlite3.OperationalError("database or disk is full")
            real_save(self, *args, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(Sync, "_save", save)
        folder = tmp_path / f"f{n}"
        folder.mkdir()
        config = make_config(folder)
        with warnings.catch_warnings(record=True) as caught, only_new_garbage():
            warnings.simplefilter("always")
            with pytest.raises(sqlite3.OperationalError, match="disk is full"):
                run(emu, config, "all")
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == [], nth
        db = open_cache(config.cache.path)
        assert [r["status"] for r in rows(db, 'SELECT "status" FROM "sync_run"')] == ["failed"], nth
        db.close()
        emu.sessions.clear()


def test_a_topic_entered_on_the_last_editable_day_reaches_the_next_nightly_sync(tmp_path: Path) -> None:
    """The journal lets a teacher enter a topic until the lesson is ``editLimit`` days old; the nightly sync after
    that day must still read the lesson, or the remark stays «не устранено» for a fixed lesson (found by the term
    benchmark: a topic entered on the 14th day was in the access report but never in the mirror)."""
    emu = Emulator(EmulatorSettings(size="tiny", prebuilt=fresh_school(), clock=START))
    day = START.date() - timedelta(days=14)
    cm = next(i for i, lesson in emu.school.lessons.items() if lesson.day == day and i in emu.journal.topics)
    topic = emu.journal.topics.pop(cm)
    config = make_config(tmp_path)
    run(emu, config, "all", at=START)
    db = open_cache(config.cache.path)
    assert not rows(db, 'SELECT 1 FROM "lesson_topic" WHERE "cm_id" = ?', [cm])
    emu.journal.topics[cm] = replace(topic, at=START.replace(hour=17, minute=0))  # the 14th day: still editable
    run(
        emu,
        config,
        "incremental",
        at=datetime.combine(START.date() + timedelta(days=1), datetime.min.time()).replace(hour=1),
    )
    assert rows(db, 'SELECT "cm_id" FROM "lesson_topic" WHERE "cm_id" = ?', [cm])
