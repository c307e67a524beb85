"""Naming one finding as people do: by the short number printed in letters, or by the words of its line.

A letter shows each remark with its rule and a short number — the first :data:`REF_LEN` characters of the
finding's fingerprint (``[CMP002 · 63d50e89]``). When a teacher answers «this remark is wrong», the deputy copies
that number, or the line itself («1а, Русский язык … 07.12, урок 4: домашнее задание …»), into
``rules waive --finding`` or ``check --finding``. Words are compared folded (ё/е, Latin look-alikes, case), so
a line typed by hand finds its finding too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REF_LEN = 8
_HEX = re.compile(r"^[0-9a-f]{6,40}$")
_BRACKETS = re.compile(r"\[([^\]]*)\]")
_WORD = re.compile(r"[\w.]+")


# Latin letters that look like Cyrillic ones: «5a» typed with a Latin «a» is «5а»
_LOOK_ALIKE = str.maketrans("aeopcxykmthbAEOPCXYKMTHB", "аеорсхукмтнвАЕОРСХУКМТНВ")


def fold(text: str) -> str:
    """Text as the filters compare it: case, «ё» and Latin look-alikes do not matter («Воробьева», «5a»)."""
    return " ".join(text.translate(_LOOK_ALIKE).casefold().replace("ё", "е").split())


def ref(fingerprint: str) -> str:
    """The short number a letter shows for a finding."""
    return fingerprint[:REF_LEN]


def _refs_and_rules(text: str) -> tuple[list[str], list[str], str]:
    """Short numbers and rule codes in the text (a bracket «[CMP002 · 63d50e89]» carries both), and the words
    left for matching: the advice after «→» is the program's, not the finding's, and is dropped."""
    refs: list[str] = []
    rules: list[str] = []
    for inner in _BRACKETS.findall(text):
        for token in re.split(r"[\s·,]+", inner.strip()):
            if _HEX.match(token.lower()):
                refs.append(token.lower())
            elif re.fullmatch(r"[A-Z]{3}\d{3}", token):
                rules.append(token)
    words = _BRACKETS.sub(" ", text).split("→", 1)[0]
    bare = words.strip().lower()
    if _HEX.match(bare):
        refs.append(bare)
        words = ""
    return refs, rules, words


def describe(f: dict[str, Any]) -> str:
    """The folded text a finding is searched in: its message (class, subject, date, lesson, what is wrong), its
    date as letters print it (dd.mm), its rule."""
    day = str(f.get("date") or "")
    short = f"{day[8:10]}.{day[5:7]}" if len(day) >= 10 else ""
    return fold(f"{f.get('message', '')} {short} {f.get('rule', '')} {f.get('student_name') or f.get('student') or ''}")


def matching(findings: Iterable[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The findings ``text`` names: by short number (or whole fingerprint) if it holds one, else by all of its
    words appearing in the finding's description. Empty text names nothing."""
    refs, rules, words = _refs_and_rules(text)
    items = [f for f in findings if not rules or f.get("rule") in rules]
    if refs:
        return [f for f in items if any(str(f["fingerprint"]).startswith(r) for r in refs)]
    tokens = [fold(w).strip(".") for w in _WORD.findall(words)]
    tokens = [t for t in tokens if t]
    if not tokens:
        return []
    return [f for f in items if all(t in describe(f) for t in tokens)]
