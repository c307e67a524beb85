from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from asurso_sync.cli import app
from tests.emu import serve_process
from tests.sync_helpers import make_config


def test_accounts_json_has_the_fixed_deputy(runner: CliRunner) -> None:
    result = runner.invoke(app, ["emulator", "accounts", "--size", "tiny", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["scid"] == 1
    deputy = next(a for a in data["accounts"] if a["login"] == "zavuch")
    assert deputy["password"] == "Сота-2026" and deputy["role"] == "завуч"
    roles = {a["role"] for a in data["accounts"]}
    assert {"завуч", "администратор", "учитель", "ученик", "родитель"} <= roles
    teacher = next(a for a in data["accounts"] if a["role"] == "учитель")
    assert teacher["password"] == f"Учитель-{teacher['user_id']}"
    assert any(a["role_groups"] for a in data["accounts"])


def test_ground_truth_file_is_deterministic(runner: CliRunner, tmp_path: Path) -> None:
    args = [
        "emulator",
        "ground-truth",
        "--size",
        "tiny",
        "--seed",
        "2",
        "--from",
        "2026-11-09",
        "--as-of",
        "2027-01-04T07:00",
    ]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert runner.invoke(app, [*args, "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, [*args, "--out", str(b)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    lines = [json.loads(x) for x in a.read_text(encoding="utf-8").splitlines()]
    assert lines and set(lines[0]) == {"rule", "entity", "note", "owner"}
    assert all(isinstance(v, int) for line in lines for v in line["entity"].values())
    assert oct(a.stat().st_mode & 0o777) == "0o600"


def test_bad_arguments_exit_2(runner: CliRunner) -> None:
    r = runner.invoke(app, ["emulator", "ground-truth", "--from", "вчера", "--as-of", "2027-01-04T07:00"])
    assert r.exit_code == 2 and "--from" in r.stderr
    r = runner.invoke(app, ["emulator", "accounts", "--size", "huge"])
    assert r.exit_code == 2 and "tiny" in r.stderr


@pytest.mark.slow  # its own process; in process: test_emulator_login (Date header), test_emulator_data (clock control)
def test_serve_answers_over_loopback() -> None:
    with serve_process("--size", "tiny", "--clock", "2026-11-23T16:05", "--test-mode") as base:
        r = httpx.get(f"{base}/webapi/logindata", timeout=10)
        assert r.json()["productName"] == "Сетевой Город. Образование"
        assert r.headers["date"] == "Mon, 23 Nov 2026 12:05:00 GMT"
        clock = httpx.post(f"{base}/_emulator/clock", json={"advance_seconds": 3600}, timeout=10).json()
        assert clock["now"] == "2026-11-23T17:05:00"


@pytest.mark.slow  # two processes; in process: test_emulator_data::test_same_seed_same_school_and_truth_…
def test_ground_truth_identical_across_processes(tmp_path: Path) -> None:
    """Byte-identical output whatever Python's per-process string hashing is."""
    outs = []
    for hash_seed in ("1", "2"):
        target = tmp_path / f"gt{hash_seed}.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "asurso_sync",
                "emulator",
                "ground-truth",
                "--size",
                "tiny",
                "--seed",
                "9",
                "--from",
                "2026-11-09",
                "--as-of",
                "2027-01-04T07:00",
                "--out",
                str(target),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        outs.append(target.read_bytes())
    assert outs[0] == outs[1] and outs[0]


@pytest.mark.slow  # its own process; served in a thread: test_casebook::test_a_scenario_is_served_over_http
def test_serve_a_scenario_and_read_it_with_the_real_client(tmp_path: Path) -> None:
    """``emulator serve --scenario``: the school of a casebook file over HTTP, read by ``asurso-sync get``."""
    scenario = Path(__file__).resolve().parent.parent / "casebook" / "cb-36.toml"
    with serve_process("--scenario", str(scenario), "--clock", "2026-11-24T18:00") as base:
        make_config(tmp_path, base_url=base)
        env = {"ASURSO_PASSWORD": "Сота-2026", "ASURSO_SYNC_ASURSO__BASE_URL": base}
        result = CliRunner().invoke(app, ["-c", str(tmp_path / "config.toml"), "get", "subjectgroups"], env=env)
    assert result.exit_code == 0, result.output
    groups = {g["name"]: g for g in json.loads(result.stdout)}
    assert "5А/Математика" in groups and groups["5А/Математика"]["teachers"][0]["name"].startswith("Петров")
