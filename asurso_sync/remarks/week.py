"""The list's week: an ISO week (Mon–Sun) in the school's time zone, parsed from «2026-W48» or a date."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from asurso_sync.remarks.errors import RemarksError


@dataclass(frozen=True, order=True)
class Week:
    year: int
    number: int

    @classmethod
    def of(cls, d: date) -> Week:
        iso = d.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str) -> Week:
        """``2026-W48`` (ISO week) or any date inside the week (``2026-11-25``)."""
        text = text.strip()
        m = re.fullmatch(r"(\d{4})-?[Ww](\d{1,2})", text)
        try:
            if m:
                date.fromisocalendar(int(m[1]), int(m[2]), 1)
                return cls(int(m[1]), int(m[2]))
            return cls.of(date.fromisoformat(text))
        except ValueError:
            raise RemarksError(
                f"неделя «{text}» не распознана: укажите ISO-неделю (2026-W48) или дату внутри недели (2026-11-25)"
            ) from None

    @classmethod
    def last_completed(cls, today: date) -> Week:
        """The last full week before ``today`` (on Monday: the week that ended yesterday)."""
        return cls.of(today - timedelta(days=7))

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def span(self) -> str:
        return f"{self.monday:%d.%m}–{self.sunday:%d.%m.%Y}"

    def shift(self, weeks: int) -> Week:
        return Week.of(self.monday + timedelta(weeks=weeks))
