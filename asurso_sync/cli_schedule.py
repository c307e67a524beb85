"""``asurso-sync schedule run|list|job|systemd``, ``purge`` and ``selfcheck``."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import stat
import sys
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.cli_common import CONTEXT_SETTINGS, STATE, err, fail, handle_errors, out
from asurso_sync.config import Config
from asurso_sync.logs import add_file_log
from asurso_sync.scheduler import JOBS, Jobs, configure, next_runs
from cache import open_cache, outbox_rows, purge, purge_records

log = logging.getLogger("asurso_sync.schedule")

app = typer.Typer(
    help=(
        "Работа по расписанию: снимок в 16:05 по учебным дням, ночная синхронизация, ежедневная проверка, "
        "еженедельная проверка и рассылка.\n\n"
        "Либо один постоянный процесс («schedule run», например как служба systemd), либо таймеры systemd/cron, "
        "которые вызывают «schedule job ИМЯ» — выберите что-то одно."
    ),
    context_settings=CONTEXT_SETTINGS,
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def _file_log(config: Config) -> None:
    if config.schedule.log_file is not None:
        add_file_log(config.schedule.log_file)


@app.command("run")
@handle_errors
def run() -> None:
    """Запустить планировщик (процесс работает, пока его не остановят; Ctrl+C — остановить)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    config = STATE.config()
    _file_log(config)
    scheduler = BlockingScheduler(timezone=config.school.tz)
    configure(scheduler, config, Jobs(config))
    for name, title, when in next_runs(config):
        err.print(f"{name:12} {title}: следующий запуск {when:%d.%m.%Y %H:%M}" if when else name, highlight=False)
    err.print("Планировщик запущен. Журнал: " + str(config.schedule.log_file or "stderr"), highlight=False)

    def stop(signum: int, _frame: object) -> None:  # systemd stops services with SIGTERM
        log.info("планировщик останавливается (сигнал %d)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    err.print("Планировщик остановлен.")


@app.command("list")
@handle_errors
def list_jobs() -> None:
    """Задания и время их следующего запуска."""
    config = STATE.config()
    table = Table(title=f"Расписание ({config.school.timezone})", title_justify="left")
    for col in ("Задание", "Что делает", "Следующий запуск"):
        table.add_column(col)
    for name, title, when in next_runs(config):
        table.add_row(name, title, f"{when:%d.%m.%Y %H:%M}" if when else "—")
    out.print(table)


@app.command("job")
@handle_errors
def job(
    name: Annotated[str, typer.Argument(help="snapshot, nightly, daily_check или weekly.")],
) -> None:
    """Выполнить одно задание сейчас (для таймеров systemd или cron; повторный запуск безопасен).

    Код выхода: 0 — выполнено; 1 — задание завершилось ошибкой (подробности в журнале).
    """
    if name not in JOBS:
        raise fail(f"неизвестное задание «{name}»: допустимы {', '.join(JOBS)}", exitcodes.CONFIG)
    config = STATE.config()
    _file_log(config)
    from cache import audit

    try:
        result = Jobs(config).run(name)
    except Exception as exc:
        with closing(open_cache(config.cache.path)) as db:
            audit(db, "schedule-error", {"job": name, "error": str(exc)[:500]})
        raise fail(f"задание {name}: {exc}", exitcodes.ATTENTION) from None
    with closing(open_cache(config.cache.path)) as db:
        audit(db, "schedule-job", {"job": name, "result": result})
    out.print(f"{JOBS[name]}: {result}", highlight=False)


UNIT_HEADER = "# Создано «asurso-sync schedule systemd». Установка: см. README, раздел «Работа по расписанию».\n"


def _exe() -> str:
    return shutil.which("asurso-sync") or f"{sys.executable} -m asurso_sync"


@app.command("systemd")
@handle_errors
def systemd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Папка для файлов служб.")] = Path("systemd"),
) -> None:
    """Файлы systemd: служба для «schedule run» и, как альтернатива, таймеры для каждого задания."""
    config = STATE.config()
    source = config.source or Path("config.toml")
    cfg = source.resolve()
    exe = _exe()
    work = cfg.parent
    files: dict[str, str] = {
        "asurso-sync.service": (
            f"{UNIT_HEADER}[Unit]\nDescription=asurso-sync: проверка электронного журнала по расписанию\n"
            "After=network-online.target\nWants=network-online.target\n\n[Service]\nType=simple\n"
            f"WorkingDirectory={work}\nExecStart={exe} -c {cfg} schedule run\nRestart=on-failure\nRestartSec=60\n"
            "UMask=0077\nNoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=strict\n"
            f"ReadWritePaths={work}\n# Пароль: EnvironmentFile=/etc/asurso-sync/env (права 0600) с ASURSO_PASSWORD=…\n"
            "EnvironmentFile=-/etc/asurso-sync/env\n\n[Install]\nWantedBy=multi-user.target\n"
        )
    }
    calendars = _calendars(config)
    for name, when in calendars.items():
        files[f"asurso-sync-{name.replace('_', '-')}.service"] = (
            f"{UNIT_HEADER}[Unit]\nDescription=asurso-sync: {JOBS[name]}\nAfter=network-online.target\n\n"
            f"[Service]\nType=oneshot\nWorkingDirectory={work}\nExecStart={exe} -c {cfg} schedule job {name}\n"
            "UMask=0077\nNoNewPrivileges=yes\nEnvironmentFile=-/etc/asurso-sync/env\n"
        )
        files[f"asurso-sync-{name.replace('_', '-')}.timer"] = (
            f"{UNIT_HEADER}[Unit]\nDescription=asurso-sync: {JOBS[name]} (таймер)\n\n[Timer]\nOnCalendar={when}\n"
            "Persistent=true\n\n[Install]\nWantedBy=timers.target\n"
        )
    from cache.files import ensure_private_dir

    ensure_private_dir(out_dir)
    for fname, text in files.items():
        (out_dir / fname).write_text(text, encoding="utf-8")
    out.print(f"Записано в {out_dir}: {', '.join(sorted(files))}", highlight=False)
    out.print(
        "Вариант 1 (один процесс): sudo cp asurso-sync.service /etc/systemd/system/ && "
        "sudo systemctl enable --now asurso-sync.service\n"
        "Вариант 2 (таймеры): sudo cp asurso-sync-*.service asurso-sync-*.timer /etc/systemd/system/ && "
        "sudo systemctl enable --now asurso-sync-snapshot.timer asurso-sync-nightly.timer "
        "asurso-sync-daily-check.timer asurso-sync-weekly.timer",
        highlight=False,
    )


def _calendars(config: Config) -> dict[str, str]:
    """systemd OnCalendar expressions with the school's time zone."""
    s, tz = config.schedule, config.school.timezone
    day, at = s.weekly.split()
    return {
        "snapshot": f"Mon..Sat *-*-* {s.snapshot}:00 {tz}",
        "nightly": f"*-*-* {s.nightly}:00 {tz}",
        "daily_check": f"*-*-* {s.daily_check}:00 {tz}",
        "weekly": f"{day.capitalize()} *-*-* {at}:00 {tz}",
    }


# --- purge ------------------------------------------------------------------------------------------


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
        if before:
            try:
                cutoff = date.fromisoformat(before)
            except ValueError:
                raise fail(f"--before: «{before}» — не дата ГГГГ-ММ-ДД", exitcodes.CONFIG) from None
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
        out.print(f"Дата и время (UTC): {str(r['at'])[:19]}; выполнил: {r['actor']}", highlight=False)
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


# --- selfcheck --------------------------------------------------------------------------------------


def _private(path: Path) -> bool:
    return not (path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


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
    if cache.exists():
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
    check(
        bool(a.password_env or a.password_command or a.session_file),
        "пароль АСУ РСО берётся из переменной окружения, команды или файла сессии, а не из конфигурации",
        "укажите [asurso] password_env или password_command",
    )
    if a.password_env:
        check(
            bool(os.environ.get(a.password_env)),
            f"переменная {a.password_env} с паролем задана",
            f"задайте переменную {a.password_env} (например, в EnvironmentFile службы systemd с правами 0600)",
        )
    host = a.base_url.split("://", 1)[-1].split(":")[0].split("/")[0]
    local = host in ("localhost", "127.0.0.1", "::1")
    check(
        a.base_url.startswith("https://") or local,
        "соединение с АСУ РСО шифруется (https)",
        'укажите [asurso] base_url = "https://…"',
    )
    check(
        a.verify_tls,
        "сертификат сервера АСУ РСО проверяется",
        "уберите [asurso] verify_tls = false; при необходимости укажите ca_bundle с сертификатом Минцифры",
    )
    m = config.mail
    if m.backend == "smtp":
        check(
            m.security in ("starttls", "ssl") or m.host in ("localhost", "127.0.0.1", "::1"),
            "почта отправляется по зашифрованному соединению",
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
    if cache.exists():
        with closing(open_cache(cache, create=False)) as db:
            records = purge_records(db)
            stuck = outbox_rows(db, states=("sending", "failed"))
        if config.retention.keep_days:
            last = records[-1]["at"] if records else None
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
