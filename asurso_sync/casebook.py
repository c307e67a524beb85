"""The executable casebook: each scenario file is served by an in-process emulator, read by the real client and
sync on the declared observation schedule, checked by the real ``check``, and the findings compared with the
file's expectations — rule, entity (by names), owner and route. Nothing bypasses HTTP, the sync or the cache.

Format of the files: docs/scenarios.md. The command: ``asurso-sync casebook run PATH…``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.emulator.faults import Faults
from adapters.emulator.scenario import Built, Scenario, ScenarioError, build, lesson_key, load, normalize_group
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from asurso_sync.check import CheckOptions, run_check
from asurso_sync.config import Config
from asurso_sync.demo import prepare
from asurso_sync.routing import finding_route, rule_routes
from asurso_sync.sync import SyncOptions, sync_once
from cache import open_cache
from cache.calendar import is_school_day
from rules.catalogue import load_catalogue

DEPUTY = "завуч"
# Catalogue rules the Положение does not contain (the school's own signals, federal recommendations, waiver
# housekeeping): the casebook judges the Положение, so they are compared only where a case names them
# (in [[expect]] or absent) — «ничего» in a case is about the Положение's rules.
OUTSIDE_POLOZHENIE = frozenset(
    {"DEN003", "DEN004", "MRK007", "MRK008", "MRK010", "OCP001", "OCP003", "OCP005", "WVR001"}
)


@dataclass(frozen=True, order=True)
class Row:
    """One finding as the casebook speaks of it: by names, not ids."""

    rule: str
    entity: str  # «урок 7Б/Литература 24.11.2026 урок 3; ученик Смирнов Иван»
    owner: str = ""
    route: str = ""
    evidence: str = ""  # exact | observed (an expectation may leave it open: "")
    settled: bool | None = None

    def text(self) -> str:
        who = f" → {self.owner} ({ROUTE_RU.get(self.route, self.route)})" if self.owner or self.route else ""
        how = f" [{self.evidence}]" if self.evidence else ""
        done = " (внесено позже)" if self.settled else ""
        return f"{self.rule} {self.entity}{who}{how}{done}"

    def satisfies(self, expected: Row) -> bool:
        """This found row meets an expectation: what the expectation leaves open matches anything."""
        return (
            (not expected.owner or self.owner == expected.owner)
            and (not expected.route or self.route == expected.route)
            and (not expected.evidence or self.evidence == expected.evidence)
            and (expected.settled is None or self.settled == expected.settled)
        )


ROUTE_RU = {"teacher": "список учителя", "class_teacher": "классному руководителю", "deputy": "только завучу"}


@dataclass
class CaseResult:
    path: str
    id: str
    title: str
    section: str
    passed: bool
    seconds: float
    xfail: str | None = None
    missing: list[Row] = field(default_factory=list)  # expected, not found
    extra: list[Row] = field(default_factory=list)  # found, not expected
    wrong: list[tuple[Row, Row]] = field(default_factory=list)  # (expected, found): same finding, other owner/route
    undecided: dict[str, tuple[int, int]] = field(default_factory=dict)  # rule -> (expected, found) where differ
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing"] = [asdict(r) for r in self.missing]
        out["extra"] = [asdict(r) for r in self.extra]
        out["wrong"] = [{"expected": asdict(a), "found": asdict(b)} for a, b in self.wrong]
        return out


def _at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, datetime.min.time()).replace(hour=hour, minute=minute)


def _period(sc: Scenario) -> tuple[date, date, datetime]:
    """(first day observed and checked, last day checked, the check's moment)."""
    days = [ls.date for ls in sc.lessons]
    first = sc.check.from_ or sc.observe.from_ or (min(days) if days else date(2026, 11, 23))
    last_lesson = max(days) if days else first
    at = sc.check.at or _at(last_lesson + timedelta(days=7 - last_lesson.weekday()), 7)
    return first, sc.check.to or at.date(), at


class _Names:
    """Ids of the built school back to the scenario's names, for the comparison."""

    def __init__(self, b: Built) -> None:
        self.staff = _inverse(b.staff)
        self.students = _inverse(b.students)
        self.groups = {sg: g.name for sg, g in b.school.groups.items()}
        self.lessons = {
            le.id: f"{self.groups[le.sg_id]} {le.day:%d.%m.%Y} урок {le.number}" for le in b.school.lessons.values()
        }
        self.works = _inverse(b.works)
        self.terms = {t.id: t.name for t in b.school.terms.values()}
        self.classes = _inverse(b.classes)
        self.built = b

    def entity(self, entity: dict[str, int]) -> str:
        named = {  # key -> (Russian word, id -> name)
            "cm": ("урок", self.lessons),
            "student": ("ученик", self.students),
            "sg": ("группа", self.groups),
            "term": ("период", self.terms),
            "class": ("класс", self.classes),
        }
        parts = []
        for key, value in sorted(entity.items(), key=lambda kv: _ORDER.index(kv[0]) if kv[0] in _ORDER else 99):
            if key in named:
                word, names = named[key]
                parts.append(f"{word} {names.get(value, value)}")
            elif key == "date":
                parts.append(f"день {value % 100:02d}.{value // 100 % 100:02d}.{value // 10000}")
            elif key == "assignment":
                a = self.built.journal.assignments.get(value)
                label = self.works.get(value) or (f"{a.name} ({self.lessons.get(a.cm_id, a.cm_id)})" if a else value)
                parts.append(f"работа {label}")
            else:
                parts.append(f"{key} {value}")
        return "; ".join(parts)


_ORDER = ("class", "date", "cm", "assignment", "student", "sg", "term")


def _inverse(d: dict[str, int]) -> dict[int, str]:
    return {v: k for k, v in d.items()}


def _expected(sc: Scenario, b: Built, names: _Names) -> list[Row]:
    rows = []
    for e in sc.expect:
        entity: dict[str, int] = {}
        where = f"ожидание {e.rule}"
        if e.lesson:
            cm = b.lessons.get(lesson_key(e.lesson))
            if cm is None:
                raise ScenarioError(f"{where}: урок «{e.lesson}» не описан в [[lessons]]")
            entity["cm"] = cm
        if e.work:
            if e.work not in b.works:
                raise ScenarioError(f"{where}: работа с key = «{e.work}» не описана")
            entity["assignment"] = b.works[e.work]
        if e.student:
            if e.student not in b.students:
                raise ScenarioError(f"{where}: ученик «{e.student}» не описан")
            entity["student"] = b.students[e.student]
        if e.group:
            sg = b.groups.get(normalize_group(e.group))
            if sg is None:
                raise ScenarioError(f"{where}: группа «{e.group}» не описана")
            entity["sg"] = sg
        if e.term:
            ids = b.terms.get(e.term, [])
            sg = entity.get("sg")
            kind = b.school.groups[sg].term_type if sg else None
            year = 4  # a year's own period goes with any group (scenario kind «year»)
            match = [t for t in ids if kind is None or b.school.terms[t].type_id in (kind, year)]
            if not match:
                raise ScenarioError(f"{where}: период «{e.term}» не описан")
            entity["term"] = match[0]
        if e.class_:
            if e.class_ not in b.classes:
                raise ScenarioError(f"{where}: класс «{e.class_}» не описан")
            entity["class"] = b.classes[e.class_]
        if e.day:
            entity["date"] = e.day.year * 10000 + e.day.month * 100 + e.day.day
        if e.owner and e.owner != DEPUTY and e.owner not in b.staff:
            raise ScenarioError(f"{where}: владелец «{e.owner}» — не сотрудник школы и не «{DEPUTY}»")
        rows.append(Row(e.rule, names.entity(entity), e.owner or "", e.route or "", e.evidence or "", e.settled))
    return rows


def _found(findings: list[dict[str, Any]], settled: frozenset[str], config: Config, names: _Names) -> list[Row]:
    routes = rule_routes(load_catalogue(), config)
    rows = []
    for f in findings:
        route = finding_route(f, routes)
        owner = DEPUTY if route == "deputy" else names.staff.get(f.get("teacher_id") or 0, "—")
        entity = names.entity(f["entity"])
        rows.append(Row(f["rule"], entity, owner, route, f.get("evidence") or "", f["fingerprint"] in settled))
    return rows


def compare(expected: list[Row], found: list[Row], *, ignore: Iterable[str] = ()) -> tuple[list, list, list]:  # type: ignore[type-arg]
    """(missing, extra, wrong): an expectation without owner/route matches any owner/route."""
    skip = set(ignore)
    found = [r for r in found if r.rule not in skip]
    by_key: dict[tuple[str, str], list[Row]] = {}
    for r in found:
        by_key.setdefault((r.rule, r.entity), []).append(r)
    missing, wrong = [], []
    used: set[Row] = set()
    for e in expected:
        candidates = by_key.get((e.rule, e.entity), [])
        hit = next((c for c in candidates if c.satisfies(e)), None)
        if hit is not None:
            used.add(hit)
        elif candidates:
            wrong.append((e, candidates[0]))
            used.add(candidates[0])
        else:
            missing.append(e)
    extra = [r for r in found if r not in used]
    return missing, extra, wrong


async def _no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


def run_case(path: Path, workdir: Path | None = None, faults: Faults | None = None) -> CaseResult:
    """Serve, sync, check and compare one scenario file (``faults``: the emulator's variants, for tests)."""
    started = time.perf_counter()
    sc = load(path)
    base = CaseResult(str(path), sc.id, sc.title, sc.section, False, 0.0, xfail=sc.xfail)
    b = build(sc)
    names = _Names(b)
    expected = _expected(sc, b, names)
    first, last, check_at = _period(sc)
    with tempfile.TemporaryDirectory(prefix="casebook-", dir=workdir) as tmp:
        folder = Path(tmp)
        settings = EmulatorSettings(prebuilt=(b.school, b.journal), clock=_at(first, 1))
        emu = Emulator(replace(settings, faults=faults) if faults is not None else settings)
        emu.reports.build_seconds = 0
        config = prepare(folder, emu, 25, thresholds=False)  # a case states the school's thresholds itself
        access = "auto" if sc.observe.access_log else "off"

        def sync(mode: str, at: datetime) -> None:
            emu.clock = at
            options = SyncOptions(mode=mode, access_log=access, lookback_days=config.sync.lookback_days)  # type: ignore[arg-type]
            asyncio.run(sync_once(config, options, transport=EmulatorTransport(emu), sleep=_no_wait))

        sync("all", _at(first, 1))
        day = first
        while True:
            if sc.observe.snapshots and _at(day, 16, 5) < check_at:
                with closing(open_cache(config.cache.path)) as db:
                    school_day = is_school_day(db, day)
                if school_day:
                    sync("snapshot", _at(day, 16, 5))
            day += timedelta(days=1)
            if _at(day, 1) >= check_at:
                break
            if sc.observe.nightly:
                sync("incremental", _at(day, 1))
        outcome = run_check(
            config, CheckOptions(start=first, end=last, as_of=check_at, params=dict(sc.check.params), stale_ok=True)
        )
        found = _found(outcome.findings, outcome.settled, config, names)
        undecided = dict(outcome.result.undecided)
    named = {e.rule for e in sc.expect} | set(sc.absent)
    ignore = {*sc.check.ignore, *(OUTSIDE_POLOZHENIE - named)}
    missing, extra, wrong = compare(expected, found, ignore=ignore)
    extra += [r for r in found if r.rule in sc.absent and r not in extra and r.rule not in ignore]
    und = {k: (v, undecided.get(k, 0)) for k, v in sc.undecided.items() if undecided.get(k, 0) != v}
    base.missing, base.extra, base.wrong, base.undecided = missing, sorted(set(extra)), wrong, und
    base.passed = not (missing or extra or wrong or und)
    base.seconds = time.perf_counter() - started
    return base


def case_files(paths: Iterable[Path]) -> list[Path]:
    """The scenario files named or found (recursively, ``*.toml``) in the folders named, in name order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(x for x in p.rglob("*.toml") if not x.name.startswith("_"))
        elif p.exists():
            out.append(p)
        else:
            raise ScenarioError(f"{p}: нет такого файла или папки")
    return out


def _safe(path: Path) -> CaseResult:
    """One case in a worker process: a scenario error or a crash is that case's failure, not the run's."""
    try:
        return run_case(path)
    except ScenarioError as exc:
        return CaseResult(str(path), path.stem, "", "", False, 0.0, error=str(exc))


def run_cases(
    paths: list[Path], *, jobs: int = 1, progress: Callable[[CaseResult], None] | None = None
) -> list[CaseResult]:
    """Every case, ``jobs`` at a time (processes: the sync and the rules are CPU-bound)."""
    for p in paths:  # every file is read before anything runs: a typo stops the run at once (exit 2)
        load(p)
    results: list[CaseResult] = []
    if jobs <= 1 or len(paths) <= 1:
        for p in paths:
            results.append(_safe(p))
            if progress:
                progress(results[-1])
        return results
    os.environ.setdefault("ASURSO_DEMO_PASSWORD", "Сота-2026")
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for r in pool.map(_safe, paths):
            results.append(r)
            if progress:
                progress(r)
    return results
