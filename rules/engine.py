"""The rules engine: evaluates the selected rules of the catalogue over the cache, applies overrides, CLI
parameters and waivers, and returns findings in the contract's format."""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any, NamedTuple

from sqlite_utils import Database

from rules import facts as facts_mod
from rules.catalogue import REGISTRY, Selection
from rules.context import Finding, RuleContext, rule_query
from rules.evidence import OBSERVATIONS, Observations, ts
from rules.records import mark_records
from rules.registry import Rule


class _GroupItem(NamedTuple):
    """What an override's scope looks at, for an item that is not a finding (an undecided one)."""

    class_id: int | None
    sg_id: int | None
    teacher_id: int | None


@dataclass
class Override:
    """Parameters (or ``ignore``) of one rule for a scope: grades, classes, subjects or teachers."""

    rule: str
    grade: list[int] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    teachers: list[int | str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    ignore: bool = False

    def applies_to(self, r: Rule) -> bool:
        return self.rule in (r.code, r.name)

    def matches_group(self, sg: int, facts: facts_mod.Facts) -> bool:
        """Whether a group's items (its lessons, with the group's teacher) are in the override's scope."""
        return self.matches(_GroupItem(None, sg, facts.group_teacher.get(sg)), facts)

    def matches(self, f: Finding | _GroupItem, facts: facts_mod.Facts) -> bool:
        cls = f.class_id or facts.group_class.get(f.sg_id or 0)
        if self.grade and facts.class_grade.get(cls or 0) not in self.grade:
            return False
        if self.classes and (facts.class_name.get(cls or 0) or "").casefold() not in {
            c.casefold() for c in self.classes
        }:
            return False
        if self.subjects and (facts.group_subject.get(f.sg_id or 0) or "").casefold() not in {
            s.casefold() for s in self.subjects
        }:
            return False
        if self.teachers:
            name = (facts.staff_name.get(f.teacher_id or 0) or "").casefold()
            wanted = {str(t).casefold() for t in self.teachers}
            if str(f.teacher_id) not in wanted and not any(w and w in name for w in wanted):
                return False
        return True


def waiver_matches(w: dict[str, Any], f: Finding, facts: facts_mod.Facts) -> bool:
    if w["rule"] not in (f.rule, f.name):
        return False
    for key, value in w["scope"].items():
        if key == "class":
            if (facts.class_name.get(f.class_id or 0) or "").casefold() != str(value).casefold():
                return False
        elif key == "teacher":
            if f.teacher_id != int(value):
                return False
        elif key == "fingerprint":  # one finding, named by its number in a letter (rules waive --finding)
            if f.fingerprint != value:
                return False
        elif f.entity.get(key) != int(value) and not (key == "sg" and f.sg_id == int(value)):
            return False
    return True


@dataclass
class CheckResult:
    findings: list[Finding]
    undecided: Counter[str]
    rules: list[Rule]
    as_of: datetime
    start: date
    end: date
    waived: dict[int, int] = field(default_factory=dict)  # waiver id -> findings it suppressed


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A check builds about a million long-lived objects (facts, findings) and frees them by reference counting;
    none of them form cycles. The cyclic collector would still walk the growing heap again and again while they
    are built — a fifth of a full-year check's time. It is paused for the check and restored afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_no_cyclic_gc()
def run_rules(
    db: Database,
    *,
    as_of: datetime,
    start: date,
    end: date | None = None,
    selection: Selection | None = None,
    rule_params: dict[str, dict[str, Any]] | None = None,
    family_education: frozenset[int] = frozenset(),
    part_time: frozenset[int] = frozenset(),
    days_off: frozenset[date] = frozenset(),
    work_program_approved: date | None = None,
    overrides: list[Override] | None = None,
    cli_params: dict[str, dict[str, Any]] | None = None,
    active_waivers: list[dict[str, Any]] | None = None,
) -> CheckResult:
    """Evaluate the selected rules. Parameter precedence: defaults < config < overrides (for their scope) < CLI."""
    chosen = (selection or Selection()).chosen()
    cli = cli_params or {}
    base = {k: {**v, **cli.get(k, {})} for k, v in (rule_params or {}).items()}
    for k, v in cli.items():
        base.setdefault(k, dict(v))
    ctx = RuleContext(
        db,
        facts_mod.Facts(),
        as_of,
        start,
        end or as_of.date(),
        base,
        family_education,
        work_program_approved,
        catalogue=REGISTRY,
        part_time=part_time,
    )
    # the observations and the SQL rules' queries go to the load's worker thread, to be read while the facts load
    # and the rules run
    queries: dict[str, tuple[str, list[Any]]] = {"observations": (OBSERVATIONS, [ts(as_of)])}
    for r in chosen:
        if r.sql is not None:
            ctx.current = r
            queries[f"rule {r.code}"] = rule_query(*r.sql(ctx))
    ctx.current = None
    ctx.facts = facts_mod.load(db, as_of, also=queries)
    ctx.facts.vacations += [(d, d) for d in sorted(days_off)]  # the school's own days off are days off (R7)
    background = ctx.facts.background
    assert background is not None
    ctx.prefetched = {
        (sql, json.dumps(params)): partial(background.take, name)
        for name, (sql, params) in queries.items()
        if name != "observations"
    }
    ctx.observations = Observations(as_of, background.take("observations"))
    findings: list[Finding] = []
    for r in chosen:
        ctx.current = r
        found = list(r.fn(ctx))
        for o in overrides or []:
            if not o.applies_to(r):
                continue
            found = [f for f in found if not o.matches(f, ctx.facts)]
            if o.ignore:
                continue
            # the scope's undecided items are counted with the override's parameters, like its findings
            before = {sg: n for (code, sg), n in ctx.undecided_in.items() if code == r.code}
            own = {**base.get(r.code, {}), **base.get(r.name, {})}
            ctx.rule_params = {**base, r.code: {**own, **o.params, **cli.get(r.code, {}), **cli.get(r.name, {})}}
            found += [f for f in r.fn(ctx) if o.matches(f, ctx.facts)]
            ctx.rule_params = base
            for (code, sg), n in list(ctx.undecided_in.items()):
                if code != r.code:
                    continue
                kept_n = n - before.get(sg, 0) if o.matches_group(sg, ctx.facts) else before.get(sg, 0)
                ctx.undecided[code] += kept_n - n
                ctx.undecided_in[code, sg] = kept_n
        if not r.extracurricular and ctx.facts.extracurricular:
            found = _outside_extracurricular(ctx, r.code, found)
        if r.owner == "teacher":
            found = _owner_in_doubt(ctx, r.code, found)
        for finding in found:
            finding.name, finding.severity = r.name, r.severity
        findings.extend(found)
    waived: dict[int, int] = {}
    kept: list[Finding] = []
    live = [w for w in active_waivers or [] if not w.get("expires") or w["expires"] >= as_of.date().isoformat()]
    for finding in findings:
        hit = next((w for w in live if waiver_matches(w, finding, ctx.facts)), None)
        if hit is None:
            kept.append(finding)
        else:
            waived[hit["id"]] = waived.get(hit["id"], 0) + 1
    if any(r.code == "WVR001" for r in chosen):
        kept += list(_waiver_findings(active_waivers or [], waived, as_of))
    mark_records(kept, ctx.facts, as_of.date())
    ctx.memo.clear()  # the rules' shared intermediate results: free them before the sort's keys are built
    kept.sort(key=lambda x: (x.rule, sorted(x.entity.items())))
    return CheckResult(kept, ctx.undecided, chosen, as_of, start, ctx.end, waived)


def _outside_extracurricular(ctx: RuleContext, code: str, found: list[Finding]) -> list[Finding]:
    """Ruling R19: an extracurricular group needs a topic and attendance only. A rule that is not about those drops
    its findings and its undecided items in such groups."""
    extra = ctx.facts.extracurricular
    for (rule_code, sg), n in list(ctx.undecided_in.items()):
        if rule_code == code and sg in extra and n:
            ctx.undecided[code] -= n
            ctx.undecided_in[rule_code, sg] = 0
    return [f for f in found if f.sg_id not in extra]


def _owner_in_doubt(ctx: RuleContext, code: str, found: list[Finding]) -> list[Finding]:
    """Rulings R0 and R6: a lesson whose teacher the evidence does not name (``Facts.owner_known``: no recorded
    teacher, no access report covering its day, or a doubt the report raises) gives no teacher a remark about it;
    its items are counted «не определено» — also where the group's teacher has left (a substitute on the staff may
    have taught it). Findings of rules another owner answers for (the deputy, the class teacher) are not flagged."""
    kept: list[Finding] = []
    for f in found:
        if f.owner_in_doubt and f.sg_id is not None:
            ctx.undecided[code] += 1
            ctx.undecided_in[code, f.sg_id] += 1
        else:
            kept.append(f)
    return kept


def _waiver_findings(items: list[dict[str, Any]], waived: dict[int, int], as_of: datetime) -> Iterator[Finding]:
    rule_meta = REGISTRY["WVR001"]
    for w in items:
        if w.get("expires") and w["expires"] < as_of.date().isoformat():
            text = f"исключение №{w['id']} ({w['rule']}) истекло {w['expires']}: продлите или удалите его"
        elif not waived.get(w["id"]):
            text = f"исключение №{w['id']} ({w['rule']}) ни к чему не применилось: возможно, оно больше не нужно"
        else:
            continue
        yield Finding(
            "WVR001",
            {"waiver": int(w["id"])},
            text,
            None,
            None,
            None,
            None,
            "observed",
            rule_meta.name,
            rule_meta.severity,
        )
