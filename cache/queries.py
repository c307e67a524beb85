"""Read helpers over the mirror's history: "was X present, and with which value, at time T?".

The rules engine's observed evidence rests on these. Presence is decided by ``first_seen_at``
and the ``gone``/``reappear`` entries of ``change_log``; values by the ``change`` entries.
All times are server time strings (``YYYY-MM-DDTHH:MM:SS``), which compare lexically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

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
