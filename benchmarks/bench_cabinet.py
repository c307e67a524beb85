"""Кабинет завуча on a full school year of the ``large`` school: server time of every page.

The mirror is the rules benchmark's (built through the real sync, or ``--cache`` to reuse one, copied first);
a check over the whole year is stored, the cabinet's password set, and each page asked through the ASGI app in
this process — server time, no network — five times after one warm-up. Target (issue «Кабинет завуча»):
every page ≤ 300 ms; the same for a teacher's personal page (issue #34), for the teacher with the most items.
Run: python -m benchmarks.bench_cabinet [--cache FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

TARGET_MS = 300
REPEAT = 5


def prepare(source: Path | None, folder: Path) -> Path:
    from asurso_sync.config import example_config_text
    from benchmarks.bench_rules import build

    cache = folder / "cache.db"
    if source is None:
        build(cache, "large")
    else:
        shutil.copy2(source, cache)
    (folder / "config.toml").write_text(example_config_text(), encoding="utf-8")
    return cache


async def measure(folder: Path, cache: Path) -> dict[str, dict[str, float]]:
    from asurso_sync.check import CheckOptions, run_check
    from asurso_sync.config import load_config
    from asurso_sync.web.app import create_app
    from asurso_sync.web.auth import hash_password
    from cache import open_cache
    from cache.cabinet import set_password_hash

    config = load_config(
        folder / "config.toml",
        environ={"ASURSO_SYNC_CACHE__PATH": str(cache), "ASURSO_SYNC_RULES__SHADOW": "true", "ASURSO_PASSWORD": "-"},
    )
    started = time.perf_counter()
    outcome = run_check(config, CheckOptions(start=date(2026, 9, 1), as_of=datetime(2027, 5, 31, 7, 0), stale_ok=True))
    print(f"check stored: {len(outcome.findings)} findings, {time.perf_counter() - started:.1f} s")
    with closing(open_cache(cache)) as db:
        set_password_hash(db, hash_password("пароль-замера"))
    transport = httpx.ASGITransport(app=create_app(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://cabinet.test") as client:
        assert (await client.post("/login", data={"password": "пароль-замера"})).status_code == 303
        rules = (await client.get("/rules")).text
        biggest = re.search(r'href="(/rules/[A-Z]+\d+)"', rules)
        teachers = (await client.get("/teachers")).text
        teacher = re.search(r'href="(/teachers/\d+)"', teachers)
        classes = (await client.get("/classes")).text
        klass = re.search(r'href="(/classes/\d+)"', classes)
        assert biggest and teacher and klass
        rule_page = (await client.get(biggest.group(1))).text
        finding = re.search(r'href="(/finding/[0-9a-f]+)"', rule_page)  # the first finding (its class="finding")
        lists = (await client.get("/lists?week=2027-W21")).text
        letter = re.search(r'href="(/lists/[^"]+/\d+)"', lists)
        assert finding and letter
        pages = {
            "обзор /": "/",
            "учителя /teachers": "/teachers",
            "классы /classes": "/classes",
            "правила /rules": "/rules",
            f"правило {biggest.group(1)}": biggest.group(1),
            f"учитель {teacher.group(1)}": teacher.group(1),
            f"класс {klass.group(1)}": klass.group(1),
            "замечание /finding/…": finding.group(1),
            "списки недели /lists": "/lists?week=2027-W21",
            "список учителя /lists/…": letter.group(1),
            "исключения /waivers": "/waivers",
            "точность /quality": "/quality",
            "выборка /sample": "/sample?seed=1",
            "запуск /run": "/run",
            f"учитель с фильтрами {teacher.group(1)}?…": f"{teacher.group(1)}?state=new&evidence=exact",
            "проверить замечания /review": "/review",
            f"очередь правила /review{biggest.group(1)}": f"/review{biggest.group(1)}",
            "очередь выборки /review/sample": "/review/sample?seed=1",
        }
        figures: dict[str, dict[str, float]] = {}
        for name, path in pages.items():
            times = []
            for attempt in range(REPEAT + 1):
                t0 = time.perf_counter()
                resp = await client.get(path)
                elapsed = (time.perf_counter() - t0) * 1000
                assert resp.status_code == 200, (path, resp.status_code)
                if attempt:
                    times.append(elapsed)
            figures[name] = {
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "kb": len(resp.content) / 1024,
            }
        figures.update(await teacher_page(config, cache))
    return figures


async def teacher_page(config: Any, cache: Path) -> dict[str, dict[str, float]]:
    """A teacher's personal page (issue #34) for the teacher with the most items, every rule released (in shadow
    mode nothing reaches teachers): server time of ``/t/{token}``, which also records the opening in the audit log."""
    from asurso_sync.routing import finding_route, rule_routes
    from asurso_sync.web.app import create_app
    from cache import open_cache
    from cache.cabinet import open_findings
    from cache.teacher_links import issue_link
    from rules.catalogue import load_catalogue

    released = config.model_copy(deep=True)
    released.rules.shadow = False
    with closing(open_cache(cache)) as db:
        routes = rule_routes(load_catalogue(), released, set())
        per = Counter(f["teacher_id"] for f in open_findings(db) if finding_route(f, routes) == "teacher")
        teacher, items = per.most_common(1)[0]
        token = issue_link(db, int(teacher), "2027-W21", max_days=14)
    transport = httpx.ASGITransport(app=create_app(released))
    async with httpx.AsyncClient(transport=transport, base_url="http://cabinet.test") as client:
        times = []
        for attempt in range(REPEAT + 1):
            t0 = time.perf_counter()
            resp = await client.get(f"/t/{token}")
            elapsed = (time.perf_counter() - t0) * 1000
            assert resp.status_code == 200, resp.status_code
            if attempt:
                times.append(elapsed)
    shown = re.search(r'id="tasks">(\d+)<.*?id="records">(\d+)<', resp.text, re.S)
    pages = re.search(r"Страница 1 из (\d+)", resp.text)
    assert shown
    name = (
        f"страница учителя /t/… (открытых {items}: задач {shown.group(1)}, записей {shown.group(2)}; "
        f"страниц {pages.group(1) if pages else 1})"
    )
    return {name: {"median_ms": statistics.median(times), "max_ms": max(times), "kb": len(resp.content) / 1024}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, help="a full-year mirror to copy (else the large school is built)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-cabinet-"))
    try:
        cache = prepare(args.cache, folder)
        figures = asyncio.run(measure(folder, cache))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    worst = max(f["max_ms"] for f in figures.values())
    for name, f in figures.items():
        print(f"{name:40s} median {f['median_ms']:7.1f} ms   max {f['max_ms']:7.1f} ms   {f['kb']:7.1f} KB")
    print(f"slowest page: {worst:.0f} ms (target ≤ {TARGET_MS} ms) — {'OK' if worst <= TARGET_MS else 'OVER'}")
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
