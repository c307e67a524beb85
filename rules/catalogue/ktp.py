"""The КТП (KTP): a lesson's topic from the group's calendar-thematic plan (ruling R16)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from rules.context import Finding, RuleContext
from rules.helpers import (
    PLACEHOLDERS,
    due_lessons,
    loose,
)
from rules.registry import rule


def _stems(text: str) -> set[str]:
    """The words of a topic that carry meaning, cut to their first five letters (a crude stem that forgives the
    endings of Russian words: «дробей» and «дроби» meet). Words shorter than four letters are left out."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.casefold().replace("ё", "е")).split()
    return {w[:5] for w in words if len(w) >= 4}


def _ktp_topics(ctx: RuleContext) -> tuple[dict[int, set[str]], set[int]]:
    """Per group with a КТП: the stems of all its КТП lessons' names; and the ids of the live КТП lessons."""
    stems: dict[int, set[str]] = defaultdict(set)
    ids: set[int] = set()
    for kid, sg, name in ctx.db.execute(
        'SELECT "id", "sg_id", coalesce("name", \'\') FROM "ktp_lesson" WHERE "gone_at" IS NULL'
    ):
        ids.add(kid)
        stems[sg] |= _stems(name)
    return stems, ids


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
    stems, ktp_ids = _ktp_topics(ctx)
    if not stems:
        return
    placeholders = {"", *(loose(w) for w in PLACEHOLDERS)}
    topics = {
        cm: (kid, topic or "")
        for cm, kid, topic in ctx.db.execute(
            'SELECT "cm_id", "ktp_lesson_id", "topic" FROM "lesson_topic" WHERE "gone_at" IS NULL'
        )
    }
    for lesson in due_lessons(ctx):
        plan = stems.get(lesson.sg)
        entry = topics.get(lesson.id)
        if plan is None or entry is None or lesson.id not in ctx.facts.topics:
            continue
        kid, topic = entry
        if kid in ktp_ids or loose(topic) in placeholders:
            continue  # linked to the КТП, or a placeholder (CMP001's business)
        words = _stems(topic)
        if words and not words & plan:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"тема «{topic.strip()}» не из КТП группы")


RULES = (ktp002,)
