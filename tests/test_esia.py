"""The Госуслуги login (issue #21): «login-esia» through the real client against the emulator on loopback — every
second factor, the QR code, refusals, two schools — then renewal over many nights, a refused renewal (one letter,
the authentication exit code), the token file's mode and redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from typer.testing import CliRunner

from adapters.emulator.esia import DEMO_LOGIN, DEMO_PASSWORD, DEMO_TOTP_SECRET, EsiaSettings, totp
from adapters.emulator.faults import Faults
from adapters.emulator.server import Emulator
from adapters.mail.backends import MemoryBackend
from adapters.netschool.client import NetSchoolClient
from adapters.netschool.errors import EsiaLoginRequired, RenewalRefused
from adapters.netschool.esia import EsiaMethod
from asurso_sync import exitcodes
from asurso_sync.cli import app
from asurso_sync.config import Config, example_config_text, load_config
from asurso_sync.connect import make_client, token_path
from asurso_sync.logs import redact
from asurso_sync.sync import SyncOptions, sync_once
from asurso_sync.tokens import TokenFile, fingerprint
from cache import open_cache, outbox_rows
from tests.emu import serve, serve_process, tiny
from tests.schools import Schools, no_wait


class LazyInput(io.RawIOBase):
    """Keyboard input typed when asked: each item is a line, or a function giving it at that moment (a code
    that has just arrived by SMS)."""

    def __init__(self, lines: list[str | Callable[[], str]]) -> None:
        self.lines = list(lines)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.lines:
            return 0
        item = self.lines.pop(0)
        data = ((item() if callable(item) else item) + "\n").encode()
        buffer[: len(data)] = data
        return len(data)


@pytest.fixture(autouse=True)
def _lazy_keyboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer's test runner takes its input as one string; a LazyInput is typed line by line when asked."""
    import typer.testing

    plain = typer.testing.make_input_stream

    def stream(value: Any, charset: str) -> Any:
        return io.BufferedReader(value) if isinstance(value, LazyInput) else plain(value, charset)

    monkeypatch.setattr(typer.testing, "make_input_stream", stream)


@contextmanager
def school(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **esia: Any) -> Iterator[tuple[Emulator, Path]]:
    """The emulator with its Госуслуги side served on loopback and a config for it (ESIA-only unless told)."""
    esia.setdefault("only", True)
    faults = Faults(drifts=frozenset(esia.pop("drifts", ())))
    emu = tiny(esia=EsiaSettings(**esia), faults=faults)
    with serve(emu) as base:
        cfg = tmp_path / "config.toml"
        cfg.write_text(example_config_text(), encoding="utf-8")
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__BASE_URL", base)
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__ESIA_URL", f"{base}/gosuslugi")
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__AUTH", "esia" if esia["only"] else "auto")
        monkeypatch.setenv("ASURSO_SYNC_SYNC__MIN_INTERVAL", "0")
        monkeypatch.setenv("ASURSO_SYNC_MAIL__BACKEND", "memory")
        monkeypatch.setenv("ASURSO_SYNC_MAIL__DEPUTY_ADDR", "zavuch@sota.example")
        monkeypatch.setenv("ASURSO_PASSWORD", "Сота-2026")
        yield emu, cfg


def config_of(cfg: Path) -> Config:
    return load_config(cfg)


def login(runner: CliRunner, cfg: Path, lines: list[str | Callable[[], str]], *args: str) -> Any:
    return runner.invoke(app, ["--config", str(cfg), "login-esia", *args], input=LazyInput(lines))  # type: ignore[arg-type]


def stored_token(cfg: Path) -> str:
    stored = TokenFile(token_path(config_of(cfg))).load()
    assert stored is not None and stored.refresh_token
    return stored.refresh_token


def assert_private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_password_sms_with_anomaly_and_skippable_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    with school(tmp_path, monkeypatch, mfa="sms", anomaly=True, change_password=True, max_quiz=True) as (emu, cfg):
        sms = emu.esia.sms
        result = login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD, lambda: sms[-1], lambda: sms[-1], ""])
        assert result.exit_code == 0, result.output
        assert "проверяют необычный вход" in result.output  # the anomaly SMS first, then the second factor
        assert "код из SMS (отправлен на +7 927 ***-**-01)" in result.output
        assert "1. АНОО СОШ «Сота»" in result.output and "← школа из настроек" in result.output
        assert "Пользователь: Фролова Елена Александровна" in result.output
        path = token_path(config_of(cfg))
        assert_private(path)
        text = path.read_text(encoding="utf-8")
        assert DEMO_PASSWORD not in text and DEMO_LOGIN not in text  # the Госуслуги password is never stored
        token = json.loads(text)["refresh_token"]
        assert token in emu.esia.refresh and token not in result.output
        assert emu.write_attempts == []  # nothing but reads reached asurso.ru


def test_wrong_sms_code_is_asked_again_then_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="sms", second_school=False) as (emu, cfg):
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD, "000000", lambda: emu.esia.sms[-1]])
        assert result.exit_code == 0, result.output
        assert "Код неверный. Осталось попыток: 2." in result.output


def test_totp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="totp", second_school=False) as (emu, cfg):
        code = lambda: totp(emu.esia.identity.totp_secret)  # noqa: E731 - the authenticator app on the phone
        result = login(CliRunner(), cfg, [DEMO_PASSWORD, code], "--login", DEMO_LOGIN)
        assert result.exit_code == 0, result.output
        assert "код из приложения-аутентификатора" in result.output
        assert emu.esia.sms == []


def test_push_is_confirmed_in_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="push", second_school=False) as (emu, cfg):
        monkeypatch.setattr("adapters.netschool.esia.POLL_SECONDS", 0.05)

        def owner() -> None:  # the deputy taps «Подтвердить» when the request arrives
            deadline = time.monotonic() + 10
            while not emu.esia.approve_push() and time.monotonic() < deadline:
                time.sleep(0.02)

        threading.Thread(target=owner, daemon=True).start()
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == 0, result.output
        assert "подтвердите вход там" in result.output


def test_push_rejected_is_a_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="push", second_school=False) as (emu, cfg):
        monkeypatch.setattr("adapters.netschool.esia.POLL_SECONDS", 0.05)

        def owner() -> None:  # the deputy taps «Отклонить» when the request arrives (not after a guessed delay)
            deadline = time.monotonic() + 60
            while not emu.esia.approve_push(False) and time.monotonic() < deadline:
                time.sleep(0.02)

        threading.Thread(target=owner, daemon=True).start()
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == exitcodes.AUTH, result.output
        assert "Вход отклонён в приложении «Госуслуги»" in result.output
        assert not token_path(config_of(cfg)).exists()


def test_qr_code_expires_then_a_new_one_is_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, qr_seconds=0.5, second_school=False) as (emu, cfg):
        shown: list[str] = []

        done = threading.Event()

        def phone() -> None:  # the first code is not scanned in time; every later one is, as soon as it is shown
            while not done.is_set():  # (a machine under load may let a second code expire too: scan the newest)
                later = list(emu.esia.qrs.values())[1:]
                if later and not later[-1].scanned:
                    shown.append(later[-1].signed_token)
                    emu.esia.scan(later[-1].signed_token)
                time.sleep(0.02)

        threading.Thread(target=phone, daemon=True).start()
        try:
            result = login(CliRunner(), cfg, [], "--qr")
        finally:
            done.set()
        assert result.exit_code == 0, result.output
        assert "Прежний QR-код больше не действует — вот новый." in result.output
        drawn = io.StringIO()  # the code on the screen is the one the portal issued
        segno.make(f"gosuslugi://auth/signed_token={shown[0]}", error="l").terminal(out=drawn, compact=True)
        assert drawn.getvalue() in result.output
        assert shown[0] not in result.output  # the signed token is shown only as the picture


def test_qr_never_scanned_ends_with_a_clear_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, qr_seconds=0.2, second_school=False) as (emu, cfg):
        result = login(CliRunner(), cfg, [], "--qr")
        assert result.exit_code == exitcodes.AUTH
        assert "QR-код так и не отсканировали" in result.output
        assert len(emu.esia.qrs) == 3


@pytest.mark.parametrize(
    ("setup", "password", "expected"),
    [
        ({"captcha_after": 0}, DEMO_PASSWORD, "войдите по QR-коду — «asurso-sync login-esia --qr»"),
        ({"locked": True}, DEMO_PASSWORD, "Учётная запись на Госуслугах заблокирована"),
        ({}, "не тот пароль", "Госуслуги: неверный пароль"),
    ],
)
def test_portal_refusals_are_one_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: dict[str, Any], password: str, expected: str
) -> None:
    with school(tmp_path, monkeypatch, **setup) as (_emu, cfg):
        result = login(CliRunner(), cfg, [DEMO_LOGIN, password])
        assert result.exit_code == exitcodes.AUTH, result.output
        assert expected in " ".join(result.output.split())
        assert "Traceback" not in result.output
        assert not token_path(config_of(cfg)).exists()


def test_captcha_after_repeated_wrong_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch) as (_emu, cfg):
        runner = CliRunner()
        for _ in range(3):
            assert login(runner, cfg, [DEMO_LOGIN, "неверный"]).exit_code == exitcodes.AUTH
        result = login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD])  # even the right password now needs a CAPTCHA
        assert result.exit_code == exitcodes.AUTH
        assert "капчу" in result.output


def test_two_schools_choice_and_the_wrong_one_is_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="none") as (_emu, cfg):
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD, "2"])
        assert result.exit_code == exitcodes.AUTH, result.output
        assert "Выбрана другая школа: «МБОУ «Школа № 2» г.о. Самара»" in result.output
        assert not token_path(config_of(cfg)).exists()
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD, "7", "1"])
        assert result.exit_code == 0, result.output
        assert "Введите число от 1 до 2." in result.output


def test_renewal_over_many_nights_rotates_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nightly runs for longer than a token lives (14 days): each spends the stored token and stores the next."""
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg):
        assert login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        config = config_of(cfg)
        path = token_path(config)
        seen = {stored_token(cfg)}

        async def night() -> str | None:
            async with make_client(config, sleep=no_wait) as client:
                return client.method

        for _ in range(30):
            emu.clock += timedelta(days=1)
            assert asyncio.run(night()) == "esia"
            token = stored_token(cfg)
            assert token not in seen  # rotated: the spent one is never stored again
            seen.add(token)
            assert_private(path)
        stored = TokenFile(path).load()
        assert stored is not None and stored.renewals == 30
        assert emu.esia.renewals == 30 and emu.esia.refusals == 0
        assert sum(not t.revoked for t in emu.esia.refresh.values()) == 1


@pytest.mark.parametrize(
    ("drift", "first", "second"),
    [
        ("", "answer", "answer"),
        ("renewal_portal_only", "portal", "portal"),
        ("renewal_answer_only", "answer", "answer"),
    ],
)
def test_renewal_tries_the_candidates_in_order_and_records_the_one_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drift: str, first: str, second: str
) -> None:
    """Issue #32: «login-esia» keeps both candidates (the login answer's refreshToken and the portal session's
    token); a renewal offers the answer's first, then the portal's, and the token file records which one the server
    took — its kind and a fingerprint, not the token — so the next night offers that one first."""
    with school(tmp_path, monkeypatch, mfa="none", second_school=False, drifts={drift} - {""}) as (emu, cfg):
        assert login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        config = config_of(cfg)
        path = token_path(config)
        stored = TokenFile(path).load()
        assert stored is not None and stored.refresh_token and stored.portal_token and stored.accepted is None
        portal = stored.portal_token
        if drift == "renewal_answer_only":  # as if the portal's token had worked before: offered first, refused
            stored.accepted = "portal"
            TokenFile(path).save(stored)

        async def night() -> dict[str, str]:
            async with make_client(config, sleep=no_wait) as client:
                return dict(client.stats.variants)

        accepted = []
        for _ in range(2):
            emu.clock += timedelta(days=1)
            offered = stored_token(cfg)  # the answer's token the night offers (spent, and replaced, if accepted)
            accepted.append(asyncio.run(night())["renewal_token"])
        assert accepted == [first, second]
        stored = TokenFile(path).load()
        assert stored is not None and stored.accepted == second and stored.accepted_at
        used = portal if second == "portal" else offered
        assert used and stored.accepted_fingerprint == fingerprint(used) != used  # the kind and a fingerprint
        # the refused candidate is offered once, then dropped from the file: never offered again
        assert emu.esia.refusals == (0 if not drift else 1)
        if drift == "renewal_answer_only":
            assert stored.portal_token is None and stored.refresh_token
        assert_private(path)


def test_refused_renewal_sends_one_notice_and_ends_with_the_auth_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, schools: Schools
) -> None:
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg):
        schools.full_sync_cache(tmp_path, emu.clock)  # the year loaded before: the good night is a nightly sync
        runner = CliRunner()
        assert login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        config = config_of(cfg)
        backend = MemoryBackend()
        options = SyncOptions(mode="incremental", lookback_days=3)
        asyncio.run(sync_once(config, options, sleep=no_wait, backend=backend))  # one good night
        token = stored_token(cfg)
        httpx.post(f"{config.asurso.base_url}/_emulator/esia", json={"revoke": True})  # e.g. the password changed
        with pytest.raises(RenewalRefused):
            asyncio.run(
                sync_once(config, SyncOptions(mode="incremental", lookback_days=3), sleep=no_wait, backend=backend)
            )
        assert len(backend.outbox) == 1
        letter = backend.outbox[0]
        assert letter["To"] == "zavuch@sota.example"
        assert letter["Subject"] == "asurso-sync: нужно заново войти через Госуслуги"
        assert "asurso-sync login-esia" in letter.get_content() and token not in letter.get_content()
        for _ in range(3):  # later nights: the same answer, no second letter, and no more tries with a dead token
            with pytest.raises(EsiaLoginRequired, match="отказал в продлении"):
                asyncio.run(sync_once(config, SyncOptions(mode="incremental"), sleep=no_wait, backend=backend))
        assert len(backend.outbox) == 1 and emu.esia.refusals == 2  # each candidate offered once, never again
        result = runner.invoke(app, ["--config", str(cfg), "sync"])
        assert result.exit_code == exitcodes.AUTH
        assert "asurso-sync login-esia" in result.output
        status = runner.invoke(app, ["--config", str(cfg), "status"])
        assert status.exit_code == exitcodes.ATTENTION
        assert "сервер отказал в продлении входа через Госуслуги" in " ".join(status.output.split())
        assert "заместитель директора уведомлён письмом" in " ".join(status.output.split())
        with closing(open_cache(config.cache.path, create=False)) as db:
            assert [r.kind for r in outbox_rows(db)].count("relogin") == 1
        # signing in again clears the refusal; the next night renews
        assert login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        report = asyncio.run(sync_once(config, SyncOptions(mode="incremental"), sleep=no_wait, backend=backend))
        assert report.status == "ok"
        assert runner.invoke(app, ["--config", str(cfg), "status"]).exit_code == 0


def test_a_server_failure_during_renewal_keeps_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5xx or a dropped connection is not a refusal: no letter, the token stays for the next night."""
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (_emu, cfg):
        assert login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        config = config_of(cfg)
        token = stored_token(cfg)

        def down(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/webapi/login":
                return httpx.Response(503, text="<html><title>503</title></html>")
            return httpx.Response(200, json={"productName": "Сетевой Город", "schoolLogin": False})

        backend = MemoryBackend()
        with pytest.raises(Exception, match=r"недоступ|повторите") as caught:
            asyncio.run(
                sync_once(config, SyncOptions(mode="incremental"), transport=httpx.MockTransport(down), sleep=no_wait)
            )
        assert not isinstance(caught.value, RenewalRefused)
        assert stored_token(cfg) == token and backend.outbox == []


def test_auto_prefers_the_stored_login_and_falls_back_to_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with school(tmp_path, monkeypatch, only=False, mfa="none", second_school=False) as (emu, cfg):
        config = config_of(cfg)

        async def method() -> str | None:
            async with make_client(config_of(cfg), sleep=no_wait) as client:
                return client.method

        assert asyncio.run(method()) == "password"  # nothing stored: the password, as the server allows it
        assert login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        assert asyncio.run(method()) == "esia"
        emu.esia.revoke_all()
        with caplog.at_level(logging.WARNING):
            assert asyncio.run(method()) == "password"
        assert "входим по паролю" in caplog.text
        stored = TokenFile(token_path(config)).load()
        assert stored is not None and stored.refused is not None


def test_esia_only_server_without_a_stored_login_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with school(tmp_path, monkeypatch) as (_emu, cfg):
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__AUTH", "auto")
        result = CliRunner().invoke(app, ["--config", str(cfg), "login-check"])
        assert result.exit_code == exitcodes.AUTH
        out = " ".join(result.output.split())
        assert "Сервер принимает только вход через Госуслуги" in out and "asurso-sync login-esia" in out
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__AUTH", "password")
        result = CliRunner().invoke(app, ["--config", str(cfg), "login-check"])
        assert result.exit_code == exitcodes.AUTH
        assert "Вход по логину и паролю на этом сервере отключён" in " ".join(result.output.split())


def test_the_token_never_reaches_logs_or_recordings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (_emu, cfg):
        runner = CliRunner()
        assert login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD]).exit_code == 0
        first = stored_token(cfg)
        record = tmp_path / "rec"
        result = runner.invoke(app, ["--config", str(cfg), "-vv", "login-check", "--record", str(record)])
        assert result.exit_code == 0, result.output
        assert "через Госуслуги" in result.output
        second = stored_token(cfg)
        texts = [result.output, *(p.read_text(encoding="utf-8") for p in record.iterdir())]
        for text in texts:
            assert first not in text and second not in text
        assert any('"refresh_token": "***"' in t for t in texts[1:])
        assert second not in redact(f"refresh_token={second}&x=1")


def test_a_crash_while_storing_keeps_the_old_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "t.json"
    store = TokenFile(path)
    store.rotate("старый", base_url="https://asurso.ru")

    def crash(self: Path, target: Any) -> None:
        raise OSError("диск отключён")

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(OSError):
        store.rotate("новый", base_url="https://asurso.ru")
    monkeypatch.undo()
    stored = store.load()
    assert stored is not None and stored.refresh_token == "старый"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary file left behind
    assert_private(path)
    assert path.stat().st_size > 0


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A certificate authority of our own (like НУЦ Минцифры: not in the system's set) and a 127.0.0.1 certificate
    it signed: (ca.pem, cert.pem, key.pem)."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    ca_ext = ("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # P-256: milliseconds (RSA 2048: ~0.2 s CPU)
    openssl("req", "-x509", *ec, "-nodes", "-days", "2", "-subj", "/CN=Test Root CA",
            "-keyout", "ca.key", "-out", "ca.pem", *ca_ext)  # fmt: skip
    openssl("req", *ec, "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "req.csr")
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
        "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    openssl("x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-out", "cert.pem", "-extfile", "ext.cnf")  # fmt: skip
    return folder / "ca.pem", folder / "cert.pem", folder / "key.pem"


def test_the_portal_certificate_is_checked_with_the_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal over HTTPS with a certificate of a root the machine does not know: no password is sent and the
    message names ca_bundle; with the root in [asurso] ca_bundle the login goes through."""
    ca, cert, key = make_ca(tmp_path)
    with (
        school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg),
        serve(emu, tls=(str(cert), str(key))) as secure,
    ):
        emu.esia.settings.portal_url = f"{secure}/gosuslugi"
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__ESIA_URL", f"{secure}/gosuslugi")
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == exitcodes.CONFIG, result.output
        assert "ca_bundle" in " ".join(result.output.split())
        assert not any(path.endswith("/api/login") for _, path, _ in emu.request_log)  # the password never left
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__CA_BUNDLE", str(ca))
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == 0, result.output


def test_clients_share_one_tls_context_until_a_certificate_file_changes(tmp_path: Path) -> None:
    """Loading the system's roots cost every client ~30 ms of CPU: the context is the process's while the bundle
    and the system's roots are unchanged, a new one once the bundle changes (the scheduler runs for months)."""
    import os

    from adapters.netschool.client import ClientSettings

    ca, _cert, _key = make_ca(tmp_path)

    def context(verify: bool | str) -> ssl.SSLContext:
        settings = ClientSettings(base_url="https://asurso.invalid", login="x", password="y", scid=1, verify=verify)
        return NetSchoolClient(settings).tls_context()

    assert context(str(ca)) is context(str(ca))
    assert context(True) is context(True) and context(True) is not context(str(ca))
    unchecked = context(False)
    assert unchecked.verify_mode == ssl.CERT_NONE and context(True).verify_mode == ssl.CERT_REQUIRED
    before = context(str(ca))
    stamp = ca.stat().st_mtime + 5
    os.utime(ca, (stamp, stamp))  # the bundle replaced
    assert context(str(ca)) is not before
    with pytest.raises(OSError):  # a bundle that is gone: its error, never a stale context
        context(str(tmp_path / "missing.pem"))


@pytest.mark.slow  # its own process; in process: test_totp, test_renewal_over_many_nights_rotates_the_token
def test_as_a_user_runs_it_emulator_process_and_login_esia(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """«emulator serve --esia-only --esia-mfa totp» in its own process, then «login-esia» and «login-check»."""
    with serve_process("--size", "tiny", "--esia-only", "--esia-mfa", "totp", "--test-mode") as base:
        assert httpx.get(f"{base}/webapi/logindata").json()["schoolLogin"] is False
        cfg = tmp_path / "config.toml"
        cfg.write_text(example_config_text(), encoding="utf-8")
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__BASE_URL", base)
        monkeypatch.setenv("ASURSO_SYNC_ASURSO__ESIA_URL", f"{base}/gosuslugi")
        runner = CliRunner()
        result = login(runner, cfg, [DEMO_LOGIN, DEMO_PASSWORD, lambda: totp(DEMO_TOTP_SECRET), ""])
        assert result.exit_code == 0, result.output
        check = runner.invoke(app, ["--config", str(cfg), "login-check"])
        assert check.exit_code == 0, check.output
        assert "Вход: через Госуслуги (сохранённый вход продлён)" in check.output
        assert httpx.get(f"{base}/_emulator/esia").json()["renewals"] == 1


def test_no_linked_school_user_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with school(tmp_path, monkeypatch, mfa="none") as (emu, cfg):
        emu.esia.identity.user_ids = []
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == exitcodes.AUTH
        assert "не привязан ни один пользователь АСУ РСО" in " ".join(result.output.split())


# --- issue #31 (9): secrets in -vv logs and --record ---------------------------------------------------------------

LEAKS = [  # a secret's name followed by anything but the mask
    r"(?i)(?<![\w-])(code|state|loginstate|atlist|at|refresh_token|signed_token)=(?!\*\*\*)",
    r'(?i)"(at|atlist|loginState|refreshToken|accessToken|secureActiveToken)"\s*:\s*"(?!\*\*\*)',
    r"(?i)\(b'(at|set-cookie|cookie)', b'(?!\*\*\*)",
    r'(?i)name="(atlist|at)" value="(?!\*\*\*)',
]


def leaks(text: str) -> list[str]:
    return [m.group(0) for pattern in LEAKS for m in re.finditer(pattern, text)]


def test_login_esia_minus_vv_shows_no_code_state_or_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``login-esia -vv`` logged the hops back from Госуслуги with their secrets: ``ac/finish?code=…``,
    ``callback?code=…&state=…``, ``loginState=…``. The hops are still logged, their secrets masked."""
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (_emu, cfg):
        result = CliRunner().invoke(
            app, ["--config", str(cfg), "-vv", "login-esia"], input=LazyInput([DEMO_LOGIN, DEMO_PASSWORD])
        )
        assert result.exit_code == 0, result.output
        text = result.output
        assert "callback?code=***" in text and "loginState=***" in text  # the hops are there, masked
        assert leaks(text) == []
        token = stored_token(cfg)
        assert token not in text


def test_recordings_mask_every_session_token_code_and_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--record`` kept the other sessions' ``at`` (``requestData.atlist``, the SecurityWarning page's ATLIST) and
    the Госуслуги hops' ``code``, ``state`` and ``loginState`` (in the recorded path, the file name and
    ``Location``). Every one is masked now; the data stays readable."""
    from asurso_sync.connect import client_settings
    from asurso_sync.demo import DemoPrompter

    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg):
        config = config_of(cfg)
        record = tmp_path / "rec"

        def settings(rec: Path | None) -> Any:
            method = EsiaMethod("password", DemoPrompter(emu), login=DEMO_LOGIN, password=DEMO_PASSWORD)
            s = client_settings(config, esia=method)
            s.record_dir, s.keepalive = rec, False
            return s

        async def two_sessions() -> tuple[str, str]:
            # another session of the same person is open while the recorded one logs in
            async with NetSchoolClient(settings(None)) as other, NetSchoolClient(settings(record)) as recorded:
                assert recorded.info is not None and recorded.info.other_session
                await recorded.get_json("/webapi/context")
                assert other.info is not None
                return other.info.at, recorded.info.at

        other_at, own_at = asyncio.run(two_sessions())
        files = sorted(record.iterdir())
        texts = [f.read_text(encoding="utf-8") for f in files]
        everything = "\n".join([*texts, *(f.name for f in files)])
        assert other_at not in everything and own_at not in everything
        assert leaks(everything) == []
        assert any('"atlist": "***"' in t for t in texts) and any("callback?code=***&state=***" in t for t in texts)
        assert any("loginState=***" in t for t in texts)
        assert any('"schoolId"' in t for t in texts)  # the data itself is kept


@pytest.mark.parametrize("drift", [None, "esia_login_only"])
def test_the_login_starts_at_the_bare_crosslogin_then_the_parametrised_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drift: str | None
) -> None:
    """Issue #32: the 2026 client calls a bare ``sso/esia/crosslogin``; ``esia_permissions=1&esia_role=1`` appear
    only on ``sso/esia/login`` — tried when the bare one is not there."""
    from adapters.emulator.faults import Faults

    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg):
        emu.settings.faults = Faults(drifts=frozenset({drift} if drift else set()))
        result = login(CliRunner(), cfg, [DEMO_LOGIN, DEMO_PASSWORD])
        assert result.exit_code == 0, result.output
        starts = [(p, s) for _m, p, s in emu.request_log if "/sso/esia/" in p and "callback" not in p]
        assert starts[0] == ("/webapi/sso/esia/crosslogin", 404 if drift else 302)
        assert any(p == "/webapi/sso/esia/login" for p, _s in starts) == bool(drift)


@pytest.mark.slow  # a whole survey over loopback; the same in process: test_survey_esia_offers_each_renewal_token_once
def test_survey_esia_from_the_command_line_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``survey --esia``: the person signs in through Госуслуги at the terminal, the survey runs with that session,
    each renewal candidate is offered once, the bundle says which the server took — and no login is stored."""
    with school(tmp_path, monkeypatch, mfa="none", second_school=False) as (emu, cfg):
        bundle = tmp_path / "bundle.json"
        result = CliRunner().invoke(
            app,
            ["--config", str(cfg), "survey", "--esia", "--login", DEMO_LOGIN, "--out", str(bundle)],
            input=LazyInput([DEMO_PASSWORD]),  # type: ignore[arg-type]
        )
        assert result.exit_code in (exitcodes.OK, exitcodes.ATTENTION), result.output
        data = json.loads(bundle.read_text(encoding="utf-8"))
        assert data["variants"]["renewal_token"] == {
            "order": ["answer", "portal"],
            "answer": "accepted",
            "portal": "accepted",
        }
        line = next(c for c in data["checks"] if c["title"].startswith("Токен продления"))
        assert line["verdict"] == "ok" and "✓" in result.output
        assert not token_path(config_of(cfg)).exists() and DEMO_PASSWORD not in result.output
        assert emu.esia.renewals == 2
