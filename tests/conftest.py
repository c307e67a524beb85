from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from asurso_sync.config import example_config_text
from tests.browser import chromium
from tests.schools import Schools

# typer's CliRunner builds the click command from the Typer app on every invoke (0.02 s of CPU; the fast lane invokes
# ~250 times): an app does not change during a run, so each app's command is built once per process and reused, as
# a user's one `asurso-sync` process uses its one command
setattr(typer.testing, "_get_command", functools.cache(typer.main.get_command))  # noqa: B010

# Fixtures that make a test end-to-end: a test using one is in the slow lane whether or not it says so (the fast
# lane, -m "not slow", is the unit and in-process lane; CONTRIBUTING «Where the time goes»).
SLOW_FIXTURES = {"browser": "a real Chromium"}


def pytest_configure(config: pytest.Config) -> None:
    """A shell without job control starts ``cmd &`` with SIGINT ignored, and an ignored signal is inherited by every
    process started from it. The program is right to keep a disposition it inherited (asyncio.run then installs no
    Ctrl+C handler: a background job is not interrupted from the keyboard), but the tests that press Ctrl+C on a
    process they start must start it as a terminal would — otherwise their SIGINT is never seen and the sync runs
    to the end (found by running the interrupting tests in a loop from ``nohup … &``)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# --- where the time goes: a per-test CPU/wall report (opt-in; CONTRIBUTING «Checks and the test suite») ----------
# ``--cpu-wall N`` (or CPU_WALL=N) prints the N tests that waited longest: wall time minus CPU time (every thread of
# the worker — an in-process server counts — and the child processes it waited for, e.g. openssl) minus the time
# the main thread stood in the run queue for a core (Linux /proc; a loaded machine's share, not the test's). What is
# left is real waiting: sleeps, timeouts, sockets, a child still running. Another thread's time in the run queue is
# not known (uvicorn's in ``serve``, a worker's): on a loaded machine an HTTP test shows some waiting that is only
# load. Each worker measures its own tests and sends the figures with the test's report (``user_properties``); the
# controller collects them.
_CPU_WALL = "cpu_wall"
_CPU_WALL_START = pytest.StashKey[tuple[float, float, float]]()
_cpu_wall_rows: dict[str, tuple[float, float, float]] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-wall",
        type=int,
        default=int(os.environ.get("CPU_WALL") or 0),
        metavar="N",
        help="print the N tests with the most wall time beyond CPU time (real waiting); env CPU_WALL",
    )


def _cpu() -> float:
    """CPU seconds of this process's threads and of its children that ended."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def _queued() -> float:
    """Seconds the main thread has waited in the run queue for a core (0 where /proc does not tell)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    if item.config.getoption("cpu_wall"):
        item.stash[_CPU_WALL_START] = (time.perf_counter(), _cpu(), _queued())
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    start = item.stash.get(_CPU_WALL_START, None)
    if start is not None and call.when == "teardown":  # setup, call and teardown are over: the report carries it
        wall, cpu, queued = time.perf_counter() - start[0], _cpu() - start[1], _queued() - start[2]
        item.user_properties.append((_CPU_WALL, (wall, cpu, queued)))
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == _CPU_WALL:
                _cpu_wall_rows[report.nodeid] = value  # type: ignore[assignment]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    top = config.getoption("cpu_wall")
    if not top or not _cpu_wall_rows:
        return
    rows = sorted(_cpu_wall_rows.items(), key=lambda kv: kv[1][0] - kv[1][1] - kv[1][2], reverse=True)
    walls, cpus = sum(r[0] for r in _cpu_wall_rows.values()), sum(r[1] for r in _cpu_wall_rows.values())
    tr = terminalreporter
    tr.section(f"waiting: wall − CPU − queued, top {top} of {len(rows)} tests (wall {walls:.1f} s, CPU {cpus:.1f} s)")
    tr.write_line(f"{'waited':>7} {'wall':>7} {'CPU':>7} {'queued':>7}  test")
    for nodeid, (wall, cpu, queued) in rows[:top]:
        tr.write_line(f"{wall - cpu - queued:7.2f} {wall:7.2f} {cpu:7.2f} {queued:7.2f}  {nodeid}")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's ASURSO_SYNC_* variables nor her ASURSO_PASSWORD — nor the demo password that
    ``benchmarks.accuracy.simulate`` and ``bench_rules`` leave in the worker's environment for the rest of the process
    (a test that passed only when such a test had run before it in the same worker: test_netschool_emulator's
    «no password» login-check). A test that needs the variable sets it."""
    for name in list(os.environ):
        if name.startswith("ASURSO_SYNC_") or name == "ASURSO_PASSWORD":
            monkeypatch.delenv(name)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def config_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "config.toml"
    path.write_text(example_config_text(), encoding="utf-8")
    yield path


def edit_config(path: Path, old: str, new: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def schools(tmp_path_factory: pytest.TempPathFactory) -> Schools:
    """Synced emulated schools, each built once per run (shared by xdist workers) and copied per test."""
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's base is a subfolder of the run's: share the run's folder, never an older run's
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = run / "schools"
    shared.mkdir(exist_ok=True)
    return Schools(shared)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per worker for the whole run (starting one costs seconds); tests using it are slow."""
    yield from chromium()


# --- the order of a run (issue #35): the longest tests first on every xdist worker; tests/ordering.py ------------
@pytest.hookimpl(specname="pytest_collection_modifyitems", trylast=True)  # after -m's deselection
def pytest_collection_modifyitems_longest_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests.ordering import longest_first

    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    items[:] = longest_first(items, workers)


# --- end of the order of a run -----------------------------------------------------------------------------------
