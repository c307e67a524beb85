"""Shared CLI plumbing: Russian help chrome, the one error handler, consoles, config access, option parsing."""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import typer
import typer.rich_utils as ru
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperArgument, TyperOption
from typer.models import CommandFunctionType

from asurso_sync import exitcodes
from asurso_sync.config import Config, load_config
from asurso_sync.errors import UsageError, exit_code_for, message_for

# Russian chrome for Typer's rich help (the project's user-facing language).
ru.ARGUMENTS_PANEL_TITLE = "Аргументы"
ru.OPTIONS_PANEL_TITLE = "Параметры"
ru.COMMANDS_PANEL_TITLE = "Команды"
ru.ERRORS_PANEL_TITLE = "Ошибка"
ru.ABORTED_TEXT = "Прервано."
ru.DEFAULT_STRING = "[по умолчанию: {}]"
ru.ENVVAR_STRING = "[переменная: {}]"
ru.REQUIRED_LONG_STRING = "[обязательно]"
ru.RICH_HELP = "Справка: [blue]'{command_path} {help_option}'[/]."

# What a value is, in the help's type column, as a user reads it: «ДАТА», «ЧИСЛО», not «<str>», «<int>»; a flag
# takes no value and shows none. An option's own metavar wins.
_TYPE_WORDS = {"str": "ТЕКСТ", "int": "ЧИСЛО", "float": "ЧИСЛО", "path": "ПУТЬ", "file": "ФАЙЛ", "directory": "ПАПКА"}


def _type_word(self: Any, ctx: Any) -> str | None:
    if self.metavar is not None:
        return str(self.metavar)
    if getattr(self, "is_flag", False):
        return None
    raw = str(self.display_type(ctx)).strip("<>")
    many = raw.startswith("list[") and raw.endswith("]")
    base = raw[5:-1] if many else raw
    base = base.removesuffix(" range")
    word = _TYPE_WORDS.get(base.casefold(), base)  # choices («table|jsonl») stay as they are
    return word + ("…" if many or getattr(self, "nargs", 1) != 1 else "")


TyperOption.display_type_rich = _type_word  # type: ignore[method-assign]
TyperArgument.display_type_rich = _type_word  # type: ignore[method-assign]

# Typer's own usage errors («No such option: --fro») in Russian: its messages are English f-strings, so the
# rendered text is rewritten before the error panel prints it. Unknown texts stay as they are.
_USAGE_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in (
        (r"No such option: (\S+)", r"Нет такого параметра: \1"),
        (r"\(Possible options: (.+)\)", r"(есть: \1)"),
        (r"No such command '(.+?)'\.", r"Нет такой команды «\1»."),
        (r"Did you mean (.+)\?", r"Возможно, имелась в виду: \1?"),
        (r"Missing command\.", "Не указана команда."),
        (r"Option '(.+?)' requires an argument\.", r"Параметру «\1» нужно значение."),
        (r"Option '(.+?)' does not take a value\.", r"Параметр «\1» пишется без значения."),
        (r"Missing argument '(.+?)'\.", r"Не указан аргумент «\1»."),
        (r"Missing option '(.+?)'\.", r"Не указан параметр «\1»."),
        (r"Missing parameter: (.+)", r"Не указан параметр: \1"),
        (r"Got unexpected extra arguments? ?(?:\(s\))? \((.+)\)", r"Лишние аргументы: \1"),
        (r"Invalid value for '(.+?)': ", r"Недопустимое значение «\1»: "),
        (r"Invalid value: ", "Недопустимое значение: "),
        (r"Input should be a valid integer.*", "нужно целое число"),
        (r"Input should be a valid number.*", "нужно число"),
        (r"Input should be a valid boolean.*", "нужно true или false"),
        (r"Input should be a valid date.*", "нужна дата ГГГГ-ММ-ДД"),
        (r"Value (.+?) is not a valid (\w+)\.", r"\1 — не подходит (\2)."),
        (r"(.+?) is not one of (.+)\.", r"\1 — не из списка: \2."),
    )
]


def usage_error_ru(text: str) -> str:
    for pattern, russian in _USAGE_ERRORS:
        text = pattern.sub(russian, text)
    return text


_format_error = ru.rich_format_error


def _format_error_ru(self: Any) -> None:
    russian = usage_error_ru(self.format_message())
    self.format_message = lambda: russian
    _format_error(self)


ru.rich_format_error = _format_error_ru

HELP_OPTION_TEXT = "Показать эту справку и выйти."
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

out = Console()  # data and reports
err = Console(stderr=True)  # messages, progress, errors

log = logging.getLogger("asurso_sync")

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Per-invocation state set by the root callback."""

    config_path: Path | None = None
    verbose: int = 0
    _config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config


STATE = State()


def fail(message: str, code: int = exitcodes.CONFIG) -> typer.Exit:
    """Print «Ошибка: …» and return the Exit to raise. For errors of the command line itself; everything else
    raises an ``AppError`` (or a mapped error) and lets ``guarded`` print it."""
    # the message is plain text: config keys such as «[retention] keep_days» must not be read as rich markup.
    # soft_wrap: the message is one line for the terminal to wrap, never broken by rich at its own width (80 columns
    # when stderr is a pipe or a log) — a path or a key stays whole for copying and for grep
    if message.startswith(("Ошибка ", "Ошибки ")):  # «Ошибка в конфигурации …» names itself: no «Ошибка: Ошибка»
        err.print(f"[bold red]{message[:6]}[/]{escape(message[6:])}", highlight=False, soft_wrap=True)
    else:
        err.print(f"[bold red]Ошибка:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


GUARDED = "__asurso_guarded__"


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """The one error handler of every command: an expected error prints its Russian message and ends with its
    documented exit code (``asurso_sync.errors.exit_code_for``); anything else is a bug — a short message,
    exit code 4 (INTERNAL) and the traceback at debug level (-vv)."""
    if getattr(fn, GUARDED, False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err.print("Прервано пользователем.", style="yellow")
            raise typer.Exit(exitcodes.INTERRUPTED) from None
        except Exception as exc:
            code = exit_code_for(exc)
            if code is not None:
                raise fail(message_for(exc), code) from None
            log.debug("внутренняя ошибка: %s", "".join(traceback.format_exception(exc)).rstrip())
            raise fail(
                f"внутренняя ошибка программы ({type(exc).__name__}: {exc}). Это ошибка asurso-sync, а не ваших "
                "данных: сообщите разработчикам, приложив журнал (запуск с -vv покажет подробности).",
                exitcodes.INTERNAL,
            ) from None

    setattr(wrapper, GUARDED, True)
    return wrapper


class App(typer.Typer):
    """A Typer whose every command runs through ``guarded``: no command can forget the error handler."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("rich_markup_mode", "rich")
        super().__init__(**kwargs)

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        register = super().command(name, **kwargs)

        def decorator(fn: CommandFunctionType) -> CommandFunctionType:
            register(guarded(fn))
            return fn

        return decorator


def parse_date(value: str | None, option: str) -> date | None:
    """A date typed as ДД.ММ.ГГГГ or ГГГГ-ММ-ДД; a wrong one is a usage error naming the option."""
    if value is None:
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
            day, month, year = (int(x) for x in text.split("."))
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{option}: «{value}» — не дата; пишите ДД.ММ.ГГГГ или ГГГГ-ММ-ДД, например 07.12.2026"
        ) from None


def parse_period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """--from/--to as dates; a period whose start is after its end is refused."""
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if first and last and first > last:
        raise UsageError(f"период задан наоборот: --from {first:%d.%m.%Y} позже --to {last:%d.%m.%Y}")
    return first, last


def progress_bar(*, transient: bool, disable: bool = False, bold: bool = False) -> Progress:
    """The one progress bar of long work (sync, demo): what is being done, done of total, time spent and the time
    left («осталось»), on stderr so that output stays clean."""
    return Progress(
        TextColumn("[bold]{task.description}" if bold else "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("осталось"),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
        disable=disable,
    )


def local_time(moment: str | None, tz: ZoneInfo | None) -> str:
    """An ISO moment as «30.11.2026 19:25»: in the school's zone when it carries one (or is UTC, ``tz`` given),
    else as written (the server's own local time)."""
    if not moment:
        return "—"
    try:
        value = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if tz is not None:
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz)
    return f"{value:%d.%m.%Y %H:%M}"
