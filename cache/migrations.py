"""Versioned schema migrations (sqlite-utils' ``Migrations``).

Never edit a released migration: add a new one. ``tests/test_cache_schema.py`` migrates
a file created at every earlier step to the newest schema.
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

_SQL = Path(__file__).resolve().parent / "sql"

MIGRATION_SET = "asurso_sync_cache"
migrations = Migrations(MIGRATION_SET)


def _run_sql_file(db: Database, name: str) -> None:
    """Run a frozen SQL file statement by statement (inside the migration's transaction)."""
    for stmt in (_SQL / name).read_text(encoding="utf-8").split(";\n\n"):
        if stmt.strip():
            db.execute(stmt.strip().rstrip(";"))


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    # Frozen DDL of the first schema; later changes go into new migrations, never into this file.
    _run_sql_file(db, "0001_initial.sql")


# Tables whose first_seen_at the rules engine filters by time (observed evidence).
_TIMED_TABLES = ("class_meeting", "lesson_topic", "assignment", "mark", "attendance", "term_mark", "ktp_plan")


@migrations(name="0002_history_indexes")
def m0002_history_indexes(db: Database) -> None:
    for table in _TIMED_TABLES:
        db.execute(f'CREATE INDEX "idx_{table}_first_seen" ON "{table}" ("first_seen_at")')


# A journal unit is one subject group in one term: its rows carry the term, so that the unit's scope
# (sg_id, term_id) says exactly which rows a complete read replaces.
_TERM_SCOPED = ("class_meeting", "assignment", "mark", "attendance")


@migrations(name="0003_term_scope")
def m0003_term_scope(db: Database) -> None:
    for table in _TERM_SCOPED:
        db.execute(f'ALTER TABLE "{table}" ADD COLUMN "term_id" INTEGER')
        db.execute(f'CREATE INDEX "idx_{table}_unit" ON "{table}" ("sg_id", "term_id")')


@migrations(name="0004_findings")
def m0004_findings(db: Database) -> None:
    """Check runs and the findings' lifecycle (new / open / resolved), keyed by fingerprint."""
    _run_sql_file(db, "0004_findings.sql")


@migrations(name="0005_waivers")
def m0005_waivers(db: Database) -> None:
    """Waivers: the deputy's decisions that a finding in a scope is accepted (with a reason and an expiry)."""
    _run_sql_file(db, "0005_waivers.sql")


@migrations(name="0006_outbox")
def m0006_outbox(db: Database) -> None:
    """The e-mail outbox: one row per (recipient, list kind, period), so no message goes out twice."""
    _run_sql_file(db, "0006_outbox.sql")


@migrations(name="0007_remark_week")
def m0007_remark_week(db: Database) -> None:
    """Which check run each week's remark lists were sent from, so the next week's «new» starts after it."""
    _run_sql_file(db, "0007_remark_week.sql")


@migrations(name="0008_finding_settled")
def m0008_finding_settled(db: Database) -> None:
    """A finding that is a matter of record (the late entry has been made since): nothing left to fix."""
    db.execute('ALTER TABLE "finding" ADD COLUMN "settled" INTEGER NOT NULL DEFAULT 0')


@migrations(name="0009_purge")
def m0009_purge(db: Database) -> None:
    """152-ФЗ retention: the destruction records and the aggregates kept after personal data is purged."""
    _run_sql_file(db, "0009_purge.sql")


@migrations(name="0010_access_log")
def m0010_access_log(db: Database) -> None:
    """Rows of «Отчёт о доступе к классному журналу»: exact entry times (a row's identity is its content)."""
    _run_sql_file(db, "0010_access_log.sql")


@migrations(name="0011_access_log_evidence")
def m0011_access_log_evidence(db: Database) -> None:
    """A covering index for the rules' per-lesson aggregation of the access report."""
    _run_sql_file(db, "0011_access_log_evidence.sql")


@migrations(name="0012_change_log_changes")
def m0012_change_log_changes(db: Database) -> None:
    """A partial index of the value changes, for the rules' reading of code and enrollment changes."""
    _run_sql_file(db, "0012_change_log_changes.sql")


@migrations(name="0013_finding_owner")
def m0013_finding_owner(db: Database) -> None:
    """Who answers for one finding when it is not the rule's usual owner: «deputy» for a term mark of a student
    in family or home education (ruling R15); NULL means the rule's owner."""
    db.execute('ALTER TABLE "finding" ADD COLUMN "owner" TEXT')


@migrations(name="0014_extracurricular")
def m0014_extracurricular(db: Database) -> None:
    """Whether a subject group is внеурочная деятельность: only its topic and attendance are checked (ruling R19)."""
    db.execute('ALTER TABLE "subject_group" ADD COLUMN "extracurricular" INTEGER NOT NULL DEFAULT 0')


@migrations(name="0015_iup_grade")
def m0015_iup_grade(db: Database) -> None:
    """The grade of an ИУП group (it belongs to no class): its journal is read and checked by that grade (R20)."""
    db.execute('ALTER TABLE "subject_group" ADD COLUMN "iup_grade" INTEGER')


@migrations(name="0016_lesson_teacher")
def m0016_lesson_teacher(db: Database) -> None:
    """The teacher the server records for one lesson (a substitute), when it does: the lesson's owner (R6)."""
    db.execute('ALTER TABLE "class_meeting" ADD COLUMN "teacher_id" INTEGER')


@migrations(name="0017_named_views")
def m0017_named_views(db: Database) -> None:
    """Views with names and Russian column names for people browsing the mirror (datasette, README «Кэш»):
    lessons, marks, attendance, findings. Nothing in the program reads them."""
    _run_sql_file(db, "0017_named_views.sql")


@migrations(name="0018_lesson_relay")
def m0018_lesson_relay(db: Database) -> None:
    """The schedule's ``relay`` of a lesson: 2 marks внеурочная деятельность (ruling R19), 1 a lesson."""
    db.execute('ALTER TABLE "class_meeting" ADD COLUMN "relay" INTEGER')


@migrations(name="0019_cabinet")
def m0019_cabinet(db: Database) -> None:
    """Кабинет завуча: verdicts on findings (adjudication) and the cabinet's password hash."""
    _run_sql_file(db, "0019_cabinet.sql")


@migrations(name="0020_rule_release")
def m0020_rule_release(db: Database) -> None:
    """Shadow start: the rules the deputy has released to teachers; the sampled lessons the deputy reviewed."""
    _run_sql_file(db, "0020_rule_release.sql")


@migrations(name="0021_task_record")
def m0021_task_record(db: Database) -> None:
    """Tasks and records (R22): ``finding.record``/``record_since``; the baseline per teacher and rule (R23):
    ``letter_rule``."""
    _run_sql_file(db, "0021_task_record.sql")


@migrations(name="0022_teacher_links")
def m0022_teacher_links(db: Database) -> None:
    """A teacher's personal page: links (token hashes only), her objections, and the verdicts marked as answering
    them (``adjudication.objection_id``)."""
    _run_sql_file(db, "0022_teacher_links.sql")


@migrations(name="0023_link_verdict_mark")
def m0023_link_verdict_mark(db: Database) -> None:
    """A link remembers the newest verdict when it was issued: the next letter's answers are those after it."""
    _run_sql_file(db, "0023_link_verdict_mark.sql")


@migrations(name="0024_finding_listing_indexes")
def m0024_finding_listing_indexes(db: Database) -> None:
    """The cabinet's pages over a year of findings: counts per teacher, class or rule and a rule's filters from
    covering indexes, the review queue's next finding in fingerprint order, a rule's or class's newest by day."""
    _run_sql_file(db, "0024_finding_listing_indexes.sql")


def known_names() -> list[str]:
    return [m.name for m in migrations._migrations]
