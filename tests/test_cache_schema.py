from __future__ import annotations

import json
import logging
import re
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from asurso_sync.cli import app
from cache import ENTITIES, CacheError, CacheTooNewError, open_cache, pending_migrations, save_rows, schema_version
from cache.migrations import MIGRATION_SET, known_names, migrations
from tests.schools import Schools


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_schema_has_every_entity_with_history_columns(tmp_path: Path) -> None:
    db = open_cache(tmp_path / "c.db")
    tables = set(db.table_names())
    for name, entity in ENTITIES.items():
        assert name in tables
        cols = {c.name for c in db[name].columns}
        assert set(entity.all_columns) == cols
        assert db[name].pks == list(entity.key)
        made = {i.name for i in db[name].indexes}
        for idx in entity.indexes:
            assert f"idx_{name}_{'_'.join(idx)}" in made, (name, idx)
    assert {"sync_run", "sync_state", "observation", "change_log", "audit_log"} <= tables
    assert schema_version(db) == known_names()
    assert pending_migrations(db) == []
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_journal_entities_required_by_the_issue_exist() -> None:
    required = {
        "school_year",
        "term",
        "vacation",
        "school_class",
        "class_chief",
        "staff",
        "student",
        "subject",
        "subject_group",
        "subject_group_teacher",
        "enrollment",
        "schedule_time",
        "class_meeting",
        "assignment_type",
        "assignment",
        "mark",
        "attendance",
        "term_mark",
        "ktp_plan",
        "ktp_lesson",
        "lesson_topic",
        "attendance_reason",
    }
    assert required <= set(ENTITIES)
    assert {"free", "individual_educ"} <= set(ENTITIES["enrollment"].columns)
    assert {"issue_date", "issue_cm_id", "due_date", "weight"} <= set(ENTITIES["assignment"].columns)
    assert "duty" in ENTITIES["mark"].columns
    assert "mark_type" in ENTITIES["term_mark"].columns


def test_cache_and_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.db"
    db = open_cache(path)
    save_rows(db, "staff", [{"id": 1, "name": "Иванова А.А.", "email": None}], observed_at="2026-11-23T01:00:00")
    assert mode(path) == 0o600
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        assert companion.exists()
        assert mode(companion) == 0o600
    assert mode(path.parent) == 0o700
    db.close()


def test_readable_cache_is_tightened_with_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.db"
    open_cache(path).close()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        open_cache(path).close()
    assert mode(path) == 0o600
    assert "0600" in caplog.text


def test_migrates_an_old_file_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # build a cache as the first release left it: only migration 0001 applied
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="0002_history_indexes")
    assert [m.name for m in migrations.applied(old)] == ["0001_initial"]
    save_rows(old, "staff", [{"id": 7, "name": "Петров П.П.", "email": None}], observed_at="2026-09-01T01:00:00")
    old.conn.close()

    db = open_cache(path)
    assert schema_version(db) == known_names()  # every later migration applied to the old file
    assert schema_version(db)[:3] == ["0001_initial", "0002_history_indexes", "0003_term_scope"]
    assert db.execute("SELECT name FROM staff WHERE id = 7").fetchone() == ("Петров П.П.",)
    assert "term_id" in db["mark"].columns_dict  # 0003 added the unit scope to old files
    indexes = {i.name for i in db["mark"].indexes}
    assert "idx_mark_first_seen" in indexes
    access = {i.name: i.columns for i in db["access_log"].indexes}  # 0011: the rules' covering index
    assert access.get("idx_access_log_evidence") == ["cm_id", "kind", "detail", "at"]
    assert "idx_access_log_cm" not in access
    changes = db.execute(
        'EXPLAIN QUERY PLAN SELECT "row_key" FROM "change_log" WHERE "tbl" = \'attendance\' '
        'AND "op" = \'change\' ORDER BY "at", "id"'
    ).fetchall()
    assert any("idx_change_log_changes" in str(row) for row in changes)  # 0012: changes alone, in time order
    views = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert views == {"уроки", "отметки", "посещаемость", "замечания"}  # 0017, on an old file too
    assert db.execute('SELECT "учитель" FROM "уроки"').fetchall() == []  # they run on its tables
    assert "objection_id" in db["adjudication"].columns_dict  # 0022: verdicts marked as a teacher's objection
    assert {"teacher_link", "teacher_objection"} <= set(db.table_names())
    assert "verdicts_before" in db["teacher_link"].columns_dict  # 0023: answers told by verdict order
    listing = db.execute(
        'EXPLAIN QUERY PLAN SELECT "class_id", "rule", COUNT(*) FROM "finding" WHERE "state" != \'resolved\' '
        "GROUP BY 1, 2"
    ).fetchall()
    assert any("COVERING INDEX idx_finding_class_rule" in str(row) for row in listing)  # 0024: the listings' counts
    assert not any("TEMP B-TREE" in str(row) for row in listing)  # in the index's order, not sorted
    queue = db.execute(
        'EXPLAIN QUERY PLAN SELECT "fingerprint" FROM "finding" WHERE "rule" = \'TML001\' '
        'AND "state" != \'resolved\' ORDER BY "fingerprint" LIMIT 1'
    ).fetchall()
    assert any("COVERING INDEX idx_finding_rule " in str(row) for row in queue)  # the review queue's next one
    assert not any("TEMP B-TREE" in str(row) for row in queue)
    newest = db.execute(
        'EXPLAIN QUERY PLAN SELECT * FROM "finding" WHERE "rule" = \'TML001\' AND "state" != \'resolved\' '
        'ORDER BY "date" DESC, "sg_id" LIMIT 300'
    ).fetchall()
    assert any("idx_finding_rule_date" in str(row) for row in newest)  # a rule's page: its newest, not all sorted


def test_refuses_a_cache_from_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    db = open_cache(path)
    db["_sqlite_migrations"].insert({"migration_set": MIGRATION_SET, "name": "9999_future", "applied_at": "x"})
    db.close()
    with pytest.raises(CacheTooNewError, match="более новой версией"):
        open_cache(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheError, match="не является кэшем"):
        open_cache(path)


def test_open_without_create(tmp_path: Path) -> None:
    with pytest.raises(CacheError, match="Кэш не найден"):
        open_cache(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_concurrent_first_opens_in_threads_migrate_once(tmp_path: Path) -> None:
    """Several connections opening a fresh cache at once (threads: SQLite locks the same between connections of
    one process as between processes): exactly one migrates, none fails — the WAL switch of a fresh file included,
    which SQLite refuses at once instead of waiting (cache.db._enable_wal)."""
    import threading

    path = tmp_path / "race.db"
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def first_open() -> None:
        start.wait()
        try:
            open_cache(path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with closing(open_cache(path)) as db:
        assert schema_version(db) == known_names()
        assert db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(known_names())
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.slow  # four processes; the same race in threads is the fast test above
def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    """Several processes opening a fresh cache at once: exactly one migrates, none fails."""
    import subprocess
    import sys

    path = tmp_path / "race.db"
    code = f"from cache import open_cache; open_cache(__import__('pathlib').Path({str(path)!r})).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)]
    for p in procs:
        _, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr.decode()
    db = open_cache(path)
    assert schema_version(db) == known_names()
    assert db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == len(known_names())


def test_an_old_sqlite_gets_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite 3.31 (Ubuntu 20.04) lacks what the cache and the rules use: say so before anything runs."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(CacheError, match=re.escape("SQLite 3.31.1, нужна 3.35")):
        open_cache(tmp_path / "c.db")
    assert not (tmp_path / "c.db").exists()  # nothing created


def test_the_mirror_is_browsable_with_names(tmp_path: Path, runner: CliRunner, schools: Schools) -> None:
    """Issue #19 (8): views name what the ids mean, and ``browse`` writes datasette's description of every table
    and view (all of which exist), with the command to open it."""
    _emu, config = schools.copy(tmp_path)
    result = runner.invoke(app, ["-c", str(tmp_path / "config.toml"), "browse"])
    assert result.exit_code == 0, result.output
    metadata_file = tmp_path / "cache.metadata.json"
    assert f"--metadata {metadata_file}" in " ".join(result.output.split())
    assert stat.S_IMODE(metadata_file.stat().st_mode) == 0o600
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    described = metadata["databases"]["cache"]["tables"]
    with closing(open_cache(config.cache.path, create=False)) as db:
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        assert set(described) <= present
        assert {"уроки", "отметки", "посещаемость", "замечания"} <= set(described)
        for table, item in described.items():
            columns = {c[1] for c in db.execute(f'PRAGMA table_info("{table}")')}
            assert set(item.get("columns", {})) <= columns, table
            assert item.get("label_column", "id") in columns | {"id"}, table
        lesson = db.execute('SELECT "класс", "предмет", "учитель", "дата" FROM "уроки" LIMIT 1').fetchone()
        assert all(lesson) and re.fullmatch(r"\d+[а-я]", lesson[0]) and " " in lesson[2]
        mark = db.execute('SELECT "ученик", "класс", "предмет", "отметка" FROM "отметки" LIMIT 1').fetchone()
        assert all(mark) and len(mark[0].split()) >= 2
        live = db.execute('SELECT count(*) FROM "mark" WHERE "gone_at" IS NULL').fetchone()[0]
        assert db.execute('SELECT count(*) FROM "отметки"').fetchone()[0] == live
