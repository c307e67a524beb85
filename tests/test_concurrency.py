"""One cache, many hands (issue #31, item 1): every process that opens the cache can run beside every other.

docs/concurrency.md is the model these tests hold the code to: WAL, a busy timeout on every connection, write
transactions that take the write lock first (``BEGIN IMMEDIATE``), and «database is locked» never an exit 4.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from adapters.emulator.faults import parse_faults
from adapters.emulator.server import Emulator, EmulatorSettings
from asurso_sync import exitcodes
from asurso_sync.errors import exit_code_for
from asurso_sync.web.jobs import Jobs
from cache import open_cache, rows, save_rows, unit
from cache.db import CacheBusyError, write_transaction
from tests.emu import serve
from tests.sync_helpers import make_config, run, sync_all_process, wait_until_observed

START = datetime(2026, 11, 23, 16, 5)
OTHER_STATE = """INSERT INTO "sync_state" ("resource", "scope", "updated_at") VALUES ('other', '{}', 'x')"""


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASURSO_PASSWORD", "Сота-2026")


def _vacations(n: int) -> list[dict[str, object]]:
    return [{"id": i, "name": f"Каникулы {i}", "start_date": "2026-11-01", "end_date": "2026-11-08"} for i in range(n)]


def test_a_unit_does_not_fail_while_another_connection_writes(tmp_path: Path) -> None:
    """The defect: a sync unit began with a read (``BEGIN`` deferred, then the mirror's current rows), and its
    first write had to upgrade the read lock while the check held the write lock — SQLite then answers «database
    is locked» at once, without waiting. A unit now takes the write lock first and waits its turn."""
    path = tmp_path / "cache.db"
    first = open_cache(path)
    with unit(first, "vacations", {}, observed_at="2026-11-23T16:05:00") as u:
        u.save("vacation", _vacations(3), complete=True)
    holding = threading.Event()
    release = threading.Event()

    def writer() -> None:  # the check's record_check: a write transaction held for a while
        with closing(open_cache(path)) as second, write_transaction(second):
            second.execute(OTHER_STATE)
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with unit(first, "vacations", {}, observed_at="2026-11-23T16:06:00") as u:  # waits, does not fail
        u.save("vacation", _vacations(4), complete=True)
    thread.join()
    assert time.monotonic() - started >= 0.25
    assert len(rows(first, 'SELECT * FROM "vacation"')) == 4
    assert len(rows(first, 'SELECT * FROM "sync_state"')) == 2
    first.close()


def test_a_reader_is_never_blocked_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    writer, reader = open_cache(path), open_cache(path)
    save_rows(writer, "vacation", _vacations(2), observed_at="2026-11-23T16:05:00")
    with write_transaction(writer):
        save_rows(writer, "vacation", _vacations(5), observed_at="2026-11-23T16:06:00")
        started = time.monotonic()
        assert len(rows(reader, 'SELECT * FROM "vacation"')) == 2  # the committed state, at once
        assert time.monotonic() - started < 1
    assert len(rows(reader, 'SELECT * FROM "vacation"')) == 5
    writer.close()
    reader.close()


def test_every_connection_has_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    db = open_cache(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    path.chmod(0o400)  # a reader who may not write: the read-only connection waits too
    try:
        if os.geteuid() != 0:
            ro = open_cache(path, create=False, read_only_ok=True)
            assert ro.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
            ro.close()
    finally:
        path.chmod(0o600)
    db.close()


def test_a_lock_held_past_the_timeout_is_exit_7_not_4(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    holder = open_cache(path)
    waiter = open_cache(path)
    waiter.execute("PRAGMA busy_timeout = 50")
    with write_transaction(holder):
        holder.execute(OTHER_STATE)
        with pytest.raises(CacheBusyError) as caught, write_transaction(waiter, attempts=2):
            pass
    assert exit_code_for(caught.value) == exitcodes.LOCKED
    assert str(path) in str(caught.value)
    # and an SQLite «database is locked» from anywhere else is exit 7 too, never a bug report
    assert exit_code_for(sqlite3.OperationalError("database is locked")) == exitcodes.LOCKED
    holder.close()
    waiter.close()


def _check(folder: Path, base: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ASURSO_PASSWORD": "Сота-2026",
        "ASURSO_SYNC_ASURSO__BASE_URL": base,
        "ASURSO_SYNC_CONFIG": str(folder / "config.toml"),
        "ASURSO_TEST_NOW": START.isoformat(),
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.cli_at", "check", "--format", "json", "--output", str(folder / "out.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # real processes: a full load and checks beside it
def test_check_processes_beside_a_full_load_both_succeed(tmp_path: Path) -> None:
    """The defect: `check` during `sync --all` killed the sync (exit 4 «database is locked» from save_rows)."""
    emu = Emulator(EmulatorSettings(size="tiny", clock=START, faults=replace(parse_faults(None), latency=0.01)))
    with serve(emu) as base:
        config = make_config(tmp_path, base_url=base)
        run(emu, config, "all")  # a check needs one finished sync
        with closing(open_cache(config.cache.path)) as db:
            units = len(rows(db, 'SELECT * FROM "observation"'))
        proc = sync_all_process(tmp_path, base, capture=True)
        wait_until_observed(config.cache.path, units + 5, proc)
        cabinet = Jobs(config).start("check")  # the cabinet's «Запуск» → «Проверить журнал», in this process
        assert cabinet is not None
        checks = []
        while proc.poll() is None or not checks:
            checks.append(_check(tmp_path, base))
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        while cabinet.state == "running":
            time.sleep(0.1)
    assert cabinet.state == "ok", cabinet.message
    assert len(checks) >= 2
    for done in checks:
        assert done.returncode in (exitcodes.OK, exitcodes.ATTENTION, exitcodes.VIOLATIONS), done.stderr
    with closing(open_cache(config.cache.path)) as db:
        assert rows(db, 'SELECT "status" FROM "sync_run" ORDER BY "id"')[-1]["status"] == "ok"
        assert len(rows(db, 'SELECT * FROM "check_run"')) == len(checks) + 1
