"""README «Настройка для своей школы — по шагам», followed as a new user would, against ``asurso-sync emulator serve``.

Every step is its own process, as typed in a terminal: ``init``, the config edits the steps name, ``login-check``,
a first ``sync --all`` interrupted with Ctrl+C and continued, ``status`` and ``check`` in between, the address
list, ``remarks send --dry-run``, a shadow week in which only the deputy gets the summary (with every rule's items
marked «учителям пока не отправляется»), the release, and the first teacher letters (baselines) through a real
SMTP server, ``selfcheck`` and
``schedule systemd``. The program runs at Monday 14.12.2026 07:30 of the emulated year (tests/cli_at.py), the
emulator at the same moment. Every line the program prints is checked for English.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emu import serve_process
from tests.smtp import Recorder, smtp_server
from tests.sync_helpers import wait_until_observed

pytestmark = pytest.mark.slow

NOW = "2026-12-14T07:30"
ROOT = Path(__file__).resolve().parent.parent

# Latin words a Russian message may carry: names of commands, keys, files, formats and products
ALLOWED = {
    "asurso",
    "name",  # the config key [school] name
    "shadow",  # the config key [rules] shadow
    "sync",
    "init",
    "check",
    "status",
    "remarks",
    "send",
    "dry",
    "run",
    "login",
    "all",
    "config",
    "toml",
    "cache",
    "csv",
    "xlsx",
    "html",
    "txt",
    "eml",
    "jsonl",
    "json",
    "https",
    "http",
    "smtp",
    "mail",
    "directory",
    "deputy_addr",
    "from_addr",
    "password_env",
    "password_command",
    "scid",
    "school",
    "base_url",
    "rules",
    "check_from",
    "retention",
    "keep_days",
    "auto",
    "purge",
    "true",
    "false",
    "schedule",
    "systemd",
    "service",
    "timer",
    "sudo",
    "cp",
    "etc",
    "system",
    "systemctl",
    "enable",
    "now",
    "chmod",
    "chown",
    "snapshot",
    "nightly",
    "daily",
    "weekly",
    "email",
    "id",
    "europe",
    "samara",
    "session_file",
    "ca_bundle",
    "selfcheck",
    "resend",
    "only",
    "week",
    "from",
    "to",
    "stale",
    "ok",
    "asurso_password",
    "freshness_hours",
    "sota",
    "example",
    "zavuch",
    "teachers",
    "ezh",
    "svodka",
    "teacher",
    "summary",
    "out",
    "emulator",
    "serve",
    "min_interval",
    "accept",
    "empty",
    "force",
    "param",
    "select",
    "ignore",
    "format",
    "warnings_to_teachers",
    "preview",
}
# paths, addresses, URLs, rule codes and API names are not words of a message
NOT_WORDS = re.compile(r"\S*[/@\\]\S*|\b[A-Z]{3}\d{3}\b|\[[a-z_.]+\][^\s,;)]*|«[^»]*»|\d[\w.:-]*")


def english(text: str) -> list[str]:
    """Latin words in a program's output that are not names of things (a heuristic for «every message is
    Russian»: it catches «Error», «Traceback», «full», «WARNING adapters…», «Invalid value»)."""
    cleaned = NOT_WORDS.sub(" ", text)
    return sorted({w for w in re.findall(r"[A-Za-z][A-Za-z_]{2,}", cleaned) if w.lower() not in ALLOWED})


@pytest.fixture
def emulator() -> Iterator[str]:
    with serve_process("--size", "tiny", "--clock", NOW, "--faults", "latency=0.005") as base:
        yield base


class User:
    """A person at a terminal in the school's folder: each command a new process, outputs kept for the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASURSO") and k not in ("COLUMNS", "LINES")}
        self.env |= {
            "ASURSO_PASSWORD": "Сота-2026",
            "ASURSO_TEST_NOW": NOW,
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "120",
        }
        self.printed: list[tuple[str, str]] = []

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tests.cli_at", *args]

    def run(self, *args: str, timeout: float = 120) -> tuple[int, str]:
        done = subprocess.run(
            self.argv(*args), cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        text = done.stdout + done.stderr
        self.printed.append((" ".join(args), text))
        return done.returncode, text

    def edit(self, old: str, new: str) -> None:
        path = self.folder / "config.toml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_readme_steps_on_a_fresh_machine(tmp_path: Path, emulator: str) -> None:
    folder = tmp_path / "school"
    folder.mkdir(mode=0o700)
    user = User(folder)

    # 1. init
    code, text = user.run("init")
    assert code == 0, text
    assert (folder / "config.toml").exists() and (folder / "cache.db").exists()

    # init leaves the school's own values empty: nothing runs in another school's name
    code, text = user.run("sync")
    assert code == 2 and "[school] name" in text, text

    # 2. the config: school, login, password from the environment; the emulator's address (README, step 2)
    user.edit('name = ""', 'name = "АНОО СОШ «Сота»"')
    user.edit('login = ""', 'login = "zavuch"')
    user.edit('base_url = "https://asurso.ru"', f'base_url = "{emulator}"')
    user.edit("min_interval = 0.3", "min_interval = 0")

    # 3. login-check
    code, text = user.run("login-check")
    assert code == 0, text
    assert "Вход выполнен, сессия закрыта" in text and "завуч" in text

    # 4. the first full load, interrupted (Ctrl+C) half way ...
    proc = subprocess.Popen(
        user.argv("sync", "--all"), cwd=folder, env=user.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_until_observed(folder / "cache.db", 60, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    user.printed.append(("sync --all (прервана)", out + err))
    assert proc.returncode == 130, out + err
    assert "Прервано" in err

    code, text = user.run("status")
    assert code == 1, text
    flat = " ".join(text.split())
    # the parts of the stages begun so far, or (Ctrl+C between two stages) all of them and «the rest not begun»
    found = re.search(
        r"первая полная загрузка учебного года не завершена: загружено (\d+) (?:из (\d+) част|част)", flat
    )
    assert found and int(found[1]) > 0 and (found[2] is None or int(found[1]) < int(found[2])), flat
    assert found[2] is not None or "остальные ещё не начаты" in flat, flat
    assert "прервана" in flat

    code, text = user.run("check")
    assert code == 3, text  # no remarks from a half-loaded year right after the interruption
    assert "прервана" in text and "sync" in text

    # ... and continued by the next sync --all
    code, text = user.run("sync", "--all")
    assert code == 0, text
    assert "успешно" in text
    code, text = user.run("status")
    assert code == 0, text
    assert "Данные свежие" in text and "не завершена" not in text

    code, text = user.run("check")
    assert code == 8, text  # the emulated school has violations
    first_line = text.splitlines()[0]
    assert first_line.startswith("Проверка журнала за 01.09.2026 – 14.12.2026"), first_line  # the whole year
    assert "неполные" not in text

    # 5. mail: the school's SMTP (a real server on loopback), the deputy, the address list
    with smtp_server() as (port, recorder):
        user.edit('backend = "file"', 'backend = "smtp"')
        user.edit('host = "localhost"', 'host = "127.0.0.1"')
        user.edit("port = 587", f"port = {port}")
        user.edit('security = "starttls"', 'security = "none"')
        user.edit('# deputy_addr = "zavuch@school.example"', 'deputy_addr = "zavuch@sota.example"')
        code, text = user.run("remarks", "directory")
        assert code == 0, text
        listed = (folder / "teachers.csv").read_text(encoding="utf-8-sig").splitlines()
        filled = [listed[0]] + [f"{line}t{line.split(';')[0]}@sota.example" for line in listed[1:]]
        (folder / "teachers.csv").write_text("\r\n".join(filled) + "\r\n", encoding="utf-8-sig")  # as in Excel
        user.edit('# directory = "teachers.csv"', 'directory = "teachers.csv"')

        code, text = user.run("remarks", "send", "--dry-run")
        assert code in (0, 1), text
        flat = " ".join(text.split())
        assert "Теневой запуск ([rules] shadow)" in flat and "выпущенных правил (ни одного)" in flat
        assert "список" not in text.split("Будет отправлено", 1)[1]  # in the shadow: the deputy's summary only
        assert recorder.envelopes == []

        # the shadow weeks: the deputy sees every rule's items, as teachers' lists would hold them (R23)
        code, text = user.run("remarks", "build", "--week", "2026-W49")
        assert code == 0, text
        assert "учителям пока не отправляется" in " ".join(text.split())
        assert list((folder / "remarks" / "2026-W49").glob("teacher-*-preview.txt"))
        code, text = user.run("remarks", "send", "--week", "2026-W49")
        assert code == 0, text
        shadow_week = recorder.messages()
        assert [m["To"].addresses[0].addr_spec for m in shadow_week] == ["zavuch@sota.example"]
        body = shadow_week[0].get_body(preferencelist=("plain",))
        assert body is not None and "УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ" in body.get_content()

        # the deputy releases the rules (README, step 5: all at once)
        user.edit("shadow = true", "shadow = false")
        code, text = user.run("remarks", "send", "--dry-run")
        assert code in (0, 1), text
        assert "Будет отправлено за неделю 07.12–13.12.2026" in text
        assert "Первые письма по правилам" in text and "накопленн" in text  # the shadow week was no baseline
        assert len(recorder.envelopes) == 1

        # the first Monday's letters to teachers: baselines
        code, text = user.run("remarks", "send")
        assert code == 0, text
        recorder.envelopes = recorder.envelopes[1:]
        _first_letters(recorder)

    # 6. retention and selfcheck
    user.edit("# keep_days = 1095", "keep_days = 1095")
    code, text = user.run("selfcheck")
    assert code in (0, 1), text
    assert "срок хранения персональных данных установлен" in " ".join(text.split())

    # 7. the schedule
    code, text = user.run("schedule", "systemd", "--out", "systemd/")
    assert code == 0, text
    assert "User=" in (folder / "systemd" / "asurso-sync.service").read_text(encoding="utf-8")

    for step, text in user.printed:
        assert "Traceback" not in text, step
        assert not english(text), (step, english(text), text)


def _first_letters(recorder: Recorder) -> None:
    """The first mailing is a baseline: a teacher's letter holds only the week's remarks; the backlog goes to
    the deputy as a number per teacher."""
    letters = recorder.messages()
    deputy = [m for m in letters if m["To"].addresses[0].addr_spec == "zavuch@sota.example"]
    teachers = [m for m in letters if m not in deputy]
    assert len(deputy) == 1 and teachers
    summary = deputy[0].get_body(preferencelist=("plain",))
    assert summary is not None and "НАКОПЛЕННЫЕ ЗАМЕЧАНИЯ" in summary.get_content()
    for letter in teachers:
        body = letter.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        items = text.split("\n--\n")[0].split("Срок устранения")[1]  # the sections, not the header/footer
        days = re.findall(r"(?:^\s+- |: |; )(\d\d)\.(\d\d), урок", items, flags=re.MULTILINE)
        assert days and all(m == "12" and 7 <= int(d) <= 13 for d, m in days), text  # only 07.12–13.12
