"""Completeness (CMP): placeholder topics, homework in grade 1."""

from __future__ import annotations

from collections.abc import Iterator

from rules.context import Finding, RuleContext
from rules.facts import topic_texts
from rules.helpers import (
    NO_HOMEWORK,
    PLACEHOLDER_MAX,
    PLACEHOLDERS,
    due_lessons,
    homework_given_at,
    loose,
)
from rules.registry import rule


@rule(
    "CMP001",
    "topic-placeholder",
    "Тема урока — заглушка",
    clause="4.2.5.2",
    advice="внесите содержательную тему урока по КТП",
    entity=("cm",),
    params={"placeholders": PLACEHOLDERS},
    core=True,
    predicate="тема есть, но ничего не говорит: без знаков препинания и пробелов пуста («.», «-», «---») или это "
    "«урок», «тема», «без темы», «нет», «не указана» и т. п. (список — параметр placeholders)",
    extracurricular=True,
)
def cmp001(ctx: RuleContext) -> Iterator[Finding]:
    """A topic that says nothing — «урок», «---Не указана---», «.» — is no topic: the journal must say what the
    lesson was about. A short real topic («ДНК», «ИЗО») is a topic (ruling R16)."""
    words = {loose(w) for w in ctx.p("placeholders")}
    texts = topic_texts(ctx.db, PLACEHOLDER_MAX)
    for lesson in due_lessons(ctx):
        topic = texts.get(lesson.id)
        if topic is None:
            continue
        text = loose(topic)
        if not text or text in words:
            yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"тема урока «{topic}» — заглушка")


@rule(
    "CMP002",
    "grade1-homework",
    "Домашнее задание в 1 классе",
    clause="4.2.5.2",
    advice="в 1 классе домашнее задание не задаётся: укажите «Не предусмотрено»",
    entity=("cm",),
    core=True,
    params={"no_homework": [NO_HOMEWORK, "не задано", "нет"]},
    predicate="в 1 классе на уроке задано домашнее задание: текст не «Не предусмотрено» (без учёта регистра, пробелов "
    "и знаков препинания) и не из равнозначных записей школы",
)
def cmp002(ctx: RuleContext) -> Iterator[Finding]:
    """Grade 1 has no homework: the entry says there is none — «Не предусмотрено», compared loosely, or one of the
    school's equivalents (ruling R10)."""
    grade1 = {sg for sg in ctx.facts.group_class if ctx.facts.grade(sg) == 1}
    none = {loose(x) for x in ctx.p("no_homework")}
    for lesson in due_lessons(ctx):
        if lesson.sg not in grade1:
            continue
        for a in homework_given_at(ctx, lesson):
            if a.name.strip() and loose(a.name) not in none:
                yield ctx.lesson_finding(lesson, {"cm": lesson.id}, f"домашнее задание в 1 классе: «{a.name}»")
                break


RULES = (
    cmp001,
    cmp002,
)
