"""Every benchmark with one command: prints each one's output, then a table against the targets, and writes JSON.

Run: python -m benchmarks [--quick] [--json benchmarks/results.json]
The full run (school `large` for sync and rules) takes about 15 minutes on 2 cores; `--quick` uses `medium`
and a shorter emulator list (a few minutes) — for a smoke run, not for the figures in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _run(module: str, args: list[str], out: Path) -> dict[str, Any]:
    print(f"\n== python -m benchmarks.{module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args, "--json", str(out)], check=True)
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="medium school for sync and rules (smoke run)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args()
    size = "medium" if args.quick else "large"
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_implementation()} "
        f"{platform.python_version()}".strip(),
        "emulator": _run(
            "bench_emulator", ["--sizes", "tiny,small,medium" + ("" if args.quick else ",large")], tmp / "emu.json"
        ),
        "cache": _run("bench_cache", [], tmp / "cache.json"),
        "rules": _run("bench_rules", ["--size", size], tmp / "rules.json"),
        "sync": _run("bench_sync", ["--size", size], tmp / "sync.json"),
    }
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")

    sync = {r["step"].split()[0]: r for r in results["sync"].get("results", [])}
    rows: list[tuple[str, str, str]] = []
    for g in results["emulator"]["generation"]:
        rows.append((f"emulator: generate {g['size']}", f"{g['seconds']:.1f} s", "≤ 20 s (large)"))
    rows.append(("emulator: grade/journal median", f"{results['emulator']['journal']['median_ms']} ms", "≤ 20 ms"))
    for label, value in results["cache"]["rows_per_s"].items():
        rows.append((f"cache: {label}", f"{value:,} rows/s".replace(",", " "), "≥ 20 000 rows/s"))
    r = results["rules"]
    rows.append((f"rules ({size}, full year)", f"{r['seconds']} s, {r['peak_rss_mb']} MB", "≤ 3 s, ≤ 300 MB"))
    for step, target in (("full", "—"), ("nightly", "≤ 10 min"), ("snapshot", "≤ 3 min")):
        s = sync.get(step)
        if s:
            rows.append((f"sync ({size}): {step}", f"{s['requests']} req, {s['wall_s']} s, CPU {s['cpu_s']} s", target))
    if "full" in sync and "nightly" in sync:
        ratio = sync["full"]["requests"] / max(sync["nightly"]["requests"], 1)
        rows.append(("sync: full / nightly requests", f"{ratio:.1f}×", "≥ 10×"))
    if "peak_rss_mb" in results["sync"]:
        rows.append(("sync: client peak RSS", f"{results['sync']['peak_rss_mb']} MB", "—"))
    width = max(len(a) for a, _b, _c in rows)
    print(f"\n{results['machine']}")
    for a, b, c in rows:
        print(f"{a:{width}}  {b:>32}  {c}")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
