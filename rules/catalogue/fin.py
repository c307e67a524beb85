"""Term and year marks (FIN): the minimum of current marks, missing marks, the mark against the average."""

from __future__ import annotations

import math
from collections.abc import Iterator

from rules.context import Finding, RuleContext
from rules.evidence import Verdict
from rules.helpers import (
    count_verdict,
    passed_dues,
)
from rules.registry import rule
from rules.terms import (
    TermRow,
    counted_term_rows,
    ended_terms,
    enrolled_at_end,
    joined_on,
    term_finding,
    term_rows,
)
from rules.wording import MARKS_AFTER_PRI, count, decimal


@rule(
    "FIN001",
    "term-mark-on-too-few",
    "Итоговая отметка при недостаточном числе текущих",
    clause="5.9",
    advice="проверьте итоговую отметку: текущих отметок недостаточно",
    entity=("student", "sg", "term"),
    params={"quarter": 0, "half_year": 0},
    core=True,
    predicate="только с минимумом школы (quarter, half_year): выставлена числовая итоговая отметка, а текущих "
    "отметок меньше минимума; исключения — как у DEN001",
)
def fin001(ctx: RuleContext) -> Iterator[Finding]:
    """A numeric term mark needs a minimum of current marks, otherwise «н/а» (5.9 sends the number to the school's
    Положение о текущем контроле): the rule runs only with the school's minimum (ruling R13), and not for a student
    who joined the group after the term began (CB-33): his minimum is not the group's."""
    quarter, half = int(ctx.p("quarter")), int(ctx.p("half_year"))
    if not quarter and not half:
        return  # no minimum configured: the rule does not run
    for row in counted_term_rows(ctx):
        if joined_on(ctx, row.sg, row.term, row.start, row.end, row.student) is not None:
            continue
        minimum = half if row.term_type == 2 else quarter
        mark = row.numeric_term_mark
        if minimum and mark is not None and row.count < minimum:
            yield term_finding(
                ctx,
                row,
                f"итоговая «{mark}» при {count(row.count, *MARKS_AFTER_PRI)}",
            )


@rule(
    "FIN002",
    "term-mark-missing",
    "Не выставлена итоговая отметка",
    clause="4.2.5.4",
    advice="выставьте итоговую отметку (или «н/а», «осв»)",
    entity=("student", "sg", "term"),
    params={"days": 3, "grace_minutes": 10},
    core=True,
    predicate="через 3 дня после окончания периода у обучающегося нет итоговой отметки (н/а и «освобождён» считаются); "
    "у обучающихся в семье и на дому итоговые вносит школа — замечание завучу",
)
def fin002(ctx: RuleContext) -> Iterator[Finding]:
    """Term marks are entered within a few days after the term ends. For a student in family, home or очно-заочная
    education the school enters them from the attestation (4.2.2.9): the finding is the deputy's (ruling R15)."""
    dues = passed_dues(ctx, int(ctx.p("days")))
    rows = [(row, row.student in ctx.part_time) for row in term_rows(ctx)]
    for sg, term, start, end, typ in ended_terms(ctx):
        given = ctx.facts.term_marks.get((sg, term), {})
        for student in enrolled_at_end(ctx, sg, term, end, outside_class=True):
            rows.append((TermRow(sg, term, start, end, typ, student, 0, 0.0, 0.0, given.get(student)), True))
    for row, deputy_owned in rows:
        due = dues[row.end]
        if due is None:
            continue
        first = row.term_mark.first_seen if row.term_mark else None
        if first is not None and first <= due.in_time:
            continue  # seen by the deadline + grace: on time (decide_due's first answer, without the call)
        verdict = ctx.decide_due(ctx.journal_key(row.sg, row.term), first, due)
        if verdict is Verdict.LATE:
            found = term_finding(ctx, row, f"итоговая отметка не выставлена к {due.moment:%d.%m.%Y}")
            if deputy_owned:
                found.owner = "deputy"
            yield found
        count_verdict(ctx, verdict, row.sg)


@rule(
    "FIN003",
    "term-mark-vs-average",
    "Итоговая отметка расходится со средним баллом",
    clause="5.9",
    advice="сверьте итоговую отметку со средним баллом",
    entity=("student", "sg", "term"),
    severity="info",
    core=True,
    owner="deputy",
    predicate="итоговая не совпадает со средневзвешенным баллом, округлённым по правилам арифметики (3,4 → 3; "
    "3,5 → 4) — средний балл лишь рекомендация: сведения для завуча",
)
def fin003(ctx: RuleContext) -> Iterator[Finding]:
    """The weighted average only recommends (5.9): a term mark other than the average rounded half up is
    information for the deputy, never a remark (a «4» at an average of 3.4 is one)."""
    for row in term_rows(ctx):
        mark = row.numeric_term_mark
        total = row.weights
        if mark is None or not total or row.is_year:
            continue
        exact = row.weighted / total
        avg = round(exact, 2)
        if mark != math.floor(exact + 0.5):
            yield term_finding(ctx, row, f"итоговая «{mark}», средний балл {decimal(avg)}")


RULES = (
    fin001,
    fin002,
    fin003,
)
