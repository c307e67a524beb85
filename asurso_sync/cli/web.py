"""``asurso-sync web``: Кабинет завуча — the local web application — and its password."""

from __future__ import annotations

import ipaddress
from contextlib import closing
from typing import Annotated

import typer

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, App, err, fail, guarded

app = App(
    help="Кабинет завуча: веб-страница на этом компьютере — замечания, доказательства, оценки, исключения. "
    "«asurso-sync web» открывает кабинет, «asurso-sync web set-password» задаёт его пароль.",
    invoke_without_command=True,
    no_args_is_help=False,  # «asurso-sync web» alone serves the cabinet
)


@app.callback(invoke_without_command=True)
@guarded
def web(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Адрес: 127.0.0.1 — только этот компьютер; 0.0.0.0 — вся сеть школы (осторожно).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Порт.")] = 8080,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Адреса HTTPS-прокси (через запятую), которым кабинет верит в заголовке X-Forwarded-For. Без этого "
            "ключа адрес входящего — адрес соединения (ограничение неудачных входов не обойти подменой заголовка)."
        ),
    ] = None,
) -> None:
    """Открыть Кабинет завуча: http://127.0.0.1:8080 в браузере этого компьютера.

    Вход по паролю кабинета (задаётся командой «asurso-sync web set-password»). Кабинет читает кэш; оценки \
замечаний, исключения и входы записываются в журнал аудита кэша.

    Код выхода: 0 — остановлен (Ctrl+C); 2 — ошибка настройки или пароль не задан; 9 — кэша нет.
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from asurso_sync.web.app import create_app, server_options
    from cache import open_cache
    from cache.cabinet import password_hash

    config = STATE.config()
    with closing(open_cache(config.cache.path, create=False, read_only_ok=True)) as db:
        if password_hash(db) is None:
            raise fail("пароль кабинета не задан: выполните «asurso-sync web set-password»", exitcodes.CONFIG)
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = host == "localhost"
    if not local:
        err.print(
            f"[yellow]Внимание:[/] кабинет доступен по сети ({host}). В нём персональные данные обучающихся: "
            "откройте его только во внутренней сети школы и за HTTPS-прокси."
        )
    err.print(f"Кабинет завуча: http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}  (Ctrl+C — остановить)")  # noqa: S104
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        **server_options(forwarded_allow_ips),
    )


PASSWORD_ATTEMPTS = 3  # then exit 2: a script piping a short password does not loop for ever


@app.command("set-password")
def set_password() -> None:
    """Задать или сменить пароль кабинета (не короче 8 знаков). Хранится только его медленный хеш (scrypt)."""
    from asurso_sync.web.auth import MIN_PASSWORD, hash_password
    from cache import audit, open_cache
    from cache.cabinet import set_password_hash

    config = STATE.config()
    first = ""
    for attempt in range(1, PASSWORD_ATTEMPTS + 1):
        first = str(typer.prompt("Новый пароль кабинета", hide_input=True, err=True))
        if len(first) < MIN_PASSWORD:
            problem = f"пароль короче {MIN_PASSWORD} знаков — задайте длиннее"
        elif first != str(typer.prompt("Повторите пароль", hide_input=True, err=True)):
            problem = "пароли не совпали — введите ещё раз"
        else:
            break
        if attempt == PASSWORD_ATTEMPTS:
            raise fail(f"{problem}; попыток: {PASSWORD_ATTEMPTS}, пароль не изменён", exitcodes.CONFIG)
        err.print(f"[yellow]{problem.capitalize()}.[/]")
    with closing(open_cache(config.cache.path, create=False)) as db:
        set_password_hash(db, hash_password(first))
        audit(db, "web-password", {})
    err.print("[green]Пароль кабинета задан.[/] Запуск: asurso-sync web")


@app.command("revoke-links")
def revoke_links(
    teacher: Annotated[
        str | None, typer.Argument(help="Учитель: id или часть ФИО (как в кабинете). Без него нужен --all.")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Отозвать личные ссылки всех учителей.")] = False,
) -> None:
    """Отозвать личные ссылки учителя на его страницу (например, письмо переслано не тому). Новая ссылка придёт \
со следующим письмом.

    Код выхода: 0 — отозвано (или отзывать было нечего); 2 — учитель не указан или не найден; 9 — кэша нет.
    """
    from asurso_sync.remarks.directory import normalize_name
    from cache import audit, open_cache
    from cache.cabinet import teacher_names
    from cache.teacher_links import revoke_links as revoke

    config = STATE.config()
    if (teacher is None) == (not everyone):
        raise fail("укажите учителя (id или часть ФИО) или --all", exitcodes.CONFIG)
    with closing(open_cache(config.cache.path, create=False)) as db:
        if everyone:
            n = revoke(db)
            audit(db, "teacher-links-revoke", {"teacher": "all", "links": n})
            err.print(f"Отозвано ссылок: {n}.")
            return
        names = teacher_names(db)
        needle = normalize_name(str(teacher))
        found = [i for i, name in names.items() if str(i) == teacher or needle in normalize_name(name)]
        if len(found) != 1:
            what = "не найден" if not found else "найдено несколько: " + ", ".join(names[i] for i in found[:5])
            raise fail(f"учитель «{teacher}» {what} — укажите id из кабинета (/teachers)", exitcodes.CONFIG)
        n = revoke(db, found[0])
        audit(db, "teacher-links-revoke", {"teacher": found[0], "links": n})
        err.print(f"{names[found[0]]}: отозвано ссылок — {n}. Новая придёт со следующим письмом.")
