"""Opening the cache: one SQLite file per school, WAL, foreign keys, mode 0600, migrated.

This is the one place connections to the cache are opened (``open_cache``, ``connect_reader``): each waits up to
``BUSY_TIMEOUT`` for a lock, and each write transaction takes the write lock first (``write_transaction``, which
``CacheDatabase.atomic`` is) — docs/concurrency.md has the model of who writes what, in which transaction.
SQLite's errors that a person can act on (disk full, a damaged file, a lock held too long, a read-only file
system) become :class:`CacheError` subclasses through :func:`storage_error`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
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


class CacheBusyError(CacheError):
    """Another process held the cache's write lock longer than every wait (exit 7, like the sync's lock file)."""


class CacheFullError(CacheError):
    """The disk (or the file system's quota) is full: SQLite could not write."""


class CacheCorruptError(CacheError):
    """The file is damaged (or is not a cache at all): restore it from a backup."""


class ReadOnlyFileSystemError(CacheAccessError):
    """The cache is on a file system mounted read-only: no user could write it."""


# how long a connection waits for another process's lock before SQLite answers «database is locked»; a sync unit
# or a check's record holds the write lock for well under a second, a purge's VACUUM for seconds
BUSY_TIMEOUT = 30.0
WRITE_ATTEMPTS = 3  # write_transaction: waits of BUSY_TIMEOUT each before giving up with CacheBusyError

# the file of the cache this process opened last: the storage errors name it (a command opens one cache)
_opened: list[Path] = []


def _cache_name() -> str:
    return str(_opened[-1]) if _opened else "кэша"


def restore_hint(path: str) -> str:
    return (
        f"Восстановите кэш из резервной копии: «asurso-sync restore» (файл {path} будет сохранён рядом, "
        "README, «Где хранятся данные»); если копий нет, переименуйте файл и выполните «asurso-sync sync --all»."
    )


def full_message(where: str | None = None) -> str:
    place = f" ({where})" if where else ""
    return f"Нет места на диске{place}. Освободите место и повторите: записанное ранее не потеряно."


def corrupt_message(path: str, detail: str) -> str:
    return f"Кэш {path} повреждён ({detail}). {restore_hint(path)}"


def read_only_fs_message(path: Path | str) -> str:
    return (
        f"Файловая система, на которой лежит {path}, смонтирована только для чтения: записать туда не может никто. "
        "Перемонтируйте её для записи (или укажите другую папку в [cache] path); без записи работают status, "
        "check (результаты не сохраняются), remarks build и remarks send --dry-run."
    )


_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


def storage_error(exc: BaseException) -> CacheError | None:
    """The :class:`CacheError` an SQLite error stands for (disk full, damage, a lock held too long, a read-only
    file system), with a Russian message naming the cache; None for any other error (a bug)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == sqlite3.SQLITE_FULL or "database or disk is full" in text:
        return CacheFullError(full_message(_cache_name() if _opened else None))
    if primary in _CORRUPT or "malformed" in text or "not a database" in text or "Could not decode" in text:
        return CacheCorruptError(corrupt_message(_cache_name(), text))
    if primary == sqlite3.SQLITE_READONLY and code == getattr(sqlite3, "SQLITE_READONLY_DIRECTORY", -1):
        return ReadOnlyFileSystemError(read_only_fs_message(_cache_name()))
    if primary in _BUSY or "database is locked" in text or "database table is locked" in text:
        return CacheBusyError(busy_message(_cache_name()))
    if primary == sqlite3.SQLITE_IOERR:
        return CacheCorruptError(
            f"Ошибка чтения или записи кэша {_cache_name()} ({text}): проверьте диск (место, ошибки в журнале "
            f"системы). {restore_hint(_cache_name())}"
        )
    return None


def busy_message(path: Path | str) -> str:
    return (
        f"Кэш {path} дольше {BUSY_TIMEOUT * WRITE_ATTEMPTS:.0f} с занят записью другого процесса. Повторите "
        "команду позже; если так повторяется, проверьте, не зависла ли другая команда asurso-sync."
    )


def _db_path(db: Database) -> str:
    return next((str(file) for _seq, name, file in db.execute("PRAGMA database_list") if name == "main"), "")


@contextlib.contextmanager
def write_transaction(db: Database, *, attempts: int = WRITE_ATTEMPTS) -> Iterator[Database]:
    """A write transaction that takes the write lock before its first read (``BEGIN IMMEDIATE``).

    A deferred transaction that reads first and then writes must upgrade its read lock; when another process
    wrote meanwhile SQLite answers «database is locked» at once, without the busy timeout. Taking the lock first
    waits the timeout instead, ``attempts`` times, then raises :class:`CacheBusyError`. Inside a transaction
    it is a savepoint."""
    conn = db.conn
    if conn.in_transaction:
        with Database.atomic(db):  # a savepoint in the enclosing transaction
            yield db
        return
    for attempt in range(attempts):
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) not in _BUSY and "locked" not in str(exc):
                raise
            if attempt == attempts - 1:
                raise CacheBusyError(busy_message(_db_path(db) or _cache_name())) from exc
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class CacheDatabase(Database):
    """sqlite-utils' Database whose ``atomic()`` is a :func:`write_transaction` (the write lock first)."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        with write_transaction(self):
            yield self


def connect_reader(path: Path) -> sqlite3.Connection:
    """A plain read-only connection (``mode=ro``) with the busy timeout, usable from another thread: the rules'
    background reads."""
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"  # percent-encoded: any path, Cyrillic and spaces included
    return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, check_same_thread=False)


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


def on_read_only_fs(path: Path) -> bool:
    """True when ``path`` (or, when it does not exist, its nearest existing folder) is on a file system mounted
    read-only — a problem of the mount, not of the owner."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows)
        return False


def refusal(path: Path) -> CacheAccessError:
    """The error for a command that must write ``path`` and may not: a read-only file system, or the owner."""
    if on_read_only_fs(path):
        return ReadOnlyFileSystemError(read_only_fs_message(path))
    return CacheAccessError(read_only_message(path))


def read_only_message(path: Path) -> str:
    """The message for a command that must write a cache the current user may only read."""
    owner = owner_name(path)
    return (
        f"Нет прав на запись в кэш {path}: его владелец — пользователь «{owner}», команда запущена от "
        f"«{_current_user()}». Запустите её от владельца: sudo -u {owner} asurso-sync … "
        "Без права записи работают только status, check (результаты не сохраняются), remarks build и "
        "remarks send --dry-run."
    )


def check_writable(path: Path) -> None:
    """Raise :class:`CacheAccessError` naming the owner when an existing cache cannot be written by this user
    (before a command takes the cache's lock file, which would fail with a bare permission error)."""
    path = Path(path)
    if not _may_write(path):
        raise refusal(path)
    if on_read_only_fs(path):
        raise ReadOnlyFileSystemError(read_only_fs_message(path))
    if not path.exists() and path.parent.exists() and not _can(path.parent, os.W_OK | os.X_OK):
        raise CacheAccessError(
            f"Нет прав на запись в папку {path.parent}: кэш {path.name} в ней не создать. Запустите команду от "
            f"владельца папки (sudo -u {owner_name(path.parent)} asurso-sync …) или укажите другую папку в "
            "[cache] path."
        )
    lock = path.with_name(path.name + ".lock")
    if lock.exists() and not _can(lock, os.R_OK | os.W_OK):
        raise refusal(lock)


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
    # create_private_file, SQLite gives -wal/-shm the database file's mode, and open_cache tightens all three.
    # Implicit transactions (a DML statement outside ``atomic``) take the write lock at once, too.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level="IMMEDIATE")
    db = CacheDatabase(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
    try:
        _refuse_foreign(db, path)  # before WAL mode is written into its header
    except CacheError:
        conn.close()
        raise
    _enable_wal(db, BUSY_TIMEOUT)
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def _enable_wal(db: Database, seconds: float = BUSY_TIMEOUT) -> None:
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
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
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
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, timeout=BUSY_TIMEOUT)
    db = CacheDatabase(conn)
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
    _opened.append(path)
    if path.exists() and path.stat().st_size == 0 and not create:
        # a reading command never (re)initialises a file: an empty cache.db is a lost cache, not a new one
        raise CacheCorruptError(corrupt_message(str(path), "файл пуст, 0 байт"))
    if not _may_write(path):
        if not read_only_ok:
            raise refusal(path)
        try:
            db = _connect_read_only(path)
            _refuse_foreign(db, path)
            if migrate:
                if migrations.pending(db):
                    raise CacheAccessError(
                        f"Кэш {path} нужно обновить до версии программы, а прав на запись в него нет. "
                        f"Запустите любую команду от владельца: sudo -u {owner_name(path)} asurso-sync status"
                    )
                _check_not_newer(db, path)
        except sqlite3.DatabaseError as exc:
            raise _open_error(path, exc) from exc
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
        raise _open_error(path, exc) from exc
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
    return db


def _open_error(path: Path, exc: sqlite3.DatabaseError) -> CacheError:
    known = storage_error(exc)
    if known is not None and not isinstance(known, CacheCorruptError):
        return known
    return CacheCorruptError(
        f"Файл {path} не является кэшем asurso-sync или повреждён ({exc}). {restore_hint(str(path))}"
    )


def _refuse_foreign(db: Database, path: Path) -> None:
    """A SQLite file of another program (tables, but none of our migrations) is never turned into a cache."""
    names = db.table_names()
    if names and not migrations.applied(db):
        raise CacheError(
            f"Файл {path} — база SQLite другой программы (таблицы {', '.join(names[:3])}…), а не кэш asurso-sync: "
            "он не изменён. Укажите в [cache] path другой файл."
        )


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
