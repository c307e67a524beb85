"""The catalogue: the rule families in force, listed here explicitly, and selection over them.

One module per family; each lists its rules in ``RULES`` (``@rules.registry.rule`` builds a ``Rule`` and
registers nothing). The catalogue is exactly the families in ``FAMILIES``, in this order: timeliness (TML),
completeness (CMP), the КТП (KTP), marks (MRK), attendance (ATT), density (DEN), term and year marks (FIN), the
calendar (CAL), the federal recommendations on оценочные процедуры (OCP), waivers (WVR).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from rules.catalogue import att, cal, cmp, den, fin, ktp, mrk, ocp, tml, wvr
from rules.registry import Rule

FAMILIES = (tml, cmp, ktp, mrk, att, den, fin, cal, ocp, wvr)


def _registry() -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for module in FAMILIES:
        for r in module.RULES:
            if r.code in out:
                raise ValueError(f"duplicate rule code {r.code}")
            out[r.code] = r
    return out


# Code -> rule, built once from FAMILIES (one dict: tests may replace a rule in it)
REGISTRY: dict[str, Rule] = _registry()


def load_catalogue() -> dict[str, Rule]:
    """Code -> rule of every family in ``FAMILIES``."""
    return REGISTRY


def all_rules() -> list[Rule]:
    return sorted(load_catalogue().values(), key=lambda r: r.code)


@dataclass
class Selection:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)

    def chosen(self) -> list[Rule]:
        def matches(r: Rule, token: str) -> bool:
            return token in (r.code, r.name) or (len(token) <= 3 and r.code.startswith(token.upper()))

        rules = all_rules()
        if self.select:
            rules = [r for r in rules if any(matches(r, t) for t in self.select)]
        else:
            rules = [r for r in rules if not r.preview]
        return [r for r in rules if not any(matches(r, t) for t in self.ignore)]


def unknown_tokens(tokens: list[str]) -> list[str]:
    catalogue = load_catalogue()
    known = {r.code for r in catalogue.values()} | {r.name for r in catalogue.values()}
    families = {r.family for r in catalogue.values()}
    return [t for t in tokens if t not in known and t.upper() not in families]


def ruleset_version() -> str:
    """A short stable id of the catalogue (codes, severities, parameters, titles): printed in every list's footer,
    so a remark can be traced to the rules that produced it."""
    catalogue = load_catalogue()
    payload = json.dumps(
        [(r.code, r.severity, r.params, r.title, r.preview) for r in sorted(catalogue.values(), key=lambda r: r.code)],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return f"{len(catalogue)}.{hashlib.sha256(payload.encode()).hexdigest()[:8]}"
