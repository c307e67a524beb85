"""The school calendar as the mirror knows it: the one definition of a school day for the application.

A **school day** is a day with at least one live lesson in the mirror that does not lie inside a live vacation
(dates are ISO ``YYYY-MM-DD`` text, compared as text). Before the first sync, when the mirror holds no lessons
at all, Monday to Friday are taken as school days (the scheduler needs an answer before there is a journal).
The SQL predicate ``IN_VACATION`` is the same rule for queries that count lessons.

The rules engine keeps its own reading of its facts (docs/rules.md, ruling R7); everything in
``asurso_sync`` asks here.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlite_utils import Database

# ``term_type_id`` of the year's own period, whose journal carries the year marks (docs/server-api.md §3, «year
# marks»; inferred: only 1 = quarter is confirmed).
YEAR_TERM_TYPE = 4


def is_year_period(
    type_id: int | None,
    name: str | None,
    start: date,
    end: date,
    year: tuple[date, date] | None,
    *,
    has_parts: bool = True,
) -> bool:
    """Whether a term of the server's list is the year's own period (its journal carries the year marks).

    The server's kinds are read from its own list, not from a fixed table: ``termTypeId`` 4 is only inferred, so a
    term is also the year when its name says «год», or when it spans the school year (within two weeks at its
    start and three at its end) **and** shorter terms lie inside it (``has_parts``): a school that works in one
    year-long period keeps its lessons there. A half-year or a trimester never is (docs/server-api.md §3)."""
    if type_id == YEAR_TERM_TYPE:
        return True
    if name and name.strip().casefold() in ("год", "учебный год", "годовая", "годовые"):
        return True
    if year is None or not has_parts:
        return False
    return start <= year[0] + timedelta(days=14) and end >= year[1] - timedelta(days=21)


def has_parts(term: tuple[date, date], others: list[tuple[date, date]]) -> bool:
    """Whether some shorter term lies inside ``term`` (it is then a sum of parts, not the only period)."""
    return any(term[0] <= a and b <= term[1] and (a, b) != term for a, b in others)


# True when the ISO day in column/expression {day} lies inside a live vacation.
_IN_VACATION = (
    'EXISTS (SELECT 1 FROM "vacation" v WHERE v."gone_at" IS NULL AND {day} BETWEEN v."start_date" AND v."end_date")'
)


def in_vacation_sql(day: str) -> str:
    """The predicate «``day`` lies inside a vacation» for a column or expression ``day``."""
    return _IN_VACATION.format(day=day)


def vacations(db: Database) -> list[tuple[str, str]]:
    """(start, end) of the live vacations, ISO dates, in order."""
    return [
        (a, b)
        for a, b in db.execute(
            'SELECT "start_date", "end_date" FROM "vacation" WHERE "gone_at" IS NULL ORDER BY "start_date"'
        ).fetchall()
    ]


def in_vacation(spans: list[tuple[str, str]], day: str) -> bool:
    """Whether the ISO ``day`` lies inside one of ``spans`` (from :func:`vacations`)."""
    return any(a <= day <= b for a, b in spans)


def is_school_day(db: Database, day: date) -> bool:
    """A day with lessons in the mirror and not inside a vacation; before the first sync: Monday to Friday."""
    iso = day.isoformat()
    if db.execute(f"SELECT {in_vacation_sql('?')}", [iso]).fetchone()[0]:
        return False
    if db.execute('SELECT 1 FROM "class_meeting" WHERE "gone_at" IS NULL AND "day" = ? LIMIT 1', [iso]).fetchone():
        return True
    anything = db.execute('SELECT 1 FROM "class_meeting" LIMIT 1').fetchone()
    return anything is None and day.weekday() < 5


def lessons_per_teacher(db: Database, first: date, last: date, due_before: str) -> dict[int, int]:
    """Held lessons per teacher from ``first`` to ``last`` on school days whose 16:00 had passed by
    ``due_before`` (ISO moment): the denominator of «уроков заполнено в срок»."""
    return dict(
        db.execute(
            f"""
            SELECT t."teacher_id", count(*) FROM "class_meeting" cm
              JOIN "subject_group_teacher" t ON t."sg_id" = cm."sg_id" AND t."gone_at" IS NULL
             WHERE cm."gone_at" IS NULL AND cm."day" BETWEEN ? AND ? AND cm."day" || 'T16:00:00' < ?
               AND NOT {in_vacation_sql('cm."day"')}
             GROUP BY 1""",
            [first.isoformat(), last.isoformat(), due_before],
        ).fetchall()
    )
