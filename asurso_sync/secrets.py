"""Resolving passwords from the environment or a command; never from the config file.

The password itself is never logged, stored or put into an exception message.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

from asurso_sync import exitcodes
from asurso_sync.errors import AppError


class SecretError(AppError):
    """The password could not be obtained; the message (Russian) says from where and what to do."""

    exit_code = exitcodes.CONFIG


def resolve_password(
    *,
    section: str,
    password_env: str | None,
    password_command: list[str] | None,
    environ: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    environ = os.environ if environ is None else environ
    if password_env:
        value = environ.get(password_env)
        if not value:
            raise SecretError(
                f"Пароль не найден: переменная окружения {password_env} (ключ [{section}] password_env) "
                "не задана или пуста."
            )
        return value
    if password_command:
        try:
            proc = subprocess.run(
                password_command,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError as exc:
            raise SecretError(
                f"Команда получения пароля не найдена: {password_command[0]} (ключ [{section}] password_command)."
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise SecretError(
                f"Команда получения пароля не ответила за {timeout:.0f} с (ключ [{section}] password_command)."
            ) from exc
        if proc.returncode != 0:
            raise SecretError(
                f"Команда получения пароля завершилась с кодом {proc.returncode} (ключ [{section}] password_command)."
            )
        value = proc.stdout.rstrip("\r\n")
        if not value:
            raise SecretError(f"Команда получения пароля ничего не напечатала (ключ [{section}] password_command).")
        return value
    raise SecretError(f"Не задан источник пароля: укажите в разделе [{section}] password_env или password_command.")
