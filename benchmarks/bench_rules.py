"""All rules over a full school year of the ``large`` school: seconds and peak RSS.

The mirror is built through the real sync (in-process emulator, a full ``sync --all`` at the end of the year),
then all rules — preview ones included — run once; the figures are for that run alone.
Run: python -m benchmarks.bench_rules [--size large] [--cache FILE]   Target (issue «Rules»): ≤ 3 s, ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path


def build(cache: Path, size: str) -> None:
    from adapters.emulator.server import Emulator, EmulatorSettings
    from adapters.emulator.transport import EmulatorTransport
    from asurso_sync.config import example_config_text, load_config
    from asurso_sync.sync import SyncOptions, sync_once

    os.environ.setdefault("ASURSO_PASSWORD", "Сота-2026")
    folder = cache.parent
    (folder / "config.toml").write_text(example_config_text(), encoding="utf-8")
    config = load_config(
        folder / "config.toml",
        environ={
            "ASURSO_SYNC_ASURSO__BASE_URL": "http://emu.test",
            "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
            "ASURSO_SYNC_CACHE__PATH": str(cache),
            "ASURSO_SYNC_SYNC__CONCURRENCY": "4",
        },
    )
    emu = Emulator(EmulatorSettings(size=size, clock=datetime(2027, 5, 31, 1, 0)))  # type: ignore[arg-type]
    started = time.perf_counter()
    report = asyncio.run(sync_once(config, SyncOptions(mode="all"), transport=EmulatorTransport(emu)))
    print(f"mirror built: {report.requests} requests, {report.rows.new} rows, {time.perf_counter() - started:.0f} s")


def measure(cache: Path, json_out: Path | None = None) -> None:
    """Runs in a fresh process, so peak RSS is the rules' alone."""
    from cache import open_cache
    from rules.catalogue import Selection, all_rules
    from rules.engine import run_rules

    db = open_cache(cache)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = run_rules(
        db,
        as_of=datetime(2027, 5, 31, 7, 0),
        start=date(2026, 9, 1),
        selection=Selection(select=[r.code for r in all_rules()]),
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rules: {len(result.rules)}, findings: {len(result.findings)}, undecided: {sum(result.undecided.values())}")
    print(
        f"all rules over the full year: {seconds:.2f} s, peak RSS {peak:.0f} MB (process before the run: {rss0:.0f} MB)"
    )
    if json_out:
        json_out.write_text(
            json.dumps(
                {
                    "rules": len(result.rules),
                    "findings": len(result.findings),
                    "undecided": sum(result.undecided.values()),
                    "seconds": round(seconds, 2),
                    "peak_rss_mb": round(peak),
                },
                indent=2,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="large")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="bench-rules-")) / "cache.db"
    if args.measure_only:
        measure(cache, args.json)
        return
    if args.build_only:
        build(cache, args.size)
        return
    if not cache.exists():
        # in a child process of its own: Linux keeps a parent's peak RSS across fork + exec, so building the
        # mirror here would inflate the rules' figure measured in the next child
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_rules",
                "--build-only",
                "--size",
                args.size,
                "--cache",
                str(cache),
            ],
            check=True,
        )
    extra = ["--json", str(args.json)] if args.json else []
    subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_rules", "--measure-only", "--cache", str(cache), *extra], check=True
    )


if __name__ == "__main__":
    main()
