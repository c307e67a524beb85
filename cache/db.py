"""Opening the cache: one SQLite file per school, WAL, foreign keys, mode 0600, migrated."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

from sqlite_utils import Database

from cache.files import create_private_file, tighten
from cache.migrations import MIGRATION_SET, known_names, migrations


class CacheError(Exception):
    """A cache problem the user can act on; the message is Russian and says what to do."""


class CacheTooNewError(CacheError):
    pass


class CacheAccessError(CacheError):
    """The user running the command may not read the cache, or may not write it where writing is needed."""


def _user_name(uid: int) -> str:
    """The login name of a user id (the id itself when the system does not know it)."""
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def owner_name(path: Path) -> str:
    """The login name of ``path``'s owner."""
    return _user_name(path.stat().st_uid)


def _current_user() -> str:
    geteuid = getattr(os, "geteuid", None)  # absent on Windows
    return _user_name(geteuid()) if geteuid else "текущего пользователя"


def _can(path: Path, mode: int) -> bool:
    """``os.access`` for the effective user (the one SQLite opens files as), where the system can tell."""
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _writable(path: Path) -> bool:
    """Whether SQLite can write ``path``: the file itself, and its folder for the -wal/-shm companions unless they
    exist and are writable."""
    if not _can(path, os.W_OK):
        return False
    if _can(path.parent, os.W_OK | os.X_OK):
        return True
    companions = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
    return all(c.exists() and _can(c, os.W_OK) for c in companions)


def _no_read_message(path: Path) -> str:
    owner = owner_name(path)
    return (
        f"Нет прав на чтение кэша {path}: его владелец — пользователь «{owner}», команда запущена от "
        f"«{_current_user()}», а права файла {oct(stat.S_IMODE(path.stat().st_mode))[2:]} (в нём персональные "
        f"данные обучающихся, другим он закрыт намеренно). Запустите команду от владельца: "
        f"sudo -u {owner} asurso-sync … (README, «Работа по расписанию»)."
    )


def read_only_message(path: Path) -> str:
    """The message for a command that must write a cache the current user may only read."""
    owner = owner_name(path)
    return (
        f"Нет прав на запись в кэш {path}: его владелец — пользователь «{owner}», команда запущена от "
        f"«{_current_user()}». Запустите её от владельца: sudo -u {owner} asurso-sync … "
        "Без права записи работают только status, check (результаты не сохраняются) и remarks build."
    )


def check_writable(path: Path) -> None:
    """Raise :class:`CacheAccessError` naming the owner when an existing cache cannot be written by this user
    (before a command takes the cache's lock file, which would fail with a bare permission error)."""
    path = Path(path)
    if not _may_write(path):
        raise CacheAccessError(read_only_message(path))
    if not path.exists() and path.parent.exists() and not _can(path.parent, os.W_OK | os.X_OK):
        raise CacheAccessError(
            f"Нет прав на запись в папку {path.parent}: кэш {path.name} в ней не создать. Запустите команду от "
            f"владельца папки (sudo -u {owner_name(path.parent)} asurso-sync …) или укажите другую папку в "
            "[cache] path."
        )
    lock = path.with_name(path.name + ".lock")
    if lock.exists() and not _can(lock, os.R_OK | os.W_OK):
        raise CacheAccessError(read_only_message(lock))


def _may_write(path: Path) -> bool:
    """Whether this user may write an existing cache (True for one not created yet); an unreadable one is refused
    at once, naming its owner."""
    if not path.exists():
        return True
    if not _can(path, os.R_OK):
        raise CacheAccessError(_no_read_message(path))
    return _writable(path)


def is_read_only(db: Database) -> bool:
    """True for a cache opened read-only (``open_cache(..., read_only_ok=True)`` on a file the user cannot write)."""
    return bool(db.execute("PRAGMA query_only").fetchone()[0])


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
    # no umask here (it is the whole process's, other threads' files included): the file is made 0600 by
    # create_private_file, SQLite gives -wal/-shm the database file's mode, and open_cache tightens all three
    conn = sqlite3.connect(str(path), timeout=30.0)
    db = Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    _enable_wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def _enable_wal(db: Database, seconds: float = 30.0) -> None:
    """Put the file in WAL mode (persistent: a no-op once done). On a fresh file several processes may do this
    at once; SQLite then answers «database is locked» at once instead of calling the busy handler (the switch
    needs an exclusive lock, and a reader waiting for one could deadlock), so wait here as the busy timeout would —
    the statement has ended and released its shared lock, and one of the openers wins."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _connect_read_only(path: Path) -> Database:
    """A read-only connection for a user who may read but not write the cache (the deputy looking at the cache
    the scheduler's account owns). SQLite's ``mode=ro`` still needs the -shm companion; when it cannot be made and
    no -wal holds uncheckpointed pages (no writer is active), the file is read as ``immutable``."""
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        if conn is not None:
            conn.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise CacheAccessError(
                f"Кэш {path} сейчас изменяется другим процессом (есть файл {wal.name}), а прочитать его "
                f"согласованно без права записи нельзя. Повторите после окончания синхронизации или запустите "
                f"команду от владельца: sudo -u {owner_name(path)} asurso-sync …"
            ) from None
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    db = Database(conn)
    db.execute("PRAGMA query_only = ON")
    return db


def open_cache(path: Path, *, create: bool = True, migrate: bool = True, read_only_ok: bool = False) -> Database:
    """Open (and by default create and migrate) the cache at ``path``.

    The file and its -wal/-shm companions are private (0600); a cache others could read
    is tightened with a logged warning. A cache the user may read but not write is opened read-only when the
    command only reads (``read_only_ok``; see :func:`is_read_only`), else refused with the owner's name.
    """
    path = Path(path)
    _check_sqlite()
    if not _may_write(path):
        if not read_only_ok:
            raise CacheAccessError(read_only_message(path))
        try:
            db = _connect_read_only(path)
            if migrate:
                if migrations.pending(db):
                    raise CacheAccessError(
                        f"Кэш {path} нужно обновить до версии программы, а прав на запись в него нет. "
                        f"Запустите любую команду от владельца: sudo -u {owner_name(path)} asurso-sync status"
                    )
                _check_not_newer(db, path)
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"Файл {path} не является кэшем asurso-sync или повреждён: {exc}") from exc
        return db
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


__all__ = [
    "MIGRATION_SET",
    "CacheAccessError",
    "CacheError",
    "CacheTooNewError",
    "check_writable",
    "is_read_only",
    "open_cache",
    "owner_name",
    "pending_migrations",
    "read_only_message",
    "schema_version",
]
