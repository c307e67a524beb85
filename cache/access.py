"""The mirrored «Отчёт о доступе к классному журналу»: one row per journal action, deduplicated by content.

Rows are resolved to the mirror's ids where possible — class by name, group by its label within the class,
lesson by group + date (+ number when the report gives it), user by name — and kept with their text when not.
``kind`` and ``detail`` classify the action for the rules: topic, homework (detail: the text), task (detail:
"<type>|<text>"), mark (detail: the work type), mark-change (a later correction or deletion of a mark: not an
entry), attendance (detail: "<code>|<student>"), other. A cell that named only the kind («Отметка», «Задание»,
«Посещаемость:» — the code alone, issue #32) keeps its kind with no detail: it proves that such an entry was made
on that lesson then, and nothing about which item.

An ИУП group has no class: the report names its grade as the class filter does («11 *»), and the group by its whole
name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlite_utils import Database

_ACTIONS = (
    (re.compile(r"^Тема урока", re.I), "topic"),
    (re.compile(r"^Домашнее задание.*?\(«(?P<text>.*)»\)\s*$", re.I), "homework"),
    (re.compile(r"^Домашнее задание", re.I), "homework"),
    (re.compile(r"^Задание «(?P<type>[^»]*)».*?\(«(?P<text>.*)»\)\s*$", re.I), "task"),
    # a mark changed or deleted later is a correction, not an entry (ruling R17): its own kind
    (re.compile(r"^Отметка «(?P<type>[^»]*)»\s*:\s*(изменена|удалена|исправлена)", re.I), "mark-change"),
    (re.compile(r"^Отметка «(?P<type>[^»]*)»", re.I), "mark"),
    (re.compile(r"^Посещаемость: «(?P<code>[^»]*)» \((?P<student>.*)\)\s*$", re.I), "attendance"),
    # the code alone: the kind of entry, no detail
    (re.compile(r"^Задание\s*:?\s*$", re.I), "task"),
    (re.compile(r"^Отметка\s*:?\s*$", re.I), "mark"),
    (re.compile(r"^Посещаемость\s*:?\s*$", re.I), "attendance"),
)
_IUP = re.compile(r"^\s*(\d{1,2})\s*\*\s*$")


def classify(action: str) -> tuple[str, str | None]:
    for pattern, kind in _ACTIONS:
        m = pattern.search(action.strip())
        if m:
            g = m.groupdict()
            if kind == "task" and g:
                return kind, f"{g['type']}|{g['text']}"
            if kind == "attendance" and g:
                return kind, f"{g['code']}|{g['student']}"
            return kind, g.get("type") or g.get("text")
    return "other", None


def _label(name: str | None) -> str:
    name = name or ""
    return (name.partition("/")[2] if "/" in name else name).strip().casefold()


def save_access_rows(
    db: Database, rows: Iterable[Mapping[str, Any]], *, observed_at: str, run_id: int | None = None
) -> int:
    """Insert the report's rows that are not mirrored yet (call inside a cache ``unit``). Returns how many."""
    classes = {str(n).casefold(): i for i, n in db.execute('SELECT "id", "name" FROM "school_class"')}
    groups = {(c, _label(n)): i for i, c, n in db.execute('SELECT "id", "class_id", "name" FROM "subject_group"')}
    iup = {
        (grade, str(n).strip().casefold()): i
        for i, grade, n in db.execute(
            'SELECT "id", "iup_grade", "name" FROM "subject_group" WHERE "class_id" IS NULL AND "iup_grade" IS NOT NULL'
        )
    }
    staff = {str(n).casefold(): i for i, n in db.execute('SELECT "id", "name" FROM "staff"') if n}
    added = 0
    lessons: dict[tuple[int, str], list[tuple[int, int | None]]] = {}
    for r in rows:
        content = json.dumps(
            [
                r["class_name"],
                r["subject"],
                r["at"],
                r["user"],
                r["lesson_day"],
                r["lesson_number"],
                r["period"],
                r["action"],
            ],
            ensure_ascii=False,
        )
        key = hashlib.sha256(content.encode()).hexdigest()[:32]
        class_id = classes.get(str(r["class_name"]).casefold())
        sg_id = groups.get((class_id, str(r["subject"]).strip().casefold())) if class_id else None
        grade = _IUP.match(str(r["class_name"] or "")) if class_id is None else None
        if grade:
            sg_id = iup.get((int(grade[1]), str(r["subject"]).strip().casefold()))
        cm_id = None
        if sg_id and r["lesson_day"]:
            cands = lessons.get((sg_id, r["lesson_day"]))
            if cands is None:
                cands = lessons[(sg_id, r["lesson_day"])] = [
                    (i, n)
                    for i, n in db.execute(
                        'SELECT "id", "number" FROM "class_meeting" '
                        'WHERE "sg_id" = ? AND "day" = ? AND "gone_at" IS NULL',
                        [sg_id, r["lesson_day"]],
                    )
                ]
            if r["lesson_number"] is not None:
                cands = [c for c in cands if c[1] == r["lesson_number"]]
            cm_id = cands[0][0] if len(cands) == 1 else None
        kind, detail = classify(str(r["action"]))
        cur = db.execute(
            'INSERT OR IGNORE INTO "access_log" ("key", "class_id", "class_name", "sg_id", "subject", "at", '
            '"user_name", "user_id", "lesson_day", "lesson_number", "cm_id", "period", "action", "kind", "detail", '
            '"first_seen_at", "run_id") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            [
                key,
                class_id,
                r["class_name"],
                sg_id,
                r["subject"],
                r["at"],
                r["user"],
                staff.get(str(r["user"]).casefold()),
                r["lesson_day"],
                r["lesson_number"],
                cm_id,
                r["period"],
                r["action"],
                kind,
                detail,
                observed_at,
                run_id,
            ],
        )
        added += cur.rowcount
    return added
