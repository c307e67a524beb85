"""Accuracy of the rules engine against the emulator's ground truth, per core rule, on (rule, entity, owner).

A school year stretch is simulated exactly as in production — a full sync at the start, a 16:05 snapshot
every school day and a 01:00 sync every night, through the real client, sync and cache — then ``check``
runs at the end and its findings are compared with the ground truth (docs/rules.md §3).

Run: python -m benchmarks.accuracy [--seeds 1,2,3] [--size small] [--from 2026-12-07] [--weeks 4] [--nightly-only]
     [--access-log auto|asp|off]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from adapters.emulator import calendar as cal
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.emulator.truth import ground_truth
from asurso_sync import accuracy
from asurso_sync.accuracy import RuleScore
from asurso_sync.config import Config, example_config_text, load_config
from asurso_sync.demo import SCHOOL_THRESHOLDS
from asurso_sync.sync import SyncOptions, sync_once
from cache import open_cache
from rules.engine import run_rules


def _config(folder: Path) -> Config:
    text = example_config_text().replace("\n[mail]", SCHOOL_THRESHOLDS + "\n[mail]", 1)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return load_config(
        folder / "config.toml",
        environ={
            "ASURSO_SYNC_ASURSO__BASE_URL": "http://emu.test",
            "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
            "ASURSO_SYNC_SYNC__TIMEOUT": "5",
        },
    )


def simulate(
    seed: int,
    size: str,
    start: date,
    weeks: int,
    *,
    snapshots: bool = True,
    folder: Path | None = None,
    access_log: str = "auto",
) -> tuple[Emulator, Config]:
    """Follow the standard observation schedule from ``start`` for ``weeks`` weeks."""
    os.environ.setdefault("ASURSO_PASSWORD", "Сота-2026")
    emu = Emulator(EmulatorSettings(size=size, seed=seed))  # type: ignore[arg-type]
    config = _config(folder or Path(tempfile.mkdtemp(prefix="accuracy-")))

    def sync(mode: str, at: datetime) -> None:
        emu.clock = at
        options = SyncOptions(mode=mode, access_log=access_log)  # type: ignore[arg-type]
        asyncio.run(sync_once(config, options, transport=EmulatorTransport(emu)))

    sync("all", datetime.combine(start, datetime.min.time()).replace(hour=1))
    day, end = start, start + timedelta(weeks=weeks)
    while day < end:
        if snapshots and cal.is_school_day(day):
            sync("snapshot", datetime.combine(day, datetime.min.time()).replace(hour=16, minute=5))
        day += timedelta(days=1)
        sync("incremental", datetime.combine(day, datetime.min.time()).replace(hour=1))
    return emu, config


def score(emu: Emulator, config: Config, start: date) -> tuple[list[RuleScore], dict[str, int], float]:
    db = open_cache(config.cache.path)
    family = frozenset(s.id for s in emu.school.students.values() if s.family_educ)
    started = time.perf_counter()
    params = {key: config.rules.params(key) for key in (config.rules.model_extra or {})}
    result = run_rules(db, as_of=emu.clock, start=start, family_education=family, rule_params=params)
    seconds = time.perf_counter() - started
    db.close()
    truth = ground_truth(emu.school, emu.journal, start, emu.clock)
    scores = accuracy.score((f.as_contract() for f in result.findings), truth, result.undecided)
    return scores, dict(result.undecided), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3,4")
    parser.add_argument("--size", default="small")
    parser.add_argument("--from", dest="start", default="2026-12-07")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument(
        "--nightly-only",
        action="store_true",
        help="no 16:05 snapshots (timing is then decided by the access report, or undecided without it)",
    )
    parser.add_argument("--access-log", default="auto", choices=("auto", "asp", "off"))
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    for seed in (int(s) for s in args.seeds.split(",")):
        emu, config = simulate(
            seed, args.size, start, args.weeks, snapshots=not args.nightly_only, access_log=args.access_log
        )
        scores, undecided, seconds = score(emu, config, start)
        print(
            f"seed {seed}, {args.size}, {start} + {args.weeks} weeks, check at {emu.clock:%Y-%m-%d %H:%M} "
            f"({seconds:.2f} s); undecided: {sum(undecided.values())}"
        )
        for line in accuracy.table(scores):
            print(f"  {line}")


if __name__ == "__main__":
    main()
