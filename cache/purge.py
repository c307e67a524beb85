"""Retention of children's personal data (152-ФЗ): purge what is older than a date, keep aggregates, record it.

What goes: marks and attendance of lessons before the date (and of assignments issued before it with no lesson),
term marks and group lists of terms that ended before it, the change history of those tables older than it,
findings about individual students dated before it, and the access report's rows about marks, attendance and
unrecognised actions before it (their texts may name a child: «Посещаемость: «ОТ» (Иванов Иван)»); its rows
about topics, homework and tasks hold no child's data and stay as the record of when lessons were filled in.
The texts of e-mails sent before the date are blanked (a teacher's list names the children it is about); the
outbox row — who, which week, when, Message-ID — stays, as the record that it went and so it never goes twice.
The deputy's comments in the cabinet (verdicts on findings dated before it or already purged, reviews of lessons
before it) are blanked — free text may name a child; the verdicts themselves stay for the precision figures.
What stays: aggregates per group and month (number and sum of marks, absences per code, findings per rule), the
lessons, topics and assignments (no personal data), and the students' rows — pseudonymised («обучающийся №id»)
once nothing about them is left. SQLite's ``secure_delete`` overwrites the deleted content, and the file is
vacuumed, so the data is gone from the file, not only unlinked.
Every purge writes a destruction record (``purge_log``) and an audit entry.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlite_utils import Database

from cache.queries import rows
from cache.runs import audit, utc_now_iso

# (table, condition selecting rows older than :before)
_MARKS = """
    "mark"."rowid" IN (
      SELECT m."rowid" FROM "mark" m JOIN "assignment" a ON a."id" = m."assignment_id"
        LEFT JOIN "class_meeting" cm ON cm."id" = a."class_meeting_id"
       WHERE coalesce(cm."day", substr(a."issue_date", 1, 10)) < :before)"""
_ATTENDANCE = """
    "attendance"."rowid" IN (
      SELECT t."rowid" FROM "attendance" t JOIN "class_meeting" cm ON cm."id" = t."class_meeting_id"
       WHERE cm."day" < :before)"""
_ENDED_TERM = """ "term_id" IN (SELECT "id" FROM "term" WHERE substr("end_date", 1, 10) < :before)"""
_ACCESS = """ "kind" IN ('mark', 'attendance', 'other') AND coalesce("lesson_day", substr("at", 1, 10)) < :before"""
_SENT_MAIL = """ "state" = 'sent' AND "created_at" < :before AND length("message") > 0"""


@dataclass
class PurgeReport:
    before: str
    counts: dict[str, int] = field(default_factory=dict)
    record_id: int | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _count(db: Database, sql: str, params: dict[str, Any]) -> int:
    return int(db.execute(sql, params).fetchone()[0])


# cabinet comments about findings dated before the cutoff, or whose finding is gone (a purged one about a student)
_OLD_VERDICT = (
    '"comment" != \'\' AND ("fingerprint" NOT IN (SELECT "fingerprint" FROM "finding") OR "fingerprint" IN '
    '(SELECT "fingerprint" FROM "finding" WHERE "date" < :before))'
)
_OLD_REVIEW = '"comment" != \'\' AND "cm_id" IN (SELECT "id" FROM "class_meeting" WHERE "day" < :before)'


def purge(db: Database, before: date, *, reason: str, actor: str | None = None, dry_run: bool = False) -> PurgeReport:
    """Purge personal data older than ``before`` (see the module docstring). With ``dry_run`` only count."""
    params = {"before": before.isoformat()}
    report = PurgeReport(before.isoformat())
    plan = {
        "mark": f'SELECT count(*) FROM "mark" WHERE {_MARKS}',
        "attendance": f'SELECT count(*) FROM "attendance" WHERE {_ATTENDANCE}',
        "term_mark": f'SELECT count(*) FROM "term_mark" WHERE {_ENDED_TERM}',
        "enrollment": f'SELECT count(*) FROM "enrollment" WHERE {_ENDED_TERM}',
        "change_log": """SELECT count(*) FROM "change_log" WHERE "tbl" IN ('mark', 'attendance', 'term_mark',
                         'enrollment', 'student') AND "at" < :before""",
        "finding": """SELECT count(*) FROM "finding" WHERE "date" < :before AND "entity" LIKE '%"student"%'""",
        "access_log": f'SELECT count(*) FROM "access_log" WHERE {_ACCESS}',
        "outbox": f'SELECT count(*) FROM "outbox" WHERE {_SENT_MAIL}',
        "comment": f'SELECT (SELECT count(*) FROM "adjudication" WHERE {_OLD_VERDICT}) + '
        f'(SELECT count(*) FROM "lesson_review" WHERE {_OLD_REVIEW})',
    }
    report.counts = {table: _count(db, sql, params) for table, sql in plan.items()}
    if dry_run:
        report.counts["student"] = _count(db, _STUDENTS_LEFT.replace("UPDATE", "SELECT count(*) FROM"), params)
        return report
    db.execute("PRAGMA secure_delete = ON")
    with db.atomic():
        _aggregate(db, params)
        db.execute(f'DELETE FROM "mark" WHERE {_MARKS}', params)
        db.execute(f'DELETE FROM "attendance" WHERE {_ATTENDANCE}', params)
        db.execute(f'DELETE FROM "term_mark" WHERE {_ENDED_TERM}', params)
        db.execute(f'DELETE FROM "enrollment" WHERE {_ENDED_TERM}', params)
        db.execute(
            """DELETE FROM "change_log" WHERE "tbl" IN ('mark', 'attendance', 'term_mark', 'enrollment', 'student')
               AND "at" < :before""",
            params,
        )
        db.execute("""DELETE FROM "finding" WHERE "date" < :before AND "entity" LIKE '%"student"%'""", params)
        db.execute(f'DELETE FROM "access_log" WHERE {_ACCESS}', params)
        db.execute(f'UPDATE "outbox" SET "message" = X\'\' WHERE {_SENT_MAIL}', params)
        # the deputy's comments in the cabinet are free text and may name a child: blanked, the verdicts stay
        db.execute(f'UPDATE "adjudication" SET "comment" = \'\' WHERE {_OLD_VERDICT}', params)
        db.execute(f'UPDATE "lesson_review" SET "comment" = \'\' WHERE {_OLD_REVIEW}', params)
        cur = db.execute(_STUDENTS_LEFT_UPDATE, params)
        report.counts["student"] = cur.rowcount
        cur = db.execute(
            'INSERT INTO "purge_log" ("at", "actor", "before", "reason", "counts") VALUES (?, ?, ?, ?, ?)',
            [utc_now_iso(), actor or _whoami(), before.isoformat(), reason, json.dumps(report.counts)],
        )
        report.record_id = int(cur.lastrowid or 0)
        audit(db, "purge", {"before": before.isoformat(), "counts": report.counts}, records=report.total)
    db.execute("VACUUM")
    return report


# students with nothing left about them: no enrollment (group lists of current terms) and no marks/attendance
_STUDENTS_LEFT = """UPDATE "student" WHERE "full_name" NOT LIKE 'обучающийся №%'
      AND "id" NOT IN (SELECT "student_id" FROM "enrollment")
      AND "id" NOT IN (SELECT "student_id" FROM "mark")
      AND "id" NOT IN (SELECT "student_id" FROM "attendance")
      AND "id" NOT IN (SELECT "student_id" FROM "term_mark")"""
_STUDENTS_LEFT_UPDATE = _STUDENTS_LEFT.replace(
    'UPDATE "student" WHERE', """UPDATE "student" SET "full_name" = 'обучающийся №' || "id" WHERE"""
)


def _aggregate(db: Database, params: dict[str, Any]) -> None:
    """Keep what the school may still need after the purge: per group and month, the number and sum of numeric
    marks, absences per code, and findings per rule — nothing about a single child."""
    db.execute(
        f"""INSERT INTO "purge_aggregate" ("kind", "sg_id", "month", "key", "count", "total")
            SELECT 'marks', m."sg_id", substr(coalesce(cm."day", a."issue_date"), 1, 7), '', count(*),
                   sum(CAST(m."mark" AS INTEGER))
              FROM "mark" m JOIN "assignment" a ON a."id" = m."assignment_id"
              LEFT JOIN "class_meeting" cm ON cm."id" = a."class_meeting_id"
             WHERE {_MARKS.replace('"mark"."rowid"', 'm."rowid"')} AND trim(m."mark") <> ''
               AND trim(m."mark") NOT GLOB '*[^0-9]*'
             GROUP BY 2, 3
            ON CONFLICT DO UPDATE SET "count" = "count" + excluded."count", "total" = "total" + excluded."total" """,
        params,
    )
    db.execute(
        f"""INSERT INTO "purge_aggregate" ("kind", "sg_id", "month", "key", "count", "total")
            SELECT 'absences', t."sg_id", substr(cm."day", 1, 7), coalesce(t."reason", ''), count(*), NULL
              FROM "attendance" t JOIN "class_meeting" cm ON cm."id" = t."class_meeting_id"
             WHERE {_ATTENDANCE.replace('"attendance"."rowid"', 't."rowid"')}
             GROUP BY 2, 3, 4
            ON CONFLICT DO UPDATE SET "count" = "count" + excluded."count" """,
        params,
    )
    db.execute(
        """INSERT INTO "purge_aggregate" ("kind", "sg_id", "month", "key", "count", "total")
           SELECT 'findings', coalesce("sg_id", 0), substr("date", 1, 7), "rule", count(*), NULL FROM "finding"
            WHERE "date" < :before AND "entity" LIKE '%"student"%' GROUP BY 2, 3, 4
           ON CONFLICT DO UPDATE SET "count" = "count" + excluded."count" """,
        params,
    )


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


def purge_records(db: Database) -> list[dict[str, Any]]:
    items = rows(db, 'SELECT "id", "at", "actor", "before", "reason", "counts" FROM "purge_log" ORDER BY "id"')
    return [{**item, "counts": json.loads(item["counts"])} for item in items]
