"""Logging: one line per event, secrets redacted wherever they would appear."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path

from adapters.redaction import redact_text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """A log line with known secrets and credential-looking values masked (the rules: adapters/redaction.py,
    shared with the client's recordings)."""
    return redact_text(text, secrets)


class RedactingFilter(logging.Filter):
    """Rewrites every record's message with known secrets and credential-looking fields masked."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add_secret(self, value: str) -> None:
        if value:
            self.secrets.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg, self.secrets)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


REDACTOR = RedactingFilter()


_LEVEL_WORDS = {logging.WARNING: "Внимание", logging.ERROR: "Ошибка", logging.CRITICAL: "Ошибка"}


class _PlainFormatter(logging.Formatter):
    """The console without -v: «Внимание: …» — no time stamp, level code or module name (those go to the log
    file and to -v)."""

    def format(self, record: logging.LogRecord) -> str:
        word = _LEVEL_WORDS.get(record.levelno)
        text = record.getMessage()
        return f"{word}: {text}" if word else text


def setup_logging(verbosity: int = 0) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _PlainFormatter()
        if verbosity <= 0
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    handler.addFilter(REDACTOR)
    handler.setLevel(level)  # a file log may lower the root level; the terminal keeps what -v asked for
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_asurso_sync", False):
            root.removeHandler(h)
    handler._asurso_sync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING if verbosity < 2 else logging.DEBUG)


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose every file (the current one and each new one after rotation) is 0600."""

    def _open(self):  # type: ignore[no-untyped-def]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, self.mode if "a" in self.mode else "a", encoding=self.encoding, errors=self.errors)


def add_file_log(path: Path, level: int = logging.INFO) -> None:
    """One line per event into a rotating file (1 MB × 5), private (0600), with the same redaction."""
    from cache.files import create_private_file, ensure_private_dir, tighten

    ensure_private_dir(path.parent)
    if not path.exists():
        create_private_file(path)
    tighten(path)
    handler = PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    handler.addFilter(REDACTOR)
    handler.setLevel(level)
    handler._asurso_sync = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level, level))
