"""A week's lists as messages and files: build the week, write the files, put the messages in the outbox."""

from __future__ import annotations

import difflib
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
from asurso_sync.remarks.errors import NoSuchTeacher
from asurso_sync.remarks.links import PersonalLinks
from asurso_sync.remarks.model import XLSX_TYPE, Summary, TeacherList
from asurso_sync.remarks.render import Rendered, render_summary, render_teacher
from asurso_sync.remarks.week import Week


def build_message(
    config: Config,
    *,
    to_name: str,
    to_addr: str,
    rendered: Rendered,
    attachment_name: str | None = None,
    reply_to: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text + HTML), optionally with the XLSX attached. Message-ID and Date are
    set now, so the outbox stores exactly what goes out (and a resend is recognisably the same message)."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = Address(config.school.name, addr_spec=config.mail.from_addr)
    msg["To"] = Address(to_name, addr_spec=to_addr)
    if reply_to:  # the letter invites a reply: it reaches the deputy (ruling R24)
        msg["Reply-To"] = Address("Заместитель директора по УВР", addr_spec=reply_to)
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


def pick_teachers(lists: list[TeacherList], only: str) -> list[TeacherList]:
    """The lists of the teachers ``only`` names (an id or a part of the name). Nobody: ``NoSuchTeacher``."""
    needle = normalize_name(only)
    found = [tl for tl in lists if str(tl.teacher_id) == only.strip() or (needle and needle in normalize_name(tl.name))]
    if not found:
        names = sorted({tl.name for tl in lists})
        close = (
            difflib.get_close_matches(only, names, n=3, cutoff=0.5)
            or [n for n in names if needle[:3] and needle[:3] in normalize_name(n)][:3]
        )
        hint = f"; похожие: {', '.join(close)}" if close else ""
        raise NoSuchTeacher(f"--only: учитель «{only}» не найден среди учителей недели{hint}")
    return found


# --- a week's lists: build, write, send -------------------------------------------------------------


@dataclass
class WeekLists:
    week: Week
    lists: list[TeacherList]
    summary: Summary
    check_run_id: int
    check_as_of: str
    released: list[str] = field(default_factory=list)  # rules that reach teachers this week (R23's baseline)
    # shadow start (R23): each teacher's list as it would be with every rule released — written for the deputy
    previews: list[TeacherList] = field(default_factory=list)

    def recipients(self, config: Config, only: str | None = None) -> list[TeacherList]:
        """Teachers who get a list this week: those with remarks (all teachers with lessons when
        ``[mail] send_empty``), optionally only the one named by id or a part of the name — strictly: a name that
        matches no teacher raises ``NoSuchTeacher`` with the close matches (exit 2)."""
        # in shadow mode an empty list is no news to a teacher: only lists with released rules' remarks go out
        send_empty = config.mail.send_empty and not config.rules.shadow
        chosen = [tl for tl in self.lists if not tl.empty or send_empty]
        if only:
            picked = pick_teachers(self.lists, only)
            chosen = [tl for tl in chosen if tl in picked]
        return chosen


def build_week(db: Database, config: Config, week: Week) -> WeekLists:
    builder = Builder(db, config, week)
    lists = builder.teacher_lists()
    return WeekLists(
        week,
        lists,
        builder.summary(lists),
        int(builder.check["id"]),
        str(builder.check["as_of"]),
        sorted(builder.teacher_rules | builder.chief_rules),
        [builder.teacher_list(tl.teacher_id, preview=True) for tl in lists if tl.shadow.total]
        if builder.shadow_rules
        else [],
    )


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
            put(
                f"{stem}.eml",
                bytes(build_message(config, to_name=tl.name, to_addr=tl.email, rendered=r, reply_to=tl.reply_to)),
            )
    chosen = {tl.teacher_id for tl in pick_teachers(wl.lists, only)} if only else None
    for tl in wl.previews:  # never sent: the deputy's view of the shadow start, marked so
        if chosen is None or tl.teacher_id in chosen:
            r = render_teacher(tl, preview=True)
            put(f"{file_stem(tl)}-preview.html", r.html.encode())
            put(f"{file_stem(tl)}-preview.txt", r.text.encode())
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
    records: int = 0  # of them: «внесено позже срока — исправлять нечего» (R22)


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
    from cache import audit, enqueue, fix_week, note_letter_rules

    plan = SendPlan()
    messages: list[tuple[Planned, EmailMessage, TeacherList | None]] = []
    links = PersonalLinks(db, config, wl.week.label)
    for tl in wl.recipients(config, only):
        if not tl.email:
            plan.missing.append(tl.name)
            continue
        item = Planned(
            tl.email, tl.name, "teacher", tl.part.total + tl.chief.total, len(tl.part.records) + len(tl.chief.records)
        )
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
                        reply_to=tl.reply_to,
                    ),
                    tl,
                )
            )
    if not only:
        if config.mail.deputy_addr:
            totals = wl.summary.totals
            count = totals["new"] + totals["records"] + totals["still_open"] + totals["resolved"]
            item = Planned(config.mail.deputy_addr, "заместитель директора", "deputy", count)
            plan.planned.append(item)
            if not dry_run:
                s = render_summary(wl.summary)
                messages.append((item, _deputy_message(config, wl, s), None))
        else:
            plan.missing.append("заместитель директора ([mail] deputy_addr)")
    if dry_run:
        return plan
    with db.atomic():
        fix_week(db, wl.week.label, wl.check_run_id, wl.check_as_of)
        for item, msg, whose in messages:
            if whose is not None:  # ruling R23: the released rules have now reached this teacher (her baseline)
                note_letter_rules(db, whose.teacher_id, wl.released, wl.week.label)
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
