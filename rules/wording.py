"""Russian wording for remarks: numbers agree with their nouns, decimals take a comma."""

from __future__ import annotations


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a noun after ``n``: «1 отметка», «2 отметки», «5 отметок», «11 отметок», «21 отметка»."""
    n10, n100 = abs(n) % 10, abs(n) % 100
    if n10 == 1 and n100 != 11:
        return one
    if 2 <= n10 <= 4 and not 12 <= n100 <= 14:
        return few
    return many


def count(n: int, one: str, few: str, many: str) -> str:
    """``n`` with its noun in agreement: «4 отметки»."""
    return f"{n} {plural(n, one, few, many)}"


def decimal(x: float, digits: int = 2) -> str:
    """A decimal as Russian text writes it: «3,40»."""
    return f"{x:.{digits}f}".replace(".", ",")


# Noun forms for ``count`` (one, few, many)
MARKS = ("отметка", "отметки", "отметок")
MARKS_AFTER_PRI = ("текущей отметке", "текущих отметках", "текущих отметках")  # «при 1 текущей отметке»
LESSONS = ("урок", "урока", "уроков")
LESSONS_AFTER_IZ = ("урока", "уроков", "уроков")  # «из 1 урока», «из 5 уроков»
TWOS = ("двойка", "двойки", "двоек")
PROCEDURES = ("оценочная процедура", "оценочные процедуры", "оценочных процедур")
