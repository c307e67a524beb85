"""Sync: mirror the school's journal from the adapter into the cache, unit by unit, with history.

A unit of work is one (resource, scope): the directory, one class's student list, one group's journal in
one term, one lesson's topic, one group's КТП. Each unit's rows, its observation record and its cursor are
written in one transaction (``cache.unit``), stamped with the server time of its response, so a crash loses
at most the units in flight and a rerun repairs them.

Modes (``SyncOptions.mode``):
- ``incremental`` (nightly): directory; journals of each group's current term, of terms that ended within
  three weeks (or the look-back window) and of a term that starts within that time; topics of held lessons
  in the look-back window that have no topic yet, are from the last two days, or whose journal rows changed
  in this run (a lesson past the edit limit with a known topic is never refetched); КТП of groups that have
  none yet.
- ``snapshot`` (16:05): the same journals as the nightly sync (today's lessons, yesterday's attendance codes,
  last week's written work) and the topics of today's lessons.
- ``all``: the whole year so far — every term's journal, every held lesson's topic, every КТП.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlite_utils import Database

from adapters.netschool import api
from adapters.netschool.client import NetSchoolClient
from adapters.netschool.errors import (
    AccessDenied,
    FirewallBlocked,
    HTTPStatusError,
    LoginError,
    NetSchoolError,
    ReadOnlyViolation,
    RenewalRefused,
    ServerUnavailable,
    SessionLost,
)
from adapters.netschool.models import (
    ClassMeeting,
    Journal,
    LessonEdit,
    SchoolClass,
    SubjectGroup,
    SubjectPlan,
    Term,
    parse,
    reset_drift_report,
)
from adapters.netschool.reports import fetch_access_report, iup_filter
from asurso_sync import exitcodes, mirror
from asurso_sync.errors import AppError
from cache import (
    EmptyUnitError,
    SaveStats,
    audit,
    calendar,
    finish_run,
    full_load_done_units,
    full_load_state,
    get_cursor,
    lessons_touched_in_run,
    live_count,
    plan_full_load,
    reads,
    save_access_rows,
    start_run,
    unit,
    widen_report_since,
)
from cache.history import scope_text

log = logging.getLogger(__name__)

Mode = Literal["incremental", "snapshot", "all"]
KIND = {"incremental": "nightly", "snapshot": "snapshot", "all": "full"}
BREAKER = 5  # units in a row that exhausted their retries: the server is down, stop the run
RECENT_DAYS = 2  # topics of the last two days are always refetched by the nightly sync
TERM_TAIL_DAYS = 21  # a term stays (or becomes) interesting this long after (before) its end (start)
DEFAULT_EDIT_LIMIT_DAYS = 14
ACCESS_OVERLAP_DAYS = 1  # the report (by action date) is re-read from the day before the last read
REPORT_TIMEOUT = 120.0  # seconds: one report, queue to file, never longer
ACCESS_CHUNK_DAYS = 31  # a year is read month by month: reports a server can build, progress kept per month


@dataclass
class SyncOptions:
    mode: Mode = "incremental"
    start: date | None = None
    end: date | None = None
    dry_run: bool = False
    accept_empty: bool = False
    lookback_days: int = 14
    access_log: str | None = None  # auto | hub | asp | off («Отчёт о доступе…»); None: [sync] access_log
    hub_available: bool = True  # a WebSocket can be opened (false for in-process transports)


@dataclass
class SyncReport:
    run_id: int | None
    mode: Mode
    status: str = "ok"
    units: int = 0
    units_failed: list[str] = field(default_factory=list)
    units_empty: list[str] = field(default_factory=list)
    rows: SaveStats = field(default_factory=SaveStats)
    requests: int = 0
    bytes: int = 0
    retries: int = 0
    relogins: int = 0
    security_warnings: int = 0
    seconds: float = 0.0
    server_time: datetime | None = None
    error: str | None = None
    dry_run: bool = False

    planned: int = 0  # units a full load planned

    def counts(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "units_failed": len(self.units_failed),
            "units_empty": len(self.units_empty),
            **self.rows.as_dict(),
            "requests": self.requests,
            "bytes": self.bytes,
            "retries": self.retries,
            "relogins": self.relogins,
            "security_warnings": self.security_warnings,
            "seconds": round(self.seconds, 1),
            **({"planned": self.planned} if self.planned else {}),
        }


class _DryRun(Exception):
    pass


INTERRUPTED = "прервана (Ctrl+C или остановка службы)"
Progress = Callable[[str, int], None]  # (description, units completed so far)
Unit = Callable[[], Awaitable[None]]  # a unit of work, not yet started: its coroutine is made when it runs


@contextlib.asynccontextmanager
async def task_group() -> AsyncIterator[asyncio.TaskGroup]:
    """An ``asyncio.TaskGroup`` whose failure is the first error itself, not an ``ExceptionGroup`` (the callers and
    ``cli.common.guarded`` classify errors by type). As with any TaskGroup, the first error (or a cancellation:
    Ctrl+C, SIGTERM) cancels the other tasks and waits for them: nothing is left running, nothing un-awaited."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


def year_periods(terms: list[Term]) -> set[int]:
    """The ids of the year's own periods among the server's terms (``cache.calendar.is_year_period``)."""
    span = (min(t.startDate for t in terms), max(t.endDate for t in terms)) if terms else None
    bounds = [(t.startDate, t.endDate) for t in terms]
    return {
        t.id
        for t in terms
        if calendar.is_year_period(
            t.termTypeId,
            t.termName,
            t.startDate,
            t.endDate,
            span,
            has_parts=calendar.has_parts((t.startDate, t.endDate), bounds),
        )
    }


def with_year(terms: list[Term]) -> list[Term]:
    """The server's terms, and the year as termId -1 «год» when they name no period of the year (issue #32: the
    report pages address the year so; a server that lists its own year period — ``termTypeId`` 4 or «Год» — is read
    through that period instead)."""
    if not terms or year_periods(terms):
        return terms
    return [*terms, api.year_term(terms)]


def _ts(t: datetime | None) -> str:
    return (t or datetime.now()).replace(microsecond=0).isoformat()


class Sync:
    def __init__(
        self,
        db: Database,
        client: NetSchoolClient,
        options: SyncOptions,
        progress: Progress | None = None,
        total: Callable[[int], None] | None = None,
    ) -> None:
        self.db, self.client, self.opt = db, client, options
        self.report = SyncReport(run_id=None, mode=options.mode, dry_run=options.dry_run)
        self._progress = progress or (lambda _d, _n: None)
        self._total = total or (lambda _n: None)
        self._done = 0
        self._parallel = asyncio.Semaphore(max(2, client.settings.concurrency * 2))
        self._second_pass: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._failing_in_row = 0

    # --- entry point ------------------------------------------------------------------------------

    async def run(self) -> SyncReport:
        self._started = time.monotonic()
        reset_drift_report()
        try:
            if self.opt.dry_run:
                try:
                    with self.db.atomic():
                        await self._run()
                        raise _DryRun
                except _DryRun:
                    pass
            else:
                await self._run()
        finally:
            self._collect_stats()
        return self.report

    def _collect_stats(self) -> None:
        self.report.seconds = time.monotonic() - self._started
        s = self.client.stats
        self.report.requests, self.report.bytes = s.requests, s.bytes
        self.report.retries, self.report.relogins = s.retries, s.relogins
        self.report.security_warnings = s.security_warnings

    async def _run(self) -> None:
        today = (self.client.server_time or datetime.now()).date()
        self._resume_full_load()
        run_id = start_run(self.db, KIND[self.opt.mode], server_time=_ts(self.client.server_time))
        self.report.run_id = run_id
        try:
            await self._stages(today, run_id)
        except NetSchoolError as exc:  # unit-level errors are absorbed in _safely: what arrives here ends the run
            self.report.status, self.report.error = "failed", str(exc)
        except BaseException as exc:
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):  # Ctrl+C, or SIGTERM (cli.main)
                self.report.status, self.report.error = "interrupted", INTERRUPTED
            else:
                self.report.status, self.report.error = "failed", f"{type(exc).__name__}: {exc}"
            self._collect_stats()
            finish_run(
                self.db,
                run_id,
                self.report.status,
                counts=self.report.counts(),
                errors=[self.report.error],
                server_time=_ts(self.client.server_time),
            )
            raise
        if self.report.status == "ok" and (self.report.units_failed or self.report.units_empty):
            self.report.status = "partial"
        self.report.server_time = self.client.server_time
        self._collect_stats()
        errors = [self.report.error] if self.report.error else []
        errors += self.report.units_failed + [f"пустой ответ: {u}" for u in self.report.units_empty]
        finish_run(
            self.db,
            run_id,
            self.report.status,
            counts=self.report.counts(),
            errors=errors,
            server_time=_ts(self.client.server_time),
        )
        audit(
            self.db,
            "sync",
            {"mode": self.opt.mode, "run_id": run_id, "status": self.report.status},
            records=self.report.rows.written,
        )

    # --- stages -----------------------------------------------------------------------------------

    async def _stages(self, today: date, run_id: int) -> None:
        have_directory = live_count(self.db, "school_class", {}) > 0
        if self.opt.mode != "snapshot" or not have_directory:
            self._total(1)
            await self._directory(run_id)
        live_classes = reads.live_classes(self.db)
        classes = [class_id for class_id, _grade in live_classes]
        if self.opt.mode != "snapshot":
            self._total(len(classes))
            await self._gather(functools.partial(self._students, c, run_id) for c in classes)
        await self._extra_activity_groups()  # the snapshot, which reads no directory, needs them too
        terms = {t.id: t for t in await self._class_terms(classes)}
        class_terms = self._class_term_map
        groups = reads.live_groups(self.db)
        year_id = reads.current_year_id(self.db)
        if year_id is None:
            raise NetSchoolError("сервер не назвал текущий учебный год: справочники не прочитаны")

        # Which (group, term) journals to read. An ИУП group has no class: it works in the terms of its grade, and
        # its journal is asked for by grade (classId -1, docs/server-api.md §3).
        class_of_grade = {grade: class_id for class_id, grade in reversed(live_classes) if grade is not None}
        iup = reads.iup_group_grades(self.db)
        jobs: list[tuple[int, tuple[int, int], int]] = []
        for sg, class_id in groups:
            grade = iup.get(sg) if class_id is None else None
            where = (class_id or 0, -1) if grade is None else (-1, grade)
            for term_id in class_terms.get(class_id or class_of_grade.get(grade or 0, 0), []):
                t = terms[term_id]
                if self._term_selected(t, today):
                    jobs.append((sg, where, term_id))
        schedule = await self._schedules(classes, [terms[t] for _, _, t in jobs if t not in self._year_terms])
        # The snapshot reads the same journals as the nightly sync, not only groups with lessons today: the 16:05
        # observation also decides yesterday's «ОТ» (ATT002) and written work given a week ago (TML005, day 7).
        self._total(len(jobs))
        self._plan_total(run_id, 1 + len(classes) + len(jobs))  # the directory, the classes' lists, the journals
        await self._gather(
            functools.partial(self._journal, sg, where, term_id, year_id, schedule, run_id)
            for sg, where, term_id in jobs
        )

        lessons = self._topic_lessons(today, run_id, [j[0] for j in jobs])
        self._total(len(lessons))
        self._plan_total(run_id, len(lessons))
        await self._gather(functools.partial(self._topic, cm, sg, term, day, run_id) for cm, sg, term, day in lessons)

        if self.opt.mode != "snapshot":
            if self.opt.mode == "all":
                plan_groups = [sg for sg, _class_id in groups]
            else:
                plan_groups = reads.groups_without_plan(self.db)
            self._total(len(plan_groups))
            self._plan_total(run_id, len(plan_groups))
            await self._gather(functools.partial(self._plan, sg, run_id) for sg in plan_groups)

        if self.opt.mode != "snapshot" and (self.opt.access_log or "off") != "off":
            year_start = min((t.startDate for t in terms.values()), default=today)
            # ИУП groups belong to no class: their grade is the report's own filter value «<grade>_1»
            targets: list[int | str] = [
                *classes,
                *(iup_filter(g) for g in sorted(set(reads.iup_group_grades(self.db).values()))),
            ]
            self._total(len(targets))
            await self._gather(functools.partial(self._access_log, t, today, year_start, run_id) for t in targets)

    def _term_selected(self, t: Term, today: date) -> bool:
        """Which terms' journals to read. Around a term's end the neighbours matter too: homework given at the
        last lesson is due (and served) in the next term's journal, and deadlines about a term (ATT002 after
        its last day, TML005's day 7, FIN002's 3 days) fall into the vacation or the next term."""
        if self.opt.start and t.endDate < self.opt.start:
            return False
        if self.opt.end and t.startDate > self.opt.end:
            return False
        tail = timedelta(days=max(self.opt.lookback_days, TERM_TAIL_DAYS))
        if t.id in self._year_terms and t.endDate > today + tail:
            return False  # the year's own period holds only the year marks: read from near the year's end
        if t.startDate > today + tail:
            return False  # not started, and not about to
        if self.opt.mode == "all" or t.startDate > today or t.endDate >= today:
            return True
        return today - t.endDate <= tail

    async def _gather(self, units: Iterable[Unit]) -> None:
        """Run a stage's units concurrently (at most ``_parallel`` at once), then give the units that failed one
        more try. Every unit becomes a task at once, and its coroutine is created only when the task gets a slot:
        a stage stopped by Ctrl+C, SIGTERM or a fatal error at any moment leaves no coroutine un-awaited."""

        async def bounded(make: Unit) -> None:
            async with self._parallel:
                await make()

        async with task_group() as group:
            for make in units:
                group.create_task(bounded(make))
        again, self._second_pass = self._second_pass, []
        for label, work in again:
            await self._safely(label, work, last_try=True)

    _unit_names: reads.UnitNames | None = None

    def _names(self) -> reads.UnitNames:
        """Names of classes, groups and terms for progress and messages, read once the directory is mirrored."""
        if self._unit_names is None or not self._unit_names.group:
            self._unit_names = reads.unit_names(self.db)
        return self._unit_names

    def _class_label(self, class_id: int) -> str:
        return self._names().class_.get(class_id) or f"класс {class_id}"

    def _group_label(self, sg: int) -> str:
        """«8б, Алгебра» from the group's «8б/Алгебра»; the id only when the mirror does not know the group."""
        name = self._names().group.get(sg)
        return name.replace("/", ", ", 1) if name else f"группа {sg}"

    def _tick(self, description: str) -> None:
        self._done += 1
        self.report.units += 1
        self._progress(description, self._done)

    _resume: frozenset[tuple[str, str]] = frozenset()
    _planned = 0

    def _resume_full_load(self) -> None:
        """Until the year has been loaded completely once, a nightly sync continues the full load instead (a
        half-loaded mirror must not pass for a fresh one); a full load that was interrupted goes on where it
        stopped: the units its earlier runs read completely are not read again."""
        state = full_load_state(self.db)
        if state is None:
            return
        if self.opt.mode == "incremental" and not self.opt.dry_run:
            log.warning("Полная загрузка учебного года не завершена — вместо ночной синхронизации продолжаю её.")
            self.opt = replace(self.opt, mode="all")
            self.report.mode = "all"
        if self.opt.mode == "all" and state.runs:
            self._resume = frozenset(full_load_done_units(self.db, state.runs))
            if self._resume:
                log.warning("Продолжаю прерванную полную загрузку: уже загружено частей — %d.", len(self._resume))

    def _plan_total(self, run_id: int, units: int) -> None:
        """A full load records how many units it plans (``status``: «N из M частей»)."""
        self._planned += units
        self.report.planned = self._planned
        if self.opt.mode == "all" and not self.opt.dry_run:
            plan_full_load(self.db, self._planned, run_id)

    async def _safely(
        self,
        label: str,
        work: Callable[[], Awaitable[None]],
        *,
        last_try: bool = False,
        unit: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Run one unit. A failed unit gets a second try at the end of its stage; if that fails too it is
        recorded and the run goes on. Fatal errors propagate, and so does a server that keeps failing
        (``BREAKER`` units in a row exhausted their retries): better stop than hammer it. A unit an interrupted
        full load already read (``unit``: resource and scope) is skipped."""
        if unit is not None and (unit[0], scope_text(unit[1])) in self._resume:
            self._tick(label)
            return
        try:
            await work()
            self._failing_in_row = 0
        except EmptyUnitError as exc:
            self.report.units_empty.append(label)
            log.warning("Пустой ответ для %s: %s", label, exc)
        except (SessionLost, FirewallBlocked, LoginError, ReadOnlyViolation):
            raise
        except NetSchoolError as exc:
            if isinstance(exc, ServerUnavailable):
                self._failing_in_row += 1
                if self._failing_in_row >= BREAKER:
                    raise ServerUnavailable(exc.path, f"{BREAKER} частей подряд без ответа", exc.attempts) from exc
            if last_try:
                self.report.units_failed.append(f"{label}: {exc}")
                log.warning("Не удалось прочитать %s: %s", label, exc)
            else:
                self._second_pass.append((label, work))
                return  # counted when its second try ends
        self._tick(label)

    def _save(
        self,
        resource: str,
        scope: dict[str, Any] | None,
        observed: datetime | None,
        run_id: int,
        tables: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None, bool]],
        *,
        unit_allow_empty: bool | None = None,
    ) -> None:
        allow = self.opt.accept_empty if unit_allow_empty is None else unit_allow_empty
        with unit(self.db, resource, scope, observed_at=_ts(observed), run_id=run_id, allow_empty=allow) as u:
            for table, (table_rows, table_scope, complete) in tables.items():
                u.save(table, table_rows, scope=table_scope, complete=complete)
        self.report.rows += u.stats

    # --- units ------------------------------------------------------------------------------------

    async def _directory(self, run_id: int) -> None:
        await self._gather([functools.partial(self._directory_unit, run_id)])
        if self.report.units_failed or self.report.units_empty:
            raise NetSchoolError(
                "не удалось прочитать справочники школы: "
                + "; ".join(self.report.units_failed + self.report.units_empty)
            )

    async def _directory_unit(self, run_id: int) -> None:
        async def work() -> None:
            c = self.client
            async with task_group() as first:
                year_t = first.create_task(api.fetch_current_year(c))
                terms_t = first.create_task(api.fetch_terms(c))
                vacations_t = first.create_task(api.fetch_vacations(c))
                classes_t = first.create_task(api.fetch_classes(c))
                subjects_t = first.create_task(api.fetch_subjects(c))
            year, terms, vacations = year_t.result(), with_year(terms_t.result()), vacations_t.result()
            classes, subjects = classes_t.result(), subjects_t.result()
            async with task_group() as second:
                groups_t = second.create_task(self._class_groups(classes))
                times_t = second.create_task(api.fetch_schedule_times(c))
                types_t = second.create_task(api.fetch_assignment_types(c))
                reasons_t = second.create_task(api.fetch_attendance_reasons(c))
            groups, times, types, reasons = groups_t.result(), times_t.result(), types_t.result(), reasons_t.result()
            settings = await api.fetch_school_settings(c, year.id)
            iup_groups, iup_grades = await self._iup_groups(classes)
            known = {g.id for g in groups}
            groups += [g for g in iup_groups if g.id not in known]
            ea = await self._extra_activity_groups()
            if self._ea_failure is not None:
                # the flags of the extra-activity journal's groups cannot be known this run: the mirror keeps the
                # directory it has rather than save every such group as an ordinary lesson (false remarks, R0)
                raise self._ea_failure
            elsewhere = ea - {g.id for g in groups}
            if elsewhere:  # a group of the extra-activity journal that no class lists: nothing to read it by
                log.warning(
                    "В журнале внеурочной деятельности есть группы, которых нет среди групп классов (%s): их занятия "
                    "не читаются",
                    len(elsewhere),
                )
            data = mirror.directory_rows(
                context=c.context,
                year=year,
                terms=terms,
                vacations=vacations,
                classes=classes,
                subjects=subjects,
                groups=groups,
                times=times,
                types=types,
                reasons=reasons,
                settings=settings,
                iup_grades=iup_grades,
                ea_groups=ea,
            )
            partial = {"school_year", "school_setting"}
            self._save(
                "directory", None, c.server_time, run_id, {t: (r, None, t not in partial) for t, r in data.items()}
            )

        await self._safely("справочники", work)

    _ea_groups: set[int] | None = None
    _ea_failure: NetSchoolError | None = None  # the extra-activity journal's filters could not be read this run

    async def _extra_activity_groups(self) -> set[int]:
        """The groups kept in IRTech's extra-activity journal (issue #32): the journal page's filters asked as it
        asks them, ``POST grade/journal/filter/init?extraActivity=true``, their ``EASGID`` items. Once a run. A
        server without that journal answers 4xx (or no such filter): none. These groups are внеурочная
        деятельность (R19) and their journals are read with ``extraActivity=true``."""
        if self._ea_groups is not None:
            return self._ea_groups
        found: set[int] = set()
        try:
            data = await self.client.post_read_json(
                "/webapi/grade/journal/filter/init?extraActivity=true", {"params": None, "selectedData": []}
            )
        except (SessionLost, FirewallBlocked, LoginError):
            raise
        except NetSchoolError as exc:
            if not (isinstance(exc, HTTPStatusError | AccessDenied) and 400 <= getattr(exc, "status", 403) < 500):
                # not an answer but a failure (5xx, timeout after the retries): whether the journal exists is
                # unknown — the directory is not saved on it (its groups would lose their flag: R0), see _directory
                log.warning("Журнал внеурочной деятельности не опрошен: %s", exc)
                self._ea_failure = exc
            data = None
        for f in data if isinstance(data, list) else []:
            if isinstance(f, dict) and str(f.get("filterId", "")).upper() == "EASGID":
                for item in f.get("items") or []:
                    value = str(item.get("value", "")) if isinstance(item, dict) else ""
                    if value.lstrip("-").isdigit() and int(value) > 0:
                        found.add(int(value))
        self.ea_journal = "read" if found else "absent"
        self._ea_groups = found
        return found

    async def _class_groups(self, classes: list[SchoolClass]) -> list[SubjectGroup]:
        """The classes' subject groups, asked class by class (``subjectgroups?classId=``) as the journal page does
        (docs/server-api.md §3): a server may answer the bare call with nothing. Each group once."""
        found: dict[int, SubjectGroup] = {}
        async with task_group() as group:
            asked = [group.create_task(api.fetch_subject_groups(self.client, k.id)) for k in classes]
        for task in asked:
            for g in task.result():
                found.setdefault(g.id, g)
        return list(found.values())

    async def _iup_groups(self, classes: list[SchoolClass]) -> tuple[list[SubjectGroup], dict[int, int]]:
        """ИУП groups belong to no class: each grade is asked for its own (``subjectgroups?iupClassId=<grade>_1``).
        A server that refuses the question costs only the ИУП groups' journals, not the directory (logged).
        Returns the groups and their grades."""
        groups: list[SubjectGroup] = []
        grades: dict[int, int] = {}
        for grade in sorted({n for n in (k.grade_number for k in classes) if n is not None}):
            try:
                items = await api.fetch_iup_groups(self.client, grade)
            except (SessionLost, FirewallBlocked, LoginError):
                raise
            except NetSchoolError as exc:
                log.warning("Группы ИУП %s параллели не получены: %s", grade, exc)
                continue
            for g in items:
                if g.class_ is None and g.id not in grades:
                    grades[g.id] = grade
                    groups.append(g)
        return groups, grades

    async def _students(self, class_id: int, run_id: int) -> None:
        async def work() -> None:
            items = await api.fetch_class_students(self.client, class_id)
            self._save(
                "students",
                {"class_id": class_id},
                self.client.server_time,
                run_id,
                {"student": (mirror.student_rows(class_id, items), {"class_id": class_id}, True)},
            )

        label = f"ученики {self._class_label(class_id)}"
        await self._safely(label, work, unit=("students", {"class_id": class_id}))

    ea_journal: str | None = None  # "read" (the extra-activity journal's groups read) or "absent" (issue #32)
    # how the year marks came (issue #32): "termid" (journal of termId -1), "refused" (the server refused -1)
    year_marks: str | None = None
    _class_term_map: dict[int, list[int]]
    _term_types: dict[int, int | None]
    _year_terms: set[int] = frozenset()  # type: ignore[assignment]  # the year's own periods (calendar)

    async def _class_terms(self, classes: list[int]) -> list[Term]:
        """The terms each class works in (``terms/search`` by class), from the server."""
        self._class_term_map = {}
        self._term_types = {}
        found: dict[int, Term] = {}

        year = reads.school_year_bounds(self.db)
        period = (
            {"startPeriod": f"{year[0].isoformat()}T00:00:00", "endPeriod": f"{year[1].isoformat()}T00:00:00"}
            if year
            else {}
        )  # the year's bounds, as the journal page sends them

        async def one(class_id: int) -> None:
            body = {"classIds": [class_id], **period}
            try:
                data = await self.client.post_read_json("/webapi/terms/search", body)
                terms = parse(list[Term], data, "terms/search")
            except (SessionLost, FirewallBlocked, LoginError):
                raise
            except NetSchoolError as exc:
                raise NetSchoolError(
                    f"не получены учебные периоды класса {self._class_label(class_id)} (terms/search): {exc}"
                ) from exc
            self._class_term_map[class_id] = [t.id for t in terms]
            self._term_types.update((t.id, t.termTypeId) for t in terms)
            for t in terms:
                found[t.id] = t

        await self._gather(functools.partial(one, c) for c in classes)
        terms = list(found.values())
        self._year_terms = year_periods(terms)
        if terms and not self._year_terms:  # the year as the report pages address it: termId -1 «год»
            whole = api.year_term(terms)
            terms.append(whole)
            self._year_terms = {whole.id}
            for ids in self._class_term_map.values():
                if ids:
                    ids.append(whole.id)
        return terms

    async def _schedules(self, classes: list[int], terms: list[Term]) -> dict[int, ClassMeeting]:
        if not terms:
            return {}
        # The whole of the selected terms, future lessons included (the timetable is known in advance): a
        # narrower window would leave lesson numbers blank in the journal units and fake "changes".
        start = min(t.startDate for t in terms)
        end = max(t.endDate for t in terms)
        schedule: dict[int, ClassMeeting] = {}

        async def one(class_id: int) -> None:
            try:
                for cm in await api.fetch_class_meetings(self.client, start, end, [class_id]):
                    schedule[cm.id] = cm
            except (SessionLost, FirewallBlocked, LoginError):
                raise
            except NetSchoolError as exc:  # lesson numbers are a nicety; journals still mirror without them
                log.warning("Расписание класса %s не получено: %s", class_id, exc)

        async def iup(teacher_id: int, groups: set[int]) -> None:
            try:
                for cm in await api.fetch_teacher_meetings(self.client, start, end, teacher_id):
                    if cm.subjectGroupId in groups:
                        schedule[cm.id] = cm
            except (SessionLost, FirewallBlocked, LoginError):
                raise
            except NetSchoolError as exc:
                log.warning("Расписание учителя %s (группы ИУП) не получено: %s", teacher_id, exc)

        await self._gather(functools.partial(one, c) for c in classes)
        iup_groups = set(reads.iup_group_grades(self.db))
        if iup_groups:
            teachers = reads.group_teachers(self.db, iup_groups)
            await self._gather(functools.partial(iup, t, iup_groups) for t in sorted(teachers))
        return schedule

    async def _journal(
        self,
        sg: int,
        where: tuple[int, int],
        term_id: int,
        year_id: int,
        schedule: dict[int, ClassMeeting],
        run_id: int,
    ) -> None:
        """One group's journal of one term; ``where`` is (classId, grade): (class, -1), or (-1, grade) for ИУП."""
        label = f"{self._group_label(sg)}, {self._names().term.get(term_id) or f'период {term_id}'}"

        async def work() -> None:
            class_id, grade = where
            params: dict[str, Any] = {
                "yearId": year_id,
                "classId": class_id,
                "grade": grade,
                "sgId": sg,
                "termId": term_id,
            }
            if sg in (self._ea_groups or ()):
                params["extraActivity"] = "true"  # kept in the extra-activity journal (issue #32)
            if term_id == api.YEAR_TERM_ID and self.year_marks == "refused":
                return
            try:
                data, observed = await self.client.get_json_dated("/webapi/grade/journal", params)
            except HTTPStatusError as exc:
                if term_id != api.YEAR_TERM_ID or not 400 <= exc.status < 500:
                    raise
                # a server that does not know termId -1 serves no year marks this way: none are missing (R0)
                # decided by the first answer: once a group's year was served, one group's refusal is its own
                if self.year_marks is None:
                    log.info("Сервер не отдаёт журнал за год (termId -1): годовые отметки не проверяются (%s)", exc)
                    self.year_marks = "refused"
                return
            if term_id == api.YEAR_TERM_ID:
                self.year_marks = "termid"
            journal = parse(Journal, data, "grade/journal")
            if not journal.journals:
                raise NetSchoolError(f"{label}: в ответе нет журнала")
            body = journal.journals[0]
            scope = {"sg_id": sg, "term_id": term_id}
            if not body.classMeeting and not body.students and not self.opt.accept_empty:
                had = live_count(self.db, "class_meeting", scope) + live_count(self.db, "enrollment", scope)
                if had:
                    raise EmptyUnitError("journal", scope, had)
            year = term_id in self._year_terms
            data_rows = mirror.journal_rows(body, sg, term_id, schedule, marks_only=year)
            tables: dict[str, tuple[list[dict[str, Any]], dict[str, Any] | None, bool]] = {
                t: (r, scope, True) for t, r in data_rows.items()
            }
            if journal.editLimit is not None:  # what the journal still allows (ruling R22): kept for the rules
                tables["school_setting"] = (mirror.edit_limit_rows(journal.editLimit), None, False)
            self._save("journal", scope, observed, run_id, tables, unit_allow_empty=True)
            if journal.editLimit and journal.editLimit.limitPastDays is not None:
                self._edit_limit = journal.editLimit.limitPastDays

        await self._safely(label, work, unit=("journal", {"sg_id": sg, "term_id": term_id}))

    _edit_limit: int = DEFAULT_EDIT_LIMIT_DAYS

    def _topic_lessons(self, today: date, run_id: int, job_groups: list[int]) -> list[tuple[int, int, int, str]]:
        """(cm, sg, term, day) whose topic to (re)read, per the mode's policy."""
        held = reads.held_lessons(self.db, today)
        vacations = calendar.vacations(self.db)
        groups = set(job_groups)

        start = self.opt.start.isoformat() if self.opt.start else None
        end = self.opt.end.isoformat() if self.opt.end else None
        picked: list[tuple[int, int, int, str]] = []
        if self.opt.mode == "snapshot":
            return [(h.cm, h.sg, h.term, h.day) for h in held if h.day == today.isoformat() and h.sg in groups]
        # a lesson stays editable for ``editLimit`` days: the nightly sync after its last editable day still reads it
        window = (today - timedelta(days=max(self.opt.lookback_days, self._edit_limit + 1))).isoformat()
        recent = (today - timedelta(days=RECENT_DAYS - 1)).isoformat()
        editable = (today - timedelta(days=self._edit_limit)).isoformat()
        touched = lessons_touched_in_run(self.db, run_id) if self.opt.mode == "incremental" else set()
        for h in held:
            day = h.day
            if calendar.in_vacation(vacations, day) or (start and day < start) or (end and day > end):
                continue
            if self.opt.mode == "all":
                picked.append((h.cm, h.sg, h.term, h.day))
                continue
            if day < window:
                continue
            if not h.has_topic or day >= recent or (h.cm in touched and day >= editable):
                picked.append((h.cm, h.sg, h.term, h.day))
        return picked

    async def _topic(self, cm: int, sg: int, term: int, day: str, run_id: int) -> None:
        async def work() -> None:
            params = {"cmid": cm, "sgId": sg, "termId": term}
            data, observed = await self.client.get_json_dated("/webapi/grade/journal/edit", params)
            topic = mirror.topic_rows(parse(LessonEdit, data, "grade/journal/edit"), cm, sg)
            # A missing topic is never taken as "deleted": a single null must not erase what was seen.
            self._save("topic", {"cm_id": cm}, observed, run_id, {"lesson_topic": (topic, {"cm_id": cm}, bool(topic))})

        label = f"тема: {self._group_label(sg)}, {day[8:10]}.{day[5:7]}"  # the day the planner already holds
        await self._safely(label, work, unit=("topic", {"cm_id": cm}))

    async def _plan(self, sg: int, run_id: int) -> None:
        async def work() -> None:
            data, observed = await self.client.get_json_dated("/webapi/subjectplans/getForSubjectGroup", {"sgId": sg})
            plan = mirror.plan_rows(parse(SubjectPlan, data, "subjectplans/getForSubjectGroup"), sg)
            scope = {"sg_id": sg}
            self._save("ktp", scope, observed, run_id, {t: (r, scope, True) for t, r in plan.items()})

        await self._safely(f"КТП: {self._group_label(sg)}", work, unit=("ktp", {"sg_id": sg}))

    async def _access_log(self, class_id: int | str, today: date, year_start: date, run_id: int) -> None:
        """«Отчёт о доступе к классному журналу» of one class (or, ``class_id`` "<grade>_1", the ИУП groups of a
        grade) since the previous read (with an overlap: the report may still gain rows for recent days), or the
        whole year with ``--all`` — one report per month at most, each saved with its cursor, so a long read that
        breaks goes on where it stopped."""
        iup = isinstance(class_id, str)
        scope: dict[str, Any] = {"iup_grade": int(str(class_id).split("_")[0])} if iup else {"class_id": class_id}
        cursor = get_cursor(self.db, "access_log", scope)
        if self.opt.mode == "all" or cursor is None:
            start = self.opt.start or (
                year_start if self.opt.mode == "all" else today - timedelta(self.opt.lookback_days)
            )
        else:
            start = date.fromisoformat(cursor) - timedelta(days=ACCESS_OVERLAP_DAYS)
        start = max(start, year_start)
        end = self.opt.end or today

        pending = {"next": start}  # a retried unit goes on from the first month not yet saved

        async def work() -> None:
            while pending["next"] <= end:
                chunk_start = pending["next"]
                chunk_end = min(chunk_start + timedelta(days=ACCESS_CHUNK_DAYS - 1), end)
                report = await fetch_access_report(
                    self.client,
                    class_id,
                    chunk_start,
                    chunk_end,
                    method=self.opt.access_log,  # type: ignore[arg-type]
                    timeout=REPORT_TIMEOUT,
                    hub_available=self.opt.hub_available,
                )
                entries = report.entries
                observed = _ts(self.client.server_time)
                with unit(self.db, "access_log", scope, observed_at=observed, run_id=run_id) as u:
                    # R6: which lessons the report covers (from its first day read through the cursor)
                    widen_report_since(self.db, scope, chunk_start.isoformat(), observed_at=observed, run_id=run_id)
                    added = save_access_rows(
                        self.db,
                        [
                            {
                                "class_name": e.class_name,
                                "subject": e.subject,
                                "at": e.at.isoformat(timespec="seconds"),
                                "user": e.user,
                                "lesson_day": e.lesson_day.isoformat() if e.lesson_day else None,
                                "lesson_number": e.lesson_number,
                                "period": e.period,
                                "action": e.action,
                            }
                            for e in entries
                        ],
                        observed_at=observed,
                        run_id=run_id,
                    )
                    u.cursor = chunk_end.isoformat()  # committed with the month's rows
                self.report.rows.new += added
                pending["next"] = chunk_end + timedelta(days=1)

        label = f"ИУП {scope['iup_grade']} кл." if iup else self._class_label(int(class_id))
        await self._safely(f"отчёт о доступе: {label}", work)


class SyncLocked(AppError):
    exit_code = exitcodes.LOCKED

    def __init__(self, lock_path: str) -> None:
        super().__init__(
            f"Кэш занят другим запуском (блокировка {lock_path}). Дождитесь его окончания; если запуска точно нет, "
            "удалите файл блокировки."
        )


def lock_cache(path: Path) -> Any:
    """Take the cache's lock file (``cache.db.lock``) without waiting, or raise :class:`SyncLocked`: one sync (or
    restore) at a time. The caller releases it. The folder is made 0700 first (filelock would make it 0755)."""
    from filelock import FileLock, Timeout

    from cache import ensure_private_dir

    ensure_private_dir(Path(path).parent)
    lock_path = f"{path}.lock"
    lock = FileLock(lock_path, timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise SyncLocked(lock_path) from None
    return lock


async def sync_once(
    config: Any,
    options: SyncOptions,
    *,
    transport: Any = None,
    session_file: Any = None,
    record_dir: Any = None,
    progress: Progress | None = None,
    total: Callable[[int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    backend: Any = None,
) -> SyncReport:
    """Lock the cache, log in, run one sync, log out. ``config`` is an ``asurso_sync.config.Config``; ``sleep``
    replaces the client's real waiting (tests, the simulated demo); ``backend`` the configured mail backend (for
    the one letter about a Госуслуги login to redo)."""
    from asurso_sync.connect import make_client
    from cache import check_writable, open_cache

    check_writable(config.cache.path)
    # the password and the session before any file is made: a run that cannot log in leaves nothing behind
    client = make_client(config, session_file=session_file, record_dir=record_dir, transport=transport, sleep=sleep)
    lock = lock_cache(config.cache.path)
    try:
        db = open_cache(config.cache.path)
        try:
            options.hub_available = transport is None or isinstance(transport, httpx.AsyncHTTPTransport)
            if options.access_log is None:
                options.access_log = config.sync.access_log
            started = False
            try:
                async with client:
                    started = True
                    return await Sync(db, client, options, progress=progress, total=total).run()
            except (asyncio.CancelledError, KeyboardInterrupt):
                if not started and not options.dry_run:  # stopped while logging in: the run is still on record
                    run_id = start_run(db, KIND[options.mode])
                    finish_run(db, run_id, "interrupted", errors=[INTERRUPTED])
                raise
            except NetSchoolError as exc:
                if not started:  # login refused or server unreachable: the run failed, and status/check must know
                    run_id = start_run(db, KIND[options.mode])
                    finish_run(db, run_id, "failed", errors=[str(exc)])
                if isinstance(exc, RenewalRefused):  # a person must sign in again: the deputy hears it once
                    from asurso_sync.esia import handle_refusal

                    handle_refusal(config, db, exc, backend)
                raise
        finally:
            db.close()
    finally:
        lock.release()
