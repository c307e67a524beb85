"""``asurso-sync purge`` and ``asurso-sync selfcheck``: children's personal data (152-ФЗ) and the installation's
safety."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table

from adapters.mail.backends import is_loopback
from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, fail, local_time, out, parse_date
from asurso_sync.config import Config
from asurso_sync.esia import stored_login_problem
from cache import newest_good_backup, open_cache, outbox_rows, purge, purge_records, quick_check
from cache.backup import health_message
from cache.reads import oldest_lesson_day


def purge_command(
    before: Annotated[
        str | None, typer.Option("--before", help="Удалить данные старше этой даты (ГГГГ-ММ-ДД).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Только посчитать, ничего не удалять.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Не спрашивать подтверждения.")] = False,
    report: Annotated[bool, typer.Option("--report", help="Напечатать акты об уничтожении и выйти.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Основание (попадает в акт).")] = None,
) -> None:
    """Удалить персональные данные обучающихся старше даты (152-ФЗ), сохранив обезличенные итоги и акт.

    Удаляются отметки и посещаемость уроков до даты, итоговые отметки и списки групп завершившихся периодов, \
история их изменений, замечания о конкретных учениках, строки отчёта о доступе об отметках и посещаемости и \
тексты отправленных писем (запись об отправке остаётся); ФИО учеников, о которых ничего не осталось, \
заменяются на «обучающийся №…». По умолчанию дата — сегодня минус \\[retention] keep_days.
    """
    config = STATE.config()
    with closing(open_cache(config.cache.path, create=False)) as db:
        if report:
            _print_acts(config, purge_records(db))
            return
        given = parse_date(before, "--before")
        if given is not None:
            cutoff = given
        elif config.retention.keep_days:
            cutoff = datetime.now(config.school.tz).date() - timedelta(days=config.retention.keep_days)
        else:
            raise fail("укажите --before ДАТА или срок хранения [retention] keep_days", exitcodes.CONFIG)
        why = reason or (f"истёк срок хранения {config.retention.keep_days} дн." if not before else "решение оператора")
        plan = purge(db, cutoff, reason=why, dry_run=True)
        table = Table(title=f"Данные старше {cutoff:%d.%m.%Y}", title_justify="left")
        table.add_column("Что")
        table.add_column("Записей", justify="right")
        for name, n in plan.counts.items():
            table.add_row(_TABLE_RU.get(name, name), str(n))
        out.print(table)
        if dry_run or plan.total == 0:
            if plan.total == 0:
                out.print("Удалять нечего.")
            return
        if not yes and not typer.confirm("Удалить безвозвратно?", default=False):
            raise typer.Exit(exitcodes.ATTENTION)
        done = purge(db, cutoff, reason=why)
    out.print(f"Удалено записей: {done.total}; акт № {done.record_id} («asurso-sync purge --report»).")


_TABLE_RU = {
    "mark": "отметки",
    "attendance": "посещаемость",
    "term_mark": "итоговые отметки",
    "enrollment": "списки групп",
    "change_log": "история изменений",
    "finding": "замечания о конкретных учениках",
    "access_log": "отчёт о доступе: отметки и посещаемость",
    "outbox": "тексты отправленных писем",
    "comment": "комментарии завуча в кабинете",
    "student": "ФИО (обезличиваются)",
}


def _print_acts(config: Config, records: list[dict[str, object]]) -> None:
    if not records:
        out.print("Уничтожений персональных данных не выполнялось.")
        return
    for r in records:
        counts = r["counts"]
        assert isinstance(counts, dict)
        out.print(f"\n[bold]АКТ № {r['id']} об уничтожении персональных данных[/]", highlight=False)
        out.print(f"Оператор: {config.school.name}", highlight=False)
        when = local_time(str(r["at"]), config.school.tz)
        out.print(f"Дата и время: {when} ({config.school.tz.key}); выполнил: {r['actor']}", highlight=False)
        out.print(
            f"Уничтожены данные обучающихся за период до {r['before']}; основание: {r['reason']}.", highlight=False
        )
        for name, n in counts.items():
            out.print(f"  {_TABLE_RU.get(name, name)}: {n}", highlight=False)
        out.print(
            "Способ: удаление из базы данных с перезаписью (SQLite secure_delete) и сжатием файла (VACUUM); "
            "сохранены только обезличенные итоги.",
            highlight=False,
        )


def _private(path: Path) -> bool:
    return not (path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


BACKUP_MAX_AGE_HOURS = 48  # a nightly copy a day late is still fine; two nights missed are a problem


def _backups(config: Config, check: Callable[[bool, str, str], None]) -> None:
    """The newest good backup and its age (README «Где хранятся данные»)."""
    c = config.cache
    if not c.backup_keep:
        check(False, "резервные копии кэша отключены ([cache] backup_keep = 0)", "укажите [cache] backup_keep = 7")
        return
    newest = newest_good_backup(c.path, c.backup_dir)
    if newest is None:
        check(
            False,
            "исправной резервной копии кэша нет",
            "копия делается после каждой ночной синхронизации («asurso-sync schedule run»); "
            "сейчас — «asurso-sync backup»",
        )
        return
    hours = (datetime.now(UTC) - newest.at).total_seconds() / 3600
    check(
        hours <= BACKUP_MAX_AGE_HOURS,
        f"последняя исправная резервная копия кэша сделана {hours:.0f} ч назад ({newest.path})",
        "проверьте, что ночная синхронизация работает («asurso-sync schedule status»), "
        "или выполните «asurso-sync backup»",
    )


def selfcheck() -> None:
    """Проверка безопасности и готовности: права файлов, источники паролей, TLS, срок хранения, очистка, почта.

    Код выхода: 0 — замечаний нет; 1 — есть что исправить (каждый пункт объяснён).
    """
    config = STATE.config()
    problems: list[tuple[str, str]] = []
    ok: list[str] = []

    def check(good: bool, title: str, fix: str) -> None:
        (ok.append(title) if good else problems.append((title, fix)))

    cache = config.cache.path
    healthy = False
    if cache.exists():
        state = quick_check(cache)
        healthy = state.ok
        check(state.ok, "кэш исправен (проверка целостности базы данных)", health_message(cache, state))
        _backups(config, check)
        check(_private(cache), "файл кэша доступен только владельцу (0600)", f"выполните chmod 600 {cache}")
        check(
            _private(cache.parent),
            "папка кэша закрыта для других (0700)",
            f"выполните chmod 700 {cache.parent}",
        )
    else:
        problems.append(("кэш не создан", "выполните «asurso-sync init» и «asurso-sync sync --all»"))
    if config.source and config.source.exists():
        check(
            not (config.source.stat().st_mode & stat.S_IWOTH),
            "файл конфигурации не может изменить посторонний",
            f"выполните chmod 640 {config.source}",
        )
    a = config.asurso
    stored_login, login_problem = stored_login_problem(config)
    check(
        bool(a.password_env or a.password_command or a.session_file or stored_login),
        "пароль АСУ РСО берётся из переменной окружения, команды или файла сессии, а не из конфигурации"
        if a.password_env or a.password_command or a.session_file or not stored_login
        else "вход через Госуслуги сохранён; пароль Госуслуг не хранится",
        "укажите [asurso] password_env или password_command или выполните «asurso-sync login-esia»",
    )
    if stored_login is not None or login_problem:
        check(
            login_problem is None,
            "сохранённый вход через Госуслуги действует (файл 0600)",
            login_problem or "",
        )
    if a.password_env:
        check(
            bool(os.environ.get(a.password_env)),
            f"переменная {a.password_env} с паролем задана",
            f"задайте переменную {a.password_env} (например, в EnvironmentFile службы systemd с правами 0600)",
        )
    host = urlsplit(a.base_url).hostname or ""
    if a.base_url.startswith("https://"):
        check(True, "соединение с АСУ РСО шифруется (https)", "")
    else:  # plain http is acceptable only on this machine (the emulator, a local proxy): say so, not «encrypted»
        local = is_loopback(host)
        check(
            local,
            f"соединение с сервером не шифруется, но не выходит за пределы этого компьютера ({host})"
            if local
            else "соединение с АСУ РСО не шифруется (http)",
            'укажите [asurso] base_url = "https://…": без шифрования пароль и данные учеников идут по сети открыто',
        )
    if a.base_url.startswith("https://"):  # over http there is no certificate to check (the line above says so)
        check(
            a.verify_tls,
            "сертификат сервера АСУ РСО проверяется",
            "уберите [asurso] verify_tls = false; при необходимости укажите ca_bundle с сертификатом Минцифры",
        )
    m = config.mail
    if m.backend == "smtp":
        check(
            m.security in ("starttls", "ssl") or is_loopback(m.host),
            "почта отправляется по зашифрованному соединению"
            if m.security in ("starttls", "ssl")
            else f"почта уходит без шифрования, но только ретранслятору на этом компьютере ({m.host})",
            'укажите [mail] security = "starttls" или "ssl"',
        )
    else:
        problems.append(
            (
                f'письма не отправляются, а сохраняются ([mail] backend = "{m.backend}")',
                'для рассылки укажите [mail] backend = "smtp" и адрес сервера',
            )
        )
    check(bool(m.deputy_addr), "адрес заместителя директора для сводки задан", "укажите [mail] deputy_addr")
    check(
        bool(m.directory and m.directory.exists()),
        "справочник адресов учителей есть",
        "создайте справочник (CSV: ФИО;email) и укажите [mail] directory",
    )
    check(
        config.retention.keep_days is not None,
        "срок хранения персональных данных установлен",
        "укажите [retention] keep_days (например, 1095) — данные старше будут удаляться командой purge",
    )
    if healthy:
        with closing(open_cache(cache, create=False, read_only_ok=True)) as db:
            records = purge_records(db)
            stuck = outbox_rows(db, states=("sending", "failed"))
            oldest = oldest_lesson_day(db)
        if config.retention.keep_days:
            last = records[-1]["at"] if records else None
            cutoff = (datetime.now(config.school.tz) - timedelta(days=config.retention.keep_days)).date()
            if not last and (oldest is None or oldest >= cutoff):
                check(True, "устаревших персональных данных в кэше нет: срок хранения ещё не прошёл", "")
            else:
                check(
                    bool(last) and (datetime.now().astimezone() - datetime.fromisoformat(str(last))).days <= 40,
                    "устаревшие данные удалялись в последние 40 дней",
                    "выполните «asurso-sync purge» или включите [retention] auto = true",
                )
        check(
            not stuck,
            "в очереди писем нет ошибок и «застрявших» писем",
            "посмотрите «asurso-sync remarks status» и при необходимости повторите отправку",
        )
    if config.schedule.log_file and config.schedule.log_file.exists():
        check(
            _private(config.schedule.log_file),
            "журнал работы доступен только владельцу",
            f"выполните chmod 600 {config.schedule.log_file}",
        )
    for title in ok:
        out.print(f"[green]✔[/] {escape(title)}", highlight=False)
    for title, fix in problems:
        out.print(f"[yellow]✘[/] {escape(title)}\n    как исправить: {escape(fix)}", highlight=False)
    if problems:
        raise typer.Exit(exitcodes.ATTENTION)
    out.print("Замечаний нет.")
