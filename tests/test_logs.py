from __future__ import annotations

import logging

import pytest

from asurso_sync.logs import REDACTOR, redact


def test_redacts_login_form_fields_headers_and_json() -> None:
    line = "POST /webapi/login un=zavuch&pw=8f3a1c&pw2=deadbeef00&lt=1&ver=2 at: 4012341777721575425550192"
    clean = redact(line)
    for secret in ("8f3a1c", "deadbeef00", "4012341777721575425550192"):
        assert secret not in clean
    assert "un=zavuch" in clean
    assert "4012" not in redact('{"at":"4012341777721575425550192","timeOut":3600000}')
    assert "abc" not in redact("Cookie: NSSESSIONID=abc; ESRNSec=def")


def test_known_secret_is_masked_in_any_record(caplog: pytest.LogCaptureFixture) -> None:
    REDACTOR.add_secret("Сота-2026")
    logger = logging.getLogger("asurso_sync.test")
    logger.addFilter(REDACTOR)
    try:
        with caplog.at_level(logging.INFO):
            logger.info("вход с паролем %s не удался", "Сота-2026")
    finally:
        logger.removeFilter(REDACTOR)
    assert "Сота-2026" not in caplog.text
    assert "***" in caplog.text


def test_the_console_shows_a_clean_russian_line_and_minus_v_the_technical_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue #19 (8): without -v a warning is «Внимание: …» — no time, level code or module name; -v shows them."""
    import logging

    from asurso_sync.logs import setup_logging

    setup_logging(0)
    logging.getLogger("adapters.netschool.client").warning("сервер ответил медленно")
    line = capsys.readouterr().err.strip()
    assert line == "Внимание: сервер ответил медленно"
    setup_logging(1)
    logging.getLogger("adapters.netschool.client").warning("сервер ответил медленно")
    line = capsys.readouterr().err.strip()
    assert "WARNING adapters.netschool.client: сервер ответил медленно" in line
    setup_logging(0)
