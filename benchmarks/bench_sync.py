"""Sync figures against the emulator over loopback: full, nightly incremental and 16:05 snapshot.

The emulator runs in its own process (``asurso-sync emulator serve``) with fixed latency; the client runs here.
Run: python -m benchmarks.bench_sync [--size large] [--latency 0.1] [--concurrency 4] [--json FILE]
Targets (issue «Sync»): nightly ≤ 10 min and ≥ 10× fewer requests than --all; snapshot ≤ 3 min.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from asurso_sync.config import example_config_text, load_config
from asurso_sync.sync import SyncOptions, sync_once

STEPS = (
    ("full --all", "all", "2026-11-23T16:05:00"),
    ("nightly", "incremental", "2026-11-24T01:00:00"),
    ("snapshot 16:05", "snapshot", "2026-11-24T16:05:00"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="large")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--min-interval", type=float, default=0.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "asurso_sync",
            "emulator",
            "serve",
            "--port",
            str(port),
            "--size",
            args.size,
            "--clock",
            STEPS[0][2],
            "--test-mode",
            "--faults",
            f"latency={args.latency}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/webapi/sysinfo", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("эмулятор не запустился") from None
                time.sleep(0.5)
        work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
        (work / "config.toml").write_text(example_config_text(), encoding="utf-8")
        os.environ["ASURSO_PASSWORD"] = "Сота-2026"  # noqa: S105 - the emulator's documented demo account
        config = load_config(
            work / "config.toml",
            environ={
                "ASURSO_SYNC_ASURSO__BASE_URL": base,
                "ASURSO_SYNC_SYNC__CONCURRENCY": str(args.concurrency),
                "ASURSO_SYNC_SYNC__MIN_INTERVAL": str(args.min_interval),
            },
        )
        for label, mode, clock in STEPS:
            httpx.post(f"{base}/_emulator/clock", json={"now": clock})
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            started = time.perf_counter()
            report = asyncio.run(sync_once(config, SyncOptions(mode=mode)))  # type: ignore[arg-type]
            wall = time.perf_counter() - started
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            results.append(
                {
                    "step": label,
                    "status": report.status,
                    "units": report.units,
                    "requests": report.requests,
                    "bytes": report.bytes,
                    "wall_s": round(wall, 1),
                    "cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
                    "rows_new": report.rows.new,
                    "rows_changed": report.rows.changed,
                    "retries": report.retries,
                    "polite_estimate_min": round(report.requests * 0.3 / 60, 1),
                }
            )
            print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    finally:
        server.terminate()
        server.wait(30)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    full = next(r for r in results if r["step"].startswith("full"))
    nightly = next(r for r in results if r["step"] == "nightly")
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}")
    print(
        f"school {args.size}, latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"min_interval {args.min_interval} s"
    )
    print(f"{'step':16} {'requests':>9} {'MB':>7} {'wall s':>8} {'cpu s':>7} {'rows new':>9} {'≈ at 0.3 s/req':>15}")
    for r in results:
        print(
            f"{r['step']:16} {r['requests']:9} {r['bytes'] / 1e6:7.1f} {r['wall_s']:8.1f} {r['cpu_s']:7.1f} "
            f"{r['rows_new']:9} {r['polite_estimate_min']:12.1f} min"
        )
    print(
        f"full / nightly requests: {full['requests'] / max(1, nightly['requests']):.1f}×; client peak RSS {peak:.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps({"results": results, "peak_rss_mb": round(peak)}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
