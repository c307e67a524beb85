"""E-mail backends behind one interface: SMTP, a folder of .eml files, the console, memory (tests).

Messages are built by the caller with the standard library (``email.message.EmailMessage``). Errors say in
Russian what happened; ``MailTemporaryError`` may be retried, ``MailPermanentError`` must not be.
"""

from __future__ import annotations

import ipaddress
import os
import re
import smtplib
import socket
import ssl
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal, Protocol, TextIO

from adapters.oserrors import os_error_text


class MailError(Exception):
    pass


class MailTemporaryError(MailError):
    """A network problem or a 4xx answer: trying again later may succeed."""


class MailUnreachable(MailTemporaryError):
    """No connection to the mail server at all (refused, unknown host, timeout): every further letter would meet
    the same, so a mailing stops at the first one."""


class MailPermanentError(MailError):
    """A 5xx answer (unknown recipient, message refused): do not retry."""


class MailSecurityError(MailError):
    """The connection cannot be made as safely as configured (e.g. STARTTLS refused)."""


class MailBackend(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver one message; returns its Message-ID."""


def ensure_message_id(message: EmailMessage, domain: str | None = None) -> str:
    if not message.get("Message-ID"):
        message["Message-ID"] = make_msgid(domain=domain)
    return str(message["Message-ID"])


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (traffic to it never leaves the computer)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class SMTPBackend:
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.security == "none" and not is_loopback(self.host):
            raise MailSecurityError(
                f"Почта без шифрования разрешена только для ретранслятора на этой машине, а указан {self.host}. "
                'Укажите [mail] security = "starttls" (порт 587) или "ssl" (порт 465).'
            )

    def send(self, message: EmailMessage) -> str:
        msgid = ensure_message_id(message)
        context = ssl.create_default_context(cafile=self.cafile)
        try:
            smtp = _connect_smtp(self, context)
            with smtp:
                smtp.ehlo()
                if self.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise MailSecurityError(
                            f"Почтовый сервер {self.host}:{self.port} не поддерживает STARTTLS, а без шифрования "
                            "письма с персональными данными не отправляются. Проверьте [mail] host, port и security."
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except MailError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise MailPermanentError(f"Почтовый сервер не принял логин [mail] user: {_reply(exc)}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailPermanentError(f"Почтовый сервер отказался принять адрес: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise MailTemporaryError(f"Почтовый сервер временно отказал: {_reply(exc)}") from exc
            raise MailPermanentError(f"Почтовый сервер отказал: {_reply(exc)}") from exc
        except ssl.SSLError as exc:
            raise MailSecurityError(f"Ошибка TLS при соединении с {self.host}: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise MailTemporaryError(f"Нет связи с почтовым сервером {self.host}:{self.port}: {exc}") from exc
        return msgid


def _connect_smtp(backend: SMTPBackend, context: ssl.SSLContext) -> smtplib.SMTP:
    try:
        if backend.security == "ssl":
            return smtplib.SMTP_SSL(backend.host, backend.port, timeout=backend.timeout, context=context)
        return smtplib.SMTP(backend.host, backend.port, timeout=backend.timeout)
    except ssl.SSLError:
        raise
    except socket.gaierror as exc:
        raise MailUnreachable(
            f"Адрес почтового сервера {backend.host} не найден ({os_error_text(exc)}): проверьте [mail] host"
        ) from exc
    except (OSError, smtplib.SMTPConnectError) as exc:
        detail = os_error_text(exc)
        raise MailUnreachable(
            f"Нет связи с почтовым сервером {backend.host}:{backend.port} ({detail}): проверьте [mail] host и port "
            "и доступен ли сервер"
        ) from exc


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {text}"


@dataclass
class FileBackend:
    """Writes each message as an .eml file (mode 0600) into a folder: the outbox preview."""

    folder: Path

    def send(self, message: EmailMessage) -> str:
        msgid = ensure_message_id(message)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", msgid.strip("<>"))[:80]
        target = self.folder / f"{slug}.eml"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(message))
        return msgid


@dataclass
class ConsoleBackend:
    stream: TextIO = field(default_factory=lambda: sys.stdout)

    def send(self, message: EmailMessage) -> str:
        msgid = ensure_message_id(message)
        self.stream.write(message.as_string() + "\n" + "-" * 72 + "\n")
        return msgid


@dataclass
class MemoryBackend:
    outbox: list[EmailMessage] = field(default_factory=list)

    def send(self, message: EmailMessage) -> str:
        msgid = ensure_message_id(message)
        self.outbox.append(message)
        return msgid
