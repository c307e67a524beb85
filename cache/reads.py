"""The application's named reads of the mirror: who is who, what is live, what the sync must read next.

``asurso_sync`` reads the mirror's tables only through this module, ``cache.calendar`` and the other public
functions of ``cache``; the rules engine keeps its own declared queries (``rules.facts``, SQL rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlite_utils import Database


@dataclass(frozen=True)
class Names:
    """Display names by id, for everything a finding or a list may name (live or not: history names stay)."""

    teacher: dict[int, str]
    teacher_email: dict[int, str | None]
    class_: dict[int, str]
    group: dict[int, str]
    group_subject: dict[int, str | None]
    student: dict[int, str]


def names(db: Database) -> Names:
    staff = db.execute('SELECT "id", "name", "email" FROM "staff"').fetchall()
    groups = db.execute(
        'SELECT g."id", g."name", s."name" FROM "subject_group" g LEFT JOIN "subject" s ON s."id" = g."subject_id"'
    ).fetchall()
    return Names(
        teacher={i: n for i, n, _e in staff},
        teacher_email={i: e for i, _n, e in staff},
        class_=dict(db.execute('SELECT "id", "name" FROM "school_class"').fetchall()),
        group={i: n for i, n, _s in groups},
        group_subject={i: s for i, _n, s in groups},
        student=dict(db.execute('SELECT "id", "full_name" FROM "student"').fetchall()),
    )


class UnitNames(NamedTuple):
    """What a sync's progress and messages call its units by («8б, Алгебра, 2 четверть»), from the mirror."""

    class_: dict[int, str]
    group: dict[int, str]
    term: dict[int, str]


def unit_names(db: Database) -> UnitNames:
    return UnitNames(
        class_=dict(db.execute('SELECT "id", "name" FROM "school_class"').fetchall()),
        group=dict(db.execute('SELECT "id", "name" FROM "subject_group"').fetchall()),
        term=dict(db.execute('SELECT "id", "name" FROM "term"').fetchall()),
    )


def teaching_staff(db: Database) -> list[tuple[int, str]]:
    """(id, name) of the staff who teach a group or lead a class now, by name: who may receive a list."""
    return [
        (int(i), str(n))
        for i, n in db.execute(
            'SELECT "id", "name" FROM "staff" WHERE "gone_at" IS NULL AND ("id" IN (SELECT "teacher_id" FROM '
            '"subject_group_teacher" WHERE "gone_at" IS NULL) OR "id" IN (SELECT "user_id" FROM "class_chief" '
            'WHERE "gone_at" IS NULL)) ORDER BY "name"'
        )
    ]


def class_chiefs(db: Database) -> list[tuple[int, int]]:
    """(class id, class teacher's user id) as the mirror holds them now."""
    return [(c, u) for c, u in db.execute('SELECT "class_id", "user_id" FROM "class_chief" WHERE "gone_at" IS NULL')]


def first_observation(db: Database) -> str | None:
    """Server time of the first fully read unit (when the mirror's history begins), or None before any sync."""
    row = db.execute('SELECT min("observed_at") FROM "observation"').fetchone()
    return str(row[0]) if row and row[0] else None


def first_observed_day(db: Database) -> date | None:
    first = first_observation(db)
    return date.fromisoformat(first[:10]) if first else None


def oldest_lesson_day(db: Database) -> date | None:
    """The day of the oldest lesson the mirror holds (what a purge would reach first), or None."""
    row = db.execute('SELECT min("day") FROM "class_meeting"').fetchone()
    return date.fromisoformat(str(row[0])[:10]) if row and row[0] else None


def school_year_start(db: Database) -> date | None:
    """The first day of the school year in the mirror: its earliest live term's start."""
    row = db.execute('SELECT min("start_date") FROM "term" WHERE "gone_at" IS NULL').fetchone()
    return date.fromisoformat(row[0][:10]) if row and row[0] else None


# --- what the sync reads ----------------------------------------------------------------------------


def live_classes(db: Database) -> list[tuple[int, int | None]]:
    """(id, grade) of the live classes, by id."""
    return [
        (i, g) for i, g in db.execute('SELECT "id", "grade" FROM "school_class" WHERE "gone_at" IS NULL ORDER BY 1')
    ]


def live_groups(db: Database) -> list[tuple[int, int | None]]:
    """(id, class id) of the live subject groups, by id (an ИУП group has no class)."""
    return [
        (i, c) for i, c in db.execute('SELECT "id", "class_id" FROM "subject_group" WHERE "gone_at" IS NULL ORDER BY 1')
    ]


def iup_group_grades(db: Database) -> dict[int, int]:
    """ИУП group -> its grade, for the live groups without a class whose grade the server named."""
    return dict(
        db.execute(
            'SELECT "id", "iup_grade" FROM "subject_group" WHERE "gone_at" IS NULL AND "class_id" IS NULL '
            'AND "iup_grade" IS NOT NULL'
        ).fetchall()
    )


def group_teachers(db: Database, groups: set[int]) -> set[int]:
    """The live teachers of the given groups."""
    rows = db.execute('SELECT "sg_id", "teacher_id" FROM "subject_group_teacher" WHERE "gone_at" IS NULL').fetchall()
    return {t for sg, t in rows if sg in groups}


def school_year_bounds(db: Database) -> tuple[date, date] | None:
    """(first day, last day) of the current school year as the server named it, or None."""
    row = db.execute(
        'SELECT "start_date", "end_date" FROM "school_year" WHERE "gone_at" IS NULL ORDER BY "id" DESC LIMIT 1'
    ).fetchone()
    if not row or not row[0] or not row[1]:
        return None
    return date.fromisoformat(str(row[0])[:10]), date.fromisoformat(str(row[1])[:10])


def current_year_id(db: Database) -> int | None:
    row = db.execute('SELECT "id" FROM "school_year" WHERE "gone_at" IS NULL ORDER BY "id" DESC LIMIT 1').fetchone()
    return int(row[0]) if row else None


def groups_without_plan(db: Database) -> list[int]:
    """Live groups with no live КТП in the mirror."""
    return [
        r[0]
        for r in db.execute(
            """SELECT g."id" FROM "subject_group" g WHERE g."gone_at" IS NULL AND NOT EXISTS
                 (SELECT 1 FROM "ktp_plan" p WHERE p."sg_id" = g."id" AND p."gone_at" IS NULL) ORDER BY 1"""
        )
    ]


@dataclass(frozen=True, slots=True)
class HeldLesson:
    cm: int
    sg: int
    term: int
    day: str  # ISO date
    has_topic: bool  # a live topic is in the mirror


def held_lessons(db: Database, until: date) -> list[HeldLesson]:
    """The live lessons up to ``until``, by day, each with whether its topic is already mirrored."""
    return [
        HeldLesson(cm, sg, term, day, bool(known))
        for cm, sg, term, day, known in db.execute(
            """SELECT cm."id", cm."sg_id", cm."term_id", cm."day",
                      EXISTS (SELECT 1 FROM "lesson_topic" t WHERE t."cm_id" = cm."id" AND t."gone_at" IS NULL)
                 FROM "class_meeting" cm WHERE cm."gone_at" IS NULL AND cm."day" <= ? ORDER BY cm."day", cm."id" """,
            [until.isoformat()],
        )
    ]
