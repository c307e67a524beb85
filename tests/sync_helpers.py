"""Helpers for sync tests: a config pointing at an in-process emulator, clock moves, one sync call."""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.emulator.server import Emulator
from adapters.emulator.transport import EmulatorTransport
from asurso_sync.config import Config, example_config_text, load_config
from asurso_sync.sync import SyncOptions, SyncReport, sync_once
from tests.schools import no_wait


def make_config(tmp: Path, base_url: str = "http://emu.test", **env: str) -> Config:
    path = tmp / "config.toml"
    if not path.exists():
        path.write_text(example_config_text(), encoding="utf-8")
    environ = {
        "ASURSO_PASSWORD": "Сота-2026",
        "ASURSO_SYNC_ASURSO__BASE_URL": base_url,
        "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        "ASURSO_SYNC_SYNC__TIMEOUT": "0.25",
        **env,
    }
    config = load_config(path, environ=environ)
    return config


def run(emu: Emulator, config: Config, mode: str = "incremental", at: datetime | None = None, **kw: Any) -> SyncReport:
    if at is not None:
        emu.clock = at
    options = SyncOptions(mode=mode, lookback_days=config.sync.lookback_days, **kw)  # type: ignore[arg-type]
    return asyncio.run(sync_once(config, options, transport=EmulatorTransport(emu), sleep=no_wait))


def sync_all_process(folder: Path, base: str, *, capture: bool = False) -> subprocess.Popen[bytes]:
    """``asurso-sync sync --all`` as its own process against ``base``, with the config in ``folder``."""
    env = {
        **os.environ,
        "ASURSO_PASSWORD": "Сота-2026",
        "ASURSO_SYNC_ASURSO__BASE_URL": base,
        "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        "ASURSO_SYNC_CONFIG": str(folder / "config.toml"),
    }
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "asurso_sync", "sync", "--all"], env=env, stdout=out, stderr=out)


def observations(cache: Path) -> int:
    """Fully read units in a cache another process is writing (read-only, never migrating it)."""
    try:
        with closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute('SELECT count(*) FROM "observation"').fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_until_observed(cache: Path, count: int, proc: subprocess.Popen[Any], seconds: float = 180) -> None:
    """Until the process has read ``count`` units (or ended, or ``seconds`` passed: then the test fails)."""
    deadline = time.monotonic() + seconds
    while observations(cache) <= count and proc.poll() is None:
        assert time.monotonic() < deadline, "the sync did not get going"
        time.sleep(0.05)


@contextmanager
def only_new_garbage() -> Iterator[None]:
    """Inside, ``gc.collect()`` looks only at objects made inside: everything older is frozen (``gc.freeze``).
    A test that collects to bring out an un-awaited coroutine of its own run otherwise walks all that its worker
    built before it (generated schools, journals: seconds of CPU per collection in a fast-lane worker). Older garbage
    is collected first, and nothing is unfrozen after (``gc.unfreeze`` would also hand back to the collector the
    schools ``tests.emu.generated_school`` froze for the whole process)."""
    gc.collect()
    gc.freeze()
    yield
