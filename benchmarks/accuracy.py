"""Accuracy of the rules engine against the emulator's ground truth, per core rule, on (rule, entity, owner).

A school year stretch is simulated exactly as in production — a full sync at the start, a 16:05 snapshot
every school day and a 01:00 sync every night, through the real client, sync and cache — then ``check``
runs at the end and its findings are compared with the ground truth (docs/rules.md §3).

Two observation modes (``--modes``): «snapshots» — the 16:05 snapshot every school day and the 01:00 sync, without
the access report; «access» — the 01:00 sync with the access report, no snapshots. Per seed and summed over seeds:
per rule, planted / found / correct / undecided, precision over decided findings, recall with undecided as misses.

Run: python -m benchmarks.accuracy [--seeds 1,2,3,4] [--size small] [--week 5|6] [--from 2026-12-07] [--weeks 4]
     [--modes snapshots,access] [--lesson-teacher off,on]

``--lesson-teacher``: whether the schedule names a lesson's recorded substitute (the emulator's ``lesson_teacher``
drift; off is the default server — no public evidence of the field, issue #32).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from adapters.emulator.faults import Faults
from adapters.emulator.practice import Practice
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.emulator.truth import ground_truth
from asurso_sync import accuracy
from asurso_sync.accuracy import Key, RuleScore
from asurso_sync.config import Config, example_config_text, load_config
from asurso_sync.demo import SCHOOL_THRESHOLDS
from asurso_sync.scheduler import is_school_day as snapshot_day
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
    week: int = 5,
    practice: Practice | None = None,
    drifts: frozenset[str] = frozenset(),
) -> tuple[Emulator, Config]:
    """Follow the standard observation schedule from ``start`` for ``weeks`` weeks (``practice``: the real practice
    the school plants, practice.Practice() by default; ``drifts``: the server's shape drifts)."""
    os.environ.setdefault("ASURSO_PASSWORD", "Сота-2026")
    settings = EmulatorSettings(size=size, seed=seed, week=week, faults=Faults(drifts=drifts))  # type: ignore[arg-type]
    if practice is not None:
        settings.practice = practice
    emu = Emulator(settings)
    config = _config(folder or Path(tempfile.mkdtemp(prefix="accuracy-")))

    def sync(mode: str, at: datetime) -> None:
        emu.clock = at
        options = SyncOptions(mode=mode, access_log=access_log)  # type: ignore[arg-type]
        asyncio.run(sync_once(config, options, transport=EmulatorTransport(emu)))

    sync("all", datetime.combine(start, datetime.min.time()).replace(hour=1))
    day, end = start, start + timedelta(weeks=weeks)
    while day < end:
        if snapshots and snapshot_day(config, day):  # the scheduler's own decision (Saturdays with lessons too)
            sync("snapshot", datetime.combine(day, datetime.min.time()).replace(hour=16, minute=5))
        day += timedelta(days=1)
        sync("incremental", datetime.combine(day, datetime.min.time()).replace(hour=1))
    return emu, config


@dataclass
class Comparison:
    scores: list[RuleScore]
    undecided: dict[str, int]
    seconds: float  # the rules' run
    false: list[Key]  # findings the truth does not list (rule, entity, owner)
    missed: list[Key]  # the truth's items no finding matches (undecided ones among them)


def compare(emu: Emulator, config: Config, start: date) -> Comparison:
    """The rules on the simulated mirror against the ground truth, on (rule, entity, owner)."""
    db = open_cache(config.cache.path)
    family = frozenset(s.id for s in emu.school.students.values() if s.family_educ)
    started = time.perf_counter()
    params = {key: config.rules.params(key) for key in (config.rules.model_extra or {})}
    result = run_rules(db, as_of=emu.clock, start=start, family_education=family, rule_params=params)
    seconds = time.perf_counter() - started
    db.close()
    truth = ground_truth(emu.school, emu.journal, start, emu.clock)
    findings = [f.as_contract() for f in result.findings]
    scores = accuracy.score(findings, truth, result.undecided)
    expected = {(v.rule, tuple(sorted(dict(v.entity).items())), v.owner) for v in truth}
    found = {k for k in map(accuracy.finding_key, findings) if k[0] in accuracy.SCORED_RULES}
    return Comparison(scores, dict(result.undecided), seconds, sorted(found - expected, key=str),
                      sorted(expected - found, key=str))  # fmt: skip


def score(emu: Emulator, config: Config, start: date) -> tuple[list[RuleScore], dict[str, int], float]:
    c = compare(emu, config, start)
    return c.scores, c.undecided, c.seconds


MODES = {
    # name: (16:05 snapshots, the access report), as the issue «the emulated school behaves like a real one» asks
    "snapshots": (True, "off"),  # snapshots + nightly syncs, no access report: observations only
    "access": (False, "auto"),  # nightly syncs + the access report: exact times, no snapshots
}


def total(runs: list[list[RuleScore]]) -> list[RuleScore]:
    """Per-rule scores summed over runs (seeds)."""
    out: dict[str, RuleScore] = {}
    for scores in runs:
        for sc in scores:
            t = out.setdefault(sc.rule, RuleScore(sc.rule, 0, 0, 0, 0))
            t.planted += sc.planted
            t.found += sc.found
            t.true_positive += sc.true_positive
            t.undecided += sc.undecided
    return list(out.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3,4")
    parser.add_argument("--size", default="small")
    parser.add_argument("--week", type=int, default=5, choices=(5, 6))
    parser.add_argument("--from", dest="start", default="2026-12-07")
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument(
        "--modes",
        default="snapshots,access",
        help="observation modes: snapshots (16:05 snapshots + nightly, no access report), access (nightly + the "
        "access report)",
    )
    parser.add_argument(
        "--lesson-teacher",
        default="off",
        help="off, on or off,on: the schedule names a lesson's recorded substitute (the lesson_teacher drift)",
    )
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    for teacher in args.lesson_teacher.split(","):
        drifts = frozenset({"lesson_teacher"}) if teacher == "on" else frozenset()
        for mode in args.modes.split(","):
            snapshots, access_log = MODES[mode]
            label = f"{mode}, lesson teacher {teacher}"
            runs = []
            for seed in (int(s) for s in args.seeds.split(",")):
                emu, config = simulate(
                    seed, args.size, start, args.weeks, snapshots=snapshots, access_log=access_log, week=args.week,
                    drifts=drifts,
                )  # fmt: skip
                c = compare(emu, config, start)
                runs.append(c.scores)
                print(
                    f"[{label}] seed {seed}, {args.size}, {args.week}-day week, {start} + {args.weeks} weeks, check "
                    f"at {emu.clock:%Y-%m-%d %H:%M} ({c.seconds:.2f} s); undecided: {sum(c.undecided.values())}; "
                    f"false: {len(c.false)}"
                )
                for key in c.false:  # (rule, entity, owner) the truth does not list: each one named
                    print(f"  false: {key}")
                for line in accuracy.table(c.scores):
                    print(f"  {line}")
            summed = total(runs)
            planted = sum(s.planted for s in summed)
            undecided_all = sum(s.undecided for s in summed)
            print(f"[{label}] seeds {args.seeds} together; undecided share {undecided_all / max(1, planted):.3f}")
            for line in accuracy.table(summed):
                print(f"  {line}")


if __name__ == "__main__":
    main()
