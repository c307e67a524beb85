"""The ``asurso-sync`` command line (Typer). User-facing texts are Russian."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from asurso_sync import (
    __version__,
    cli_check,
    cli_demo,
    cli_emulator,
    cli_remarks,
    cli_schedule,
    cli_server,
    cli_sync,
    exitcodes,
)
from asurso_sync.cli_common import CONTEXT_SETTINGS, HELP_OPTION_TEXT, STATE, err, fail, handle_errors, out
from asurso_sync.config import CONFIG_ENV, DEFAULT_CONFIG, ConfigError, example_config_text, load_config
from asurso_sync.logs import setup_logging
from asurso_sync.scheduler import next_runs
from cache import (
    audit,
    last_check,
    last_runs,
    last_successful_run,
    open_cache,
    outbox_rows,
    purge_records,
    schema_version,
    table_counts,
)
from cache.files import write_private_bytes

app = typer.Typer(
    name="asurso-sync",
    help=(
        "Проверка электронного журнала АСУ РСО (asurso.ru) по Положению школы.\n\n"
        "Программа читает журнал (только чтение), хранит его копию в локальном кэше, проверяет сроки "
        "и полноту заполнения и рассылает учителям списки замечаний, а заместителю директора — сводку.\n\n"
        "Начало работы: [bold]asurso-sync demo[/] — показ на встроенном эмуляторе; для своей школы — "
        "[bold]asurso-sync init[/] и правка config.toml (README: «Настройка для своей школы»)."
    ),
    rich_markup_mode="rich",
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

app.command("demo", rich_help_panel="Начало работы")(handle_errors(cli_demo.demo))
app.add_typer(cli_emulator.app, name="emulator", rich_help_panel="Эмулятор")
app.command("login-check", rich_help_panel="Сервер")(handle_errors(cli_server.server_errors(cli_server.login_check)))
app.command("get", rich_help_panel="Сервер")(handle_errors(cli_server.server_errors(cli_server.get)))
app.command("sync", rich_help_panel="Синхронизация")(handle_errors(cli_server.server_errors(cli_sync.sync)))
app.command("check", rich_help_panel="Проверка")(handle_errors(cli_check.check))
app.add_typer(cli_check.rules_app, name="rules", rich_help_panel="Проверка")
app.add_typer(cli_remarks.app, name="remarks", rich_help_panel="Списки замечаний")
app.add_typer(cli_schedule.app, name="schedule", rich_help_panel="Работа по расписанию")
app.command("purge", rich_help_panel="Персональные данные")(handle_errors(cli_schedule.purge_command))
app.command("selfcheck", rich_help_panel="Персональные данные")(handle_errors(cli_schedule.selfcheck))

FRESH_HOURS = 26


def _version(value: bool) -> None:
    if value:
        out.print(f"asurso-sync {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            envvar=CONFIG_ENV,
            help=f"Файл конфигурации (по умолчанию ./{DEFAULT_CONFIG}).",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Подробнее в журнал (-vv — отладка).")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Показать версию и выйти.")
    ] = False,
) -> None:
    STATE.config_path = config
    STATE.verbose = verbose
    STATE._config = None
    setup_logging(verbose)


@app.command(rich_help_panel="Настройка")
@handle_errors
def init(
    force: Annotated[bool, typer.Option("--force", help="Перезаписать существующий файл конфигурации.")] = False,
) -> None:
    """Создать config.toml из примера с комментариями и пустой кэш.

    Файл создаётся по пути из --config (по умолчанию ./config.toml). Существующий файл не перезаписывается без --force.
    """
    path = STATE.config_path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise fail(f"Файл {path} уже существует. Чтобы заменить его примером, добавьте --force.", exitcodes.CONFIG)
    write_private_bytes(path, example_config_text().encode("utf-8"))
    try:
        config = load_config(path)
    except ConfigError as exc:  # e.g. an environment override is invalid
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(exitcodes.CONFIG) from None
    db = open_cache(config.cache.path)
    audit(db, "init", {"config": str(path)})
    db.close()
    err.print(f"[green]Создан файл конфигурации[/] {path}")
    err.print(f"[green]Создан кэш[/] {config.cache.path} (права 0600)")
    err.print(
        "Дальше: укажите в нём [bold]\\[school] scid[/], [bold]\\[asurso] login[/] и источник пароля "
        "([bold]password_env[/] или [bold]password_command[/])."
    )


def _age_hours(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return (datetime.now(UTC) - then).total_seconds() / 3600


@app.command(rich_help_panel="Настройка")
@handle_errors
def status(
    fmt: Annotated[str, typer.Option("--format", "-f", help="Вывод: table (таблица) или json.")] = "table",
) -> None:
    """Состояние: кэш, последние синхронизации, свежесть данных, письма, расписание.

    Код выхода 0 — всё в порядке; 1 — требуется внимание (синхронизаций не было, последняя завершилась \
ошибкой, данные старше 26 часов, письма с ошибкой или «застрявшие»); 2 — ошибка конфигурации.
    """
    if fmt not in ("table", "json"):
        raise fail(f"неизвестный формат «{fmt}»: допустимы table, json", exitcodes.CONFIG)
    config = STATE.config()
    db = open_cache(config.cache.path, create=False)
    path = config.cache.path
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    mode = oct(stat.S_IMODE(path.stat().st_mode))
    runs = last_runs(db, 10)
    ok_run = last_successful_run(db)
    age = _age_hours(ok_run.finished_at if ok_run else None)
    problems: list[str] = []
    if not runs:
        problems.append("синхронизаций ещё не было")
    elif runs[0].status == "failed":
        problems.append(f"последняя синхронизация №{runs[0].id} завершилась ошибкой")
    if runs and (age is None or age > FRESH_HOURS):
        problems.append(f"нет успешной синхронизации за последние {FRESH_HOURS} ч")
    counts = table_counts(db)
    version = schema_version(db)
    outbox: dict[str, int] = {}
    for row in outbox_rows(db):
        outbox[row.state] = outbox.get(row.state, 0) + 1
    if outbox.get("failed"):
        problems.append(f"писем с ошибкой отправки: {outbox['failed']} («asurso-sync remarks status»)")
    if outbox.get("sending"):
        problems.append(f"писем в состоянии «отправляется» (сбой при отправке): {outbox['sending']}")
    check = last_check(db)
    purges = purge_records(db)
    db.close()
    jobs = [
        {"job": name, "title": title, "next": when.isoformat() if when else None}
        for name, title, when in next_runs(config)
    ]

    if fmt == "json":
        payload = {
            "school": config.school.name,
            "server": config.asurso.base_url,
            "cache": {"path": str(path), "bytes": size, "mode": mode, "schema": version},
            "runs": [r.__dict__ for r in runs],
            "fresh_hours": round(age, 2) if age is not None else None,
            "rows": counts,
            "outbox": outbox,
            "last_check": {"id": check["id"], "as_of": check["as_of"]} if check else None,
            "last_purge": purges[-1]["at"] if purges else None,
            "schedule": jobs,
            "problems": problems,
        }
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        out.print(f"[bold]{config.school.name}[/] — {config.asurso.base_url}")
        out.print(f"Кэш: {path} ({size / 1024:.0f} КБ, права {mode}, схема {version[-1] if version else '—'})")
        if runs:
            t = Table(title="Последние синхронизации", title_justify="left")
            for col in ("№", "вид", "начало (UTC)", "конец (UTC)", "итог", "время сервера"):
                t.add_column(col)
            for r in runs:
                t.add_row(
                    str(r.id), r.kind, r.started_at, r.finished_at or "—", _status_ru(r.status), r.server_time or "—"
                )
            out.print(t)
        rows = ", ".join(f"{k}: {v}" for k, v in counts.items() if v)
        out.print(f"Записей в зеркале: {rows or 'пока нет'}")
        out.print(f"Последняя проверка: {check['as_of'] if check else 'не выполнялась'}", highlight=False)
        states = {"pending": "ожидают", "sending": "отправляются", "sent": "отправлено", "failed": "ошибка"}
        mail = ", ".join(f"{states.get(k, k)}: {v}" for k, v in sorted(outbox.items()))
        out.print(f"Письма: {mail or 'не отправлялись'}", highlight=False)
        out.print(f"Последнее удаление устаревших данных: {purges[-1]['at'][:19] if purges else 'не выполнялось'}")
        nxt = "; ".join(f"{j['job']} {j['next'][:16].replace('T', ' ')}" for j in jobs if j["next"])
        out.print(f"Расписание (следующий запуск): {nxt}", highlight=False)
        if problems:
            for p in problems:
                err.print(f"[yellow]Внимание:[/] {p}")
        else:
            out.print(f"[green]Данные свежие[/]: последняя успешная синхронизация {age:.1f} ч назад")
    if problems:
        raise typer.Exit(exitcodes.ATTENTION)


def _status_ru(status: str) -> str:
    return {"ok": "успешно", "failed": "ошибка", "partial": "частично", "running": "идёт / прервана"}.get(
        status, status
    )


def _localise_help(command: Any, parent: Any = None, name: str = "asurso-sync") -> None:
    """Give every command's --help option a Russian description (Typer vendors its own click)."""
    ctx = command.context_class(command, parent=parent, info_name=name, **command.context_settings)
    opt = command.get_help_option(ctx)
    if opt is not None:
        opt.help = HELP_OPTION_TEXT
    for sub_name, sub in getattr(command, "commands", {}).items():
        _localise_help(sub, ctx, sub_name)


def main() -> None:
    command = typer.main.get_command(app)
    _localise_help(command)
    command(prog_name="asurso-sync")


if __name__ == "__main__":
    main()
