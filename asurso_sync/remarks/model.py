"""What a list is made of: remarks, the parts of a teacher's list, the deputy's summary, the footer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from asurso_sync.findref import ref
from asurso_sync.remarks.week import Week

TIMELY = ("TML001", "TML002", "TML003", "TML004", "TML007")
EMPTY_LESSON = "TML007"  # ruling R21: «урок не заполнен», counted in the deputy's summary
SETTLED_ADVICE = "исправлять нечего, впредь вносите до срока"
RECORDS_TITLE = "Внесено позже срока — исправлять нечего"
SHADOW_MARK = "учителям пока не отправляется"
INFO_SHOWN = 20  # the deputy's «для сведения» lists this many lines, then «и ещё N — в приложении»
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
    # ruling R22: why nothing is left to fix («внесено позже срока», «период закрыт», …); «» for a task
    record: str = ""
    record_since: str | None = None
    # ruling R24: one line per lesson names all its children (the merged findings' names and fingerprints)
    students: list[str] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    one_ref: bool = False  # a lesson's late entries: the line is named by its first number

    @property
    def ref(self) -> str:
        """The short number(s) the letter shows, to name this remark in a reply or in ``rules waive --finding``:
        one per child of the line."""
        if self.one_ref or not self.fingerprints:
            return ref(self.fingerprint)
        return ", ".join(ref(fp) for fp in self.fingerprints)

    @property
    def named(self) -> list[str]:
        """The fingerprints the line's short numbers name (``ref``), in its order: what its links open."""
        if self.one_ref or not self.fingerprints:
            return [self.fingerprint]
        return list(self.fingerprints)

    @property
    def kind(self) -> str:
        """«task» (the teacher can still fix it) or «record» (nothing left to fix), ruling R22."""
        return "record" if self.record else "task"

    @property
    def who(self) -> str:
        """The children the line is about, by name («» when it is about no child)."""
        return ", ".join(self.students) if self.students else (self.student or "")

    @property
    def size(self) -> int:
        """How many findings the line stands for."""
        return max(1, len(self.fingerprints))


@dataclass
class Part:
    """One list's sections, each a list of the lines the letter shows (its count is their number, R24):
    new tasks, records shown this once, tasks still open, tasks resolved."""

    new: list[Remark] = field(default_factory=list)
    records: list[Remark] = field(default_factory=list)
    still_open: list[Remark] = field(default_factory=list)
    resolved: list[Remark] = field(default_factory=list)
    # the first letter of a rule to this teacher (R23): older items kept out of it (the deputy's «накопленные»)
    backlog: int = 0
    # records shown in an earlier letter: only counted, for the deputy (R22)
    records_before: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.records or self.still_open)

    @property
    def fresh(self) -> list[Remark]:
        """New tasks (kept for callers of the first version: the same as ``new``)."""
        return self.new

    @property
    def late(self) -> list[Remark]:
        """Records shown this week (kept for callers of the first version: the same as ``records``)."""
        return self.records

    @property
    def total(self) -> int:
        """Lines the letter shows that are not «resolved»: new tasks, records, tasks still open."""
        return len(self.new) + len(self.records) + len(self.still_open)

    @property
    def tasks(self) -> int:
        return len(self.new) + len(self.still_open)

    def all(self) -> list[Remark]:
        return [*self.new, *self.records, *self.still_open, *self.resolved]


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
    # rules not yet released to teachers (shadow start, R23): what the letter would hold — the deputy's view only
    shadow: Part = field(default_factory=Part)
    reply_to: str | None = None

    @property
    def empty(self) -> bool:
        return self.part.empty and self.chief.empty

    def count(self, section: str) -> int:
        """The header's number of a section: the lines listed under it in both parts (R24)."""
        return len(getattr(self.part, section)) + len(getattr(self.chief, section))


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
    records: int = 0  # records shown in this week's letter
    records_before: int = 0  # records shown before, counted only
    empty_lessons: int = 0  # «урок не заполнен» (R21) among the open items
    shadow_by_rule: Counter[str] = field(default_factory=Counter)  # unreleased rules' open items (R23)

    @property
    def shadow(self) -> int:
        return sum(self.shadow_by_rule.values())


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

    shadow_rules: list[str] = field(default_factory=list)
    # the cabinet's address ([web] base_url): each line about a finding links to its page there; «» — no links
    cabinet: str = ""

    @property
    def totals(self) -> dict[str, int]:
        return {
            "new": sum(t.new for t in self.teachers),
            "records": sum(t.records for t in self.teachers),
            "still_open": sum(t.still_open for t in self.teachers),
            "resolved": sum(t.resolved for t in self.teachers),
            "backlog": sum(t.backlog for t in self.teachers),
            "records_before": sum(t.records_before for t in self.teachers),
            "empty_lessons": sum(t.empty_lessons for t in self.teachers),
            "shadow": sum(t.shadow for t in self.teachers),
        }

    @property
    def info_shown(self) -> list[Remark]:
        return self.info[:INFO_SHOWN]

    @property
    def info_more(self) -> int:
        """Info lines not listed in the letter (they are in the attachment and the cabinet), R24."""
        return max(0, len(self.info) - INFO_SHOWN)
