"""Helpers for sync tests: a config pointing at an in-process emulator, clock moves, one sync call."""

from __future__ import annotations

import asyncio
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
