"""``asurso-sync backup`` and ``asurso-sync restore``: the cache's copies (cache/backup.py, docs/concurrency.md)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from asurso_sync.cli.common import STATE, err, local_time, out
from asurso_sync.sync import lock_cache
from cache import audit, backup, backups, check_writable, open_cache, quick_check, restore
from cache.backup import backup_dir


def _age(at: datetime) -> str:
    hours = (datetime.now(UTC) - at).total_seconds() / 3600
    return f"{hours:.0f} ч назад" if hours < 48 else f"{hours / 24:.0f} дн. назад"


def backup_command() -> None:
    """Сделать резервную копию кэша сейчас (проверенную, права 0600); ночная синхронизация делает это сама."""
    config = STATE.config()
    keep = config.cache.backup_keep or 1
    copy = backup(config.cache.path, keep=keep, folder=config.cache.backup_dir)
    out.print(f"Резервная копия кэша: {escape(str(copy))} (хранится копий: {keep})", highlight=False, soft_wrap=True)


def restore_command(
    list_only: Annotated[bool, typer.Option("--list", help="Только показать копии и их состояние.")] = False,
) -> None:
    """Восстановить кэш из самой свежей исправной резервной копии.

    Текущий файл кэша не удаляется: он переименовывается в cache.db.before-restore-ВРЕМЯ рядом с кэшем. \
Во время восстановления синхронизация не может начаться (та же блокировка, что у sync).
    """
    config = STATE.config()
    cache = config.cache.path
    folder = config.cache.backup_dir or backup_dir(cache)
    if list_only:
        found = backups(cache, folder)
        if not found:
            out.print(f"Резервных копий в {escape(str(folder))} нет.", highlight=False)
        for b in found:
            state = quick_check(b.path)
            mark = "[green]исправна[/]" if state.ok else f"[red]повреждена: {escape(state.problem)}[/]"
            when = local_time(b.at.isoformat(), config.school.tz)
            out.print(f"{escape(str(b.path))}  {when}  {mark}", highlight=False)
        return
    check_writable(cache)
    lock = lock_cache(cache)  # no sync starts meanwhile
    try:
        done = restore(cache, folder=folder)
    finally:
        lock.release()
    with closing(open_cache(cache, create=False)) as db:
        audit(db, "restore", {"from": str(done.source.path), "safety": str(done.safety) if done.safety else None})
    out.print(
        f"Кэш восстановлен из копии {escape(str(done.source.path))} ({_age(done.source.at)}).",
        highlight=False,
        soft_wrap=True,
    )
    if done.safety is not None:
        err.print(
            f"Прежний файл сохранён: {escape(str(done.safety))} — удалите его, когда убедитесь, что всё в порядке "
            "(в нём персональные данные обучающихся).",
            highlight=False,
            soft_wrap=True,
        )
    out.print("Выполните «asurso-sync sync», чтобы догнать изменения после копии.")
