"""Cache write path: rows/s of the temporal upsert (insert, unchanged re-read, change) on a real SQLite file.

Run: python -m benchmarks.bench_cache [--rows 200000]. Target (issue «Sync»): ≥ 20k rows/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from cache import open_cache, unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--unit", type=int, default=2_000, help="rows per unit (one transaction)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, float] = {}
    db = open_cache(Path(tempfile.mkdtemp()) / "bench.db")
    n, per = args.rows, args.unit

    def batch(sg: int, value: int) -> list[dict[str, object]]:
        return [
            {
                "assignment_id": sg * 100_000 + i // 25,
                "student_id": 937_000 + i % 25,
                "sg_id": sg,
                "term_id": 1,
                "mark": str(2 + (i + value) % 4),
                "duty": 0,
            }
            for i in range(per)
        ]

    for label, value in (("insert", 0), ("re-read, unchanged", 0), ("re-read, all changed", 1)):
        started = time.perf_counter()
        for sg in range(n // per):
            with unit(db, "journal", {"sg_id": sg, "term_id": 1}, observed_at=f"2026-11-2{3 + value}T01:00:00") as u:
                u.save("mark", batch(sg, value), scope={"sg_id": sg, "term_id": 1}, complete=True)
        seconds = time.perf_counter() - started
        print(f"{label:22} {n:8} rows  {seconds:6.2f} s  {n / seconds:10,.0f} rows/s")
        results[label] = round(n / seconds)
    if args.json:
        args.json.write_text(json.dumps({"rows": n, "rows_per_s": results}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
