"""Commands that talk to the server: ``login-check`` and ``get``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, err, fail, out
from asurso_sync.connect import make_client

SessionOpt = Annotated[
    Path | None,
    typer.Option("--session", help="Файл с сессией из браузера (at и cookies) вместо входа по паролю.", dir_okay=False),
]
RecordOpt = Annotated[
    Path | None,
    typer.Option(
        "--record", help="Сохранять каждый запрос и ответ в папку (секреты скрыты) — для отладки.", file_okay=False
    ),
]


# The server's role codes (references/roles) as the school names them; unknown codes are shown as they come
ROLE_RU = {
    "Admin": "администратор",
    "Administrator": "администратор",
    "Principal": "завуч",
    "Teacher": "учитель",
    "Student": "ученик",
    "Parent": "родитель",
    "MinorStaff": "младший персонал",
    "Secretary": "секретарь",
    "MedicalStaff": "медицинский работник",
    "Psychologist": "психолог",
    "SpecialistStaff": "специалист",
}


def login_check(session: SessionOpt = None, record: RecordOpt = None) -> None:
    """Проверить вход: сервер, версия, пользователь, школа, роли, учебный год, тайм-аут сессии; затем выход.

    Код выхода: 0 — вход выполнен; 2 — ошибка настройки или сертификата; 5 — сервер отказал во входе; \
6 — сервер недоступен, повторите позже; 10 — по адресу \\[asurso] base_url нет АСУ РСО (адрес не найден, \
порт не говорит по HTTPS, другой сайт).
    """

    async def run() -> dict[str, Any]:
        async with make_client(STATE.config(), session_file=session, record_dir=record) as client:
            ctx = client.context
            info = client.info
            assert ctx is not None and info is not None
            return {
                "Сервер": STATE.config().asurso.base_url,
                "Продукт": ctx.productName or info.product or "—",
                "Версия": ctx.version or client.server_version or "—",
                "Пользователь": f"{ctx.user.name if ctx.user else info.user_name} (id {ctx.userId})",
                "Школа": f"{ctx.organizationName or '—'} (scid {ctx.schoolId})",
                "Роли": ", ".join(ROLE_RU.get(r, r) for r in ctx.roles) or "—",
                "Учебный год": f"{ctx.schoolyear.name if ctx.schoolyear else '—'} (id {ctx.schoolYearId})",
                "Тайм-аут сессии": f"{info.timeout_ms // 60000} мин" if info.timeout_ms else "—",
                "Другой сеанс": "был открыт (предупреждение подтверждено)" if info.other_session else "нет",
                "Время сервера": f"{client.server_time:%d.%m.%Y %H:%M:%S}" if client.server_time else "—",
            }

    facts = asyncio.run(run())
    for key, value in facts.items():
        out.print(f"[bold]{key}:[/] {value}", highlight=False)
    err.print("[green]Вход выполнен, сессия закрыта.[/]")


def get(
    path: Annotated[str, typer.Argument(help="Путь API, например /webapi/classes или classes.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Параметр запроса ключ=значение (можно несколько раз).")
    ] = None,
    session: SessionOpt = None,
    record: RecordOpt = None,
) -> None:
    """Выполнить любой GET от имени пользователя и напечатать ответ как JSON (для изучения сервера)."""
    params: list[tuple[str, str]] = []
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"параметр «{item}» должен иметь вид ключ=значение", exitcodes.CONFIG)
        params.append((key, value))
    full = path if path.startswith("/") else f"/webapi/{path}"

    async def run() -> Any:
        async with make_client(STATE.config(), session_file=session, record_dir=record) as client:
            return await client.get_json(full, params or None)

    out.print_json(json.dumps(asyncio.run(run()), ensure_ascii=False))


def survey(
    class_name: Annotated[
        str | None, typer.Option("--class", metavar="КЛАСС", help="Класс для пробы (по умолчанию — старший).")
    ] = None,
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="Файл описания структуры ответов сервера (без персональных данных).")
    ] = Path("survey-bundle.json"),
    session: SessionOpt = None,
) -> None:
    """Первое подключение к серверу школы: проверить всё, на что опирается программа, на маленькой пробе.

    Только чтение: один класс, одна группа, один период, неделя уроков, один день отчёта о доступе. Для каждого
    допущения — ✓ (так и есть), ✗ (сервер отвечает иначе — и что это значит для проверки) или ? (не удалось
    увидеть). В файл --out записывается структура ответов — ключи, типы, количества, справочники (виды периодов и
    работ, коды посещаемости, заголовки и условные обозначения отчёта) — без имён, отметок, текстов и номеров
    людей: его можно отправить разработчикам.

    Код выхода: 0 — все допущения верны; 1 — что-то отличается или не проверено; 5/6/10 — как у login-check.
    """
    from rich.table import Table

    from asurso_sync.survey import MARK, bundle_bytes, run_survey
    from cache.files import write_private_bytes

    config = STATE.config()

    async def run() -> Any:
        async with make_client(config, session_file=session) as client:
            return await run_survey(client, class_name=class_name)

    with err.status("Проверка сервера…"):
        result = asyncio.run(run())
    table = Table(title=f"Проверка сервера {config.asurso.base_url}", title_justify="left", show_lines=True)
    for col in ("Проверка", "", "Что видно", "Что это значит"):
        table.add_column(col)
    for c in result.checks:
        style = {"ok": "green", "differs": "red", "unknown": "yellow"}[c.verdict]
        table.add_row(c.title, f"[{style}]{MARK[c.verdict]}[/]", c.seen, c.meaning)
    out.print(table)
    write_private_bytes(out_file, bundle_bytes(result))
    out.print(f"Структура ответов (без персональных данных) записана: {out_file}", highlight=False, soft_wrap=True)
    if not result.all_ok:
        differs = sum(1 for c in result.checks if c.verdict != "ok")
        err.print(
            f"[yellow]Внимание:[/] не подтвердилось допущений: {differs}. Отправьте {out_file} разработчикам.",
            highlight=False,
        )
        raise typer.Exit(exitcodes.ATTENTION)
