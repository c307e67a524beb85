"""``asurso-sync init`` and ``asurso-sync status``: setting up and looking at the installation."""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, err, fail, local_time, out
from asurso_sync.config import CONFIG_ENV, DEFAULT_CONFIG, init_config_text, load_config
from asurso_sync.esia import stored_login_problem
from asurso_sync.routing import shadow_line
from asurso_sync.scheduler import next_runs
from asurso_sync.vocabulary import run_kind, run_status
from cache import (
    CacheCorruptError,
    audit,
    datasette_command,
    full_load_state,
    is_read_only,
    last_check,
    last_runs,
    last_successful_run,
    open_cache,
    outbox_rows,
    owner_name,
    purge_records,
    quick_check,
    schema_version,
    table_counts,
    write_browse_metadata,
)
from cache.backup import health_message
from cache.cabinet import released_rules
from cache.files import write_private_bytes
from cache.schema import label
from rules.catalogue import load_catalogue
from rules.wording import count, plural

# which renewal candidate the server accepted (asurso_sync/tokens.py StoredLogin.accepted), in the status line
ACCEPTED_RU = {"answer": "принят токен из ответа на вход", "portal": "принят токен сессии портала Госуслуг"}


def init(
    force: Annotated[bool, typer.Option("--force", help="Перезаписать существующий файл конфигурации.")] = False,
) -> None:
    """Создать config.toml из примера с комментариями и пустой кэш.

    Файл создаётся по пути из --config (по умолчанию ./config.toml). Существующий файл не перезаписывается без --force.
    """
    path = STATE.config_path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if path.exists() and not force:
        raise fail(f"Файл {path} уже существует. Чтобы заменить его примером, добавьте --force.", exitcodes.CONFIG)
    write_private_bytes(path, init_config_text().encode("utf-8"))
    config = load_config(path)  # an invalid environment override is a ConfigError: exit 2
    db = open_cache(config.cache.path)
    audit(db, "init", {"config": str(path)})
    db.close()
    err.print(f"[green]Создан файл конфигурации[/] {path}")
    err.print(f"[green]Создан кэш[/] {config.cache.path} (права 0600)")
    err.print(
        "Дальше: впишите в него [bold]\\[school] name[/] (название школы), [bold]\\[asurso] login[/] и источник "
        "пароля ([bold]password_env[/] или [bold]password_command[/]); [bold]scid[/] — если на сервере несколько "
        "школ с похожими названиями. Пока они пусты, login-check, sync и check не запускаются."
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


def status(
    fmt: Annotated[str, typer.Option("--format", "-f", help="Вывод: table (таблица) или json.")] = "table",
) -> None:
    """Состояние: кэш, последние синхронизации, свежесть данных, письма, расписание.

    Код выхода 0 — всё в порядке; 1 — требуется внимание (синхронизаций не было, последняя завершилась \
ошибкой, данные старше \\[rules] freshness_hours, по умолчанию 26 ч; письма с ошибкой или «застрявшие»); \
2 — ошибка конфигурации; 9 — кэш не создан или недоступен.
    """
    if fmt not in ("table", "json"):
        raise fail(f"неизвестный формат «{fmt}»: допустимы table, json", exitcodes.CONFIG)
    config = STATE.config()
    db = open_cache(config.cache.path, create=False, read_only_ok=True)
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
    elif runs[0].status == "interrupted":
        problems.append(f"последняя синхронизация №{runs[0].id} прервана; повторите «asurso-sync sync»")
    fresh_hours = config.rules.freshness_hours
    if runs and (age is None or age > fresh_hours):
        problems.append(f"нет успешной синхронизации за последние {fresh_hours:g} ч ([rules] freshness_hours)")
    load = full_load_state(db)
    if runs and load is not None:
        if load.planned and load.done < load.planned:
            part = f": загружено {load.done} из {load.planned} {plural(load.planned, 'части', 'частей', 'частей')}"
        elif load.done:  # the parts of the stages not yet begun are not counted until they begin
            part = f": загружено {count(load.done, 'часть', 'части', 'частей')}, остальные ещё не начаты"
        else:
            part = ""
        problems.append(
            f"первая полная загрузка учебного года не завершена{part} — продолжите: asurso-sync sync --all "
            "(продолжится с места остановки; ночная синхронизация тоже продолжает её)"
            if load.runs
            else "полная загрузка учебного года ещё не выполнялась: asurso-sync sync --all"
        )
    counts = table_counts(db)
    version = schema_version(db)
    outbox: dict[str, int] = {}
    for row in outbox_rows(db):
        outbox[row.state] = outbox.get(row.state, 0) + 1
    if outbox.get("failed"):
        problems.append(f"писем с ошибкой отправки: {outbox['failed']} («asurso-sync remarks status»)")
    if outbox.get("sending"):
        problems.append(f"писем в состоянии «отправляется» (сбой при отправке): {outbox['sending']}")
    shadow = shadow_line(config, load_catalogue(), released_rules(db))
    stored_login, login_problem = stored_login_problem(config)
    if login_problem:
        problems.append(login_problem)
    check = last_check(db)
    purges = purge_records(db)
    read_only = is_read_only(db)
    db.close()
    jobs = [
        {"job": name, "title": title, "next": when.isoformat() if when else None}
        for name, title, when in next_runs(config)
    ]

    if fmt == "json":
        payload = {
            "school": config.school.name,
            "server": config.asurso.base_url,
            "cache": {"path": str(path), "bytes": size, "mode": mode, "schema": version, "read_only": read_only},
            "runs": [r.__dict__ for r in runs],
            "fresh_hours": round(age, 2) if age is not None else None,
            "rows": counts,
            "outbox": outbox,
            "last_check": {"id": check["id"], "as_of": check["as_of"]} if check else None,
            "last_purge": purges[-1]["at"] if purges else None,
            "schedule": jobs,
            "full_load": None if load is None else {"done": load.done, "planned": load.planned},
            "shadow": shadow,
            "esia_login": None
            if stored_login is None
            else {
                "user": stored_login.user,
                "obtained": stored_login.obtained,
                "renewed": stored_login.renewed,
                "renewals": stored_login.renewals,
                "accepted": stored_login.accepted,  # which candidate token renews (issue #32); never the token
                "refused": stored_login.refused,
                "notified": stored_login.notified,
            },
            "problems": problems,
        }
        out.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        tz = config.school.tz
        out.print(f"[bold]{config.school.name}[/] — {config.asurso.base_url}")
        access = "доступ только у владельца (0600)" if mode == "0o600" else f"права {mode[2:]} — должно быть 0600"
        level = f"версия схемы {int(version[-1][:4])}" if version and version[-1][:4].isdigit() else "схема не создана"
        megabytes = f"{size / 1024 / 1024:.1f}".replace(".", ",")
        out.print(f"Кэш: {path} ({megabytes} МБ, {access}, {level})")
        if read_only:
            out.print(
                f"Кэш открыт только для чтения: его владелец — «{owner_name(path)}»; синхронизацию и рассылку "
                "запускайте от этого пользователя.",
                highlight=False,
            )
        if runs:
            t = Table(title=f"Последние синхронизации (время — {tz.key})", title_justify="left")
            for col in ("№", "вид", "начало", "длилась", "итог", "время сервера"):
                t.add_column(col, no_wrap=True)
            for r in runs:
                t.add_row(
                    str(r.id),
                    run_kind(r.kind),
                    local_time(r.started_at, tz),
                    _took(r.started_at, r.finished_at),
                    run_status(r.status),
                    local_time(r.server_time, None),
                )
            out.print(t)
        if shadow:
            out.print(escape(shadow), highlight=False)
        if stored_login is not None:
            renewed = local_time(stored_login.renewed, tz) if stored_login.renewed else "ещё не продлевался"
            state = (
                f"сервер отказал в продлении {local_time(stored_login.refused, tz)}"
                if stored_login.refused
                else f"продлён {renewed} (всего продлений: {stored_login.renewals})"
                + (f", {ACCEPTED_RU[stored_login.accepted]}" if stored_login.accepted in ACCEPTED_RU else "")
            )
            out.print(
                f"Вход через Госуслуги: {stored_login.user or '—'}, выполнен "
                f"{local_time(stored_login.obtained, tz)}; {state}",
                highlight=False,
            )
        rows = ", ".join(f"{label(k)}: {v}" for k, v in counts.items() if v)
        out.print(f"Записей в зеркале: {rows or 'пока нет'}")
        seen = local_time(check["as_of"], tz) if check else "не выполнялась"
        out.print(f"Последняя проверка: {seen}", highlight=False)
        states = {"pending": "ожидают", "sending": "отправляются", "sent": "отправлено", "failed": "ошибка"}
        mail = ", ".join(f"{states.get(k, k)}: {v}" for k, v in sorted(outbox.items()))
        out.print(f"Письма: {mail or 'не отправлялись'}", highlight=False)
        purged = local_time(purges[-1]["at"], tz) if purges else "не выполнялось"
        out.print(f"Последнее удаление устаревших данных: {purged}")
        nxt = "; ".join(f"{j['title']} — {local_time(j['next'], None)}" for j in jobs if j["next"])
        out.print(f"Следующие запуски: {nxt}", highlight=False)
        if problems:
            for p in problems:
                err.print(f"[yellow]Внимание:[/] {escape(p)}", highlight=False)
        else:
            ago = f"{age:.1f}".replace(".", ",")
            out.print(f"[green]Данные свежие[/]: последняя успешная синхронизация {ago} ч назад")
    if problems:
        raise typer.Exit(exitcodes.ATTENTION)


def _took(started: str | None, finished: str | None) -> str:
    """How long a run took: «12 с», «3 мин», «1 ч 05 мин»; «—» while it has not finished."""
    if not started or not finished:
        return "—"
    try:
        seconds = int((datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds())
    except ValueError:
        return "—"
    if seconds < 60:
        return f"{seconds} с"
    if seconds < 3600:
        return f"{seconds // 60} мин"
    return f"{seconds // 3600} ч {seconds % 3600 // 60:02d} мин"


def browse(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Файл описания (по умолчанию рядом с кэшем: cache.metadata.json)."),
    ] = None,
) -> None:
    """Подготовить просмотр кэша в браузере (datasette): описание таблиц по-русски и команда запуска.

    В кэше есть представления «уроки», «отметки», «посещаемость» и «замечания» — с именами вместо номеров.
    datasette ставится отдельно (pip install datasette) и по умолчанию открывает кэш только на этом компьютере.
    """
    config = STATE.config()
    open_cache(config.cache.path, create=False, read_only_ok=True).close()  # exists, is ours, has the views
    state = quick_check(config.cache.path)  # datasette would serve a damaged file page by page, with errors
    if not state.ok:
        raise CacheCorruptError(health_message(config.cache.path, state))
    try:
        target = write_browse_metadata(config.cache.path, config.school.name, out_file)
    except PermissionError as exc:
        raise fail(f"нет прав на запись {exc.filename}: укажите другой файл, --out ПУТЬ", exitcodes.STORAGE) from None
    # soft_wrap: a path or a command to copy is never broken across lines
    out.print(f"Описание таблиц записано: {target}", highlight=False, soft_wrap=True)
    out.print(f"Просмотр в браузере: {datasette_command(config.cache.path, target)}", highlight=False, soft_wrap=True)
    if not shutil.which("datasette"):
        err.print("datasette не установлен: pip install datasette (в то же окружение или отдельно, через pipx).")
