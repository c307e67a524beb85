"""A soak you can repeat (issue #31, item 10): one cache, many hands, under faults, for N minutes at once.

Against the emulator served on loopback with the standard faults plus connection resets and 429s, at one fixed
clock (Monday 23.11.2026 16:05): the nightly sync in a loop, the 16:05 snapshot every two minutes, ``check`` every
30 s, ``remarks build`` every minute — each a real ``asurso-sync`` process — and the cabinet (uvicorn, in this
process) with a client asking its pages and posting verdicts, plus 50 parallel wrong logins every minute. At the
end: exit codes of every process (4 must never appear; 7 is a second sync meeting the lock, as designed), the
mirror and the findings compared with a fault-free run at the same clock, verdicts and their audit rows all
present, peak RSS of the processes, p95 latency of the cabinet's pages during the soak.

Run: python -m benchmarks.soak --minutes 10     (figures of record: benchmarks/RESULTS.md, «Soak»)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

CLOCK = datetime(2026, 11, 23, 16, 5)
AS_OF = CLOCK.isoformat()
CABINET_PASSWORD = "пароль-нагрузки-1"  # noqa: S105 - the soak's own cabinet, in a temporary folder


@dataclass
class Tally:
    codes: Counter[tuple[str, int]] = field(default_factory=Counter)
    internal: list[str] = field(default_factory=list)  # stderr of every exit 4
    latencies: list[float] = field(default_factory=list)
    verdicts_posted: int = 0
    page_errors: Counter[int] = field(default_factory=Counter)
    wrong_logins: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _env(folder: Path, base: str, password: str) -> dict[str, str]:
    return {
        **os.environ,
        "ASURSO_SYNC_CONFIG": str(folder / "config.toml"),
        "ASURSO_SYNC_ASURSO__BASE_URL": base,
        "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        "ASURSO_SYNC_SYNC__TIMEOUT": "3",
        "ASURSO_DEMO_PASSWORD": password,
    }


def _run(name: str, args: list[str], env: dict[str, str], tally: Tally) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "asurso_sync", *args], env=env, capture_output=True, text=True, timeout=1800
    )
    with tally.lock:
        tally.codes[(name, proc.returncode)] += 1
        if proc.returncode == 4 or "Traceback" in proc.stderr or "never awaited" in proc.stderr:
            tally.internal.append(f"{name}: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
    return proc.returncode


def _loop(name: str, args: list[str], env: dict[str, str], tally: Tally, until: float, every: float) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        _run(name, args, env, tally)
        # the next start is ``every`` after this one's, but never past the soak's end: a loop does not wait out a
        # period the soak no longer has (the short test's 2-minute snapshot loop slept 110 s past its end)
        time.sleep(max(0.0, min(every - (time.monotonic() - started), until - time.monotonic())))


CHECK = ["check", "--stale-ok", "--as-of", AS_OF, "-f", "json", "-o"]


def _signed_in(base: str) -> httpx.Client:
    """The deputy's browser, signed in before the attacker starts: both come from 127.0.0.1, and the attacker's wrong
    passwords throttle that address (as they should) — a deputy signing in after them was refused and the soak
    posted no verdict (seen once under load)."""
    client = httpx.Client(base_url=base, timeout=60)
    assert client.post("/login", data={"password": CABINET_PASSWORD}).status_code == 303
    return client


def _cabinet_client(client: httpx.Client, tally: Tally, until: float) -> None:
    pages = ["/", "/teachers", "/classes", "/rules", "/lists", "/waivers", "/quality", "/run"]
    with closing(client):
        turn = 0
        while time.monotonic() < until:
            path = pages[turn % len(pages)]
            turn += 1
            started = time.perf_counter()
            page = client.get(path)
            elapsed = time.perf_counter() - started
            with tally.lock:
                tally.latencies.append(elapsed)
                if page.status_code != 200:
                    tally.page_errors[page.status_code] += 1
            if path == "/rules" and page.status_code == 200:
                rule = re.search(r'href="(/rules/[A-Z]+\d+)"', page.text)
                listing = client.get(rule.group(1)).text if rule else ""
                found = re.search(r'href="/finding/([0-9a-f]+)"', listing)
                if found:
                    fp = found.group(1)
                    form = client.get(f"/finding/{fp}").text
                    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
                    if csrf:
                        posted = client.post(
                            f"/finding/{fp}/verdict",
                            data={"csrf": csrf.group(1), "verdict": "right", "comment": f"нагрузка {turn}"},
                        )
                        if posted.status_code == 303:
                            with tally.lock:
                                tally.verdicts_posted += 1
                        else:
                            with tally.lock:
                                tally.page_errors[posted.status_code] += 1
            time.sleep(0.5)


async def _wrong_logins(base: str, n: int) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        answers = await asyncio.gather(
            *(client.post("/login", data={"password": f"неверный-{i}"}) for i in range(n)), return_exceptions=True
        )
    return sum(1 for a in answers if isinstance(a, httpx.Response))


def _attacker(base: str, tally: Tally, until: float) -> None:
    while time.monotonic() < until:
        done = asyncio.run(_wrong_logins(base, 50))
        with tally.lock:
            tally.wrong_logins += done
        time.sleep(max(0.0, min(60.0, until - time.monotonic())))


def _findings(path: Path) -> list[tuple[str, str]]:
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    return sorted((f["rule"], f["fingerprint"]) for f in data["findings"])


def _reference(folder: Path, size: str) -> tuple[dict[str, list[tuple[Any, ...]]], list[tuple[str, str]]]:
    """The same school at the same clock without faults: one full sync and one check."""
    from adapters.emulator.server import Emulator, EmulatorSettings
    from asurso_sync.demo import prepare
    from cache import canonical_dump, open_cache

    emu = Emulator(EmulatorSettings(size=size, clock=CLOCK, control=True))  # type: ignore[arg-type]
    prepare(folder, emu, 25)
    password = os.environ["ASURSO_DEMO_PASSWORD"]
    with _served(emu) as base:
        tally = Tally()
        env = _env(folder, base, password)
        assert _run("sync --all", ["sync", "--all"], env, tally) == 0, tally
        _run("check", [*CHECK, str(folder / "check.json")], env, tally)
    with closing(open_cache(folder / "cache.db", create=False)) as db:
        return canonical_dump(db), _findings(folder / "check.json")


class _served:
    """An ASGI app under uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="critical", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def soak(minutes: float, size: str = "tiny", root: Path | None = None, *, hang_seconds: float = 5.0) -> dict[str, Any]:
    """The soak; ``hang_seconds``: how long a hanging answer hangs (past the client's 3 s timeout by default; the
    short test makes it shorter than the timeout, to spend its minutes on the soak rather than on waiting)."""
    from adapters.emulator.faults import STANDARD
    from adapters.emulator.server import Emulator, EmulatorSettings
    from asurso_sync.config import load_config
    from asurso_sync.demo import prepare
    from asurso_sync.web.app import create_app
    from asurso_sync.web.auth import hash_password
    from cache import canonical_dump, open_cache, rows
    from cache.cabinet import set_password_hash

    root = root or Path(tempfile.mkdtemp(prefix="asurso-soak-"))
    for name in ("ref", "soak"):  # private folders: the outputs hold children's data (check refuses others)
        (root / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    expected_mirror, expected_findings = _reference(root / "ref", size)

    folder = root / "soak"
    faults = replace(STANDARD, reset=0.1, rate_limit=0.1, retry_after="0", hang_seconds=hang_seconds, seed=31)
    emu = Emulator(EmulatorSettings(size=size, clock=CLOCK, control=True, faults=faults))  # type: ignore[arg-type]
    prepare(folder, emu, 25)
    password = os.environ["ASURSO_DEMO_PASSWORD"]
    tally = Tally()
    started = time.monotonic()
    with _served(emu) as base:
        env = _env(folder, base, password)
        for _ in range(5):  # the first full load, until it is whole
            if _run("sync --all", ["sync", "--all"], env, tally) == 0:
                break
        _run("check", [*CHECK, str(folder / "check.json")], env, tally)
        config = load_config(folder / "config.toml", environ={"ASURSO_DEMO_PASSWORD": password})
        with closing(open_cache(config.cache.path)) as db:
            set_password_hash(db, hash_password(CABINET_PASSWORD))
        until = time.monotonic() + minutes * 60
        with _served(create_app(config)) as cabinet:
            workers = [
                threading.Thread(target=_loop, args=("sync", ["sync"], env, tally, until, 0)),
                threading.Thread(
                    target=_loop, args=("sync --snapshot", ["sync", "--snapshot"], env, tally, until, 120)
                ),
                threading.Thread(
                    target=_loop, args=("check", [*CHECK, str(folder / "soak-check.json")], env, tally, until, 30)
                ),
                threading.Thread(
                    target=_loop,
                    args=("remarks build", ["remarks", "build", "--out", str(folder / "lists")], env, tally, until, 60),
                ),
                threading.Thread(target=_cabinet_client, args=(_signed_in(cabinet), tally, until)),
                threading.Thread(target=_attacker, args=(cabinet, tally, until)),
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        # the night after the soak: one more sync that must finish whole, then the check the comparison uses
        for _ in range(5):
            if _run("sync after the soak", ["sync"], env, tally) == 0:
                break
        _run("check after the soak", [*CHECK, str(folder / "final.json")], env, tally)
    with closing(open_cache(config.cache.path, create=False)) as db:
        mirror = canonical_dump(db)
        verdicts = len(rows(db, 'SELECT * FROM "adjudication"'))
        audited = len(rows(db, """SELECT * FROM "audit_log" WHERE "action" = 'web-verdict'"""))
    final_findings = _findings(folder / "final.json") if (folder / "final.json").exists() else []
    latencies = sorted(tally.latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "minutes": minutes,
        "seconds": round(time.monotonic() - started),
        "runs": {f"{name} → {code}": n for (name, code), n in sorted(tally.codes.items())},
        "exit_4": sum(n for (_name, code), n in tally.codes.items() if code == 4),
        "internal": tally.internal,
        "mirror_identical": mirror == expected_mirror,
        "mirror_rows": sum(map(len, mirror.values())),
        "findings_identical": final_findings == expected_findings,
        # what differs, when something does: the tables, and the findings missing or extra (rule, fingerprint)
        "mirror_tables_differing": sorted(
            t for t in set(mirror) | set(expected_mirror) if mirror.get(t) != expected_mirror.get(t)
        ),
        "findings_missing": sorted(set(expected_findings) - set(final_findings))[:20],
        "findings_extra": sorted(set(final_findings) - set(expected_findings))[:20],
        "findings": len(expected_findings),
        "verdicts_posted": tally.verdicts_posted,
        "verdicts_stored": verdicts,
        "verdict_audit_rows": audited,
        "wrong_logins": tally.wrong_logins,
        "cabinet_requests": len(latencies),
        "cabinet_p95_ms": round(p95 * 1000),
        "cabinet_median_ms": round(statistics.median(latencies) * 1000) if latencies else 0,
        "cabinet_non_200": dict(tally.page_errors),
        "peak_rss_mb_process": round(peak_children),
        "peak_rss_mb_harness_and_cabinet": round(peak_self),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--size", default="tiny")
    args = parser.parse_args()
    result = soak(args.minutes, args.size)
    for key, value in result.items():
        print(f"{key}: {value}")
    ok = (
        result["exit_4"] == 0
        and result["mirror_identical"]
        and result["findings_identical"]
        and result["verdicts_stored"] >= result["verdicts_posted"]
        and result["verdict_audit_rows"] >= result["verdicts_posted"]
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
