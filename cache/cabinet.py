"""The cabinet's own tables: the deputy's verdicts on findings and the cabinet password's hash.

Verdicts are kept as a history (each mark a row); the latest row of a finding is its verdict. The password is
stored only as a scrypt hash (``asurso_sync/web/auth.py`` makes and checks it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from typing import Any

from sqlite_utils import Database

from cache.queries import rows
from cache.runs import utc_now_iso

VERDICTS = ("right", "wrong", "disputed")


def adjudicate(db: Database, fingerprint: str, rule: str, verdict: str, comment: str, author: str) -> int:
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    cur = db.execute(
        'INSERT INTO "adjudication" ("fingerprint", "rule", "verdict", "comment", "author", "at") '
        "VALUES (?, ?, ?, ?, ?, ?)",
        [fingerprint, rule, verdict, comment, author, utc_now_iso()],
    )
    return int(cur.lastrowid or 0)


def verdicts(db: Database, fingerprint: str | None = None) -> list[dict[str, Any]]:
    """The latest verdict of every adjudicated finding (or of one)."""
    where = 'WHERE a."fingerprint" = ?' if fingerprint else ""
    return rows(
        db,
        'SELECT a."fingerprint", a."rule", a."verdict", a."comment", a."author", a."at" FROM "adjudication" a '
        'JOIN (SELECT "fingerprint", MAX("id") AS "id" FROM "adjudication" GROUP BY "fingerprint") last '
        f'ON last."id" = a."id" {where} ORDER BY a."rule", a."at"',
        [fingerprint] if fingerprint else [],
    )


def verdict_history(db: Database, fingerprint: str) -> list[dict[str, Any]]:
    return rows(
        db,
        'SELECT "verdict", "comment", "author", "at" FROM "adjudication" WHERE "fingerprint" = ? ORDER BY "id"',
        [fingerprint],
    )


def password_hash(db: Database, name: str = "deputy") -> str | None:
    found = db.execute('SELECT "hash" FROM "web_account" WHERE "name" = ?', [name]).fetchone()
    return str(found[0]) if found else None


def set_password_hash(db: Database, hashed: str, name: str = "deputy") -> None:
    db.execute(
        'INSERT INTO "web_account" ("name", "hash", "set_at") VALUES (?, ?, ?) '
        'ON CONFLICT ("name") DO UPDATE SET "hash" = excluded."hash", "set_at" = excluded."set_at"',
        [name, hashed, utc_now_iso()],
    )


# --- what the cabinet's pages read ------------------------------------------------------------------------------

_COLUMNS = (
    'SELECT f."fingerprint", f."rule", f."entity", f."severity", f."teacher_id", f."class_id", f."sg_id", f."date", '
    'f."message", f."evidence", f."state", f."first_seen", f."last_seen", f."resolved_at", f."settled", f."owner", '
    'f."record", '
    't."name" AS "teacher", c."name" AS "class_name", g."name" AS "group_name", s."full_name" AS "student", '
    'm."number" AS "lesson_number", json_extract(f."entity", \'$.cm\') AS "cm" FROM '
)
_JOINS = (
    ' f LEFT JOIN "staff" t ON t."id" = f."teacher_id" LEFT JOIN "school_class" c ON c."id" = f."class_id" '
    'LEFT JOIN "subject_group" g ON g."id" = f."sg_id" '
    'LEFT JOIN "student" s ON s."id" = json_extract(f."entity", \'$.student\') '
    'LEFT JOIN "class_meeting" m ON m."id" = json_extract(f."entity", \'$.cm\')'
)
_FINDING = f'{_COLUMNS}"finding"{_JOINS}'
# a day's week as its Monday (SQLite: the next Sunday on or after the day, six days back)
MONDAY_OF_DATE = "date(\"date\", 'weekday 0', '-6 days')"
MONDAY_OF_DAY = "date(\"day\", 'weekday 0', '-6 days')"


FILTERS = ("teacher_id", "class_id", "rule", "state", "evidence", "kind", "rule_in", "rule_not_in")
"""What the findings' pages filter on: a column equal to a value; ``kind`` «task» (the teacher can still fix it) or
«record» (nothing left to fix, R22: ``record`` not empty); ``rule_in``/``rule_not_in`` a set of rules (the shadowed
ones, R23)."""
KINDS = ("task", "record")
# a finding's kind (R22) as the facets count it
_KIND = "CASE WHEN \"record\" = '' THEN 'task' ELSE 'record' END"


def _open_where(filters: dict[str, Any], alias: str = "") -> tuple[str, list[Any]]:
    """WHERE of open findings with each given filter (None: not filtered) as ``FILTERS`` says."""
    where, params = [f"{alias}\"state\" != 'resolved'"], []
    for column, value in filters.items():
        if column not in FILTERS:
            raise ValueError(column)
        if value is None:
            continue
        if column == "kind":
            if value not in KINDS:
                raise ValueError(value)
            where.append(f"{alias}\"record\" {'=' if value == 'task' else '!='} ''")
        elif column in ("rule_in", "rule_not_in"):
            chosen = sorted(value)
            marks = ", ".join("?" * len(chosen))
            if chosen:
                where.append(f'{alias}"rule" {"IN" if column == "rule_in" else "NOT IN"} ({marks})')
                params.extend(chosen)
            elif column == "rule_in":
                where.append("0")  # in no rule at all
        else:
            where.append(f'{alias}"{column}" = ?')
            params.append(value)
    return " AND ".join(where), params


def open_findings(db: Database, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Findings not resolved (new or open), newest lesson day first (then lesson, rule), with names and the lesson's
    number; filtered by ``FILTERS`` (equal values); at most ``limit`` of them."""
    where, params = _open_where(filters)
    tail = f" LIMIT {int(limit)}" if limit else ""
    # the newest first (SQLite puts NULL, a finding without a day, last in DESC); one lesson's findings together
    # (its entity text begins with its cm); names joined to the page's rows only, not to the 10⁴ findings of a
    # year's rule they are chosen from; a rule's or a class's newest read in the order of an index (migration 0024)
    order = '"date" DESC, "sg_id", "entity", "rule"'
    chosen = f'(SELECT * FROM "finding" WHERE {where} ORDER BY {order}{tail})'
    again = 'f."date" DESC, f."sg_id", f."entity", f."rule"'
    return rows(db, f"{_COLUMNS}{chosen}{_JOINS} ORDER BY {again}", params)


def count_open(db: Database, **filters: Any) -> int:
    """Open findings with the given ``FILTERS``."""
    where, params = _open_where(filters)
    return int(db.execute(f'SELECT COUNT(*) FROM "finding" WHERE {where}', params).fetchone()[0])


def open_facets(db: Database, **scope: Any) -> list[dict[str, Any]]:
    """Open findings of a scope (a teacher, a class, a rule) counted per rule, class, state, evidence and kind (task
    or record, R22): the choices of the page's filters, each with its count."""
    where, params = _open_where(scope)
    return rows(
        db,
        'SELECT f."rule", f."class_id", c."name" AS "class_name", f."state", f."evidence", f."kind", f."count" FROM '
        f'(SELECT "rule", "class_id", "state", "evidence", {_KIND} AS "kind", COUNT(*) AS "count" FROM "finding" '
        f'WHERE {where} GROUP BY 1, 2, 3, 4, 5) f LEFT JOIN "school_class" c ON c."id" = f."class_id"',
        params,
    )


def open_by_rule(db: Database) -> list[tuple[str, int, int]]:
    """(rule, open findings, of them undecided) for the overview, the largest first."""
    found = db.execute(
        'SELECT "rule", COUNT(*), SUM("evidence" = \'undecided\') FROM "finding" WHERE "state" != \'resolved\' '
        "GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2] or 0)) for r in found]


def open_fingerprints(db: Database) -> list[tuple[str, str]]:
    """(rule, fingerprint) of every open finding, in a stable order (the sampling page draws from them)."""
    found = db.execute(
        'SELECT "rule", "fingerprint" FROM "finding" WHERE "state" != \'resolved\' ORDER BY 1, 2'
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in found]


def next_unjudged(db: Database, rule: str, skip: Collection[str] = ()) -> dict[str, Any] | None:
    """The review queue's next open finding of ``rule`` with no verdict yet (and not skipped), with names.

    In the order of fingerprints — a hash of the rule and the entity, so an order unrelated to date, teacher or
    class: the verdicts taken from the front of the queue are a random sample of the rule's findings, and the
    precision they measure is not biased towards one week or one teacher."""
    marks = ", ".join("?" * len(skip))
    skipped = f' AND f."fingerprint" NOT IN ({marks})' if skip else ""
    found = rows(
        db,
        f'{_FINDING} WHERE f."rule" = ? AND f."state" != \'resolved\'{skipped} AND NOT EXISTS '
        '(SELECT 1 FROM "adjudication" a WHERE a."fingerprint" = f."fingerprint") ORDER BY f."fingerprint" LIMIT 1',
        [rule, *skip],
    )
    return found[0] if found else None


def judged_open_by_rule(db: Database) -> dict[str, int]:
    """Open findings that have a verdict, per rule: the review queue's length is the open ones minus these (the
    verdicts are few — counted from their side, not by a look-up for each of 10⁵ findings)."""
    found = db.execute(
        'SELECT f."rule", COUNT(*) FROM (SELECT DISTINCT "fingerprint" FROM "adjudication") a '
        'JOIN "finding" f ON f."fingerprint" = a."fingerprint" WHERE f."state" != \'resolved\' GROUP BY 1'
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in found}


def judged_fingerprints(db: Database, fingerprints: list[str]) -> set[str]:
    """Which of these findings have a verdict."""
    if not fingerprints:
        return set()
    marks = ", ".join("?" * len(fingerprints))
    found = db.execute(
        f'SELECT DISTINCT "fingerprint" FROM "adjudication" WHERE "fingerprint" IN ({marks})', fingerprints
    ).fetchall()
    return {str(r[0]) for r in found}


def findings_named(db: Database, fingerprints: list[str]) -> list[dict[str, Any]]:
    """These findings with names, in the order given."""
    if not fingerprints:
        return []
    marks = ", ".join("?" * len(fingerprints))
    found = {r["fingerprint"]: r for r in rows(db, f'{_FINDING} WHERE f."fingerprint" IN ({marks})', fingerprints)}
    return [found[fp] for fp in fingerprints if fp in found]


def finding(db: Database, fingerprint: str) -> dict[str, Any] | None:
    found = rows(db, f'{_FINDING} WHERE f."fingerprint" = ?', [fingerprint])
    return found[0] if found else None


def counts_by(db: Database, key: str) -> list[dict[str, Any]]:
    """Open findings counted per teacher, class or rule: [{"id", "name", "rule", "count"}].

    Counted first (from a covering index, migration 0024), named after: 10⁵ findings, a few thousand counts."""
    column = {"teacher": "teacher_id", "class": "class_id", "rule": "rule"}[key]
    groups = '"rule"' if key == "rule" else f'"{column}", "rule"'  # the index's columns (twice «rule»: a sort)
    counted = (
        f'(SELECT "{column}" AS "id", "rule", COUNT(*) AS "count" FROM "finding" '
        f"WHERE \"state\" != 'resolved' GROUP BY {groups}) f"
    )
    if key == "teacher":
        sql = (
            'SELECT f."id", COALESCE(t."name", \'учитель не указан\') AS "name", f."rule", f."count" '
            f'FROM {counted} LEFT JOIN "staff" t ON t."id" = f."id"'
        )
    elif key == "class":
        sql = (
            'SELECT f."id", COALESCE(c."name", \'—\') AS "name", f."rule", f."count" '
            f'FROM {counted} LEFT JOIN "school_class" c ON c."id" = f."id"'
        )
    else:
        sql = f'SELECT f."id", f."id" AS "name", f."rule", f."count" FROM {counted}'
    return rows(db, f"{sql} ORDER BY 2, 3")


def weekly_by(db: Database, key: str, weeks: int = 8) -> dict[Any, dict[str, int]]:
    """Findings (every state) per teacher, class or rule and ISO week of the lesson day, the last ``weeks`` weeks
    that have findings: the listing pages' trend."""
    column = {"teacher": "teacher_id", "class": "class_id", "rule": "rule"}[key]
    found = db.execute(
        f'SELECT "{column}", strftime(\'%Y-%W\', "date") AS "week", COUNT(*) FROM "finding" '
        'WHERE "date" IS NOT NULL AND strftime(\'%Y-%W\', "date") IN (SELECT DISTINCT strftime(\'%Y-%W\', "date") '
        f'FROM "finding" WHERE "date" IS NOT NULL ORDER BY 1 DESC LIMIT {int(weeks)}) GROUP BY 1, 2'
    ).fetchall()
    out: dict[Any, dict[str, int]] = {}
    for ident, week, n in found:
        out.setdefault(ident, {})[str(week)] = int(n)
    return out


def late_lessons_per_week(db: Database, rules: tuple[str, ...]) -> dict[str, int]:
    """Lessons with a finding of one of ``rules`` (all states), per week of the lesson day (its Monday, ISO text):
    the overview's chart of lessons filled on time. A lesson with several such findings counts once."""
    marks = ", ".join("?" * len(rules))
    found = db.execute(
        f'SELECT {MONDAY_OF_DATE}, COUNT(DISTINCT json_extract("entity", \'$.cm\')) FROM "finding" '
        f'WHERE "date" IS NOT NULL AND "rule" IN ({marks}) GROUP BY 1',
        list(rules),
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in found}


def lessons_per_week(db: Database, day_from: str, day_before: str) -> dict[str, int]:
    """Lessons from ``day_from`` to the day before ``day_before`` per week (its Monday, ISO text)."""
    found = db.execute(
        f'SELECT {MONDAY_OF_DAY}, COUNT(*) FROM "class_meeting" '
        'WHERE "gone_at" IS NULL AND "day" >= ? AND "day" < ? GROUP BY 1',
        [day_from, day_before],
    ).fetchall()
    return {str(r[0]): int(r[1]) for r in found}


def lesson_evidence(db: Database, cm_id: int) -> dict[str, Any]:
    """A lesson as mirrored — its row, topic, assignments — with when each was first seen and last changed, and the
    access report's rows about it: what the finding's page shows as «что было видно и когда»."""
    lesson = rows(
        db,
        'SELECT m."id", m."day", m."number", m."first_seen_at", m."changed_at", m."gone_at", g."name" AS "group_name", '
        'c."name" AS "class_name", r."name" AS "recorded_teacher" FROM "class_meeting" m '
        'LEFT JOIN "subject_group" g ON g."id" = m."sg_id" LEFT JOIN "school_class" c ON c."id" = g."class_id" '
        'LEFT JOIN "staff" r ON r."id" = m."teacher_id" WHERE m."id" = ?',
        [cm_id],
    )
    topic = rows(
        db,
        'SELECT "topic", "first_seen_at", "changed_at", "gone_at" FROM "lesson_topic" WHERE "cm_id" = ?',
        [cm_id],
    )
    tasks = rows(
        db,
        'SELECT a."name", t."name" AS "type", a."issue_cm_id", a."due_date", a."first_seen_at", a."changed_at", '
        'a."gone_at" FROM "assignment" a LEFT JOIN "assignment_type" t ON t."id" = a."type_id" '
        'WHERE a."class_meeting_id" = ? OR a."issue_cm_id" = ? ORDER BY a."first_seen_at"',
        [cm_id, cm_id],
    )
    access = rows(
        db,
        'SELECT "at", "user_name", "action", "kind", "detail" FROM "access_log" WHERE "cm_id" = ? ORDER BY "at"',
        [cm_id],
    )
    return {"lesson": lesson[0] if lesson else None, "topic": topic, "assignments": tasks, "access": access}


def teacher_names(db: Database) -> dict[int, str]:
    return {int(r["id"]): str(r["name"]) for r in rows(db, 'SELECT "id", "name" FROM "staff" ORDER BY "name"')}


# --- shadow start: rules released to teachers -------------------------------------------------------------------


def released_rules(db: Database) -> set[str]:
    """Rules whose findings reach teachers in shadow mode (``[rules] shadow``)."""
    try:
        return {str(r[0]) for r in db.execute('SELECT "rule" FROM "rule_release" WHERE "released" = 1').fetchall()}
    except sqlite3.OperationalError:  # a cache older than the cabinet (opened read-only): nothing released yet
        return set()


def releases(db: Database) -> dict[str, dict[str, Any]]:
    return {
        r["rule"]: r
        for r in rows(
            db, 'SELECT "rule", "released", "at", "author", "adjudicated", "precision", "reason" FROM "rule_release"'
        )
    }


def set_release(
    db: Database, rule: str, *, released: bool, author: str, adjudicated: int, precision: float | None, reason: str
) -> None:
    db.execute(
        'INSERT INTO "rule_release" ("rule", "released", "at", "author", "adjudicated", "precision", "reason") '
        'VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT ("rule") DO UPDATE SET "released" = excluded."released", '
        '"at" = excluded."at", "author" = excluded."author", "adjudicated" = excluded."adjudicated", '
        '"precision" = excluded."precision", "reason" = excluded."reason"',
        [rule, int(released), utc_now_iso(), author, adjudicated, precision, reason],
    )


# --- sampling: lessons without findings ------------------------------------------------------------------------


def lessons_without_findings(db: Database, day_from: str, day_to: str) -> list[int]:
    """Lessons held from ``day_from`` to ``day_to`` that no open finding is about (the sampling page draws from them
    to estimate what the program misses)."""
    about = {
        r[0]
        for r in db.execute(
            'SELECT DISTINCT json_extract("entity", \'$.cm\') FROM "finding" WHERE "state" != \'resolved\''
        ).fetchall()
    }
    held = db.execute(
        'SELECT "id" FROM "class_meeting" WHERE "gone_at" IS NULL AND "day" BETWEEN ? AND ? ORDER BY "id"',
        [day_from, day_to],
    ).fetchall()
    return [int(r[0]) for r in held if r[0] not in about]


def review_lesson(db: Database, cm_id: int, verdict: str, comment: str, author: str) -> None:
    if verdict not in ("clean", "missed"):
        raise ValueError(f"unknown lesson verdict {verdict!r}")
    db.execute(
        'INSERT INTO "lesson_review" ("cm_id", "verdict", "comment", "author", "at") VALUES (?, ?, ?, ?, ?)',
        [cm_id, verdict, comment, author, utc_now_iso()],
    )


def lesson_reviews(db: Database) -> dict[int, dict[str, Any]]:
    """The latest review of every reviewed lesson."""
    found = rows(
        db,
        'SELECT r."cm_id", r."verdict", r."comment", r."at" FROM "lesson_review" r JOIN (SELECT "cm_id", MAX("id") '
        'AS "id" FROM "lesson_review" GROUP BY "cm_id") last ON last."id" = r."id"',
    )
    return {int(r["cm_id"]): r for r in found}
