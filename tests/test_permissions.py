"""A cache the user may read but not write (issue 19, «Why» 6): the scheduler's account owns it, the deputy looks.

As root the test really becomes another user (``seteuid`` to nobody) — root would write any file — with the files
made readable to others; as an ordinary user the cache is made read-only instead. Either way SQLite meets a file
it cannot write, as on a school's server.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asurso_sync import exitcodes
from asurso_sync.cli import app
from tests.schools import Schools, Spec

NOBODY = 65534


@contextlib.contextmanager
def as_nobody() -> Iterator[None]:
    """Root becomes nobody for the block (the saved id stays root, so it can come back)."""
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@contextlib.contextmanager
def another_user(folder: Path) -> Iterator[None]:
    cache = folder / "cache.db"
    if os.geteuid() != 0:
        cache.chmod(0o444)
        try:
            yield
        finally:
            cache.chmod(0o600)
        return
    folder.chmod(0o755)
    for item in folder.iterdir():
        if item.is_file():
            item.chmod(0o644)
    with as_nobody():
        yield


@pytest.fixture
def school(schools: Schools) -> Iterator[Path]:
    # not under pytest's tmp_path: its parents are closed to other users
    folder = Path(tempfile.mkdtemp(prefix="asurso-ro-"))
    try:
        schools.copy(folder, Spec(start=date(2026, 12, 7), weeks=1))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(runner: CliRunner, folder: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(folder / "config.toml"), *args])
    return result.exit_code, result.output


def test_read_only_commands_work_and_writing_ones_name_the_owner(runner: CliRunner, school: Path) -> None:
    # warm up what the commands import lazily: another user cannot read this test run's environment
    _run(runner, school, "status")
    _run(runner, school, "check", "--stale-ok", "--format", "csv", "-o", str(school / "warm.csv"))
    _run(runner, school, "remarks", "build", "--week", "2026-W50", "--out", str(school / "warm"))
    letters = school / "letters"
    letters.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(letters, NOBODY, NOBODY)
    before = (school / "cache.db").read_bytes()
    owner = "root" if os.geteuid() == 0 else getpass.getuser()
    with another_user(school):
        code, text = _run(runner, school, "status")
        assert code in (exitcodes.OK, exitcodes.ATTENTION), text
        assert "только для чтения" in text and f"«{owner}»" in text
        assert "повреждён" not in text

        code, text = _run(runner, school, "check", "--stale-ok")
        assert code in (exitcodes.OK, exitcodes.ATTENTION, exitcodes.VIOLATIONS), text
        assert "результаты этой проверки не сохранены" in text
        assert "Проверка журнала" in text

        code, text = _run(runner, school, "remarks", "status")
        assert code in (exitcodes.OK, exitcodes.ATTENTION), text

        code, text = _run(runner, school, "remarks", "build", "--week", "2026-W50", "--out", str(letters))
        assert code in (exitcodes.OK, exitcodes.ATTENTION), text
        assert any((letters / "2026-W50").iterdir())

        code, text = _run(runner, school, "sync")
        assert code == exitcodes.STORAGE, text
        assert "Нет прав на запись в кэш" in text and f"sudo -u {owner}" in text
        assert "Traceback" not in text and "PermissionError" not in text
    assert (school / "cache.db").read_bytes() == before  # nothing was written, not even a check run


def test_an_unreadable_cache_or_config_names_the_owner(runner: CliRunner, school: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs another user: as its owner the files stay readable")
    _run(runner, school, "status")
    school.chmod(0o755)
    (school / "config.toml").chmod(0o644)
    (school / "cache.db").chmod(0o600)
    with as_nobody():
        code, text = _run(runner, school, "status")
    assert code == exitcodes.STORAGE, text
    assert "Нет прав на чтение кэша" in text and "sudo -u root" in text
    assert "повреждён" not in text
    (school / "config.toml").chmod(0o600)
    with as_nobody():
        code, text = _run(runner, school, "status")
    assert code == exitcodes.CONFIG, text
    assert "Нет прав на чтение файла конфигурации" in text
    assert stat.S_IMODE((school / "cache.db").stat().st_mode) == 0o600


def test_a_cache_that_cannot_be_created_names_the_folder(runner: CliRunner) -> None:
    """A first sync in a folder the user may not write: one message naming the folder, exit 9, no traceback."""
    from asurso_sync.config import example_config_text

    folder = Path(tempfile.mkdtemp(prefix="asurso-ro-"))
    try:
        (folder / "config.toml").write_text(example_config_text(), encoding="utf-8")
        (folder / "config.toml").chmod(0o644)
        if os.geteuid() == 0:
            folder.chmod(0o755)
            with as_nobody():
                code, text = _run(runner, folder, "sync")
        else:
            folder.chmod(0o555)
            try:
                code, text = _run(runner, folder, "sync")
            finally:
                folder.chmod(0o755)
        assert code == exitcodes.STORAGE, text
        assert "Нет прав на запись в папку" in text and "Traceback" not in text
        assert not (folder / "cache.db").exists()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
