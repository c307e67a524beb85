"""What a list is made of: remarks, the parts of a teacher's list, the deputy's summary, the footer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from asurso_sync.findref import ref
from asurso_sync.remarks.week import Week

TIMELY = ("TML001", "TML002", "TML003", "TML004")
SETTLED_ADVICE = "исправлять нечего, впредь вносите до срока"
TREND_WEEKS = 4
TOP_OPEN = 15
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass
class Remark:
    fingerprint: str
    rule: str
    title: str
    severity: str
    advice: str
    state: str  # new | open | resolved (in this list's sense)
    owner: str
    teacher_id: int | None
    class_name: str
    subject: str
    day: date | None
    lesson: str  # "урок 3" or ""
    detail: str
    student: str | None
    first_seen: date | None
    resolved_at: date | None
    message: str
    cm: int = 0
    late_what: str = ""  # for an entry made after its deadline that cannot be fixed: «тема, домашнее задание»

    @property
    def ref(self) -> str:
        """The short number the letter shows, to name this remark in a reply or in ``rules waive --finding``."""
        return ref(self.fingerprint)


@dataclass
class Part:
    """One list's three sections."""

    new: list[Remark] = field(default_factory=list)
    still_open: list[Remark] = field(default_factory=list)
    resolved: list[Remark] = field(default_factory=list)
    # the first mailing only: older open items kept out of the letter (the deputy's «накопленные замечания»)
    backlog: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.still_open)

    @property
    def fresh(self) -> list[Remark]:
        """New items that still ask for something to be done."""
        return [r for r in self.new if not r.late_what]

    @property
    def late(self) -> list[Remark]:
        """New items that are a matter of record — entered after the deadline, nothing left to fix: the letter
        summarises them by lesson instead of listing each as a task."""
        return [r for r in self.new if r.late_what]

    @property
    def total(self) -> int:
        return len(self.new) + len(self.still_open)


@dataclass
class Footer:
    school: str
    regulation: str
    ruleset: str
    program: str
    as_of: str
    freshness: str
    contest: str


@dataclass
class TeacherList:
    week: Week
    teacher_id: int
    name: str
    email: str | None
    part: Part
    chief: Part
    chief_classes: list[str]
    footer: Footer

    @property
    def empty(self) -> bool:
        return self.part.empty and self.chief.empty


@dataclass
class TeacherStats:
    teacher_id: int
    name: str
    email: str | None
    lessons: int
    on_time: float | None
    trend: list[float | None]
    by_rule: Counter[str]
    new: int
    still_open: int
    resolved: int
    backlog: int = 0


@dataclass
class Summary:
    week: Week
    weeks: list[Week]
    teachers: list[TeacherStats]
    rules: list[str]
    titles: dict[str, str]
    top_open: list[tuple[str, Remark]]
    undecided: int
    undecided_by_rule: dict[str, int]
    info: list[Remark]
    missing_addresses: list[str]
    school_on_time: float | None
    footer: Footer
    lists: list[TeacherList]

    @property
    def totals(self) -> dict[str, int]:
        return {
            "new": sum(t.new for t in self.teachers),
            "still_open": sum(t.still_open for t in self.teachers),
            "resolved": sum(t.resolved for t in self.teachers),
            "backlog": sum(t.backlog for t in self.teachers),
        }
