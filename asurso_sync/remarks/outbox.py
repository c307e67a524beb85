"""A week's lists as messages and files: build the week, write the files, put the messages in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlite_utils import Database

from asurso_sync.config import Config
from asurso_sync.remarks.build import Builder
from asurso_sync.remarks.directory import normalize_name
from asurso_sync.remarks.links import PersonalLinks
from asurso_sync.remarks.model import XLSX_TYPE, Summary, TeacherList
from asurso_sync.remarks.render import Rendered, render_summary, render_teacher
from asurso_sync.remarks.week import Week


def build_message(
    config: Config, *, to_name: str, to_addr: str, rendered: Rendered, attachment_name: str | None = None
) -> EmailMessage:
    """A multipart/alternative message (text + HTML), optionally with the XLSX attached. Message-ID and Date are
    set now, so the outbox stores exactly what goes out (and a resend is recognisably the same message)."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = Address(config.school.name, addr_spec=config.mail.from_addr)
    msg["To"] = Address(to_name, addr_spec=to_addr)
    msg["Date"] = format_datetime(datetime.now(config.school.tz))
    msg["Message-ID"] = make_msgid(domain=config.mail.from_addr.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    if rendered.xlsx is not None and attachment_name:
        msg.add_attachment(rendered.xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=attachment_name)
    return msg


def summary_attachment_name(week: Week) -> str:
    return f"svodka-ezh-{week.label}.xlsx"


def _deputy_message(config: Config, wl: WeekLists, rendered: Rendered) -> EmailMessage:
    """The deputy's summary letter of the week (written to a file or queued: the same letter)."""
    return build_message(
        config,
        to_name="Заместитель директора по УВР",
        to_addr=config.mail.deputy_addr or "",
        rendered=rendered,
        attachment_name=summary_attachment_name(wl.week),
    )


def file_stem(tl: TeacherList) -> str:
    return f"teacher-{tl.teacher_id}"


# --- a week's lists: build, write, send -------------------------------------------------------------


@dataclass
class WeekLists:
    week: Week
    lists: list[TeacherList]
    summary: Summary
    check_run_id: int
    check_as_of: str

    def recipients(self, config: Config, only: str | None = None) -> list[TeacherList]:
        """Teachers who get a list this week: those with remarks (all teachers with lessons when
        ``[mail] send_empty``), optionally only the one named by id or a part of the name."""
        # in shadow mode an empty list is no news to a teacher: only lists with released rules' remarks go out
        send_empty = config.mail.send_empty and not config.rules.shadow
        chosen = [tl for tl in self.lists if not tl.empty or send_empty]
        if only:
            needle = normalize_name(only)
            chosen = [tl for tl in chosen if str(tl.teacher_id) == only or needle in normalize_name(tl.name)]
        return chosen


def build_week(db: Database, config: Config, week: Week) -> WeekLists:
    builder = Builder(db, config, week)
    lists = builder.teacher_lists()
    return WeekLists(week, lists, builder.summary(lists), int(builder.check["id"]), str(builder.check["as_of"]))


def write_files(config: Config, wl: WeekLists, out: Path, *, only: str | None = None) -> list[Path]:
    """Write every list of the week as .html and .txt (and .eml when the address is known), and the deputy's
    summary as .html, .xlsx and .eml, into ``out/<week>/``. The files hold personal data: 0700/0600."""
    from cache import ensure_private_dir, write_private_bytes

    folder = out / wl.week.label
    ensure_private_dir(folder)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = folder / name
        write_private_bytes(path, data)
        written.append(path)

    for tl in wl.recipients(config, only):
        r = render_teacher(tl)
        stem = file_stem(tl)
        put(f"{stem}.html", r.html.encode())
        put(f"{stem}.txt", r.text.encode())
        if tl.email:
            put(f"{stem}.eml", bytes(build_message(config, to_name=tl.name, to_addr=tl.email, rendered=r)))
    if not only:
        s = render_summary(wl.summary)
        put("summary.html", s.html.encode())
        put("summary.txt", s.text.encode())
        assert s.xlsx is not None
        put(summary_attachment_name(wl.week), s.xlsx)
        if config.mail.deputy_addr:
            put("summary.eml", bytes(_deputy_message(config, wl, s)))
    return written


@dataclass
class Planned:
    recipient: str
    name: str
    kind: str
    remarks: int


@dataclass
class SendPlan:
    planned: list[Planned] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: int = 0
    existing: int = 0


def enqueue_week(
    db: Database, config: Config, wl: WeekLists, *, only: str | None = None, dry_run: bool = False
) -> SendPlan:
    """Put the week's messages into the outbox (one per recipient and kind; an existing one is kept as it is)."""
    from cache import audit, enqueue, fix_week

    plan = SendPlan()
    messages: list[tuple[Planned, EmailMessage]] = []
    links = PersonalLinks(db, config, wl.week.label)
    for tl in wl.recipients(config, only):
        if not tl.email:
            plan.missing.append(tl.name)
            continue
        item = Planned(tl.email, tl.name, "teacher", tl.part.total + tl.chief.total)
        plan.planned.append(item)
        if not dry_run:
            messages.append(
                (
                    item,
                    build_message(
                        config,
                        to_name=tl.name,
                        to_addr=tl.email,
                        rendered=render_teacher(tl, links.for_teacher(tl)),
                    ),
                )
            )
    if not only:
        if config.mail.deputy_addr:
            item = Planned(config.mail.deputy_addr, "заместитель директора", "deputy", sum(wl.summary.totals.values()))
            plan.planned.append(item)
            if not dry_run:
                s = render_summary(wl.summary)
                messages.append((item, _deputy_message(config, wl, s)))
        else:
            plan.missing.append("заместитель директора ([mail] deputy_addr)")
    if dry_run:
        return plan
    with db.atomic():
        fix_week(db, wl.week.label, wl.check_run_id, wl.check_as_of)
        for item, msg in messages:
            _, added = enqueue(
                db,
                recipient=item.recipient,
                kind=item.kind,
                period=wl.week.label,
                subject=str(msg["Subject"]),
                message=bytes(msg),
            )
            plan.added += added
            plan.existing += not added
        audit(
            db,
            "remarks-enqueue",
            {"week": wl.week.label, "added": plan.added, "existing": plan.existing, "missing": len(plan.missing)},
            records=plan.added,
        )
    return plan
