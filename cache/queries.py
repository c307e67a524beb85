"""Read helpers over the mirror's history: "was X present, and with which value, at time T?".

The rules engine's observed evidence rests on these. Presence is decided by ``first_seen_at``
and the ``gone``/``reappear`` entries of ``change_log``; values by the ``change`` entries.
All times are server time strings (``YYYY-MM-DDTHH:MM:SS``), which compare lexically.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from cache.db import connect_reader
from cache.history import row_key_text
from cache.schema import ENTITIES


def _key_where(table: str) -> str:
    return " AND ".join(f'"{k}" = ?' for k in ENTITIES[table].key)


def present_at(db: Database, table: str, key: Sequence[Any], at: str) -> bool:
    """True when the row was in the mirror (seen and not gone) at server time ``at``."""
    row = db.execute(f'SELECT "first_seen_at" FROM "{table}" WHERE {_key_where(table)}', list(key)).fetchone()
    if row is None or row[0] is None or row[0] > at:
        return False
    last = db.execute(
        """SELECT "op" FROM "change_log" WHERE "tbl" = ? AND "row_key" = ? AND "at" <= ?
           AND "op" IN ('gone', 'reappear') ORDER BY "at" DESC, "id" DESC LIMIT 1""",
        [table, row_key_text(key), at],
    ).fetchone()
    return last is None or last[0] == "reappear"


def value_at(db: Database, table: str, key: Sequence[Any], column: str, at: str) -> Any:
    """The value ``column`` had at server time ``at`` (None when the row was absent then)."""
    if not present_at(db, table, key, at):
        return None
    rk = row_key_text(key)
    later = db.execute(
        """SELECT "old" FROM "change_log" WHERE "tbl" = ? AND "row_key" = ? AND "at" > ?
           AND "op" IN ('change', 'reappear') ORDER BY "at", "id" """,
        [table, rk, at],
    ).fetchall()
    for (old,) in later:
        values = json.loads(old or "{}")
        if column in values:
            return values[column]
    row = db.execute(f'SELECT "{column}" FROM "{table}" WHERE {_key_where(table)}', list(key)).fetchone()
    return row[0] if row else None


def observations(db: Database, resource: str | None = None, *, since: str | None = None) -> list[tuple[str, str, str]]:
    """(resource, scope, observed_at) of fully read units, oldest first."""
    sql = 'SELECT "resource", "scope", "observed_at" FROM "observation" WHERE 1'
    params: list[Any] = []
    if resource is not None:
        sql += ' AND "resource" = ?'
        params.append(resource)
    if since is not None:
        sql += ' AND "observed_at" >= ?'
        params.append(since)
    return [tuple(r) for r in db.execute(sql + ' ORDER BY "observed_at", "id"', params).fetchall()]


def table_counts(db: Database) -> dict[str, int]:
    """Live (not gone) rows per mirrored table."""
    return {
        name: db.execute(f'SELECT count(*) FROM "{name}" WHERE "gone_at" IS NULL').fetchone()[0] for name in ENTITIES
    }


def live_count(db: Database, table: str, scope: dict[str, Any]) -> int:
    """Live rows of ``table`` whose columns equal ``scope``."""
    where = " AND ".join(f'"{c}" = ?' for c in scope) or "1"
    row = db.execute(f'SELECT count(*) FROM "{table}" WHERE "gone_at" IS NULL AND {where}', list(scope.values()))
    return int(row.fetchone()[0])


def lessons_touched_in_run(db: Database, run_id: int) -> set[int]:
    """Class meetings whose assignments, marks or attendance changed (or appeared, or went) in ``run_id``."""
    cur = db.execute(
        """
        SELECT json_extract(c.row_key, '$[0]') FROM change_log c
         WHERE c.run_id = ? AND c.tbl IN ('attendance', 'class_meeting')
        UNION
        SELECT a.class_meeting_id FROM change_log c JOIN assignment a ON a.id = json_extract(c.row_key, '$[0]')
         WHERE c.run_id = ? AND c.tbl = 'assignment'
        UNION
        SELECT a.class_meeting_id FROM change_log c JOIN assignment a ON a.id = json_extract(c.row_key, '$[0]')
         WHERE c.run_id = ? AND c.tbl = 'mark'
        """,
        [run_id, run_id, run_id],
    )
    return {int(r[0]) for r in cur.fetchall() if r[0] is not None}


def rows(db: Database, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Run a read-only query over the mirror and return dicts (for the sync's planning and the rules)."""
    cur = db.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def canonical_dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every mirrored table's live rows, data columns only (history excluded), sorted: for comparing mirrors."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, entity in ENTITIES.items():
        cols = ", ".join(f'"{c}"' for c in entity.columns)
        keys = ", ".join(f'"{k}"' for k in entity.key)
        out[name] = [
            tuple(r)
            for r in db.execute(f'SELECT {cols} FROM "{name}" WHERE "gone_at" IS NULL ORDER BY {keys}').fetchall()
        ]
    return out


class BackgroundReads:
    """Named reads of one value each (an aggregate: one row, one column — the rules' texts of records split by RS
    and fields by US), run one after another in a worker thread on a second, read-only connection to the same
    file, all inside one read transaction: one snapshot for every read. SQLite lets go of the GIL while it
    computes, so heavy aggregations overlap the caller's Python work instead of adding to it.

    ``take(name)`` waits for a value and forgets it (a year's texts are large: nothing keeps them after that).
    The snapshot may be newer than the caller's by what a sync committed meanwhile, as any later query of the
    caller's may be. A database without a file (``:memory:``), or a read the worker cannot do, is read on ``db``
    itself when the value is taken."""

    def __init__(self, db: Database, reads: Mapping[str, tuple[str, Sequence[Any]]]) -> None:
        self._db = db
        self._reads = dict(reads)
        self._futures: dict[str, Future[Any]] = {}
        path = next((str(file) for _seq, name, file in db.execute("PRAGMA database_list") if name == "main"), "")
        if not path or not self._reads:
            return
        conn: list[sqlite3.Connection] = []  # the worker's own, opened by its first read and closed after its last

        def read(sql: str, params: Sequence[Any]) -> Any:
            if not conn:
                conn.append(connect_reader(Path(path)))
                conn[0].execute("BEGIN")  # deferred: the first SELECT fixes the snapshot every read then shares
            return conn[0].execute(sql, list(params)).fetchone()[0]

        def close() -> None:
            if conn:
                conn.pop().close()

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-read")
        self._futures = {name: pool.submit(read, sql, params) for name, (sql, params) in self._reads.items()}
        pool.submit(close)
        pool.shutdown(wait=False)  # the thread ends with the last read

    def take(self, name: str) -> Any:
        """The value of the read ``name`` (waiting for it); asked twice, it is read again on the caller's
        connection."""
        sql, params = self._reads[name]
        future = self._futures.pop(name, None)
        if future is not None:
            try:
                return future.result()
            except sqlite3.Error:
                pass
        return self._db.execute(sql, list(params)).fetchone()[0]
