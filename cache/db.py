"""Opening the cache: one SQLite file per school, WAL, foreign keys, mode 0600, migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from cache.files import create_private_file, private_umask, tighten
from cache.migrations import MIGRATION_SET, known_names, migrations


class CacheError(Exception):
    """A cache problem the user can act on; the message is Russian and says what to do."""


class CacheTooNewError(CacheError):
    pass


# ON CONFLICT DO UPDATE without a target and MATERIALIZED (3.35), the JSON functions (built in since 3.38, and in
# every common build before): Python's own builds and current distributions have them
MIN_SQLITE = (3, 35, 0)


def _check_sqlite() -> None:
    """A clear error instead of a syntax error deep in a sync or a check when the SQLite under Python is too old
    (checked before any file is created)."""
    problem = ""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        problem = f"версия SQLite {sqlite3.sqlite_version}, нужна 3.35 или новее"
    else:
        probe = sqlite3.connect(":memory:")
        try:
            probe.execute("SELECT json_array(1)").fetchone()
        except sqlite3.OperationalError:
            problem = f"SQLite {sqlite3.sqlite_version} собран без функций JSON"
        finally:
            probe.close()
    if problem:
        raise CacheError(
            f"Python работает со старой библиотекой SQLite ({problem}). Установите Python с python.org или из "
            "дистрибутива 2022 года и новее (в них SQLite 3.37+)."
        )


def _connect(path: Path) -> Database:
    with private_umask():
        conn = sqlite3.connect(str(path), timeout=30.0)
        db = Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
    return db


def open_cache(path: Path, *, create: bool = True, migrate: bool = True) -> Database:
    """Open (and by default create and migrate) the cache at ``path``.

    The file and its -wal/-shm companions are private (0600); a cache others could read
    is tightened with a logged warning.
    """
    path = Path(path)
    _check_sqlite()
    if not path.exists():
        if not create:
            raise CacheError(
                f"Кэш не найден: {path}. Он создаётся командой «asurso-sync init» или первой синхронизацией."
            )
        create_private_file(path)
    else:
        tighten(path)
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
    try:
        db = _connect(path)
        if migrate and (migrations.pending(db) or not db.table_names()):
            # Serialise migrations between processes (a first sync and a `status`, say): the write lock is
            # taken before looking at what is pending, so a second opener waits and then finds nothing to do.
            db.execute("BEGIN IMMEDIATE")
            try:
                _check_not_newer(db, path)
                migrations.apply(db)
                db.execute("COMMIT")
            except BaseException:
                db.conn.rollback()
                raise
        elif migrate:
            _check_not_newer(db, path)
    except sqlite3.DatabaseError as exc:
        raise CacheError(f"Файл {path} не является кэшем asurso-sync или повреждён: {exc}") from exc
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
    return db


def _check_not_newer(db: Database, path: Path) -> None:
    applied = {m.name for m in migrations.applied(db)}
    unknown = applied - set(known_names())
    if unknown:
        raise CacheTooNewError(
            f"Кэш {path} создан более новой версией asurso-sync (миграции {', '.join(sorted(unknown))}). "
            "Обновите программу; старая версия не будет изменять этот файл."
        )


def schema_version(db: Database) -> list[str]:
    """Names of the applied migrations, in order."""
    return [m.name for m in migrations.applied(db)]


def pending_migrations(db: Database) -> list[str]:
    return [m.name for m in migrations.pending(db)]


__all__ = ["MIGRATION_SET", "CacheError", "CacheTooNewError", "open_cache", "pending_migrations", "schema_version"]
