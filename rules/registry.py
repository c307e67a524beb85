"""The rule registry: every rule has a stable code, a kebab-case name, a Russian title, its Положение clause,
parameters with defaults, a severity, the entity it is about, and a docstring that explains it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rules.engine import Finding, RuleContext

Severity = Literal["error", "warning", "info"]
RuleFn = Callable[["RuleContext"], Iterator["Finding"]]
# A rule's SQL over the cache and its parameters, from the rule's effective parameters: one column named x,
# each row a json_array(...) (``RuleContext.rows`` reads it; the engine starts it in the background)
SqlFn = Callable[["RuleContext"], tuple[str, list[Any]]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    title: str
    clause: str
    severity: Severity
    entity: tuple[str, ...]
    params: dict[str, Any]
    fn: RuleFn
    doc: str
    core: bool = False
    preview: bool = False
    owner: Literal["teacher", "chief", "deputy"] = "teacher"
    predicate: str = ""
    example: str = ""
    advice: str = ""  # what the teacher should do, imperative, Russian («внесите тему урока»)
    sql: SqlFn | None = None  # the rule's query, when the data allows SQL (see SqlFn)

    @property
    def family(self) -> str:
        return self.code[:3]


REGISTRY: dict[str, Rule] = {}


def load_catalogue() -> dict[str, Rule]:
    """Import the rule modules (they register themselves) and return the registry."""
    import rules.core
    import rules.extra  # noqa: F401

    return REGISTRY


def rule(
    code: str,
    name: str,
    title: str,
    *,
    clause: str,
    entity: tuple[str, ...],
    severity: Severity = "error",
    params: dict[str, Any] | None = None,
    core: bool = False,
    preview: bool = False,
    owner: Literal["teacher", "chief", "deputy"] = "teacher",
    predicate: str = "",
    example: str = "",
    advice: str = "",
    sql: SqlFn | None = None,
) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        if code in REGISTRY:
            raise ValueError(f"duplicate rule code {code}")
        REGISTRY[code] = Rule(
            code,
            name,
            title,
            clause,
            severity,
            entity,
            dict(params or {}),
            fn,
            (fn.__doc__ or "").strip(),
            core,
            preview,
            owner,
            predicate,
            example,
            advice,
            sql,
        )
        return fn

    return register


@dataclass
class Selection:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)

    def chosen(self) -> list[Rule]:
        def matches(r: Rule, token: str) -> bool:
            return token in (r.code, r.name) or (len(token) <= 3 and r.code.startswith(token.upper()))

        rules = sorted(load_catalogue().values(), key=lambda r: r.code)
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
    import hashlib
    import json

    catalogue = load_catalogue()
    payload = json.dumps(
        [(r.code, r.severity, r.params, r.title, r.preview) for r in sorted(catalogue.values(), key=lambda r: r.code)],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return f"{len(catalogue)}.{hashlib.sha256(payload.encode()).hexdigest()[:8]}"
