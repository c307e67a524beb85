"""The emulated school year 2026/27: terms, vacations and school days (Europe/Samara local dates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

YEAR_START = date(2026, 9, 1)
YEAR_END = date(2027, 5, 26)
YEAR_NAME = "2026/2027"

QUARTER, HALF_YEAR = 1, 2  # termTypeId values chosen by the emulator (the real codes are unknown, [I])


@dataclass(frozen=True)
class TermSpec:
    name: str
    type_id: int
    start: date
    end: date


TERMS: tuple[TermSpec, ...] = (
    TermSpec("1 четверть", QUARTER, date(2026, 9, 1), date(2026, 10, 25)),
    TermSpec("2 четверть", QUARTER, date(2026, 11, 5), date(2026, 12, 28)),
    TermSpec("3 четверть", QUARTER, date(2027, 1, 12), date(2027, 3, 21)),
    TermSpec("4 четверть", QUARTER, date(2027, 3, 30), date(2027, 5, 26)),
    TermSpec("1 полугодие", HALF_YEAR, date(2026, 9, 1), date(2026, 12, 28)),
    TermSpec("2 полугодие", HALF_YEAR, date(2027, 1, 12), date(2027, 5, 26)),
)

# Public holidays that fall on weekdays are listed as one-day vacations, so that "a school day" is
# fully described by `calendar/vacations` (the rules engine needs nothing else).
VACATIONS: tuple[tuple[str, date, date], ...] = (
    ("Осенние каникулы", date(2026, 10, 26), date(2026, 11, 4)),
    ("Зимние каникулы", date(2026, 12, 29), date(2027, 1, 11)),
    ("Праздничный день", date(2027, 2, 23), date(2027, 2, 23)),
    ("Праздничный день", date(2027, 3, 8), date(2027, 3, 8)),
    ("Весенние каникулы", date(2027, 3, 22), date(2027, 3, 29)),
)


def term_type_for_grade(grade: int) -> int:
    return HALF_YEAR if grade >= 10 else QUARTER


def in_vacation(d: date) -> bool:
    return any(start <= d <= end for _, start, end in VACATIONS)


@lru_cache(maxsize=4096)
def is_school_day(d: date) -> bool:
    return YEAR_START <= d <= YEAR_END and d.weekday() < 5 and not in_vacation(d)


@lru_cache(maxsize=1)
def school_days() -> tuple[date, ...]:
    days = []
    d = YEAR_START
    while d <= YEAR_END:
        if is_school_day(d):
            days.append(d)
        d += timedelta(days=1)
    return tuple(days)


def next_school_day(d: date) -> date:
    """The first school day after ``d`` (beyond the year's end: the next weekday)."""
    n = d + timedelta(days=1)
    while not is_school_day(n):
        if n > YEAR_END:
            while n.weekday() >= 5:
                n += timedelta(days=1)
            return n
        n += timedelta(days=1)
    return n
