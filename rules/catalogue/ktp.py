"""The КТП (KTP): a lesson's topic from the group's calendar-thematic plan (ruling R16)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache

from rules.context import Finding, RuleContext
from rules.helpers import (
    PLACEHOLDERS,
    due_lessons,
    loose,
)
from rules.registry import rule


@lru_cache(maxsize=1 << 14)
def _stems(text: str) -> frozenset[str]:
    """The words of a topic that carry meaning, cut to their first five letters (a crude stem that forgives the
    endings of Russian words: «дробей» and «дроби» meet). Words shorter than four letters are left out. Cached:
    the same КТП texts repeat in every parallel class."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.casefold().replace("ё", "е")).split()
    return frozenset(w[:5] for w in words if len(w) >= 4)


# The topics not linked to a live lesson of their group's КТП: the only ones KTP002 has to compare (in a school
# that picks its topics from the КТП, almost none)
_UNLINKED = (
    'SELECT t."cm_id", t."sg_id", t."topic" FROM "lesson_topic" t WHERE t."gone_at" IS NULL AND NOT EXISTS ('
    'SELECT 1 FROM "ktp_lesson" k WHERE k."id" = t."ktp_lesson_id" AND k."gone_at" IS NULL)'
)


def _plan_stems(ctx: RuleContext, groups: set[int]) -> dict[int, set[str]]:
    """Per group among ``groups``: the stems of all its live КТП lessons' names."""
    stems: dict[int, set[str]] = defaultdict(set)
    for sg, name in ctx.db.execute('SELECT "sg_id", coalesce("name", \'\') FROM "ktp_lesson" WHERE "gone_at" IS NULL'):
        if sg in groups:
            stems[sg] |= _stems(name)
    return stems


@rule(
    "KTP002",
    "topic-not-from-ktp",
    "Тема урока не из КТП",
    clause="4.2.5.2",
    advice="выберите тему урока из КТП или приведите её в соответствие с КТП",
    entity=("cm",),
    severity="warning",
    core=True,
    predicate="у группы загружено КТП, а тема урока не привязана к уроку КТП и не похожа ни на одну тему КТП (нет "
    "ни одного общего значимого слова) — предупреждение",
)
def ktp002(ctx: RuleContext) -> Iterator[Finding]:
    """Topics follow the КТП (4.2.5.2). A topic linked to a КТП lesson, or sharing a meaningful word with one of
    the group's КТП topics, is from the КТП; only a topic with nothing in common («Разное») is a warning — the
    measure is lenient on purpose (ruling R16; R0: doubt is no remark)."""
    plans, placeholders = ctx.facts.plans, {"", *(loose(w) for w in PLACEHOLDERS)}
    unlinked = {
        cm: topic
        for cm, sg, topic in ctx.db.execute(_UNLINKED)
        if sg in plans and topic and loose(topic) not in placeholders  # a placeholder is CMP001's business
    }
    if not unlinked:
        return
    lessons = [le for le in due_lessons(ctx) if le.id in unlinked and le.id in ctx.facts.topics]
    stems = _plan_stems(ctx, {le.sg for le in lessons})
    for lesson in lessons:
        plan = stems.get(lesson.sg)
        if plan is None:
            continue  # a plan without lessons says nothing about topics
        topic = unlinked[lesson.id]
        words = _stems(topic)
        if words and not words & plan:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"тема «{topic.strip()}» не из КТП группы")


RULES = (ktp002,)
