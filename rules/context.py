"""What a rule works with: the finding it yields and the context it reads (facts, parameters, evidence, time)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlite_utils import Database

from rules import facts as facts_mod
from rules.evidence import Due, Observations, Verdict, journal_key, unit_key
from rules.registry import Rule

SAMARA_OFFSET = "+04:00"
DEFAULT_WRITTEN = (
    "Контрольная работа",
    "Диктант",
    "Сочинение",
    "Изложение",
    "Тематическая работа",
    "Тестирование",
    "Самостоятельная работа",
    "Проверочная работа",
    "Практическая работа",
    "Лабораторная работа",
    "Диагностическая контрольная работа",
)
ABSENT = frozenset({"УП", "НП", "ОТ", "Б"})
# Work assessed during the lesson (ruling R2): its marks are due the same day; every other type is a completed
# work («выполненная работа», 5.2) with 7 days. Configurable per rule as ``in_lesson_types``.
DEFAULT_IN_LESSON = (
    "Ответ на уроке",
    "Работа на уроке",
    "Устный опрос",
    "Устный ответ",
    "Чтение наизусть",
    "Техника чтения",
)


@dataclass(slots=True)
class Finding:
    rule: str
    entity: dict[str, int]
    message: str
    teacher_id: int | None = None
    class_id: int | None = None
    sg_id: int | None = None
    date: date | None = None
    evidence: str = "observed"
    name: str = ""
    severity: str = "error"
    state: str = "new"
    first_seen: str | None = None
    # A matter of record: the late entry has since been made, nothing is left to fix (e.g. a topic entered at
    # 18:40). Kept for the statistics; a remark list shows it once, as new, and does not carry it over.
    settled: bool = False
    # Who answers for this finding when it is not the rule's owner: «deputy» for the term mark of a student in
    # family or home education (ruling R15). None: the rule's owner.
    owner: str | None = None
    # Ruling R22: why nothing is left to fix («внесено позже срока», «период закрыт», …); «» for a task the
    # teacher can still do. Decided once, by rules.records.mark_records, from the finding and the journal.
    record: str = ""
    # Rulings R6 and R0: the evidence does not name who answers for the lesson (``Facts.owner_known``): the engine
    # counts the item «не определено» instead of giving it to the teacher it would guess (``engine._owner_in_doubt``)
    owner_in_doubt: bool = field(default=False, repr=False, compare=False)
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Computed once (a full-year check asks for ~80 000 of them more than once)."""
        fp = self._fingerprint
        if fp is None:
            fp = self._fingerprint = fingerprint(self.rule, self.entity)
        return fp

    def as_contract(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "entity": self.entity,
            "teacher_id": self.teacher_id,
            "class_id": self.class_id,
            "sg_id": self.sg_id,
            "date": self.date.isoformat() if self.date else None,
            "message": self.message,
            "evidence": self.evidence,
            "owner": self.owner,
            "record": self.record,
            "fingerprint": self.fingerprint,
            "state": self.state,
            "first_seen": self.first_seen,
        }


def fingerprint(rule: str, entity: dict[str, int]) -> str:
    """A stable hash of the rule and the entity only: sha256 of ``{"rule":…,"entity":{…sorted…}}`` as compact
    JSON. Codes, plain keys and int values (every rule's) are written directly — the same text json.dumps
    gives, without its cost; anything else goes through json.dumps."""
    if _plain(rule) and all(_plain(k) and type(v) is int for k, v in entity.items()):
        inner = ",".join(f'"{k}":{entity[k]}' for k in sorted(entity))
        payload = f'{{"rule":"{rule}","entity":{{{inner}}}}}'
    else:
        payload = json.dumps({"rule": rule, "entity": dict(sorted(entity.items()))}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _plain(text: str) -> bool:
    """Text json.dumps writes as itself between quotes (ASCII letters, digits, ``_``)."""
    return text.isascii() and text.isidentifier()


@dataclass
class RuleContext:
    db: Database
    facts: facts_mod.Facts
    as_of: datetime
    start: date
    end: date
    rule_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    family_education: frozenset[int] = frozenset()
    work_program_approved: date | None = None
    observations: Observations | None = None
    undecided: Counter[str] = field(default_factory=Counter)
    undecided_in: Counter[tuple[str, int]] = field(default_factory=Counter)  # (rule, group) -> undecided items
    current: Rule | None = None
    catalogue: Mapping[str, Rule] = field(default_factory=dict)  # every rule by code (the engine's catalogue)
    part_time: frozenset[int] = frozenset()  # очно-заочная form: the school's list; term marks are the deputy's (R15)

    memo: dict[Any, Any] = field(default_factory=dict)  # per-check caches shared by the rules
    # the rules' queries started in the background before the load: (sql, params as JSON) -> value
    prefetched: dict[tuple[str, str], Callable[[], Any]] = field(default_factory=dict)
    _journal_keys: dict[tuple[int, int | None], tuple[str, str]] = field(default_factory=dict)
    _places: dict[int, tuple[str, int | None, int | None]] = field(default_factory=dict)  # sg -> label, class, chief
    _days: dict[date, str] = field(default_factory=dict)  # day -> «23.11.2026»

    def rows(self) -> list[list[Any]]:
        """The rows of the current rule's SQL (``Rule.sql``): the value the engine read in the background before
        the load when it is for the same parameters, else read now (an override's other parameters, say)."""
        assert self.current is not None and self.current.sql is not None
        sql, params = rule_query(*self.current.sql(self))
        waiting = self.prefetched.pop((sql, json.dumps(params)), None)
        text = waiting() if waiting is not None else self.db.execute(sql, params).fetchone()[0]
        return json.loads(text or "[]")  # type: ignore[no-any-return]

    def p(self, name: str) -> Any:
        assert self.current is not None
        own = self.rule_params.get(self.current.code, {}) or self.rule_params.get(self.current.name, {})
        return own.get(name, self.current.params[name])

    # -- time
    def due_table(self) -> DueTable:
        """Day -> the current rule's deadline on that day (``deadline`` «HH:MM», ``grace_minutes``), shared by
        the rules with the same parameters. Fetch it once per rule, then index it per lesson."""
        text = str(self.p_default("deadline", "16:00"))
        key = ("due-table", text, self.grace)
        hit = self.memo.get(key)
        if hit is None:
            clock = text if len(text) == 5 else f"0{text}"
            late = frozenset(n for n, end in self.facts.lesson_end.items() if end and end > clock)
            hit = self.memo[key] = DueTable(text, self.grace, late)
        return hit

    def configured(self, name: str) -> bool:
        """Whether the school set the current rule's parameter (in config, an override or on the command line)."""
        assert self.current is not None
        own = self.rule_params.get(self.current.code, {}) or self.rule_params.get(self.current.name, {})
        return name in own

    def p_default(self, name: str, default: Any) -> Any:
        assert self.current is not None
        own = self.rule_params.get(self.current.code, {}) or self.rule_params.get(self.current.name, {})
        return own.get(name, self.current.params.get(name, default))

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=int(self.p_default("grace_minutes", 10)))

    def passed(self, moment: datetime) -> bool:
        return moment < self.as_of

    def in_period(self, d: date) -> bool:
        return self.start <= d <= self.end

    # -- evidence
    def decide(self, resource: str, scope: dict[str, Any], first_seen: str | None, deadline: datetime) -> Verdict:
        assert self.observations is not None
        memo_key = (resource, *scope.items())
        key = self.memo.get(memo_key)
        if key is None:
            key = self.memo[memo_key] = unit_key(resource, scope)
        return self.observations.decide(key, first_seen, deadline, self.grace)

    def decide_due(self, key: tuple[str, str], first_seen: str | None, due: Due) -> Verdict:
        """``decide`` for a unit key and a ``Due`` (the per-lesson path of the timeliness rules)."""
        assert self.observations is not None
        return self.observations.decide_due(key, first_seen, due)

    def exact(self, times: list[str | None], due: Due, *, latest: bool = False) -> Verdict | None:
        """Exact evidence (the access report): the entry times of all the items a decision needs, or None when
        any of them is missing (then the observed evidence decides). ``latest``: late if any was late; else the
        first entry decides."""
        if not times or None in times:
            return None
        moment = max(times) if latest else min(times)  # type: ignore[type-var]
        return Verdict.ON_TIME if str(moment) <= due.text else Verdict.LATE

    @staticmethod
    def exact_at(at: str | None, due: Due) -> Verdict | None:
        """``exact`` for one item: its entry time, or None when the report has none."""
        if at is None:
            return None
        return Verdict.ON_TIME if at <= due.text else Verdict.LATE

    def journal_key(self, sg: int, term: int | None) -> tuple[str, str]:
        """The observation unit of a group's journal for a term (memoized: asked per lesson)."""
        hit = self._journal_keys.get((sg, term))
        if hit is None:
            hit = self._journal_keys[(sg, term)] = journal_key(sg, term)
        return hit

    # -- people
    def exempt(self, sg: int, term: int | None, student: int) -> bool:
        if student in self.family_education:
            return True
        row = self.facts.enrollment.get((sg, term or 0), {}).get(student)
        return bool(row and row.home)

    def left_before(self, sg: int, term: int | None, student: int, d: date) -> bool:
        """True when the student had left the group before day ``d`` (leave day < d)."""
        left = self.facts.left_on.get((sg, term or 0, student))
        return left is not None and left < d

    # -- findings
    def lesson_finding(
        self,
        lesson: facts_mod.Lesson,
        entity: dict[str, int],
        text: str,
        *,
        owner: str = "teacher",
        evidence: str = "observed",
        settled: bool = False,
    ) -> Finding:
        f = self.facts
        group = self._places.get(lesson.sg)
        if group is None:  # «8б, Алгебра»
            cls = f.group_class.get(lesson.sg)
            label = f"{f.class_name.get(cls or 0, '?')}, {f.group_label.get(lesson.sg, '?')}"
            group = self._places[lesson.sg] = (label, cls, f.class_chief.get(cls or 0))
        label, cls, chief = group
        if owner == "chief" and cls is not None:
            chief = f.chief_on(cls, lesson.day)
        day = self._days.get(lesson.day)
        if day is None:
            day = self._days[lesson.day] = f"{lesson.day:%d.%m.%Y}"
        who = chief if owner == "chief" else f.lesson_teacher(lesson)
        number = f", урок {lesson.number}" if lesson.number else ""
        return Finding(
            self.current.code if self.current else "",
            entity,
            f"{label}, {day}{number}: {text}",
            who,
            cls,
            lesson.sg,
            lesson.day,
            evidence,
            settled=settled,
            owner=self._deputy_if_gone(who),
            owner_in_doubt=owner == "teacher" and not f.owner_known(lesson),
        )

    def _deputy_if_gone(self, who: int | None) -> str | None:
        """Ruling R6: a teacher no longer on the staff gets no e-mail — the item is the deputy's; so is an item of
        a lesson nobody was responsible for."""
        return "deputy" if who is None or who in self.facts.departed else None

    def group_finding(self, sg: int, entity: dict[str, int], text: str, day: date | None) -> Finding:
        f = self.facts
        cls = f.group_class.get(sg)
        where = f"{f.class_name.get(cls or 0, '?')}, {f.group_label.get(sg, '?')}"
        who = f.teacher_on(sg, day) if day is not None else f.group_teacher.get(sg)
        return Finding(
            self.current.code if self.current else "",
            entity,
            f"{where}: {text}",
            who,
            cls,
            sg,
            day,
            "observed",
            owner=self._deputy_if_gone(who),
        )


def rule_query(sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    """A rule's query (rows of one json_array column ``x``) as one value: a JSON array of the rows."""
    return f"SELECT json_group_array(json(x)) FROM ({sql})", params


class DueTable(dict[date, Due]):
    """Day -> ``Due`` for one deadline time («HH:MM») and grace, filled on first use of each day. A lesson that
    ends after that time cannot meet it: it is due by the end of its day (ruling R1) — ``of(lesson)``."""

    def __init__(self, text: str, grace: timedelta, late_numbers: frozenset[int] = frozenset()) -> None:
        super().__init__()
        hh, mm = (int(x) for x in text.split(":"))
        self.clock, self.grace = time(hh, mm), grace
        self.late_numbers = late_numbers  # lesson numbers whose bell ends after the deadline
        self._end_of_day: dict[date, Due] = {}

    def __missing__(self, d: date) -> Due:
        hit = self[d] = Due.at(datetime.combine(d, self.clock), self.grace)
        return hit

    def of(self, lesson: facts_mod.Lesson) -> Due:
        """The lesson's deadline: the day's, or the end of the day for a lesson that ends after it."""
        if lesson.number not in self.late_numbers:
            return self[lesson.day]
        hit = self._end_of_day.get(lesson.day)
        if hit is None:
            hit = self._end_of_day[lesson.day] = Due.at(datetime.combine(lesson.day, time(23, 59, 59)), self.grace)
        return hit
