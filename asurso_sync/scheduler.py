"""Running unattended: the 16:05 snapshot, the nightly sync, the daily check and the weekly check + send.

One long-lived APScheduler 3 process (``asurso-sync schedule run``) or, as the alternative, systemd timers that
call the same idempotent jobs (``asurso-sync schedule job NAME``). Jobs have explicit ids with
``replace_existing``, cron triggers in the school's time zone, ``misfire_grace_time`` in hours and ``coalesce``
(a machine that was off runs each missed job once), ``max_instances=1`` on top of the sync's file lock. A job's
error is logged and audited and does not stop the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from adapters.mail.backends import MailBackend
from asurso_sync.check import CheckOptions, StaleData, run_check
from asurso_sync.config import Config
from asurso_sync.delivery import backend_from_config, deliver
from asurso_sync.remarks import Week, build_week, enqueue_week
from asurso_sync.sync import KIND, SyncOptions, SyncReport, sync_once
from asurso_sync.vocabulary import run_kind, run_status
from cache import audit, backup, enqueue, open_cache, purge
from cache.calendar import is_school_day as school_day
from cache.reads import first_observation

log = logging.getLogger("asurso_sync.schedule")

JOBS = {
    "snapshot": "снимок журнала в 16:05 (учебные дни)",
    "nightly": "ночная синхронизация",
    "daily_check": "ежедневная проверка (обновление замечаний)",
    "weekly": "еженедельная проверка и рассылка списков замечаний",
}
_DAYS = {"mon": "mon", "tue": "tue", "wed": "wed", "thu": "thu", "fri": "fri", "sat": "sat", "sun": "sun"}


def triggers(config: Config) -> dict[str, CronTrigger]:
    """The cron trigger of every job, in the school's time zone. The snapshot fires Monday to Saturday; the job
    itself skips days without lessons in the mirror (weekends, holidays, vacations)."""
    tz = config.school.tz
    s = config.schedule

    def hm(text: str) -> tuple[int, int]:
        h, m = text.split(":")
        return int(h), int(m)

    day, at = s.weekly.split()
    return {
        "snapshot": CronTrigger(day_of_week="mon-sat", hour=hm(s.snapshot)[0], minute=hm(s.snapshot)[1], timezone=tz),
        "nightly": CronTrigger(hour=hm(s.nightly)[0], minute=hm(s.nightly)[1], timezone=tz),
        "daily_check": CronTrigger(hour=hm(s.daily_check)[0], minute=hm(s.daily_check)[1], timezone=tz),
        "weekly": CronTrigger(day_of_week=_DAYS[day], hour=hm(at)[0], minute=hm(at)[1], timezone=tz),
    }


def is_school_day(config: Config, day: date) -> bool:
    """Whether the 16:05 snapshot should run on ``day``: ``cache.calendar.is_school_day`` on the mirror, and not a
    day off the school declared (``[school] days_off``)."""
    if day in config.school.days_off:
        return False
    with closing(open_cache(config.cache.path)) as db:
        return school_day(db, day)


@dataclass
class Jobs:
    """What each scheduled job does. ``now`` and ``transport`` are replaceable for tests and the demo; in
    production they are the wall clock and the network."""

    config: Config
    now: Callable[[], datetime] | None = None
    transport: Any = None
    backend: MailBackend | None = None
    results: list[tuple[str, str]] = field(default_factory=list)

    def _now(self) -> datetime:
        return self.now() if self.now else datetime.now(self.config.school.tz).replace(tzinfo=None)

    def _sync(self, mode: str) -> SyncReport:
        options = SyncOptions(mode=mode, lookback_days=self.config.sync.lookback_days)  # type: ignore[arg-type]
        report = asyncio.run(sync_once(self.config, options, transport=self.transport, backend=self.backend))
        kind, status = run_kind(KIND[mode]), run_status(report.status)
        log.info("синхронизация (%s): итог «%s», запросов %d, частей %d", kind, status, report.requests, report.units)
        if report.status != "ok":
            raise RuntimeError(f"синхронизация ({kind}) завершилась с итогом «{status}»: {report.error or ''}")
        return report

    def run(self, name: str) -> str:
        outcome = getattr(self, name)()
        self.results.append((name, outcome))
        return str(outcome)

    def snapshot(self) -> str:
        today = self._now().date()
        if not is_school_day(self.config, today):
            log.info("снимок пропущен: %s — не учебный день", today.isoformat())
            return "пропущено: не учебный день"
        self._sync("snapshot")
        return "снимок выполнен"

    def nightly(self) -> str:
        self._sync("incremental")
        if self.config.retention.auto and self.config.retention.keep_days:
            self.purge_expired()
        if self.config.cache.backup_keep:
            copy = backup(
                self.config.cache.path, keep=self.config.cache.backup_keep, folder=self.config.cache.backup_dir
            )
            log.info("резервная копия кэша: %s", copy)
            return "синхронизация выполнена, резервная копия сделана"
        return "синхронизация выполнена"

    def purge_expired(self) -> None:
        keep = self.config.retention.keep_days
        assert keep is not None
        before = self._now().date() - timedelta(days=keep)
        with closing(open_cache(self.config.cache.path)) as db:
            report = purge(
                db, before, reason=f"истёк срок хранения {keep} дн. ([retention] keep_days)", actor="schedule"
            )
        log.info("удалены данные старше %s: %d записей", before.isoformat(), report.total)

    def daily_check(self) -> str:
        try:
            outcome = run_check(self.config, CheckOptions(as_of=self._now()))
        except StaleData as exc:
            log.warning("ежедневная проверка пропущена: %s", exc.reason)
            return f"пропущено: {exc.reason}"
        return f"замечаний: {len(outcome.findings)}"

    def weekly(self) -> str:
        """Check, then send the lists of the week that ended — only on fresh data (the rules' freshness gate);
        on stale data the operator gets a notice instead and the teachers get nothing."""
        now = self._now()
        week = Week.last_completed(now.date())
        try:
            run_check(self.config, CheckOptions(as_of=now))
        except StaleData as exc:
            self._alert(week, exc.reason)
            return f"рассылка не выполнена: {exc.reason}"
        backend = self.backend or backend_from_config(self.config)
        with closing(open_cache(self.config.cache.path, create=False)) as db:
            first = first_observation(db)
            if not first or week.sunday.isoformat() < first[:10]:
                log.info("рассылка за %s пропущена: синхронизации начались позже (%s)", week.label, first)
                return "пропущено: неделя закончилась до первой синхронизации"
            wl = build_week(db, self.config, week)
            plan = enqueue_week(db, self.config, wl)
            report = deliver(db, backend, period=week.label)
        log.info(
            "рассылка за %s: в очереди %d, отправлено %d, уже были %d, ошибок %d, «застряло» %d, без адреса %d",
            week.label,
            plan.added,
            len(report.sent),
            report.already_sent,
            len(report.failed),
            len(report.stuck_sending),
            len(plan.missing),
        )
        if report.unreachable:
            raise RuntimeError(
                f"рассылка за {week.label} остановлена: {report.unreachable}; в очереди {report.left_waiting}"
            )
        if report.failed or report.stuck_sending:
            raise RuntimeError(
                f"рассылка за {week.label}: не отправлено {len(report.failed)}, «застряло» {len(report.stuck_sending)}"
            )
        return f"отправлено писем: {len(report.sent)}"

    def _alert(self, week: Week, reason: str) -> None:
        """Tell the operator (the deputy's address) that the weekly lists were not sent, once per week."""
        from email.message import EmailMessage
        from email.utils import make_msgid

        log.warning("рассылка за %s не выполнена: %s", week.label, reason)
        to = self.config.mail.deputy_addr
        if not to:
            return
        msg = EmailMessage()
        msg["Subject"] = f"asurso-sync: списки замечаний за {week.span} не отправлены"
        msg["From"] = self.config.mail.from_addr
        msg["To"] = to
        msg["Message-ID"] = make_msgid(domain=self.config.mail.from_addr.rpartition("@")[2] or None)
        msg.set_content(
            f"Еженедельная рассылка списков замечаний за неделю {week.span} не выполнена: {reason}.\n\n"
            "Учителям ничего не отправлено: по устаревшим данным замечания могут быть ошибочными. Проверьте "
            "«asurso-sync status», устраните причину и выполните «asurso-sync sync», «asurso-sync check» и "
            f"«asurso-sync remarks send --week {week.label}».\n"
        )
        backend = self.backend or backend_from_config(self.config)
        with closing(open_cache(self.config.cache.path)) as db:
            enqueue(db, recipient=to, kind="alert", period=week.label, subject=str(msg["Subject"]), message=bytes(msg))
            deliver(db, backend, period=week.label, recipients=[to])


def _listener(config: Config) -> Callable[[Any], None]:
    def on_event(event: Any) -> None:
        job = getattr(event, "job_id", "?")
        if event.code == EVENT_JOB_MISSED:
            log.warning("задание %s пропущено (было назначено на %s)", job, event.scheduled_run_time)
            action, details = "schedule-missed", {"job": job, "scheduled": str(event.scheduled_run_time)}
        elif isinstance(event, JobExecutionEvent) and event.exception is not None:
            log.error("задание %s завершилось ошибкой: %s", job, event.exception)
            action, details = "schedule-error", {"job": job, "error": str(event.exception)[:500]}
        else:
            log.info("задание %s выполнено: %s", job, getattr(event, "retval", ""))
            action, details = "schedule-job", {"job": job, "result": str(getattr(event, "retval", ""))[:200]}
        try:
            with closing(open_cache(config.cache.path)) as db:
                audit(db, action, details)
        except Exception:  # the audit must never take the scheduler down
            log.exception("не удалось записать задание %s в audit_log", job)

    return on_event


def configure(scheduler: BaseScheduler, config: Config, jobs: Jobs) -> BaseScheduler:
    """Add the four jobs and the event listener to ``scheduler`` (not started)."""
    grace = int(config.schedule.misfire_hours * 3600)
    for name, trigger in triggers(config).items():
        scheduler.add_job(
            jobs.run,
            trigger,
            args=[name],
            id=name,
            name=JOBS[name],
            replace_existing=True,
            misfire_grace_time=grace,
            coalesce=True,
            max_instances=1,
        )
    scheduler.add_listener(_listener(config), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def next_runs(config: Config, now: datetime | None = None) -> list[tuple[str, str, datetime | None]]:
    """(job id, description, next run in the school's time zone) for every job."""
    moment = (now or datetime.now(config.school.tz)).astimezone(config.school.tz)
    return [(name, JOBS[name], trig.get_next_fire_time(None, moment)) for name, trig in triggers(config).items()]


def fire_times(config: Config, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Every (time, job) the triggers produce in [start, end), in order — for planning and tests."""
    out: list[tuple[datetime, str]] = []
    start = start.astimezone(config.school.tz)
    for name, trig in triggers(config).items():
        moment = trig.get_next_fire_time(None, start)
        while moment is not None and moment < end.astimezone(config.school.tz):
            out.append((moment, name))
            moment = trig.get_next_fire_time(moment, moment + timedelta(seconds=1))
    order = list(JOBS)
    out.sort(key=lambda x: (x[0], order.index(x[1])))
    return out
