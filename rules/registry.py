"""The rule model and the ``@rule`` decorator: every rule has a stable code, a kebab-case name, a Russian title,
its Положение clause, parameters with defaults, a severity, the entity it is about, and a docstring that explains
it. The catalogue (``rules.catalogue``) names the family modules whose rules are in force."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rules.context import Finding, RuleContext

Severity = Literal["error", "warning", "info"]
# Where a rule comes from: the school's Положение об ЭЖ, the school's own practice beyond it, or federal
# recommendations (оценочные процедуры). Only the Положение's rules reach teachers' lists unless the school
# selects the others (``[rules] select``).
Basis = Literal["polozhenie", "school", "federal"]
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
    # the rule also applies to extracurricular groups, which need only a topic and attendance (ruling R19)
    extracurricular: bool = False
    basis: Basis = "polozhenie"

    @property
    def family(self) -> str:
        return self.code[:3]


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
    extracurricular: bool = False,
    basis: Basis = "polozhenie",
) -> Callable[[RuleFn], Rule]:
    """Make a rule of a function (its docstring explains the rule). Nothing is registered: the rule's family
    module lists it in ``RULES`` and the catalogue names the families."""

    def make(fn: RuleFn) -> Rule:
        return Rule(
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
            extracurricular,
            basis,
        )

    return make
