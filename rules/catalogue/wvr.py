"""Waivers (WVR): the deputy's waivers that expired or matched nothing."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import Finding, RuleContext
from rules.registry import rule


@rule(
    "WVR001",
    "waiver-stale",
    "Исключение истекло или ни к чему не применилось",
    clause="4.2.2.8",
    advice="проверьте или удалите исключение",
    entity=("waiver",),
    severity="info",
    owner="deputy",
    predicate="исключение (waiver) просрочено или в этой проверке не скрыло ни одного замечания",
)
def wvr001(ctx: RuleContext) -> Iterator[Finding]:
    """Waivers are the deputy's decisions («замечание принято, причина …»). They expire and may outlive their
    reason; this rule lists those to review. Its findings are produced by the engine after all other rules ran
    (it needs their results), so this function yields nothing itself."""
    return iter(())


RULES = (wvr001,)
