from __future__ import annotations

import functools
import os
from collections.abc import Iterator
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's ASURSO_SYNC_* variables."""
    for name in list(os.environ):
        if name.startswith("ASURSO_SYNC_"):
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
