"""Synced emulated schools, built once per test run and copied into each test's folder.

Syncing a school along the standard observation schedule is the costly part of many tests (a tiny school over a
week is ~6 s of CPU). ``Schools.copy`` builds each distinct school once — under a file lock in the run's shared
temporary folder, so that pytest-xdist workers build it once between them too — and gives every test its own copy
of the cache and the config, with a fresh emulator at the same seed and clock (the emulator's data are a function
of its seed, and what it shows a function of its clock). A school of n weeks is the n − 1 weeks' school and one
more week; a checked school is the unchecked one and the check.

``Schools.full_sync`` does the same for one ``sync --all`` of the tiny school, recorded (``FullSync``): the tests
about what a full load leaves in the mirror, sends or says read the record instead of each running their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock

from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from asurso_sync.check import CheckOptions, run_check
from asurso_sync.config import Config
from asurso_sync.demo import prepare, simulate
from asurso_sync.sync import SyncOptions, sync_once
from cache import open_cache
from tests.emu import fresh_school

SHARED_FILES = ("cache.db",)


async def no_wait(_seconds: float) -> None:
    """The client's sleep in tests: back-offs and pacing return at once (a fault test never really waits)."""
    await asyncio.sleep(0)


@dataclass(frozen=True)
class Spec:
    size: str = "tiny"
    seed: int = 1
    start: date = date(2026, 12, 7)
    weeks: int = 1
    check_at: datetime | None = None  # also run and store a check at this moment
    check_year: bool = False  # … over the school year (the check's default start) rather than from ``start``

    @property
    def key(self) -> str:
        check = self.check_at.strftime("%Y%m%dT%H%M") if self.check_at else "none"
        year = "-y" if self.check_year else ""
        return f"{self.size}-s{self.seed}-{self.start:%Y%m%d}-w{self.weeks}-c{check}{year}"


class Wire(httpx.AsyncBaseTransport):
    """Below the client: keeps every request that would leave the machine (method, path, query, body)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = (await request.aread()).decode("utf-8", "replace")
        self.seen.append(
            {"method": request.method, "path": request.url.path, "params": dict(request.url.params), "body": body}
        )
        return await self.inner.handle_async_request(request)


@dataclass(frozen=True)
class FullSync:
    """``sync --all`` of the tiny school at ``at`` (in process, the client's waits skipped), run once per test run
    and recorded: its cache (copied into each test's folder), every request it sent, its progress lines and its
    report's figures. A test about what a full load sends, says or leaves in the mirror reads the record; a test
    that changes the emulator before the load runs its own."""

    requests: list[dict[str, Any]]
    progress: list[str]
    report: dict[str, Any]  # run_id, mode, status, planned, units


class Schools:
    def __init__(self, root: Path) -> None:
        self.root = root

    def full_sync(self, dest: Path, at: datetime, **env: str) -> tuple[Emulator, Config, FullSync]:
        """The recorded full sync's cache in ``dest`` with a ``tests.sync_helpers.make_config`` config (``env``: its
        settings), a fresh emulator at ``at``, and the record."""
        from tests.sync_helpers import make_config

        record = self.full_sync_cache(dest, at)
        config = make_config(dest, **env)
        assert config.cache.path == dest / "cache.db", config.cache.path
        return Emulator(EmulatorSettings(size="tiny", clock=at, prebuilt=fresh_school("tiny", 1))), config, record

    def full_sync_cache(self, dest: Path, at: datetime) -> FullSync:
        """Only the recorded full sync's ``cache.db``, into ``dest`` (a folder whose config names it)."""
        from tests.sync_helpers import make_config

        folder = self.root / f"full-sync-tiny-{at:%Y%m%dT%H%M}"
        record = folder / "record.json"
        with FileLock(str(folder) + ".lock"):
            if not record.exists():
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                emu = Emulator(EmulatorSettings(size="tiny", clock=at))
                config = make_config(folder)
                wire = Wire(EmulatorTransport(emu))
                progress: list[str] = []
                options = SyncOptions(mode="all", lookback_days=config.sync.lookback_days)
                saved = os.environ.get("ASURSO_PASSWORD")
                os.environ["ASURSO_PASSWORD"] = "Сота-2026"  # the emulator's published demo password
                try:
                    report = asyncio.run(
                        sync_once(
                            config, options, transport=wire, sleep=no_wait, progress=lambda t, _d: progress.append(t)
                        )
                    )
                finally:
                    if saved is None:
                        del os.environ["ASURSO_PASSWORD"]
                    else:
                        os.environ["ASURSO_PASSWORD"] = saved
                with closing(open_cache(config.cache.path)) as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                figures = {k: getattr(report, k) for k in ("run_id", "mode", "status", "planned", "units")}
                data = {"requests": wire.seen, "progress": progress, "report": figures}
                (folder / "record.tmp").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
                (folder / "record.tmp").replace(record)
        dest.mkdir(parents=True, exist_ok=True)
        _copy_cache(folder, dest)
        return FullSync(**json.loads(record.read_text(encoding="utf-8")))

    def _build(self, spec: Spec) -> tuple[Path, datetime]:
        folder = self.root / spec.key
        done = folder / "built"
        # a checked school is the unchecked one (built once, shared) plus the check: never a second simulation;
        # n weeks are n - 1 weeks (built once, shared) and one more week of the same schedule
        base = None
        if spec.check_at is not None:
            base = self._build(replace(spec, check_at=None, check_year=False))
        elif spec.weeks > 1:
            base = self._build(replace(spec, weeks=spec.weeks - 1))
        with FileLock(str(self.root / f"{spec.key}.lock")):
            if not done.exists():
                if folder.exists():
                    shutil.rmtree(folder)
                folder.mkdir(parents=True)
                if base is None:
                    emu = _emulator(spec, datetime.combine(spec.start, datetime.min.time()))
                    config = prepare(folder, emu, 25)
                    simulate(emu, config, spec.start, spec.weeks, sleep=no_wait)
                else:
                    _copy_cache(base[0], folder)
                    emu = _emulator(spec, base[1])
                    config = prepare(folder, emu, 25)
                    if spec.check_at is None:  # the last week: on from where the n - 1 weeks ended
                        simulate(emu, config, base[1].date(), 1, sleep=no_wait, full=False)
                if spec.check_at is not None:
                    emu.clock = spec.check_at
                    start = None if spec.check_year else spec.start
                    run_check(config, CheckOptions(start=start, as_of=spec.check_at))
                with closing(open_cache(config.cache.path)) as db:  # fold the WAL into the file: one file to copy
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                done.write_text(emu.clock.isoformat(), encoding="utf-8")
        return folder, datetime.fromisoformat(done.read_text(encoding="utf-8"))

    def copy(self, dest: Path, spec: Spec | None = None, *, smtp_port: int = 25) -> tuple[Emulator, Config]:
        """A synced school in ``dest``: its cache, config.toml and teachers.csv, and an emulator at the clock
        where the schedule ended."""
        spec = spec or Spec()
        folder, clock = self._build(spec)
        dest.mkdir(parents=True, exist_ok=True)
        _copy_cache(folder, dest)
        emu = _emulator(spec, clock)
        return emu, prepare(dest, emu, smtp_port)


def _copy_cache(source: Path, dest: Path) -> None:
    """The built school's files into ``dest`` (the cache is checkpointed: one file, copied in milliseconds)."""
    for name in SHARED_FILES:
        shutil.copy2(source / name, dest / name)


def _emulator(spec: Spec, clock: datetime) -> Emulator:
    settings = EmulatorSettings(
        size=spec.size, seed=spec.seed, control=True, clock=clock, prebuilt=fresh_school(spec.size, spec.seed)
    )  # type: ignore[arg-type]
    emu = Emulator(settings)
    emu.reports.build_seconds = 0.01
    return emu
