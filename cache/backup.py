"""The cache's health and its nightly backups (docs/concurrency.md, README «Где хранятся данные»).

``health`` tells whether a cache file is usable (``PRAGMA quick_check``: a full pass over the file, seconds on
a year of a large school — run by ``selfcheck``, the cabinet at start, the backup and the restore, not by every
command). ``backup`` makes an online copy with SQLite's backup API (a consistent snapshot while other processes
read and write), 0600, verified by ``quick_check`` before it counts, keeping the newest ``keep``. ``restore``
puts the newest good copy back, after moving the current file (and its -wal/-shm) aside: nothing is lost by
accident.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cache.db import CacheError, connect_reader, restore_hint
from cache.files import FILE_MODE, ensure_private_dir

_NAME = re.compile(r"^(?P<stem>.+)-(?P<at>\d{8}T\d{6}Z)\.db$")
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Health:
    ok: bool
    problem: str = ""  # Russian: what is wrong with the file


def quick_check(path: Path) -> Health:
    """``PRAGMA quick_check`` of ``path`` on a read-only connection (never creating or changing the file)."""
    path = Path(path)
    if not path.exists():
        return Health(False, "файла нет")
    if path.stat().st_size == 0:
        return Health(False, "файл пуст (0 байт)")
    try:
        conn = connect_reader(path)
    except sqlite3.Error as exc:
        return Health(False, str(exc))
    try:
        found = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.Error as exc:
        return Health(False, str(exc))
    finally:
        conn.close()
    if found == ["ok"]:
        return Health(True)
    return Health(False, "; ".join(str(x) for x in found))


def health_message(path: Path, health: Health) -> str:
    """What a person reads when the cache is damaged: the file, what is wrong, what to do."""
    return f"Кэш {path} повреждён ({health.problem}). {restore_hint(str(path))}"


def backup_dir(cache: Path) -> Path:
    """Where the backups of ``cache`` live: a private folder beside it."""
    return cache.with_name("backups")


@dataclass(frozen=True)
class BackupFile:
    path: Path
    at: datetime  # UTC, from the name


def backups(cache: Path, folder: Path | None = None) -> list[BackupFile]:
    """The backups of ``cache``, newest first (by the time in their names)."""
    folder = folder or backup_dir(cache)
    if not folder.is_dir():
        return []
    found = []
    for f in folder.iterdir():
        m = _NAME.match(f.name)
        if m and m.group("stem") == cache.stem:
            found.append(BackupFile(f, datetime.strptime(m.group("at"), _STAMP).replace(tzinfo=UTC)))
    return sorted(found, key=lambda b: b.at, reverse=True)


def newest_good_backup(cache: Path, folder: Path | None = None) -> BackupFile | None:
    """The newest backup that passes ``quick_check`` (a damaged one is skipped, never restored)."""
    return next((b for b in backups(cache, folder) if quick_check(b.path).ok), None)


def backup(cache: Path, *, keep: int, folder: Path | None = None, now: datetime | None = None) -> Path:
    """Copy ``cache`` online into the backup folder, verify the copy, keep the newest ``keep`` copies.

    The copy is written under a temporary name and renamed only after ``quick_check`` passed, so a copy that
    exists is a good one; a damaged cache is not copied (its good copies are what a restore needs)."""
    cache = Path(cache)
    folder = folder or backup_dir(cache)
    state = quick_check(cache)
    if not state.ok:
        raise CacheError(f"Резервная копия не сделана: {health_message(cache, state)}")
    ensure_private_dir(folder)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    target = folder / f"{cache.stem}-{moment.strftime(_STAMP)}.db"
    tmp = folder / f".{target.name}.tmp-{os.getpid()}"
    source = connect_reader(cache)
    try:
        # the mode is given at creation (no process-wide umask: other threads' files would be private too)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        copy = sqlite3.connect(str(tmp))  # the new copy, not the cache
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            copy.close()
        checked = quick_check(tmp)
        if not checked.ok:
            raise CacheError(f"Резервная копия {tmp} не прошла проверку ({checked.problem}); она удалена.")
        tmp.chmod(FILE_MODE)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        source.close()
    for old in backups(cache, folder)[max(keep, 1) :]:
        old.path.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class Restored:
    source: BackupFile
    safety: Path | None  # where the replaced file went (None when there was none)


def restore(cache: Path, *, folder: Path | None = None, now: datetime | None = None) -> Restored:
    """Put the newest good backup in place of ``cache``. The current file, with its -wal/-shm, is first moved
    aside to ``<name>.before-restore-<time>`` (kept until a person deletes it). The caller holds the sync's lock
    file, so no sync writes meanwhile."""
    cache = Path(cache)
    chosen = newest_good_backup(cache, folder)
    if chosen is None:
        where = folder or backup_dir(cache)
        raise CacheError(
            f"Нет исправной резервной копии кэша в {where}: восстановить нечего. Переименуйте повреждённый файл "
            f"{cache} и выполните «asurso-sync sync --all» — кэш будет заполнен заново с сервера."
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
    safety: Path | None = None
    tmp = cache.with_name(f".{cache.name}.restore-{os.getpid()}")
    ensure_private_dir(cache.parent)
    # the mode is given at creation (no process-wide umask: other threads' files would be private too)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with chosen.path.open("rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if cache.exists():
        safety = cache.with_name(f"{cache.name}.before-restore-{moment}")
        cache.replace(safety)
    for suffix in ("-wal", "-shm"):  # a companion of the old file must never be applied to the restored one
        companion = cache.with_name(cache.name + suffix)
        if companion.exists():
            if safety is not None:
                companion.replace(safety.with_name(safety.name + suffix))
            else:
                companion.unlink()
    tmp.replace(cache)
    return Restored(chosen, safety)


__all__ = [
    "BackupFile",
    "Health",
    "Restored",
    "backup",
    "backup_dir",
    "backups",
    "health_message",
    "newest_good_backup",
    "quick_check",
    "restore",
]
