"""Commands that talk to the server: ``login-check``, ``login-esia``, ``get``, ``survey``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, err, fail, out
from asurso_sync.config import require_filled
from asurso_sync.connect import make_client

if TYPE_CHECKING:
    from adapters.netschool.esia import EsiaMethod

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


METHOD_RU = {
    "password": "по логину и паролю",
    "esia": "через Госуслуги (сохранённый вход продлён)",
    "session": "по сохранённой сессии браузера",
}


class TerminalPrompter:
    """The person at the terminal during «login-esia»: codes typed in, the QR code drawn, a numbered choice."""

    def ask_code(self, kind: str, details: Mapping[str, Any]) -> str:
        phone = details.get("phone") or "ваш телефон"
        what = {
            "SMS": f"код из SMS (отправлен на {phone})",
            "TOTP": "код из приложения-аутентификатора",
            "MAX": "код из мессенджера «Макс»",
            "ANOMALY": f"код из SMS — Госуслуги проверяют необычный вход (отправлен на {phone})",
        }.get(kind, "код подтверждения")
        if details.get("wrong"):
            err.print(f"[red]Код неверный.[/] Осталось попыток: {details.get('verify_attempts_left', '?')}.")
        return str(typer.prompt(f"Введите {what}", err=True)).strip()

    def show_qr(self, content: str, attempt: int, seconds: float) -> None:
        import segno

        if attempt > 1:
            err.print("[yellow]Прежний QR-код больше не действует — вот новый.[/]")
        err.print(
            "Откройте приложение «Госуслуги» на телефоне, нажмите значок сканера QR-кода и наведите камеру на код:"
        )
        segno.make(content, error="l").terminal(out=sys.stderr, compact=True)
        err.print(f"Код действует около {max(1, round(seconds / 60))} мин. Ждём подтверждения в приложении…")

    def push_waiting(self, seconds: float) -> None:
        err.print(
            "Госуслуги отправили запрос в приложение «Госуслуги» на вашем телефоне: подтвердите вход там. "
            f"Ждём до {max(1, round(seconds / 60))} мин…"
        )

    def choose(self, options: Sequence[str], preferred: int | None) -> int:
        err.print("К учётной записи Госуслуг привязано несколько пользователей АСУ РСО:")
        for i, option in enumerate(options, 1):
            mark = "  [green]← школа из настроек[/]" if preferred == i - 1 else ""
            err.print(f"  {i}. {escape(option)}{mark}", highlight=False)
        default = str(preferred + 1) if preferred is not None else None
        while True:
            raw = str(typer.prompt(f"Номер (1–{len(options)})", default=default, err=True)).strip()
            if raw.isdigit() and 1 <= int(raw) <= len(options):
                return int(raw) - 1
            err.print(f"Введите число от 1 до {len(options)}.")


def _esia_method(qr: bool, login: str | None) -> EsiaMethod:
    """How the person passes the portal: the QR code, or the login and password asked here (never stored)."""
    from adapters.netschool.esia import EsiaMethod

    prompter = TerminalPrompter()
    if qr:
        return EsiaMethod("qr", prompter)
    who = login or str(typer.prompt("Логин Госуслуг (телефон, почта или СНИЛС)", err=True)).strip()
    secret = str(typer.prompt("Пароль Госуслуг (не сохраняется)", hide_input=True, err=True))
    return EsiaMethod("password", prompter, login=who, password=secret)


def login_esia(
    qr: Annotated[
        bool, typer.Option("--qr", help="Войти по QR-коду: отсканировать его приложением «Госуслуги» на телефоне.")
    ] = False,
    login: Annotated[
        str | None,
        typer.Option("--login", help="Логин Госуслуг: телефон, почта или СНИЛС (иначе программа спросит)."),
    ] = None,
) -> None:
    """Войти через Госуслуги один раз — дальше ночные запуски продлевают вход сами.

    Вход по логину и паролю Госуслуг (с кодом из SMS, приложения-аутентификатора или подтверждением в приложении — \
как попросит портал) или по QR-коду (--qr). Если к учётной записи привязано несколько школ, программа предложит \
выбрать. Пароль Госуслуг нигде не сохраняется: сохраняется только выданный сервером токен продления — в файле с \
правами 0600 рядом с кэшем (\\[asurso] token_file).

    Код выхода: 0 — вход выполнен и сохранён; 2 — ошибка настройки или сертификата; 5 — портал или сервер \
отказали во входе (сообщение говорит, что делать); 6 — портал или сервер недоступны, повторите позже; 10 — по \
адресу \\[asurso] base_url нет АСУ РСО.
    """
    from asurso_sync.esia import login_esia as run_login

    config = STATE.config()
    method = _esia_method(qr, login)
    err.print(f"Вход через Госуслуги на {config.asurso.base_url}…", highlight=False)
    result = asyncio.run(run_login(config, method))
    stored = result.stored
    out.print(f"[bold]Пользователь:[/] {stored.user or '—'}", highlight=False)
    out.print(f"[bold]Школа:[/] {stored.school or '—'} (scid {stored.school_id or '—'})", highlight=False)
    out.print(f"[bold]Вход сохранён:[/] {result.path} (права 0600; пароль Госуслуг не сохранён)", highlight=False)
    err.print(
        "[green]Готово.[/] Каждый запуск теперь продлевает вход сам. Если сервер перестанет его продлевать, "
        "заместитель директора получит одно письмо с просьбой повторить «asurso-sync login-esia»."
    )


def login_check(session: SessionOpt = None, record: RecordOpt = None) -> None:
    """Проверить вход: сервер, версия, пользователь, школа, роли, учебный год, тайм-аут сессии; затем выход.

    Код выхода: 0 — вход выполнен; 2 — ошибка настройки или сертификата; 5 — сервер отказал во входе; \
6 — сервер недоступен, повторите позже; 10 — по адресу \\[asurso] base_url нет АСУ РСО (адрес не найден, \
порт не говорит по HTTPS, другой сайт).
    """
    require_filled(STATE.config(), ("school", "name"), ("asurso", "login"))

    async def run() -> dict[str, Any]:
        async with make_client(STATE.config(), session_file=session, record_dir=record) as client:
            ctx = client.context
            info = client.info
            assert ctx is not None and info is not None
            return {
                "Сервер": STATE.config().asurso.base_url,
                "Вход": METHOD_RU.get(client.method or "", client.method or "—"),
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
    esia: Annotated[
        bool,
        typer.Option(
            "--esia",
            help="Войти через Госуслуги (как login-esia, но ничего не сохраняя) и один раз проверить, какой токен "
            "продления входа принимает сервер.",
        ),
    ] = False,
    qr: Annotated[bool, typer.Option("--qr", help="С --esia: войти по QR-коду приложением «Госуслуги».")] = False,
    login: Annotated[str | None, typer.Option("--login", help="С --esia: логин Госуслуг.")] = None,
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

    from asurso_sync.survey import MARK, bundle_bytes, run_survey, survey_with_esia
    from cache.files import write_private_bytes

    config = STATE.config()

    async def run() -> Any:
        async with make_client(config, session_file=session) as client:
            return await run_survey(client, class_name=class_name)

    if esia:  # a person takes part (codes, the QR code): no spinner over the prompts
        err.print(f"Вход через Госуслуги на {config.asurso.base_url} (ничего не сохраняется)…", highlight=False)
        result = asyncio.run(survey_with_esia(config, _esia_method(qr, login), class_name=class_name))
    else:
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
