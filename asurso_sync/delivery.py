"""Delivering the outbox: each message at most once unless an operator decides otherwise.

Transient failures (network, 4xx) are retried with backoff; a permanent one (5xx, security) marks the row
``failed`` with the server's reply. A row left in ``sending`` by a crash is reported and resent only with
``resend=True``. Every send is in the audit log with its Message-ID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlite_utils import Database
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from adapters.mail.backends import (
    ConsoleBackend,
    FileBackend,
    MailBackend,
    MailError,
    MailTemporaryError,
    MailUnreachable,
    MemoryBackend,
    SMTPBackend,
)
from asurso_sync.config import Config
from asurso_sync.secrets import resolve_password
from cache import audit, claim, mark_failed, mark_sent, outbox_rows


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    already_sent: int = 0
    stuck_sending: list[str] = field(default_factory=list)
    # the mail server could not be reached at all: the mailing stopped at the first letter, the rest wait
    unreachable: str | None = None
    left_waiting: int = 0


def deliver(
    db: Database,
    backend: MailBackend,
    *,
    period: str | None = None,
    recipients: Collection[str] | None = None,
    resend: bool = False,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    report = DeliveryReport()
    wanted = {r.casefold() for r in recipients} if recipients is not None else None
    for row in outbox_rows(db, period=period):
        if wanted is not None and row.recipient.casefold() not in wanted:
            continue
        if report.unreachable is not None:
            report.left_waiting += row.state in ("pending", "failed")
            continue
        if row.state == "sent":
            report.already_sent += 1
            continue
        if row.state == "sending" and not resend:
            report.stuck_sending.append(row.recipient)
            continue
        if not claim(db, row.id, allow_sending=resend):
            continue
        message = message_from_bytes(row.message, policy=policy.default)
        assert isinstance(message, EmailMessage)
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(MailTemporaryError),
                stop=stop_after_attempt(attempts),
                wait=wait_random_exponential(multiplier=2, max=60),
                sleep=sleep,
                reraise=True,
            ):
                with attempt:
                    message_id = backend.send(message)
        except MailError as exc:
            mark_failed(db, row.id, str(exc))
            audit(db, "send-failed", {"outbox": row.id, "kind": row.kind, "period": row.period, "error": str(exc)})
            if isinstance(exc, MailUnreachable):  # every other letter would wait and fail the same way
                report.unreachable = str(exc)
                report.left_waiting += 1
            else:
                report.failed.append((row.recipient, str(exc)))
            continue
        mark_sent(db, row.id, message_id)
        audit(
            db, "send", {"outbox": row.id, "kind": row.kind, "period": row.period, "message_id": message_id}, records=1
        )
        report.sent.append(row.recipient)
    return report


def backend_from_config(config: Config) -> MailBackend:
    """The backend ``[mail] backend`` names; the SMTP password comes from the environment or a command."""
    m = config.mail
    if m.backend == "smtp":
        password = None
        if m.user:
            password = resolve_password(
                section="mail", password_env=m.password_env, password_command=m.password_command
            )
        return SMTPBackend(m.host, m.port, m.security, m.user, password, m.timeout)
    if m.backend == "file":
        return FileBackend(m.outbox_dir)
    if m.backend == "console":
        return ConsoleBackend()
    return MemoryBackend()
