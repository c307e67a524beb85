"""Housekeeping records: sync runs, cursors, the audit log.

Run and audit times are the *machine's* clock (UTC, ISO with offset) — they record what this
installation did and when; mirrored history uses the server's clock (see ``cache.schema``).
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from cache.history import scope_text, unit


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def start_run(db: Database, kind: str, *, server_time: str | None = None) -> int:
    cur = db.execute(
        'INSERT INTO "sync_run" ("kind", "started_at", "status", "server_time") VALUES (?, ?, ?, ?)',
        [kind, utc_now_iso(), "running", server_time],
    )
    run_id = cur.lastrowid
    assert run_id is not None
    return run_id


def finish_run(
    db: Database,
    run_id: int,
    status: str,
    *,
    counts: Mapping[str, Any] | None = None,
    errors: list[str] | None = None,
    server_time: str | None = None,
) -> None:
    if status not in {"ok", "failed", "partial", "interrupted"}:
        raise ValueError(status)
    db.execute(
        'UPDATE "sync_run" SET "finished_at" = ?, "status" = ?, "counts" = ?, "errors" = ?, '
        '"server_time" = coalesce(?, "server_time") WHERE "id" = ?',
        [
            utc_now_iso(),
            status,
            json.dumps(dict(counts or {}), ensure_ascii=False),
            json.dumps(errors or [], ensure_ascii=False),
            server_time,
            run_id,
        ],
    )


@dataclass(frozen=True)
class RunInfo:
    id: int
    kind: str
    started_at: str
    finished_at: str | None
    status: str
    server_time: str | None
    counts: dict[str, Any]
    errors: list[str]


def _run_from_row(r: tuple[Any, ...]) -> RunInfo:
    return RunInfo(
        id=r[0],
        kind=r[1],
        started_at=r[2],
        finished_at=r[3],
        status=r[4],
        server_time=r[5],
        counts=json.loads(r[6]) if r[6] else {},
        errors=json.loads(r[7]) if r[7] else [],
    )


_RUN_COLS = '"id", "kind", "started_at", "finished_at", "status", "server_time", "counts", "errors"'


def last_runs(db: Database, limit: int = 10) -> list[RunInfo]:
    cur = db.execute(f'SELECT {_RUN_COLS} FROM "sync_run" ORDER BY "id" DESC LIMIT ?', [limit])
    return [_run_from_row(r) for r in cur.fetchall()]


def last_successful_run(db: Database) -> RunInfo | None:
    cur = db.execute(f"""SELECT {_RUN_COLS} FROM "sync_run" WHERE "status" = 'ok' ORDER BY "id" DESC LIMIT 1""")
    row = cur.fetchone()
    return _run_from_row(row) if row else None


def get_cursor(db: Database, resource: str, scope: Mapping[str, Any] | None) -> str | None:
    row = db.execute(
        'SELECT "cursor" FROM "sync_state" WHERE "resource" = ? AND "scope" = ?', [resource, scope_text(scope)]
    ).fetchone()
    return row[0] if row else None


ACCESS_SINCE = "access_log_since"  # sync_state resource: the first day the access report was read from, per scope


def widen_report_since(
    db: Database, scope: Mapping[str, Any], day: str, *, observed_at: str, run_id: int | None = None
) -> None:
    """Record that the access report of ``scope`` (a class, or an ИУП grade) was read from ``day`` (ISO date): the
    earliest such day is kept, as the cursor of its own unit (``ACCESS_SINCE``; an observation like every cursor).
    With the report's own cursor (the day it was read through) it says which lessons the report covers — ruling R6
    needs it to name who taught a lesson (``rules.facts.Facts.owner_known``). Call it inside the unit that saves
    the rows, so both commit together."""
    known = get_cursor(db, ACCESS_SINCE, scope)
    if known is not None and known <= day:
        return
    with unit(db, ACCESS_SINCE, scope, observed_at=observed_at, run_id=run_id, allow_empty=True) as u:
        u.cursor = day


def audit(
    db: Database,
    action: str,
    details: Mapping[str, Any] | None = None,
    *,
    records: int | None = None,
    actor: str | None = None,
) -> None:
    """Append to the audit log (who, when, what, how many records). Never put secrets in ``details``."""
    db.execute(
        'INSERT INTO "audit_log" ("at", "actor", "action", "details", "records") VALUES (?, ?, ?, ?, ?)',
        [utc_now_iso(), actor or _actor(), action, json.dumps(dict(details or {}), ensure_ascii=False), records],
    )


def audit_entries(db: Database, limit: int = 50) -> list[dict[str, Any]]:
    cur = db.execute(
        'SELECT "id", "at", "actor", "action", "details", "records" FROM "audit_log" ORDER BY "id" DESC LIMIT ?',
        [limit],
    )
    return [
        {"id": r[0], "at": r[1], "actor": r[2], "action": r[3], "details": json.loads(r[4] or "{}"), "records": r[5]}
        for r in cur.fetchall()
    ]


@dataclass(frozen=True)
class FullLoad:
    """The first full load of the year while it is not complete: when it began, the parts read so far (units
    read completely by its runs) and the parts it planned (None when no run got as far as planning)."""

    started_at: str
    runs: tuple[int, ...]
    done: int
    planned: int | None


def full_load_state(db: Database) -> FullLoad | None:
    """None when a full load of the year has completed (a ``full`` run ended «ok»); else what the unfinished one
    has done — also when none was ever started (then nothing is done)."""
    done_ok = db.execute("""SELECT max("id") FROM "sync_run" WHERE "kind" = 'full' AND "status" = 'ok'""").fetchone()[0]
    if done_ok is not None:
        return None
    rows = db.execute("""SELECT "id", "started_at" FROM "sync_run" WHERE "kind" = 'full' ORDER BY "id" """).fetchall()
    runs = tuple(int(r[0]) for r in rows)
    done = 0
    if runs:
        marks = ", ".join("?" * len(runs))
        done = db.execute(
            f'SELECT count(*) FROM (SELECT DISTINCT "resource", "scope" FROM "observation" WHERE "complete" = 1 '
            f'AND "run_id" IN ({marks}) AND "resource" <> ?)',  # the report's first day is no part of its own
            [*runs, ACCESS_SINCE],
        ).fetchone()[0]
    planned = None
    if runs:
        row = db.execute(
            """SELECT json_extract("counts", '$.planned') FROM "sync_run" WHERE "id" = ?""", [runs[-1]]
        ).fetchone()
        planned = int(row[0]) if row and row[0] is not None else None
    return FullLoad(rows[0][1] if rows else "", runs, int(done), planned)


def full_load_done_units(db: Database, runs: tuple[int, ...]) -> set[tuple[str, str]]:
    """(resource, scope text) of the units the given runs read completely: a resumed full load skips them."""
    if not runs:
        return set()
    marks = ", ".join("?" * len(runs))
    return {
        (r, s)
        for r, s in db.execute(
            f'SELECT DISTINCT "resource", "scope" FROM "observation" WHERE "complete" = 1 AND "run_id" IN ({marks})',
            list(runs),
        )
    }


def plan_full_load(db: Database, planned: int, run_id: int) -> None:
    """Remember on the running full load how many units it plans (for «N из M частей»; kept by ``finish_run``
    through the run's counts)."""
    with db.conn:
        db.execute(
            """UPDATE "sync_run" SET "counts" = json_set(coalesce("counts", '{}'), '$.planned', ?) WHERE "id" = ?""",
            [planned, run_id],
        )
