"""``asurso-sync sync``: mirror the journal into the cache, with a progress bar and a summary."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, err, fail, out, parse_period, progress_bar
from asurso_sync.cli.server import RecordOpt, SessionOpt
from asurso_sync.config import require_filled
from asurso_sync.sync import Mode, SyncOptions, SyncReport, sync_once
from asurso_sync.vocabulary import run_status
from rules.wording import decimal


def sync(
    snapshot: Annotated[bool, typer.Option("--snapshot", help="Только сегодняшние уроки (снимок в 16:05).")] = False,
    full: Annotated[bool, typer.Option("--all", help="Полная загрузка учебного года (долго).")] = False,
    start: Annotated[
        str | None, typer.Option("--from", metavar="ДАТА", help="Начало периода: ДД.ММ.ГГГГ или ГГГГ-ММ-ДД.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="ДАТА", help="Конец периода: ДД.ММ.ГГГГ или ГГГГ-ММ-ДД.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Прочитать и сравнить, ничего не записывая.")] = False,
    accept_empty: Annotated[
        bool, typer.Option("--accept-empty", help="Принять пустые ответы сервера как удаление данных.")
    ] = False,
    session: SessionOpt = None,
    record: RecordOpt = None,
) -> None:
    """Синхронизировать журнал в кэш: по умолчанию — ежедневная (изменения и недавние уроки).

    Код выхода: 0 — успешно; 1 — часть данных не прочитана или сервер вернул пустой ответ там, где были \
данные (ничего не удалено); 5 — вход отклонён; 6 — сервер недоступен; 7 — идёт другой запуск; \
9 — нет прав на кэш; 10 — по адресу \\[asurso] base_url нет АСУ РСО; 130 — прервано (Ctrl+C, \
остановка службы).
    """
    if snapshot and full:
        raise fail("укажите либо --snapshot, либо --all", exitcodes.CONFIG)
    d_from, d_to = parse_period(start, end)
    config = STATE.config()
    require_filled(config, ("school", "name"), ("asurso", "login"))
    mode: Mode = "snapshot" if snapshot else "all" if full else "incremental"
    options = SyncOptions(
        mode=mode,
        start=d_from,
        end=d_to,
        dry_run=dry_run,
        accept_empty=accept_empty,
        lookback_days=config.sync.lookback_days,
    )
    interactive = err.is_terminal
    bar = progress_bar(transient=True, disable=not interactive)
    task = bar.add_task("Синхронизация", total=0)

    def progress(description: str, done: int) -> None:
        bar.update(task, completed=done, description=f"Синхронизация: {description[:48]}")

    def total(more: int) -> None:
        current = bar.tasks[0].total or 0
        bar.update(task, total=current + more)

    with bar:
        report = asyncio.run(
            sync_once(config, options, session_file=session, record_dir=record, progress=progress, total=total)
        )
    _summary(report)
    if report.status == "failed":
        raise fail(report.error or "синхронизация не удалась", exitcodes.TEMPFAIL)
    if report.status != "ok":
        raise typer.Exit(exitcodes.ATTENTION)


def _summary(r: SyncReport) -> None:
    title = "Проверка без записи (--dry-run)" if r.dry_run else f"Синхронизация №{r.run_id}"
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    word = "было бы " if r.dry_run else ""
    rows = [
        ("Итог", run_status(r.status)),
        ("Время сервера", f"{r.server_time:%d.%m.%Y %H:%M}" if r.server_time else "—"),
        ("Частей", f"{r.units} (не прочитано: {len(r.units_failed)}, пустых: {len(r.units_empty)})"),
        ("Запросов", f"{r.requests}, {decimal(r.bytes / 1_048_576, 1)} МБ"),
        (f"Записей {word}новых", str(r.rows.new)),
        (f"Записей {word}изменено", str(r.rows.changed)),
        (f"Записей {word}исчезло", str(r.rows.gone)),
        ("Повторов / повторных входов", f"{r.retries} / {r.relogins}"),
        ("Длительность", f"{decimal(r.seconds, 1)} с"),
    ]
    if r.security_warnings:
        rows.append(("Внимание", "под этой учётной записью был открыт другой сеанс"))
    for key, value in rows:
        t.add_row(key, value)
    out.print(t)
    for item in r.units_empty[:10]:
        err.print(
            f"[yellow]Пустой ответ, данные в кэше сохранены:[/] {item} (если данные удалены на сервере — "
            "повторите с --accept-empty)"
        )
    for item in r.units_failed[:10]:
        err.print(f"[yellow]Не прочитано:[/] {item}")
