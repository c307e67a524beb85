"""The catalogue: the rule modules in force, listed here explicitly, and selection over them.

A rule module defines its rules with ``@rules.registry.rule``; this module imports each of them by name, so the
catalogue is exactly the list below (``rules.core``: the rule contract's core rules; ``rules.extra``: the
school's own and preview rules).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from rules import core, extra
from rules.registry import REGISTRY, Rule

MODULES = (core, extra)  # the rule modules in force; their @rule definitions fill the registry on import


def load_catalogue() -> dict[str, Rule]:
    """Code -> rule: what the modules in ``MODULES`` registered when this module imported them."""
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
