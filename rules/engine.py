"""The rules engine: evaluates the registry over the cache and returns findings in the contract's format."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from rules import facts as facts_mod
from rules.evidence import Observations, Verdict, unit_key
from rules.registry import REGISTRY, Rule, Selection

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


@dataclass
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

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.entity)

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
            "fingerprint": self.fingerprint,
            "state": self.state,
            "first_seen": self.first_seen,
        }


def fingerprint(rule: str, entity: dict[str, int]) -> str:
    """A stable hash of the rule and the entity only."""
    payload = json.dumps({"rule": rule, "entity": dict(sorted(entity.items()))}, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


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
    current: Rule | None = None

    def p(self, name: str) -> Any:
        assert self.current is not None
        own = self.rule_params.get(self.current.code, {}) or self.rule_params.get(self.current.name, {})
        return own.get(name, self.current.params[name])

    # -- time
    def deadline(self, d: date) -> datetime:
        hh, mm = (int(x) for x in str(self.p_default("deadline", "16:00")).split(":"))
        return datetime.combine(d, datetime.min.time()).replace(hour=hh, minute=mm)

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
        return self.observations.decide(unit_key(resource, scope), first_seen, deadline, self.grace)

    def journal_unit(self, sg: int, term: int | None) -> dict[str, Any]:
        return {"sg_id": sg, "term_id": term}

    # -- people
    def exempt(self, sg: int, term: int | None, student: int) -> bool:
        if student in self.family_education:
            return True
        row = self.facts.enrollment.get((sg, term or 0), {}).get(student)
        return bool(row and row[1])

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
    ) -> Finding:
        f = self.facts
        cls = f.group_class.get(lesson.sg)
        who = f.class_chief.get(cls or 0) if owner == "chief" else f.group_teacher.get(lesson.sg)
        number = f", урок {lesson.number}" if lesson.number else ""
        where = (
            f"{f.class_name.get(cls or 0, '?')}, {f.group_subject.get(lesson.sg, '?')}, {lesson.day:%d.%m.%Y}{number}"
        )
        return Finding(
            self.current.code if self.current else "",
            entity,
            f"{where}: {text}",
            who,
            cls,
            lesson.sg,
            lesson.day,
            evidence,
        )

    def group_finding(self, sg: int, entity: dict[str, int], text: str, day: date | None) -> Finding:
        f = self.facts
        cls = f.group_class.get(sg)
        where = f"{f.class_name.get(cls or 0, '?')}, {f.group_subject.get(sg, '?')}"
        return Finding(
            self.current.code if self.current else "",
            entity,
            f"{where}: {text}",
            f.group_teacher.get(sg),
            cls,
            sg,
            day,
            "observed",
        )


@dataclass
class CheckResult:
    findings: list[Finding]
    undecided: Counter[str]
    rules: list[Rule]
    as_of: datetime
    start: date
    end: date


def run_rules(
    db: Database,
    *,
    as_of: datetime,
    start: date,
    end: date | None = None,
    selection: Selection | None = None,
    rule_params: dict[str, dict[str, Any]] | None = None,
    family_education: frozenset[int] = frozenset(),
    work_program_approved: date | None = None,
) -> CheckResult:
    import rules.core
    import rules.extra  # noqa: F401

    chosen = (selection or Selection()).chosen()
    ctx = RuleContext(
        db,
        facts_mod.load(db, as_of),
        as_of,
        start,
        end or as_of.date(),
        dict(rule_params or {}),
        family_education,
        work_program_approved,
        Observations(db, as_of),
    )
    findings: list[Finding] = []
    for r in chosen:
        ctx.current = r
        for finding in r.fn(ctx):
            finding.name, finding.severity = r.name, r.severity
            findings.append(finding)
    findings.sort(key=lambda x: (x.rule, sorted(x.entity.items())))
    return CheckResult(findings, ctx.undecided, chosen, as_of, start, ctx.end)


def all_rules() -> list[Rule]:
    import rules.core
    import rules.extra  # noqa: F401

    return sorted(REGISTRY.values(), key=lambda r: r.code)
