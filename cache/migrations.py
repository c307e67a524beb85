"""Versioned schema migrations (sqlite-utils' ``Migrations``).

Never edit a released migration: add a new one. ``tests/test_cache_schema.py`` migrates
a file created at every earlier step to the newest schema.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from cache.schema import ENTITIES, HOUSEKEEPING_DDL

MIGRATION_SET = "asurso_sync_cache"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    for entity in ENTITIES.values():
        for stmt in entity.ddl():
            db.execute(stmt)
    for stmt in HOUSEKEEPING_DDL:
        db.execute(stmt)


# Tables whose first_seen_at the rules engine filters by time (observed evidence).
_TIMED_TABLES = ("class_meeting", "lesson_topic", "assignment", "mark", "attendance", "term_mark", "ktp_plan")


@migrations(name="0002_history_indexes")
def m0002_history_indexes(db: Database) -> None:
    for table in _TIMED_TABLES:
        db.execute(f'CREATE INDEX "idx_{table}_first_seen" ON "{table}" ("first_seen_at")')


def known_names() -> list[str]:
    return [m.name for m in migrations._migrations]
