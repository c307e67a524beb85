"""Storage faults in their class (issue #31, items 3, 4, 7): disk full, a damaged or empty or foreign file, the
nightly backup and its restore, folders 0700, nothing left behind by a command that failed before writing, a
read-only file system named as such."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import stat
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asurso_sync import exitcodes
from asurso_sync.cli import app
from asurso_sync.config import Config
from asurso_sync.errors import exit_code_for, message_for
from asurso_sync.scheduler import Jobs
from asurso_sync.sync import sync_once
from cache import backup, backups, newest_good_backup, open_cache, quick_check, save_rows
from tests.schools import Schools, Spec

MONDAY = datetime(2026, 12, 7).date()


CHECKED = Spec(start=MONDAY, weeks=1, check_at=datetime(2026, 12, 14, 7, 0))  # synced for a week and checked


def _synced(schools: Schools, folder: Path, spec: Spec = CHECKED) -> Config:
    return schools.copy(folder, spec)[1]


DATA_TABLES = ("mark", "attendance", "class_meeting", "change_log", "finding", "observation")


def _corrupt(path: Path) -> None:
    """Flip bytes past the header in every page of the journal's data tables (the schema, the cabinet's password
    and the run records stay readable, the data not): the damage a bad disk sector does."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        names = ", ".join("?" * len(DATA_TABLES))
        pages = [r[0] for r in conn.execute(f"SELECT pageno FROM dbstat WHERE name IN ({names})", DATA_TABLES)]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    for page in pages:
        start = (page - 1) * size
        data[start + 8 : start + 200] = bytes((b ^ 0x5A) for b in data[start + 8 : start + 200])
    path.write_bytes(bytes(data))


def _check(runner: CliRunner, cfg: str, out: Path) -> tuple[int, str]:
    result = runner.invoke(
        app, ["-c", cfg, "check", "--stale-ok", "--as-of", "2026-12-12T12:00", "-f", "json", "-o", str(out)]
    )
    return result.exit_code, result.output


def _findings(out: Path) -> list[tuple[str, str, str]]:
    data = json.loads(out.read_text(encoding="utf-8"))
    return sorted((f["rule"], f["fingerprint"], f["state"]) for f in data["findings"])


# --- disk full ------------------------------------------------------------------------------------


def test_disk_full_is_exit_9_with_the_russian_message(tmp_path: Path) -> None:
    """SQLite's «database or disk is full» (a database that may not grow: max_page_count) is exit 9 «Нет места
    на диске», not a bug report."""
    db = open_cache(tmp_path / "cache.db")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    rows = [{"id": i, "name": "x" * 500, "start_date": "2026-11-01", "end_date": "2026-11-08"} for i in range(200)]
    with pytest.raises(sqlite3.OperationalError) as caught:
        save_rows(db, "vacation", rows, observed_at="2026-11-23T16:05:00")
    assert exit_code_for(caught.value) == exitcodes.STORAGE
    assert message_for(caught.value).startswith("Нет места на диске")
    db.close()


def test_disk_full_during_check_is_exit_9(tmp_path: Path, runner: CliRunner, schools: Schools, monkeypatch) -> None:
    config = _synced(schools, tmp_path)
    import cache.db

    connect = cache.db._connect

    def full(path: Path):  # type: ignore[no-untyped-def]
        db = connect(path)
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        return db

    monkeypatch.setattr(cache.db, "_connect", full)
    code, output = _check(runner, str(tmp_path / "config.toml"), tmp_path / "out.json")
    assert code == exitcodes.STORAGE, output
    assert "Нет места на диске" in output and "внутренняя ошибка" not in output
    assert config.cache.path.exists()


# --- damage, empty and foreign files --------------------------------------------------------------


def test_a_damaged_cache_is_exit_9_naming_the_file_and_the_restore(
    tmp_path: Path, runner: CliRunner, schools: Schools
) -> None:
    config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    _corrupt(config.cache.path)
    assert not quick_check(config.cache.path).ok
    for args in (["status"], ["remarks", "build"], ["purge", "--before", "2026-09-10", "--dry-run"], ["browse"]):
        result = runner.invoke(app, ["-c", cfg, *args])
        assert result.exit_code == exitcodes.STORAGE, (args, result.output)
        text = "".join(result.output.split())  # rich may wrap a long path anywhere
        assert config.cache.path.name in text and "asurso-syncrestore" in text, (args, result.output)
        assert "внутренняяошибка" not in text
    code, output = _check(runner, cfg, tmp_path / "out.json")
    assert code == exitcodes.STORAGE and "asurso-syncrestore" in "".join(output.split())
    selfcheck = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert selfcheck.exit_code == exitcodes.ATTENTION
    assert "✘ кэш исправен" in selfcheck.output and "restore" in selfcheck.output


def test_an_empty_or_foreign_file_is_never_initialised_by_a_reading_command(
    tmp_path: Path, runner: CliRunner, config_file: Path
) -> None:
    cache = tmp_path / "cache.db"
    cache.touch(mode=0o600)
    for args in (["status"], ["check"], ["remarks", "build"], ["browse"], ["rules", "waivers"]):
        result = runner.invoke(app, ["-c", str(config_file), *args])
        assert result.exit_code == exitcodes.STORAGE, (args, result.output)
        assert "пуст" in result.output
        assert cache.stat().st_size == 0, args  # still empty: not turned into a new cache
    cache.unlink()
    with closing(sqlite3.connect(cache)) as other:
        other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        other.commit()
    before = cache.read_bytes()
    for args in (["status"], ["check"], ["init", "--force"]):
        result = runner.invoke(app, ["-c", str(config_file), *args])
        assert result.exit_code == exitcodes.STORAGE, (args, result.output)
        assert "другой программы" in result.output
    assert cache.read_bytes() == before


# --- backup and restore ---------------------------------------------------------------------------


def test_backup_restore_brings_back_the_check(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    """Corrupt the cache, restore, and `check` equals the check before the corruption."""
    config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    result = runner.invoke(app, ["-c", cfg, "backup"])
    assert result.exit_code == 0, result.output
    code, output = _check(runner, cfg, tmp_path / "before.json")
    assert code in (0, 1, 8), output
    before = _findings(tmp_path / "before.json")
    assert before
    _corrupt(config.cache.path)
    code, output = _check(runner, cfg, tmp_path / "broken.json")
    assert code == exitcodes.STORAGE, output
    result = runner.invoke(app, ["-c", cfg, "restore"])
    assert result.exit_code == 0, result.output
    assert "восстановлен" in result.output
    safety = [p for p in tmp_path.iterdir() if re.fullmatch(r"cache.db.before-restore-\d{8}T\d{6}Z", p.name)]
    assert len(safety) == 1 and not quick_check(safety[0]).ok  # the damaged file kept, not deleted
    assert stat.S_IMODE(config.cache.path.stat().st_mode) == 0o600
    code, output = _check(runner, cfg, tmp_path / "after.json")
    assert code in (0, 1, 8), output
    assert _findings(tmp_path / "after.json") == before


def test_backups_are_private_verified_and_kept_for_n_nights(tmp_path: Path) -> None:
    cache = tmp_path / "cache.db"
    db = open_cache(cache)
    save_rows(db, "vacation", [{"id": 1, "name": "a", "start_date": "x", "end_date": "y"}], observed_at="t")
    start = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    for night in range(5):
        backup(cache, keep=3, now=start + timedelta(days=night))
    kept = backups(cache)
    assert [b.at.day for b in kept] == [5, 4, 3]
    folder = kept[0].path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for b in kept:
        assert stat.S_IMODE(b.path.stat().st_mode) == 0o600 and quick_check(b.path).ok
    _corrupt_whole(kept[0].path)
    assert newest_good_backup(cache) == kept[1]  # a damaged copy is never the one restored
    db.close()


def _corrupt_whole(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:] = bytes(len(data) - 100)
    path.write_bytes(bytes(data))


def test_the_nightly_job_backs_up_after_its_sync(tmp_path: Path, schools: Schools) -> None:
    from adapters.emulator.transport import EmulatorTransport

    emu, config = schools.copy(tmp_path, Spec(start=MONDAY, weeks=1))
    emu.clock = emu.clock + timedelta(hours=8)
    jobs = Jobs(config, now=lambda: emu.clock, transport=EmulatorTransport(emu))
    assert "резервная копия" in jobs.run("nightly")
    assert len(backups(config.cache.path)) == 1


def test_selfcheck_reports_the_age_of_the_newest_good_backup(
    tmp_path: Path, runner: CliRunner, schools: Schools
) -> None:
    config = _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    none = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert "✘ исправной резервной копии кэша нет" in none.output
    backup(config.cache.path, keep=7, now=datetime.now(UTC) - timedelta(hours=5))
    fresh = runner.invoke(app, ["-c", cfg, "selfcheck"])
    assert "✔ последняя исправная резервная копия кэша сделана 5 ч назад" in " ".join(fresh.output.split())
    assert "✔ кэш исправен" in fresh.output


# --- files ----------------------------------------------------------------------------------------


def test_a_failed_sync_leaves_nothing_behind_and_folders_are_private(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defects: `sync` with no password (exit 2) left cache.db and cache.db.lock; the cache's folders were
    created 0755 by the lock file."""
    monkeypatch.delenv("ASURSO_PASSWORD", raising=False)
    cfg = tmp_path / "config.toml"
    from asurso_sync.config import example_config_text

    cfg.write_text(example_config_text().replace('path = "cache.db"', 'path = "data/school/cache.db"'), "utf-8")
    result = runner.invoke(app, ["-c", str(cfg), "sync"])
    assert result.exit_code == exitcodes.CONFIG, result.output
    assert not (tmp_path / "data").exists()
    monkeypatch.setenv("ASURSO_PASSWORD", "x")
    monkeypatch.setenv("ASURSO_SYNC_ASURSO__BASE_URL", "http://127.0.0.1:9")  # nothing listens: exit 6
    # the command as it runs, but its client's back-offs before giving up return at once (counted, not waited)
    backoffs: list[float] = []

    async def no_wait(seconds: float) -> None:
        backoffs.append(seconds)

    monkeypatch.setattr("asurso_sync.cli.sync.sync_once", functools.partial(sync_once, sleep=no_wait))
    result = runner.invoke(app, ["-c", str(cfg), "sync"])
    assert result.exit_code == exitcodes.TEMPFAIL, result.output
    assert backoffs  # a refused connection is retried before the run gives up
    for folder in (tmp_path / "data", tmp_path / "data" / "school"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_read_only_file_system_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cache.db
    from cache import CacheAccessError, ReadOnlyFileSystemError, check_writable

    db = open_cache(tmp_path / "cache.db")
    db.close()
    monkeypatch.setattr(cache.db, "on_read_only_fs", lambda _path: True)
    with pytest.raises(ReadOnlyFileSystemError) as caught:
        check_writable(tmp_path / "cache.db")
    assert isinstance(caught.value, CacheAccessError)
    assert "только для чтения" in str(caught.value) and "sudo" not in str(caught.value)
    assert exit_code_for(caught.value) == exitcodes.STORAGE
    assert "только для чтения" in message_for(OSError(30, "Read-only file system", "/x"))


def test_remarks_send_dry_run_works_on_a_read_only_cache(
    tmp_path: Path, runner: CliRunner, schools: Schools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defect: `remarks send --dry-run` refused a cache the user may only read, although it writes nothing."""
    import cache.db

    _synced(schools, tmp_path)
    cfg = str(tmp_path / "config.toml")
    assert _check(runner, cfg, tmp_path / "out.json")[0] in (0, 1, 8)
    monkeypatch.setattr(cache.db, "_writable", lambda _path: False)  # as a user without write permission (root may)
    result = runner.invoke(app, ["-c", cfg, "remarks", "send", "--dry-run"])
    assert result.exit_code in (0, 1), result.output
    assert "Будет отправлено" in result.output
    refused = runner.invoke(app, ["-c", cfg, "remarks", "send"])  # a real send must write: refused with the owner
    assert refused.exit_code == exitcodes.STORAGE and "Нет прав на запись" in refused.output


def test_the_cabinet_shows_a_damaged_cache_on_every_page(tmp_path: Path, schools: Schools) -> None:
    """The defect: over a damaged cache the cabinet served pages with no warning and `/lists` answered 500."""
    import httpx

    from asurso_sync.web.app import create_app
    from cache.cabinet import set_password_hash
    from tests.emu import serve
    from tests.passwords import stored_hash

    _emu, config = schools.copy(tmp_path, CHECKED)
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash("Пароль-кабинета-1"))
    _corrupt(config.cache.path)
    app = create_app(config)
    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/login", data={"password": "Пароль-кабинета-1"}).status_code in (200, 303)
        for path in ("/lists", "/", "/teachers", "/run"):
            page = client.get(path)
            assert page.status_code in (200, 503), (path, page.status_code)
            assert "повреждён" in page.text and "asurso-sync restore" in page.text, path
