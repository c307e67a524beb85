"""Where a finding goes (issue #18, item 2): a teacher's own list, the class teacher's part of it, only the
deputy's summary, or nowhere (a rule the school switched off). One answer for ``check``, the remark lists and
the casebook."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal

from asurso_sync.config import Config
from rules.registry import Rule

Route = Literal["teacher", "class_teacher", "deputy", "none"]


def route_of(r: Rule, config: Config) -> Route:
    """Where a rule's findings go: the teacher's list, the class teacher's part of it, or only the deputy's
    summary; «none» for a rule the school has switched off or a preview rule it has not switched on. A rule that is
    not the Положение's (``Rule.basis``) stays in the deputy's summary unless ``[rules] to_teachers`` names it."""
    enabled = {t.upper() for t in config.rules.select}
    ignored = {t.upper() for t in config.rules.ignore}
    if r.code in ignored or r.family in ignored or (r.preview and r.code not in enabled and r.family not in enabled):
        return "none"
    wanted = {t.upper() for t in config.rules.to_teachers}
    if r.basis != "polozhenie" and r.code not in wanted and r.family not in wanted:
        return "deputy"  # the school's own or a federal recommendation: for teachers only when the school says so
    if r.owner == "chief" and r.severity in ("error", "warning"):
        return "class_teacher"
    if r.owner == "teacher" and (
        r.severity == "error" or (r.severity == "warning" and config.rules.warnings_to_teachers)
    ):
        return "teacher"
    return "deputy"


def rule_routes(rules: Mapping[str, Rule], config: Config, released: Collection[str] = ()) -> dict[str, Route]:
    """Code -> the rule's route, once per check (``finding_route`` is asked per finding). In shadow mode
    (``[rules] shadow``) a rule that is not ``released`` reaches no teacher: its findings stay the deputy's."""
    routes = {code: route_of(r, config) for code, r in rules.items()}
    if config.rules.shadow:
        for code, route in routes.items():
            if route in ("teacher", "class_teacher") and code not in released:
                routes[code] = "deputy"
    return routes


def shadowed(rules: Mapping[str, Rule], config: Config, released: Collection[str]) -> list[str]:
    """Rules that would reach teachers but wait in the shadow for the deputy's release."""
    if not config.rules.shadow:
        return []
    return sorted(
        c for c, r in rules.items() if route_of(r, config) in ("teacher", "class_teacher") and c not in released
    )


def finding_route(f: Mapping[str, Any], routes: Mapping[str, Route]) -> Route:
    """The route of one finding: its rule's (from ``rule_routes``), unless the finding itself is the deputy's (a
    term mark the school enters, a departed teacher's lesson: rulings R6, R15) or names no teacher to send it to."""
    route = routes.get(f["rule"], "deputy")
    if route in ("teacher", "class_teacher") and (f.get("owner") == "deputy" or not f.get("teacher_id")):
        return "deputy"
    return route


def shadow_line(config: Config, rules: Mapping[str, Rule], released: Collection[str]) -> str | None:
    """What ``check`` and ``status`` say about the shadow start (None when it is off)."""
    if not config.rules.shadow:
        return None
    waiting = shadowed(rules, config, released)
    out = sorted(set(released) & set(rules))
    given = ", ".join(out) if out else "ни одного"
    return (
        f"Теневой запуск ([rules] shadow): учителям уходят замечания только выпущенных правил ({given}); "
        f"ждут выпуска в кабинете завуча: {len(waiting)}."
    )
