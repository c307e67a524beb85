"""Private files: the cache and every output holds children's personal data (152-ФЗ).

Files are created 0600 and folders 0700. An existing file that others can read is
tightened, with a warning (the caller decides how to show it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside the block get no group/other bits. The umask is the process's: every thread's file
    made meanwhile is private too, and two threads inside at once can leave it at 077 — so nothing in the program
    uses it any more (modes are given to each file and folder: create_private_file, ensure_private_dir; SQLite
    gives -wal/-shm the database file's mode)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700 if missing; existing folders are left as they are."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)  # mkdir's mode passes through the umask


def is_world_or_group_accessible(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def tighten(path: Path) -> bool:
    """Make an existing file 0600. Returns True when its mode had to be changed."""
    if not path.exists():
        return False
    if is_world_or_group_accessible(path):
        old = stat.S_IMODE(path.stat().st_mode)
        try:
            path.chmod(FILE_MODE)
        except PermissionError:  # not the owner's run: only the owner (or root) may close the file
            log.warning(
                "Файл %s доступен другим пользователям (права %s), а закрыть доступ может только его владелец: "
                "выполните от него «chmod 600 %s» — в файле персональные данные обучающихся.",
                path,
                oct(old),
                path,
            )
            return False
        log.warning(
            "Права доступа к файлу %s были %s — доступ другим пользователям закрыт (теперь 0600): "
            "в файле персональные данные обучающихся.",
            path,
            oct(old),
        )
        return True
    return False


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 unless it exists (then tighten it)."""
    ensure_private_dir(path.parent)
    if path.exists():
        tighten(path)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:  # another process created it in between: fine, just keep it private
        tighten(path)
        return
    os.close(fd)


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` with mode 0600 (temp file + rename)."""
    write_private_chunks(path, (data,))


def write_private_chunks(path: Path, chunks: Iterable[bytes]) -> None:
    """``write_private_bytes`` for output produced piece by piece (a year's findings as JSON Lines): never the
    whole text in memory at once."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.writelines(chunks)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def open_to_others(folder: Path) -> bool:
    """True when other users of the machine can list or write ``folder`` (o+r or o+w)."""
    return folder.exists() and bool(folder.stat().st_mode & (stat.S_IROTH | stat.S_IWOTH))


def unsafe_folder_message(folder: Path) -> str:
    mode = oct(stat.S_IMODE(folder.stat().st_mode))[2:]
    return (
        f"папка {folder} открыта другим пользователям компьютера (права {mode}), а файл содержит персональные "
        f"данные обучающихся. Выберите личную папку, выполните «chmod 700 {folder}» или добавьте --force."
    )
