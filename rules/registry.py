"""The rule model and the ``@rule`` decorator: every rule has a stable code, a kebab-case name, a Russian title,
its Положение clause, parameters with defaults, a severity, the entity it is about, and a docstring that explains
it. The catalogue (``rules.catalogue``) names the family modules whose rules are in force."""

from __future__ import annotations

import json
import re
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


# what a parameter's default says about the values it takes, in the words a config error uses
_KINDS = {
    int: "нужно целое число",
    float: "нужно число",
    str: "нужна строка в кавычках",
    bool: "нужно true или false",
    list: "нужен список",
    dict: "нужна таблица",
}
_ITEMS = {int: "целые числа", float: "числа", str: "строки в кавычках", bool: "true или false"}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
# string parameters whose values are a closed set (the rule's own words; anything else would silently mean the default)
CHOICES: dict[str, tuple[str, ...]] = {"late_joiners": ("auto", "pro_rata", "skip")}


def _is(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _number_key(key: Any) -> bool:
    try:
        float(str(key))
    except ValueError:
        return False
    return True


def param_problem(name: str, default: Any, value: Any) -> str | None:
    """What is wrong with ``value`` for a rule parameter whose default is ``default`` (Russian, for a config or
    --param error), or None. The type is the default's; a list's items that of the default's items; a table with
    an empty default (DEN001's «часов в неделю → отметок») maps numbers to whole numbers; «ЧЧ:ММ» defaults take a
    time; a closed set of words (``CHOICES``) one of them."""
    kind = type(default)
    if not _is(value, kind):
        return f"{_KINDS.get(kind, kind.__name__)} (по умолчанию {json.dumps(default, ensure_ascii=False)})"
    if isinstance(default, str) and _CLOCK.match(default) and not _CLOCK.match(value):
        return f"нужно время ЧЧ:ММ, например «{default}»"
    if isinstance(default, str) and name in CHOICES and value not in CHOICES[name]:
        return f"допустимые значения: {', '.join(CHOICES[name])}"
    if isinstance(default, list) and default:
        item = type(default[0])
        bad = [x for x in value if not _is(x, item)]
        if bad:
            return f"элементы списка — {_ITEMS.get(item, item.__name__)}; не подходит: {bad[0]!r}"
    if isinstance(default, dict) and not default:
        for k, v in value.items():
            if not _number_key(k) or not _is(v, int) or v < 0:
                return f"нужна таблица «число = целое число ≥ 0», например {{ 1 = 3, 2 = 4 }}; не подходит: {k} = {v!r}"
    if isinstance(default, int | float) and not isinstance(default, bool) and value < 0:
        return "значение должно быть не меньше 0"
    return None
