"""Emulator figures: school generation time per size, and grade/journal latency in-process.

Run: python -m benchmarks.bench_emulator [--sizes tiny,small,medium,large] [--json FILE]
Targets (issue «Emulator»): generating `large` ≤ 20 s; one grade/journal answer ≤ 20 ms in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from adapters.emulator.journal import generate_journal
from adapters.emulator.protocol import password_hashes
from adapters.emulator.school import generate_structure
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport


def bench_generation(size: str) -> dict[str, Any]:
    started = time.perf_counter()
    school = generate_structure(1, size)  # type: ignore[arg-type]
    journal = generate_journal(school)
    seconds = time.perf_counter() - started
    return {
        "size": size,
        "seconds": round(seconds, 2),
        "classes": len(school.classes),
        "students": len(school.students),
        "staff": len(school.staff),
        "groups": len(school.groups),
        "lessons": len(school.lessons),
        "marks": sum(len(v) for v in journal.marks.values()),
    }


async def bench_journal(size: str, samples: int) -> dict[str, Any]:
    emu = Emulator(EmulatorSettings(size=size))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=EmulatorTransport(emu), base_url="http://emu") as c:
        await c.get("/webapi/logindata")
        d = (await c.post("/webapi/auth/getdata")).json()
        pw, pw2 = password_hashes("Сота-2026", d["salt"])
        form = {"loginType": "1", "scid": "1", "un": "zavuch", "pw": pw, "pw2": pw2, "lt": d["lt"], "ver": d["ver"]}
        login = await c.post("/webapi/login", data=form, headers={"Referer": "http://emu/"})
        c.headers["at"] = login.json()["at"]  # ESRNSec stays in httpx's standard cookie jar
        groups = sorted(emu.school.groups)
        timings = []
        for i in range(samples):
            sg = groups[(i * 7919) % len(groups)]
            term = emu.school.term_of(sg, emu.clock.date())  # the current term: the fullest answer
            assert term is not None
            started = time.perf_counter()
            r = await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": term.id})
            timings.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200
    timings.sort()
    return {
        "size": size,
        "samples": samples,
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
        "max_ms": round(timings[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="tiny,small,medium,large")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = args.sizes.split(",")
    gen = [bench_generation(s) for s in sizes]
    journal = asyncio.run(bench_journal(sizes[-1], args.samples))
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"{'size':8} {'seconds':>8} {'classes':>8} {'students':>9} {'staff':>6} {'lessons':>8} {'marks':>8}")
    for g in gen:
        print(
            f"{g['size']:8} {g['seconds']:8.2f} {g['classes']:8} {g['students']:9} {g['staff']:6} "
            f"{g['lessons']:8} {g['marks']:8}"
        )
    print(
        f"grade/journal in-process ({journal['size']}, {journal['samples']} groups): median {journal['median_ms']} ms, "
        f"p95 {journal['p95_ms']} ms, max {journal['max_ms']} ms"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")
    if args.json:
        args.json.write_text(
            json.dumps({"generation": gen, "journal": journal, "peak_rss_mb": round(peak_mb)}, indent=2)
        )


if __name__ == "__main__":
    main()
