"""Mail backends (one shared set of tests for all of them, SMTP through a real aiosmtpd server) and the outbox."""

from __future__ import annotations

import io
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from adapters.mail.backends import (
    ConsoleBackend,
    FileBackend,
    MailBackend,
    MailPermanentError,
    MailSecurityError,
    MemoryBackend,
    SMTPBackend,
)
from asurso_sync.delivery import deliver
from cache import enqueue, open_cache, outbox_rows
from tests.emu import free_port

XLSX = b"PK\x03\x04 fake workbook bytes"


class Recorder:
    """An aiosmtpd handler that keeps envelopes; a recipient starting with "nobody" is refused with 550."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 Нет такого адресата"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Recorder]]:
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


def remark_message(to: str = "ivanova@school.example") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "Список замечаний по ведению электронного журнала — 2026-W48"
    msg["From"] = Address("Завуч Фролова Е. А.", addr_spec="zavuch@school.example")
    msg["To"] = Address("Иванова Мария Ивановна", addr_spec=to)
    msg.set_content("8б, Алгебра, 23.11.2026: внесите тему урока.")
    msg.add_alternative("<p>8б, Алгебра, 23.11.2026: <b>внесите тему урока</b>.</p>", subtype="html")
    msg.add_attachment(
        XLSX,
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="замечания.xlsx",
    )
    return msg


def check_roundtrip(raw: bytes) -> None:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Список замечаний по ведению электронного журнала — 2026-W48"
    assert parsed["To"].addresses[0].display_name == "Иванова Мария Ивановна"
    assert "внесите тему урока" in parsed.get_body(("plain",)).get_content()
    attachment = next(parsed.iter_attachments())
    assert attachment.get_filename() == "замечания.xlsx" and attachment.get_content() == XLSX


@pytest.mark.parametrize("kind", ["memory", "file", "console", "smtp"])
def test_every_backend_delivers_the_same_message(
    kind: str, tmp_path: Path, smtp_server: tuple[Controller, Recorder]
) -> None:
    controller, handler = smtp_server
    stream = io.StringIO()
    backend: MailBackend = {
        "memory": MemoryBackend(),
        "file": FileBackend(tmp_path / "outbox"),
        "console": ConsoleBackend(stream),
        "smtp": SMTPBackend("127.0.0.1", controller.port, security="none", timeout=5),
    }[kind]
    message_id = backend.send(remark_message())
    assert message_id.startswith("<") and message_id.endswith(">")
    if kind == "memory":
        raw = bytes(backend.outbox[0])  # type: ignore[attr-defined]
    elif kind == "file":
        files = list((tmp_path / "outbox").glob("*.eml"))
        assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
        raw = files[0].read_bytes()
    elif kind == "console":
        raw = stream.getvalue().split("\n" + "-" * 72)[0].encode()
    else:
        envelope = handler.envelopes[0]
        assert envelope.rcpt_tos == ["ivanova@school.example"]
        assert envelope.mail_from == "zavuch@school.example"
        raw = envelope.original_content
    check_roundtrip(raw)


def test_starttls_refused_is_a_clear_error(smtp_server: tuple[Controller, Recorder]) -> None:
    controller, handler = smtp_server  # this server does not offer STARTTLS
    backend = SMTPBackend("127.0.0.1", controller.port, security="starttls", timeout=5)
    with pytest.raises(MailSecurityError, match="не поддерживает STARTTLS"):
        backend.send(remark_message())
    assert handler.envelopes == []


def test_plaintext_only_to_a_local_relay() -> None:
    with pytest.raises(MailSecurityError, match="только для ретранслятора на этой машине"):
        SMTPBackend("smtp.school.example", 25, security="none")


def test_permanent_refusal(smtp_server: tuple[Controller, Recorder]) -> None:
    controller, _ = smtp_server
    backend = SMTPBackend("127.0.0.1", controller.port, security="none", timeout=5)
    with pytest.raises(MailPermanentError):
        backend.send(remark_message("nobody@school.example"))


def test_unreachable_server_is_temporary() -> None:
    from adapters.mail.backends import MailTemporaryError

    with pytest.raises(MailTemporaryError, match="Нет связи"):
        SMTPBackend("127.0.0.1", free_port(), security="none", timeout=2).send(remark_message())


# --- the outbox ---------------------------------------------------------------------------------


def test_outbox_sends_each_message_once(tmp_path: Path, smtp_server: tuple[Controller, Recorder]) -> None:
    controller, handler = smtp_server
    db = open_cache(tmp_path / "c.db")
    for to in ("ivanova@school.example", "petrov@school.example", "nobody@school.example"):
        _id, added = enqueue(
            db,
            recipient=to,
            kind="teacher",
            period="2026-W48",
            subject="Список замечаний",
            message=bytes(remark_message(to)),
        )
        assert added
    assert (
        enqueue(db, recipient="Ivanova@School.example", kind="teacher", period="2026-W48", subject="x", message=b"")[1]
        is False
    )  # same recipient, kind and week: not queued twice
    smtp = SMTPBackend("127.0.0.1", controller.port, security="none", timeout=5)
    first = deliver(db, smtp, period="2026-W48", sleep=lambda _s: None)
    assert sorted(first.sent) == ["ivanova@school.example", "petrov@school.example"]
    assert first.failed and first.failed[0][0] == "nobody@school.example"
    second = deliver(db, smtp, period="2026-W48", sleep=lambda _s: None)
    assert second.sent == [] and second.already_sent == 2
    assert len(handler.envelopes) == 2  # nothing went twice
    states = {r.recipient: (r.state, r.message_id) for r in outbox_rows(db)}
    assert states["nobody@school.example"][0] == "failed"
    assert all(mid for state, mid in states.values() if state == "sent")
    actions = [a for (a,) in db.execute("SELECT action FROM audit_log ORDER BY id").fetchall()]
    # a failed row is tried again on the next run (pending/failed are retried; only «sending» waits for a person)
    assert actions.count("send") == 2 and actions.count("send-failed") == 2


def test_a_refused_mail_server_stops_the_mailing_at_the_first_letter(
    tmp_path: Path, smtp_server: tuple[Controller, Recorder]
) -> None:
    """Issue #19 (10): a server that refuses connections is met once (with its retries), not once per letter;
    the other letters stay queued and go out on the next run."""
    controller, handler = smtp_server
    db = open_cache(tmp_path / "c.db")
    recipients = [f"t{i}@school.example" for i in range(28)]
    for to in recipients:
        enqueue(db, recipient=to, kind="teacher", period="2026-W48", subject="x", message=bytes(remark_message(to)))
    waits: list[float] = []
    refused = SMTPBackend("127.0.0.1", free_port(), security="none", timeout=2)
    report = deliver(db, refused, period="2026-W48", sleep=waits.append)
    assert report.unreachable and "Нет связи с почтовым сервером" in report.unreachable
    assert report.failed == [] and report.left_waiting == 28 and len(waits) == 2  # one letter's retries only
    smtp = SMTPBackend("127.0.0.1", controller.port, security="none", timeout=5)
    again = deliver(db, smtp, period="2026-W48", sleep=lambda _s: None)
    assert sorted(again.sent) == sorted(recipients) and len(handler.envelopes) == 28


def test_crash_between_smtp_and_commit_is_not_silently_resent(tmp_path: Path) -> None:
    db = open_cache(tmp_path / "c.db")
    enqueue(
        db,
        recipient="ivanova@school.example",
        kind="teacher",
        period="2026-W48",
        subject="x",
        message=bytes(remark_message()),
    )

    class CrashAfterSending(MemoryBackend):
        def send(self, message: EmailMessage) -> str:
            super().send(message)
            raise KeyboardInterrupt  # the process dies after the server took the message

    crashing = CrashAfterSending()
    with pytest.raises(KeyboardInterrupt):
        deliver(db, crashing, sleep=lambda _s: None)
    assert [r.state for r in outbox_rows(db)] == ["sending"]
    memory = MemoryBackend()
    again = deliver(db, memory, sleep=lambda _s: None)
    assert again.stuck_sending == ["ivanova@school.example"] and memory.outbox == []
    forced = deliver(db, memory, resend=True, sleep=lambda _s: None)
    assert forced.sent == ["ivanova@school.example"] and len(memory.outbox) == 1


def test_network_errors_are_told_in_russian() -> None:
    """The C library's «Connection refused» is English; the message a school's IT person reads is not."""
    import errno

    from adapters.oserrors import os_error_text

    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert os_error_text(refused).startswith("соединение отклонено")
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = refused
    assert os_error_text(wrapped).startswith("соединение отклонено")
    assert os_error_text(TimeoutError()).startswith("нет ответа")
    assert "Connection refused" not in str(os_error_text(refused))
    with pytest.raises(Exception, match="соединение отклонено") as caught:
        SMTPBackend("127.0.0.1", free_port(), security="none", timeout=2).send(remark_message())
    assert "Connection refused" not in str(caught.value)
