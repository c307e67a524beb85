"""``asurso-sync schedule run|list|job|systemd``: running unattended."""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, App, err, fail, out
from asurso_sync.config import Config
from asurso_sync.logs import add_file_log
from asurso_sync.scheduler import JOBS, Jobs, configure, next_runs
from cache import open_cache

log = logging.getLogger("asurso_sync.schedule")

app = App(
    help=(
        "Работа по расписанию: снимок в 16:05 по учебным дням, ночная синхронизация, ежедневная проверка, "
        "еженедельная проверка и рассылка.\n\n"
        "Либо один постоянный процесс («schedule run», например как служба systemd), либо таймеры systemd/cron, "
        "которые вызывают «schedule job ИМЯ» — выберите что-то одно."
    ),
)


def _file_log(config: Config) -> None:
    if config.schedule.log_file is not None:
        add_file_log(config.schedule.log_file)


@app.command("run")
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
def systemd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Папка для файлов служб.")] = Path("systemd"),
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            metavar="ПОЛЬЗОВАТЕЛЬ",
            help="От чьего имени работают службы (User=): владелец кэша. По умолчанию — владелец папки "
            "с config.toml, а если это root — отдельный пользователь asurso-sync (README, «Работа по расписанию»).",
        ),
    ] = None,
) -> None:
    """Файлы systemd: служба для «schedule run» и, как альтернатива, таймеры для каждого задания.

    Службы работают не от root, а от пользователя, которому принадлежат кэш и config.toml: тогда завуч может
    смотреть «status» от того же пользователя (sudo -u …), а кэш не окажется недоступным на запись.
    """
    config = STATE.config()
    source = config.source or Path("config.toml")
    cfg = source.resolve()
    exe = _exe()
    work = cfg.parent
    user = user or _service_user(work)
    if user == "root":
        raise fail(
            "службы не должны работать от root: кэш с персональными данными окажется у root, а запуски от других "
            "пользователей не смогут его записать. Укажите --user (см. README, «Работа по расписанию»).",
            exitcodes.CONFIG,
        )
    account = f"User={user}\nGroup={user}\n"
    files: dict[str, str] = {
        "asurso-sync.service": (
            f"{UNIT_HEADER}[Unit]\nDescription=asurso-sync: проверка электронного журнала по расписанию\n"
            "After=network-online.target\nWants=network-online.target\n\n[Service]\nType=simple\n"
            f"{account}WorkingDirectory={work}\nExecStart={exe} -c {cfg} schedule run\nRestart=on-failure\n"
            "RestartSec=60\n"
            "UMask=0077\nNoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=strict\n"
            f"ReadWritePaths={work}\n# Пароль: EnvironmentFile=/etc/asurso-sync/env (права 0600) с ASURSO_PASSWORD=…\n"
            "EnvironmentFile=-/etc/asurso-sync/env\n\n[Install]\nWantedBy=multi-user.target\n"
        )
    }
    calendars = _calendars(config)
    for name, when in calendars.items():
        files[f"asurso-sync-{name.replace('_', '-')}.service"] = (
            f"{UNIT_HEADER}[Unit]\nDescription=asurso-sync: {JOBS[name]}\nAfter=network-online.target\n\n"
            f"[Service]\nType=oneshot\n{account}WorkingDirectory={work}\n"
            f"ExecStart={exe} -c {cfg} schedule job {name}\n"
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
        f"Службы работают от пользователя «{user}». Кэш и config.toml должны принадлежать ему: "
        f"sudo chown -R {user}: {work}",
        highlight=False,
    )
    out.print(
        "Вариант 1 (один процесс): sudo cp asurso-sync.service /etc/systemd/system/ && "
        "sudo systemctl enable --now asurso-sync.service\n"
        "Вариант 2 (таймеры): sudo cp asurso-sync-*.service asurso-sync-*.timer /etc/systemd/system/ && "
        "sudo systemctl enable --now asurso-sync-snapshot.timer asurso-sync-nightly.timer "
        "asurso-sync-daily-check.timer asurso-sync-weekly.timer",
        highlight=False,
    )


SERVICE_USER = "asurso-sync"


def _service_user(folder: Path) -> str:
    """The owner of the installation folder, unless that is root: then the dedicated account README creates."""
    from cache import owner_name

    owner = owner_name(folder)
    return SERVICE_USER if owner in ("root", "0") else owner


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
