"""Temporal upserts: the only code that writes mirrored rows.

``save_rows`` compares what the server returned with what the mirror holds and keeps the
history columns (see ``cache.schema``) and the append-only ``change_log`` correct through
insert, change, disappearance and reappearance. ``unit`` groups the rows of one unit of
work (resource × scope), its ``observation`` record and its cursor in **one transaction**:
a crash loses at most the unit in flight, and a cursor is never ahead of its rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlite_utils import Database

from cache.db import CacheError
from cache.schema import ENTITIES, Entity

_CHUNK = 400  # rows per "key IN (VALUES …)" lookup (SQLite's variable limit is 32766)


class EmptyUnitError(CacheError):
    """A fully read unit came back empty although the mirror holds live rows for it."""

    def __init__(self, entity: str, scope: Mapping[str, Any] | None, live: int) -> None:
        self.entity, self.scope, self.live = entity, dict(scope or {}), live
        super().__init__(
            f"Сервер вернул пустой список для «{entity}» {self.scope or ''}, а в кэше {live} записей. "
            "Так бывает при истёкшей сессии, смене прав или сбое сервера — ничего не помечено удалённым. "
            "Если данные действительно удалены, повторите с --accept-empty."
        )


@dataclass
class SaveStats:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0
    reappeared: int = 0

    def __iadd__(self, other: SaveStats) -> SaveStats:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def written(self) -> int:
        return self.new + self.changed + self.unchanged + self.gone + self.reappeared

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _coerce(value: Any, sqltype: str, entity: str, column: str) -> Any:
    if value is None:
        return None
    try:
        if sqltype == "INTEGER":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if sqltype == "REAL":
            return float(value)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{entity}.{column}: значение {value!r} не подходит для типа {sqltype}") from exc


def row_key_text(key: Sequence[Any]) -> str:
    """The textual key used in ``change_log.row_key``: a compact JSON array of the primary key."""
    return json.dumps(list(key), ensure_ascii=False, separators=(",", ":"))


# per entity: its column names, and each column with its type and the Python type it stores as is (the fast path:
# an int for INTEGER, a float for REAL, a str for text — most values arrive so and need no conversion)
_SHAPES: dict[str, tuple[frozenset[str], tuple[tuple[str, str, type], ...]]] = {}


def _shape(entity: Entity) -> tuple[frozenset[str], tuple[tuple[str, str, type], ...]]:
    shape = _SHAPES.get(entity.name)
    if shape is None:
        kinds = {"INTEGER": int, "REAL": float}
        shape = _SHAPES[entity.name] = (
            frozenset(entity.columns),
            tuple((c, t, kinds.get(t, str)) for c, t in entity.columns.items()),
        )
    return shape


def _normalise(entity: Entity, row: Mapping[str, Any]) -> tuple[Any, ...]:
    names, columns = _shape(entity)
    if row.keys() != names:
        extra = set(row) - names
        if extra:
            raise ValueError(f"{entity.name}: неизвестные столбцы {sorted(extra)}")
        missing = [c for c in entity.columns if c not in row]
        raise ValueError(f"{entity.name}: нет столбцов {missing}")
    return tuple(
        v if v is None or type(v) is kind else _coerce(v, t, entity.name, c)
        for c, t, kind in columns
        for v in (row[c],)
    )


def _where(scope: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if not scope:
        return "1", []
    return " AND ".join(f'"{c}" IS ?' for c in scope), list(scope.values())


def save_rows(
    db: Database,
    entity_name: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    observed_at: str,
    run_id: int | None = None,
    scope: Mapping[str, Any] | None = None,
    complete: bool = False,
    allow_empty: bool = False,
) -> SaveStats:
    """Mirror ``rows`` of one entity as seen at server time ``observed_at``.

    ``scope`` names the column values that every row of this read shares (e.g. ``{"sg_id": 5}``);
    with ``complete=True`` the read is taken as the full content of that scope and live rows
    missing from it get ``gone_at``. A complete read that comes back empty while live rows
    exist raises :class:`EmptyUnitError` unless ``allow_empty``.
    """
    entity = ENTITIES[entity_name]
    cols = list(entity.columns)
    nkey = len(entity.key)
    key_idx = [cols.index(k) for k in entity.key]
    data_idx = [i for i, c in enumerate(cols) if c not in entity.key]
    scope = dict(scope or {})
    for c in scope:
        if c not in entity.columns:
            raise ValueError(f"{entity.name}: область {c!r} не является столбцом")
    scope_norm = {c: _coerce(v, entity.columns[c], entity.name, c) for c, v in scope.items()}

    incoming: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for raw in rows:
        values = _normalise(entity, raw)
        for c, v in scope_norm.items():
            if values[cols.index(c)] != v:
                raise ValueError(f"{entity.name}: строка {raw!r} вне области {scope}")
        incoming[tuple(values[i] for i in key_idx)] = values

    select_cols = ", ".join(f'"{c}"' for c in (*entity.key, *entity.data_columns, "gone_at"))
    existing: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # key -> (data..., gone_at)
    if complete or scope:
        where, params = _where(scope_norm)
        cur = db.execute(f'SELECT {select_cols} FROM "{entity.name}" WHERE {where}', params)
        for r in cur:
            existing[tuple(r[:nkey])] = tuple(r[nkey:])
    else:
        keys = list(incoming)
        placeholders = "(" + ", ".join("?" * nkey) + ")"
        key_expr = "(" + ", ".join(f'"{k}"' for k in entity.key) + ")" if nkey > 1 else f'"{entity.key[0]}"'
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            values_sql = ", ".join([placeholders] * len(chunk))
            params = [v for k in chunk for v in k]
            sql = f'SELECT {select_cols} FROM "{entity.name}" WHERE {key_expr} IN (VALUES {values_sql})'
            for r in db.execute(sql, params):
                existing[tuple(r[:nkey])] = tuple(r[nkey:])

    if complete and not incoming and not allow_empty:
        live = sum(1 for v in existing.values() if v[-1] is None)
        if live:
            raise EmptyUnitError(entity.name, scope, live)

    stats = SaveStats()
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []  # data..., changed_at, last_seen_at (twice), key...
    touches: list[tuple[Any, ...]] = []  # last_seen_at (twice), key...
    gones: list[tuple[Any, ...]] = []  # gone_at, key...
    log: list[tuple[Any, ...]] = []  # run_id, tbl, row_key, op, at, old, new
    data_names = entity.data_columns

    for key, values in incoming.items():
        data = tuple(values[i] for i in data_idx)
        prev = existing.get(key)
        if prev is None:
            inserts.append((*values, observed_at, observed_at, observed_at, None))
            log.append((run_id, entity.name, row_key_text(key), "insert", observed_at, None, None))
            stats.new += 1
            continue
        prev_data, prev_gone = prev[:-1], prev[-1]
        diff_old = {n: o for n, o, v in zip(data_names, prev_data, data, strict=True) if o != v}
        if prev_gone is not None:
            updates.append((*data, observed_at, observed_at, observed_at, *key))
            new = {n: data[data_names.index(n)] for n in diff_old}
            log.append((run_id, entity.name, row_key_text(key), "reappear", observed_at, _dump(diff_old), _dump(new)))
            stats.reappeared += 1
        elif diff_old:
            updates.append((*data, observed_at, observed_at, observed_at, *key))
            new = {n: data[data_names.index(n)] for n in diff_old}
            log.append((run_id, entity.name, row_key_text(key), "change", observed_at, _dump(diff_old), _dump(new)))
            stats.changed += 1
        else:
            touches.append((observed_at, observed_at, *key))
            stats.unchanged += 1

    if complete:
        for key, prev in existing.items():
            if key not in incoming and prev[-1] is None:
                gones.append((observed_at, *key))
                old = dict(zip(data_names, prev[:-1], strict=True))
                log.append((run_id, entity.name, row_key_text(key), "gone", observed_at, _dump(old), None))
                stats.gone += 1

    key_where = " AND ".join(f'"{k}" = ?' for k in entity.key)
    with db.atomic():
        conn = db.conn
        if inserts:
            all_cols = ", ".join(f'"{c}"' for c in entity.all_columns)
            qs = ", ".join("?" * len(entity.all_columns))
            conn.executemany(f'INSERT INTO "{entity.name}" ({all_cols}) VALUES ({qs})', inserts)
        if updates:
            sets = ", ".join(f'"{c}" = ?' for c in data_names)
            sets = f"{sets}, " if sets else ""
            conn.executemany(
                f'UPDATE "{entity.name}" SET {sets}"changed_at" = ?, '
                f'"last_seen_at" = max(coalesce("last_seen_at", ?), ?), "gone_at" = NULL WHERE {key_where}',
                updates,
            )
        if touches:
            conn.executemany(
                f'UPDATE "{entity.name}" SET "last_seen_at" = max(coalesce("last_seen_at", ?), ?) WHERE {key_where}',
                touches,
            )
        if gones:
            conn.executemany(f'UPDATE "{entity.name}" SET "gone_at" = ? WHERE {key_where}', gones)
        if log:
            conn.executemany(
                'INSERT INTO "change_log" ("run_id", "tbl", "row_key", "op", "at", "old", "new") '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                log,
            )
    return stats


def _dump(values: Mapping[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def scope_text(scope: Mapping[str, Any] | None) -> str:
    """Canonical text for a unit's scope, used in ``observation`` and ``sync_state``."""
    return json.dumps(dict(sorted((scope or {}).items())), ensure_ascii=False, separators=(",", ":"))


@dataclass
class UnitWriter:
    db: Database
    run_id: int | None
    observed_at: str
    allow_empty: bool = False
    cursor: str | None = None
    stats: SaveStats = field(default_factory=SaveStats)

    def save(
        self,
        entity_name: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        scope: Mapping[str, Any] | None = None,
        complete: bool = False,
    ) -> SaveStats:
        s = save_rows(
            self.db,
            entity_name,
            rows,
            observed_at=self.observed_at,
            run_id=self.run_id,
            scope=scope,
            complete=complete,
            allow_empty=self.allow_empty,
        )
        self.stats += s
        return s


@contextlib.contextmanager
def unit(
    db: Database,
    resource: str,
    scope: Mapping[str, Any] | None,
    *,
    observed_at: str,
    run_id: int | None = None,
    allow_empty: bool = False,
) -> Iterator[UnitWriter]:
    """One unit of work: its rows, its observation record and its cursor commit together or not at all."""
    writer = UnitWriter(db, run_id, observed_at, allow_empty)
    stext = scope_text(scope)
    with db.atomic():
        yield writer
        db.execute(
            'INSERT INTO "observation" ("run_id", "resource", "scope", "observed_at", "complete") '
            "VALUES (?, ?, ?, ?, 1)",
            [run_id, resource, stext, observed_at],
        )
        db.execute(
            'INSERT INTO "sync_state" ("resource", "scope", "cursor", "run_id", "updated_at") VALUES (?, ?, ?, ?, ?) '
            'ON CONFLICT ("resource", "scope") DO UPDATE SET "cursor" = excluded."cursor", '
            '"run_id" = excluded."run_id", "updated_at" = excluded."updated_at"',
            [resource, stext, writer.cursor, run_id, observed_at],
        )
