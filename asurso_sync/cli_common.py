"""Shared CLI plumbing: Russian help chrome, the error → exit-code mapping, consoles, config access."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
import typer.rich_utils as ru
from rich.console import Console
from rich.markup import escape

from asurso_sync import exitcodes
from asurso_sync.config import Config, ConfigError, load_config
from asurso_sync.secrets import SecretError
from cache import CacheError

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


def fail(message: str, code: int) -> typer.Exit:
    # the message is plain text: config keys such as «[retention] keep_days» must not be read as rich markup
    err.print(f"[bold red]Ошибка:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Map the project's expected errors to a Russian message and a documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            err.print(str(exc), style="red", highlight=False, markup=False)
            raise typer.Exit(exitcodes.CONFIG) from None
        except SecretError as exc:
            raise fail(str(exc), exitcodes.CONFIG) from None
        except CacheError as exc:
            raise fail(str(exc), exitcodes.ATTENTION) from None
        except KeyboardInterrupt:
            err.print("Прервано пользователем.", style="yellow")
            raise typer.Exit(130) from None
        except OSError as exc:
            if exc.errno == 28:  # ENOSPC
                raise fail(f"Нет места на диске ({exc.filename or ''}). Освободите место и повторите.", 1) from None
            raise

    return wrapper
