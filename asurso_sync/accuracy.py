"""Accuracy of the check against the emulator's ground truth, scored on (rule, entity, owner) (ruling R6).

One scoring for the demo's accuracy.txt and ``benchmarks/accuracy.py``. A finding's owner is the deputy when the
finding or its rule is the deputy's, else the teacher it names; the truth names its own (``truth.owner_of``).
Precision is over the decided findings; the undecided items are shown per rule and, not being found, count as
misses for recall. Every row shows its counts, so a 1/1 is visible as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.emulator.truth import CORE_RULES, DEPUTY, Violation
from rules.catalogue import load_catalogue

# every core rule of the truth, and KTP002, which the generated school never violates (all its topics are linked)
SCORED_RULES = (*CORE_RULES, "KTP002")


@dataclass
class RuleScore:
    rule: str
    planted: int
    found: int
    true_positive: int
    undecided: int = 0

    @property
    def precision(self) -> float:
        return self.true_positive / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.planted if self.planted else 1.0


Key = tuple[str, tuple[tuple[str, int], ...], int | str]


def finding_key(f: Mapping[str, Any]) -> Key:
    """(rule, entity, owner) of a finding as the check reports it (``Finding.as_contract``)."""
    rule = load_catalogue().get(f["rule"])
    deputy = f.get("owner") == "deputy" or (rule is not None and rule.owner == "deputy") or not f.get("teacher_id")
    return f["rule"], tuple(sorted(f["entity"].items())), DEPUTY if deputy else int(f["teacher_id"])


def score(
    findings: Iterable[Mapping[str, Any]], truth: Iterable[Violation], undecided: Mapping[str, int]
) -> list[RuleScore]:
    expected = {(v.rule, tuple(sorted(dict(v.entity).items())), v.owner) for v in truth}
    found = {k for k in map(finding_key, findings) if k[0] in SCORED_RULES}
    scores = []
    for code in SCORED_RULES:
        g = {x for x in expected if x[0] == code}
        f = {x for x in found if x[0] == code}
        scores.append(RuleScore(code, len(g), len(f), len(g & f), int(undecided.get(code, 0))))
    return scores


def table(scores: list[RuleScore]) -> list[str]:
    """The per-rule lines and the total, in Russian (accuracy.txt, the benchmark's output)."""
    lines = [f"{'правило':8} {'заложено':>8} {'найдено':>8} {'верно':>6} {'не опр.':>7} {'precision':>9} {'recall':>7}"]
    for s in scores:
        lines.append(
            f"{s.rule:8} {s.planted:8} {s.found:8} {s.true_positive:6} {s.undecided:7} {s.precision:9.3f} "
            f"{s.recall:7.3f}"
        )
    g, f = sum(s.planted for s in scores), sum(s.found for s in scores)
    tp, und = sum(s.true_positive for s in scores), sum(s.undecided for s in scores)
    lines.append(f"{'всего':8} {g:8} {f:8} {tp:6} {und:7} {tp / f if f else 1:9.3f} {tp / g if g else 1:7.3f}")
    return lines
