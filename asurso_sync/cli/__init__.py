"""The ``asurso-sync`` command line (Typer). User-facing texts are Russian.

One module per command group; every command runs through ``common.guarded`` (``common.App`` registers them so),
which turns errors into the exit codes of ``asurso_sync.exitcodes``.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from asurso_sync import __version__
from asurso_sync.cli import (
    casebook,
    check,
    demo,
    emulator,
    privacy,
    remarks,
    rules,
    schedule,
    server,
    setup,
    storage,
    sync,
    web,
)
from asurso_sync.cli.common import HELP_OPTION_TEXT, STATE, App, out
from asurso_sync.config import CONFIG_ENV, DEFAULT_CONFIG
from asurso_sync.logs import setup_logging

app = App(
    name="asurso-sync",
    help=(
        "Проверка электронного журнала АСУ РСО (asurso.ru) по Положению школы.\n\n"
        "Программа читает журнал (только чтение), хранит его копию в локальном кэше, проверяет сроки "
        "и полноту заполнения и рассылает учителям списки замечаний, а заместителю директора — сводку.\n\n"
        "Начало работы: [bold]asurso-sync demo[/] — показ на встроенном эмуляторе; для своей школы — "
        "[bold]asurso-sync init[/] и правка config.toml (README: «Настройка для своей школы»)."
    ),
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

app.command("demo", rich_help_panel="Начало работы")(demo.demo)
app.command("init", rich_help_panel="Настройка")(setup.init)
app.command("status", rich_help_panel="Настройка")(setup.status)
app.command("browse", rich_help_panel="Настройка")(setup.browse)
app.command("login-check", rich_help_panel="Сервер")(server.login_check)
app.command("login-esia", rich_help_panel="Сервер")(server.login_esia)
app.command("get", rich_help_panel="Сервер")(server.get)
app.command("survey", rich_help_panel="Сервер")(server.survey)
app.command("sync", rich_help_panel="Синхронизация")(sync.sync)
app.command("check", rich_help_panel="Проверка")(check.check)
app.add_typer(rules.app, name="rules", rich_help_panel="Проверка")
app.add_typer(remarks.app, name="remarks", rich_help_panel="Списки замечаний")
app.add_typer(web.app, name="web", rich_help_panel="Списки замечаний")
app.add_typer(schedule.app, name="schedule", rich_help_panel="Работа по расписанию")
app.command("purge", rich_help_panel="Персональные данные")(privacy.purge_command)
app.command("selfcheck", rich_help_panel="Персональные данные")(privacy.selfcheck)
app.command("backup", rich_help_panel="Настройка")(storage.backup_command)
app.command("restore", rich_help_panel="Настройка")(storage.restore_command)
app.add_typer(emulator.app, name="emulator", rich_help_panel="Эмулятор")
app.add_typer(casebook.app, name="casebook", rich_help_panel="Эмулятор")


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
            readable=False,  # checked by load_config, with a Russian message naming the file's owner
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


def _localise_help(command: Any, parent: Any = None, name: str = "asurso-sync") -> None:
    """Give every command's --help option a Russian description (Typer vendors its own click)."""
    ctx = command.context_class(command, parent=parent, info_name=name, **command.context_settings)
    opt = command.get_help_option(ctx)
    if opt is not None:
        opt.help = HELP_OPTION_TEXT
    for sub_name, sub in getattr(command, "commands", {}).items():
        _localise_help(sub, ctx, sub_name)


def _stop_like_ctrl_c(_signum: int, frame: FrameType | None) -> None:
    """SIGTERM (``systemctl stop``, ``kill``) takes Ctrl+C's path: whatever handles SIGINT now — Python's
    KeyboardInterrupt, or asyncio's runner cancelling the running sync — so the session is logged out and the run
    is stored as interrupted, never left «идёт» forever."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    command = typer.main.get_command(app)
    _localise_help(command)
    try:
        command(prog_name="asurso-sync")
    finally:
        # The command is over (its exit code decided) and the interpreter shuts down: a stop request has nothing left
        # to stop. Without this a SIGTERM or Ctrl+C in that moment raised KeyboardInterrupt inside an exit handler
        # (the cache lock's clean-up) and printed a traceback after a finished sync (issue #35's loop of the random
        # interrupts found it).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
