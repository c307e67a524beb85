"""Tasks and records (ruling R22): the one place that decides whether a finding still asks the teacher for
something (a **task**) or is a matter of record that nothing can fix any more (a **record**).

A record is shown once in a teacher's list, in the block «внесено позже срока — исправлять нечего», and afterwards
only counted for the deputy; a task stays in the list until it is fixed. A task that can no longer be fixed (its
term closed, the journal's edit limit passed) becomes a record once. Every output reads the decision from the
finding (``Finding.record``, stored as ``finding.record``), never decides it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from rules.context import Finding
from rules.facts import Facts, TermSpan

# Rules whose every finding is a late entry: the code, mark or text is there, only too late (R11: ATT003)
LATE_BY_NATURE = frozenset({"ATT003"})
# Rules about the term mark itself: due after the term ends, so a closed term is their very moment, not the end
# of the task (CB-40, CB-42)
TERM_MARK_RULES = frozenset({"FIN002", "FIN003"})

LATE = "внесено позже срока"
TERM_CLOSED = "период закрыт"
EDIT_LIMIT = "срок редактирования журнала истёк"


def edit_limit_days(settings: Mapping[str, object]) -> int | None:
    """The journal's edit limit in days (``editLimit.limitPastDays`` where ``limitPastEdit`` is on), as the sync
    stored it from the journal answer; None when the server did not say or the limit is off."""
    if str(settings.get("editLimitPastEdit", "")).strip().lower() not in ("1", "true"):
        return None
    try:
        return int(str(settings.get("editLimitPastDays", "")).strip())
    except ValueError:
        return None


def record_reason(f: Finding, *, today: date, terms: Mapping[int, TermSpan], edit_limit: int | None) -> str:
    """Why the finding is a record («» for a task): the late entry has been made (``settled``) or is late by its
    nature; its term has closed (a term-level finding about current entries — R13's minima, CB-53); its lesson is
    older than the journal's edit limit."""
    if f.settled or f.rule in LATE_BY_NATURE:
        return LATE
    term = f.entity.get("term")
    if term is not None and f.rule not in TERM_MARK_RULES:
        span = terms.get(term)
        if span is not None and span.end < today:
            return TERM_CLOSED
    if edit_limit is not None and "cm" in f.entity and f.date is not None and (today - f.date).days > edit_limit:
        return EDIT_LIMIT
    return ""


def mark_records(findings: Iterable[Finding], facts: Facts, today: date) -> None:
    """Set ``record`` on each finding (in place)."""
    limit = edit_limit_days(facts.settings)
    for f in findings:
        f.record = record_reason(f, today=today, terms=facts.terms, edit_limit=limit)
