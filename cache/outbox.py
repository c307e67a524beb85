"""The e-mail outbox: one row per (recipient, list kind, period) with states pending → sending → sent | failed.

A row is claimed (``sending``) and committed before the SMTP conversation and marked ``sent`` right after, so a
crash in between leaves ``sending``: reported, and resent only when an operator asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from cache.runs import utc_now_iso


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    recipient: str
    kind: str
    period: str
    subject: str
    message: bytes
    state: str
    message_id: str | None
    attempts: int
    last_error: str | None
    sent_at: str | None


_COLS = (
    '"id", "key", "recipient", "kind", "period", "subject", "message", "state", "message_id", "attempts", '
    '"last_error", "sent_at"'
)


def outbox_key(recipient: str, kind: str, period: str) -> str:
    return f"{recipient.strip().casefold()}|{kind}|{period}"


def enqueue(db: Database, *, recipient: str, kind: str, period: str, subject: str, message: bytes) -> tuple[int, bool]:
    """Add a message unless one with the same (recipient, kind, period) exists. Returns (row id, added)."""
    key = outbox_key(recipient, kind, period)
    cur = db.execute(
        'INSERT OR IGNORE INTO "outbox" ("key", "recipient", "kind", "period", "subject", "message", "state", '
        "\"created_at\") VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
        [key, recipient, kind, period, subject, message, utc_now_iso()],
    )
    row = db.execute('SELECT "id" FROM "outbox" WHERE "key" = ?', [key]).fetchone()
    return int(row[0]), cur.rowcount == 1


def claim(db: Database, row_id: int, *, allow_sending: bool = False) -> bool:
    """Move a row to ``sending`` (committed at once). False when it is not in a sendable state."""
    states = ("pending", "failed", "sending") if allow_sending else ("pending", "failed")
    marks = ", ".join("?" * len(states))
    cur = db.execute(
        f'UPDATE "outbox" SET "state" = \'sending\', "attempts" = "attempts" + 1 '
        f'WHERE "id" = ? AND "state" IN ({marks})',
        [row_id, *states],
    )
    return cur.rowcount == 1


def mark_sent(db: Database, row_id: int, message_id: str) -> None:
    db.execute(
        'UPDATE "outbox" SET "state" = \'sent\', "message_id" = ?, "sent_at" = ?, "last_error" = NULL WHERE "id" = ?',
        [message_id, utc_now_iso(), row_id],
    )


def mark_failed(db: Database, row_id: int, error: str) -> None:
    db.execute('UPDATE "outbox" SET "state" = \'failed\', "last_error" = ? WHERE "id" = ?', [error[:2000], row_id])


def outbox_rows(db: Database, *, period: str | None = None, states: tuple[str, ...] | None = None) -> list[OutboxRow]:
    sql = f'SELECT {_COLS} FROM "outbox" WHERE 1'
    params: list[Any] = []
    if period is not None:
        sql += ' AND "period" = ?'
        params.append(period)
    if states:
        sql += f' AND "state" IN ({", ".join("?" * len(states))})'
        params += list(states)
    return [OutboxRow(*r) for r in db.execute(sql + ' ORDER BY "id"', params).fetchall()]


def fix_week(db: Database, week: str, check_run_id: int, as_of: str) -> None:
    """Remember the check run a week's lists were first sent from (later sends of the week keep the first)."""
    db.execute(
        'INSERT OR IGNORE INTO "remark_week" ("week", "check_run_id", "as_of", "created_at") VALUES (?, ?, ?, ?)',
        [week, check_run_id, as_of, utc_now_iso()],
    )


def lists_ever_sent(db: Database, before: str) -> bool:
    """Whether the lists of any week before ``before`` (a week label, «2026-W50») were sent from this cache: if
    not, this week's are the first mailing, a baseline."""
    return bool(db.execute('SELECT EXISTS (SELECT 1 FROM "remark_week" WHERE "week" < ?)', [before]).fetchone()[0])


def note_letter_rules(db: Database, teacher_id: int, rules: list[str], week: str) -> None:
    """Remember that a letter went to a teacher in ``week`` while ``rules`` were released to teachers (the first
    such week per teacher and rule is kept): ruling R23's baseline."""
    db.conn.executemany(
        'INSERT OR IGNORE INTO "letter_rule" ("teacher_id", "rule", "week") VALUES (?, ?, ?)',
        [(teacher_id, code, week) for code in rules],
    )


def letter_rules(db: Database, before: str) -> set[tuple[int, str]]:
    """(teacher, rule) pairs that reached the teacher in a letter of a week before ``before``."""
    cur = db.execute('SELECT "teacher_id", "rule" FROM "letter_rule" WHERE "week" < ?', [before])
    return {(int(t), str(r)) for t, r in cur.fetchall()}


def week_cutoff(db: Database, week: str) -> str | None:
    """The as_of of the check a week's lists were sent from, or None when they were never sent."""
    row = db.execute('SELECT "as_of" FROM "remark_week" WHERE "week" = ?', [week]).fetchone()
    return str(row[0]) if row else None
