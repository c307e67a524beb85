"""The one error path: every command is guarded, and each kind of failure ends with its own documented exit code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from asurso_sync import exitcodes
from asurso_sync.cli import app
from asurso_sync.cli.common import GUARDED, parse_date, parse_period
from asurso_sync.errors import UsageError
from cache import finish_run, open_cache, start_run
from tests.conftest import edit_config


def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [(path, command)]
    return [leaf for name, sub in subs.items() for leaf in _leaves(sub, (*path, name))]


def test_every_command_runs_through_the_one_handler() -> None:
    leaves = _leaves(typer.main.get_command(app))
    assert len(leaves) >= 24
    unguarded = [" ".join(p) for p, c in leaves if not getattr(c.callback, GUARDED, False)]
    assert unguarded == []


@pytest.mark.parametrize(
    "args",
    [
        ["rules", "waive", "TML001", "--reason", "x", "--cm", "1"],
        ["rules", "waivers"],
        ["rules", "unwaive", "1"],
        ["check"],
        ["status"],
        ["remarks", "build"],
        ["sync"],
        ["purge", "--report"],
        ["selfcheck"],
        ["schedule", "list"],
    ],
)
def test_missing_or_broken_config_is_exit_2_everywhere(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    missing = runner.invoke(app, ["--config", str(tmp_path / "нет.toml"), *args])
    assert missing.exit_code == exitcodes.CONFIG, missing.output
    assert "не найден" in missing.stderr and "Traceback" not in missing.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[sync]\nconcurency = 2\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(broken), *args])
    assert result.exit_code == exitcodes.CONFIG, result.output
    assert "concurency" in result.stderr and "Traceback" not in result.output


def test_rules_explain_shows_defaults_without_a_config_but_refuses_a_broken_one(
    runner: CliRunner, tmp_path: Path
) -> None:
    alone = runner.invoke(app, ["--config", str(tmp_path / "нет.toml"), "rules", "explain", "TML005"])
    assert alone.exit_code == 0 and "days = 7" in alone.stdout and "по умолчанию" in alone.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[rules.TML005]\ndays = 10\n[sync]\nconcurency = 2\n", encoding="utf-8")
    result = runner.invoke(app, ["--config", str(broken), "rules", "explain", "TML005"])
    assert result.exit_code == exitcodes.CONFIG and "concurency" in result.stderr


def test_status_honours_the_configured_freshness(runner: CliRunner, config_file: Path) -> None:
    db = open_cache(config_file.parent / "cache.db")
    finish_run(db, start_run(db, "full"), "ok")  # the year was loaded completely once
    run = start_run(db, "nightly")
    finish_run(db, run, "ok")
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    db.execute("UPDATE sync_run SET finished_at = ?", [two_hours_ago])
    db.conn.commit()
    db.close()
    fresh = runner.invoke(app, ["--config", str(config_file), "status"])
    assert fresh.exit_code == exitcodes.OK, fresh.output
    edit_config(config_file, "freshness_hours = 26", "freshness_hours = 1")
    stale = runner.invoke(app, ["--config", str(config_file), "status"])
    assert stale.exit_code == exitcodes.ATTENTION
    assert "1 ч ([rules] freshness_hours)" in stale.stderr


def test_an_internal_error_is_exit_4_with_a_message_not_a_traceback(
    runner: CliRunner, config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("asurso_sync.cli.check.run_check", broken)
    result = runner.invoke(app, ["--config", str(config_file), "check"])
    assert result.exit_code == exitcodes.INTERNAL
    assert "внутренняя ошибка программы (ZeroDivisionError" in result.stderr and "Traceback" not in result.output


def test_a_missing_cache_is_its_own_code(runner: CliRunner, config_file: Path) -> None:
    for args in (["check"], ["rules", "waivers"], ["remarks", "status"]):
        result = runner.invoke(app, ["--config", str(config_file), *args])
        assert result.exit_code == exitcodes.STORAGE, (args, result.output)
        assert "Кэш не найден" in result.stderr
    assert not (config_file.parent / "cache.db").exists()


def test_exit_codes_are_distinct() -> None:
    codes = {k: v for k, v in vars(exitcodes).items() if k.isupper()}
    assert len(set(codes.values())) == len(codes)


def test_dates_are_typed_as_people_type_them() -> None:
    assert parse_date("07.12.2026", "--from") == parse_date("2026-12-07", "--from")
    assert parse_date("7.12.2026", "--from") == parse_date("2026-12-07", "--from")
    with pytest.raises(UsageError, match=r"--to: «31\.02\.2026» — не дата"):
        parse_date("31.02.2026", "--to")
    with pytest.raises(UsageError, match="наоборот"):
        parse_period("08.12.2026", "01.12.2026")


def test_an_inverted_period_is_refused(runner: CliRunner, config_file: Path) -> None:
    open_cache(config_file.parent / "cache.db").close()
    result = runner.invoke(app, ["--config", str(config_file), "check", "--from", "10.12.2026", "--to", "01.12.2026"])
    assert result.exit_code == exitcodes.CONFIG and "наоборот" in result.stderr


# --- issue #19 (10): a wrong address is told apart from a passing network problem -------------------------------


def _login_check(runner: CliRunner, tmp_path: Path, base_url: str) -> tuple[int, str]:
    from tests.sync_helpers import make_config

    make_config(tmp_path, base_url=base_url)
    env = {"ASURSO_PASSWORD": "Сота-2026", "ASURSO_SYNC_ASURSO__BASE_URL": base_url, "ASURSO_SYNC_SYNC__TIMEOUT": "2"}
    result = runner.invoke(app, ["-c", str(tmp_path / "config.toml"), "login-check"], env=env)
    return result.exit_code, result.output


def test_a_site_that_is_not_netschool_is_named_so_without_dumping_its_page(runner: CliRunner, tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    page = "<html><head><title>Школьный сайт</title></head><body>" + "x" * 5000 + "</body></html>"

    async def home(_request: object) -> HTMLResponse:
        return HTMLResponse(page)

    async def missing(_request: object) -> HTMLResponse:
        return HTMLResponse("<html><head><title>404 Not Found</title></head><body>nginx</body></html>", 404)

    site = Starlette(routes=[Route("/", home), Route("/webapi/logindata", missing)])
    spa = Starlette(routes=[Route("/{path:path}", home)])  # a front-end that answers every path with its page
    from tests.emu import serve

    for app_ in (site, spa):
        with serve(app_) as base:  # type: ignore[arg-type]
            code, text = _login_check(runner, tmp_path, base)
        assert code == exitcodes.WRONG_SERVER, text
        assert "не АСУ РСО" in text and "base_url" in text
        assert "<html" not in text and "xxxxx" not in text and "повторите позже" not in text.lower()


def test_https_to_a_plain_http_port_is_not_a_certificate_problem(runner: CliRunner, tmp_path: Path) -> None:
    from adapters.emulator.server import Emulator, EmulatorSettings
    from tests.emu import serve

    with serve(Emulator(EmulatorSettings(size="tiny"))) as base:
        code, text = _login_check(runner, tmp_path, base.replace("http://", "https://"))
    assert code == exitcodes.WRONG_SERVER, text
    assert "не отвечает по HTTPS" in text and "Минцифры" not in text and "ca_bundle" not in text


def test_a_name_that_does_not_resolve_is_the_address_not_a_retry() -> None:
    import asyncio
    import socket

    import httpx

    from adapters.netschool.client import ClientSettings, NetSchoolClient
    from adapters.netschool.errors import AddressNotFound, ServerUnavailable
    from asurso_sync.errors import exit_code_for

    class Resolver(httpx.AsyncBaseTransport):
        """What httpx raises when getaddrinfo fails: a ConnectError caused by the gaierror."""

        def __init__(self, kind: int) -> None:
            self.kind = kind

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                raise socket.gaierror(self.kind, "name resolution")
            except socket.gaierror as exc:
                raise httpx.ConnectError(f"[Errno {self.kind}] name resolution", request=request) from exc

    async def login(kind: int) -> None:
        settings = ClientSettings(
            base_url="https://asurso.example", login="z", password="p", scid=1, min_interval=0, keepalive=False
        )
        async with NetSchoolClient(settings, transport=Resolver(kind), sleep=lambda _s: asyncio.sleep(0)):
            pass

    with pytest.raises(AddressNotFound, match=r"asurso\.example") as caught:
        asyncio.run(login(socket.EAI_NONAME))
    assert "base_url" in str(caught.value) and exit_code_for(caught.value) == exitcodes.WRONG_SERVER
    with pytest.raises(ServerUnavailable):  # the resolver did not answer: a passing problem, retried
        asyncio.run(login(socket.EAI_AGAIN))
