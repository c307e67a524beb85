"""Building a week's lists from the findings' lifecycle in the cache (the latest check), never the network."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from asurso_sync import __version__
from asurso_sync.config import Config
from asurso_sync.remarks.directory import load_directory, normalize_name
from asurso_sync.remarks.errors import NoCheckYet
from asurso_sync.remarks.model import (
    EMPTY_LESSON,
    SETTLED_ADVICE,
    TIMELY,
    TOP_OPEN,
    TREND_WEEKS,
    Footer,
    Part,
    Remark,
    Summary,
    TeacherList,
    TeacherStats,
)
from asurso_sync.remarks.week import Week
from asurso_sync.routing import route_of, rule_routes
from cache import findings_by_state, last_check, last_successful_run, letter_rules, week_cutoff
from cache.cabinet import released_rules
from cache.calendar import lessons_per_teacher
from cache.reads import class_chiefs, names
from rules.catalogue import load_catalogue, ruleset_version
from rules.facts import group_label
from rules.records import LATE
from rules.registry import Rule

# What each timeliness rule is about, for one line per late lesson
_LATE_WHAT = {
    "TML001": "тема",
    "TML002": "домашнее задание",
    "TML003": "форма контроля",
    "TML004": "отметки",
    "ATT003": "посещаемость",
}


def merge_children(items: list[Remark]) -> list[Remark]:
    """Ruling R24: one line per lesson names all its children — findings of one rule about one lesson that say the
    same thing of different children become one line (``students``, ``fingerprints``). Order is kept."""
    groups: dict[tuple[str, int, str, str], list[Remark]] = defaultdict(list)
    for r in items:
        if r.cm and r.student:
            groups[(r.rule, r.cm, r.detail, r.state)].append(r)
    out: list[Remark] = []
    for r in items:
        group = groups.get((r.rule, r.cm, r.detail, r.state)) if r.cm and r.student else None
        if not group:
            out.append(replace(r, fingerprints=[r.fingerprint]))
        elif group[0] is r:
            out.append(
                replace(
                    r,
                    students=[x.student or "" for x in group],
                    fingerprints=[x.fingerprint for x in group],
                )
            )
    return out


def merge_late_entries(items: list[Remark]) -> list[Remark]:
    """Everything of one lesson that was entered after its deadline and can no longer be fixed is one line
    («внесены позже срока: тема, домашнее задание», ``late_what`` set), not one line per rule; a record of another
    kind (a closed term, the edit limit) is its own line. Children are named (R24). Order is kept."""
    groups: dict[int, list[Remark]] = defaultdict(list)
    for r in items:
        if r.record == LATE and r.rule in _LATE_WHAT and r.cm:
            groups[r.cm].append(r)
    out: list[Remark] = []
    for r in items:
        group = groups.get(r.cm) if r.record == LATE and r.rule in _LATE_WHAT and r.cm else None
        if not group:
            out.append(replace(r, late_what=f"{r.detail} — {r.record}"))
        elif group[0] is r:
            rules = sorted({x.rule for x in group}, key=list(_LATE_WHAT).index)
            what = ", ".join(_LATE_WHAT[code] for code in rules)
            kids = list(dict.fromkeys(k for x in group for k in (x.students or ([x.student] if x.student else []))))
            out.append(
                replace(
                    r,
                    rule=", ".join(rules),
                    detail=f"внесены позже срока: {what}",
                    late_what=f"внесены позже срока: {what}",
                    student=None,
                    students=kids,
                    one_ref=True,
                    fingerprints=[fp for x in group for fp in (x.fingerprints or [x.fingerprint])],
                )
            )
    return out


def _moment(d: date, tz: ZoneInfo) -> str:
    return datetime.combine(d, time()).replace(tzinfo=tz).isoformat(timespec="seconds")


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


class Builder:
    """Reads the findings and names once; builds every list of one week."""

    def __init__(self, db: Database, config: Config, week: Week, *, today: date | None = None) -> None:
        self.db, self.config, self.week = db, config, week
        self.tz = config.school.tz
        check = last_check(db)
        if check is None:
            raise NoCheckYet("проверок ещё не было — сначала выполните «asurso-sync check»")
        self.check = check
        # ruling R23: a teacher's first letter carrying a released rule is that rule's baseline — the week's items;
        # the months before go to the deputy as a count («накопленные замечания»). Per teacher and rule, from the
        # letters that really went out (shadow weeks, with lists for the deputy only, are nobody's baseline).
        self.reached = letter_rules(db, before=week.label)
        prev = week_cutoff(db, week.shift(-1).label)
        self.since = prev if prev and prev >= _moment(week.monday, self.tz) else _moment(week.monday, self.tz)
        self.catalogue: dict[str, Rule] = load_catalogue()
        routes = rule_routes(self.catalogue, config, released_rules(db))
        self.teacher_rules = {c for c, route in routes.items() if route == "teacher"}
        self.chief_rules = {c for c, route in routes.items() if route == "class_teacher"}
        # shadow start (R23): rules that would reach teachers but are not released — the deputy sees them all
        self.shadow_rules = {
            c
            for c, r in self.catalogue.items()
            if route_of(r, config) in ("teacher", "class_teacher") and routes.get(c) == "deputy"
        }
        known = names(db)
        self.staff = {i: (name or f"сотрудник {i}", known.teacher_email[i]) for i, name in known.teacher.items()}
        self.classes = known.class_
        self.subjects = {i: group_label(name, known.group_subject[i]) for i, name in known.group.items()}
        self.students = known.student
        self.chiefs: dict[int, list[str]] = defaultdict(list)
        for class_id, user_id in class_chiefs(db):
            self.chiefs[user_id].append(self.classes.get(class_id, "?"))
        self.findings = [self._remark(f) for f in findings_by_state(db)]
        self.by_teacher: dict[int, list[Remark]] = defaultdict(list)  # a year of a large school: 10⁵ findings
        for r in self.findings:
            if r.teacher_id:
                self.by_teacher[r.teacher_id].append(r)
        self._per_week: dict[tuple[str, Week], dict[int, int]] = {}
        self.directory = load_directory(config.mail.directory)
        run = last_successful_run(db)
        self.footer = Footer(
            school=config.school.name,
            regulation=config.school.regulation,
            ruleset=ruleset_version(),
            program=__version__,
            as_of=_human_time(check["as_of"]),
            freshness=(
                f"журнал прочитан {_human_time(run.server_time)} (время сервера)"
                if run and run.server_time
                else "успешных синхронизаций нет"
            ),
            contest=config.mail.contest,
        )

    def _remark(self, f: dict[str, Any]) -> Remark:
        rule = self.catalogue.get(f["rule"])
        where, _, detail = f["message"].partition(": ")
        lesson = re.search(r"урок \d+$", where)
        student = f["entity"].get("student")
        record = str(f.get("record") or "")
        if f["state"] == "resolved":
            state = "resolved" if (f["resolved_at"] or "") > self.since else "resolved-before"
        elif record:
            # a record is shown once: in the list made after it was found or became one (R22), then only counted
            fresh = f["first_seen"] > self.since or (f.get("record_since") or "") > self.since
            state = "record" if fresh or (f["date"] or "") >= self.week.monday.isoformat() else "record-before"
        elif f["first_seen"] > self.since or (f["date"] or "") >= self.week.monday.isoformat():
            state = "new"  # found after the previous list was made, or about a day no earlier list covered
        else:
            state = "open"
        return Remark(
            fingerprint=f["fingerprint"],
            rule=f["rule"],
            title=rule.title if rule else f["rule"],
            severity=f["severity"],
            # a record asks for nothing (R22: no advice the journal no longer allows)
            advice=(SETTLED_ADVICE if record == LATE else "") if record else rule.advice if rule else "",
            state=state,
            owner=f.get("owner") or (rule.owner if rule else "deputy"),
            teacher_id=f["teacher_id"],
            class_name=self.classes.get(f["class_id"] or 0, ""),
            subject=self.subjects.get(f["sg_id"] or 0, ""),
            day=_day(f["date"]),
            lesson=lesson.group(0) if lesson else "",
            detail=detail or f["message"],
            student=self.students.get(student) if student else None,
            first_seen=_day(f["first_seen"]),
            resolved_at=_day(f["resolved_at"]),
            message=f["message"],
            cm=int(f["entity"].get("cm", 0)),
            record=record,
            record_since=f.get("record_since"),
        )

    def _in_week(self, r: Remark) -> bool:
        """Remarks about days up to the week's Sunday; resolved ones only when resolved since the cutoff."""
        if r.day is not None and r.day > self.week.sunday:
            return False
        return r.state in ("new", "open", "resolved", "record", "record-before")

    def _part(self, teacher_id: int, codes: set[str], *, baseline: bool = True) -> Part:
        """One part of a list. ``baseline``: a rule's first letter to this teacher holds only the week's items."""
        part = Part()
        sections = {"new": part.new, "record": part.records, "open": part.still_open, "resolved": part.resolved}
        for r in self.by_teacher.get(teacher_id, ()):
            if r.rule not in codes or r.owner == "deputy" or not self._in_week(r):
                continue
            first = baseline and (teacher_id, r.rule) not in self.reached
            if first and r.state != "resolved" and r.day is not None and r.day < self.week.monday:
                part.backlog += 1  # before the rule's first letter to her: the deputy's count, not the letter's
                continue
            if r.state == "record-before":
                part.records_before += 1
                continue
            sections[r.state].append(r)
        for items in sections.values():
            items.sort(key=_order)
        part.new = merge_children(part.new)
        part.still_open = merge_children(part.still_open)
        part.resolved = merge_children(part.resolved)
        part.records = merge_late_entries(merge_children(part.records))
        return part

    def teacher_list(self, teacher_id: int, *, preview: bool = False) -> TeacherList:
        """The teacher's list of the week. ``preview``: as it would be with every rule released — the deputy's
        view of the shadow start, never sent."""
        name, server_email = self.staff.get(teacher_id, (f"сотрудник {teacher_id}", None))
        own, chief = self.teacher_rules, self.chief_rules
        if preview:
            own = own | {c for c in self.shadow_rules if self.catalogue[c].owner != "chief"}
            chief = chief | {c for c in self.shadow_rules if self.catalogue[c].owner == "chief"}
        return TeacherList(
            week=self.week,
            teacher_id=teacher_id,
            name=name,
            email=self.directory.find(teacher_id, name, server_email),
            part=self._part(teacher_id, own, baseline=not preview),
            chief=self._part(teacher_id, chief, baseline=not preview),
            chief_classes=sorted(self.chiefs.get(teacher_id, [])),
            footer=self.footer,
            shadow=self._part(teacher_id, self.shadow_rules, baseline=False),
            reply_to=self.config.mail.deputy_addr,
        )

    def teacher_lists(self) -> list[TeacherList]:
        ids = {r.teacher_id for r in self.findings if r.teacher_id} | set(self._lessons(self.week))
        lists = [self.teacher_list(t) for t in ids if t in self.staff or t in self.by_teacher]
        return sorted(lists, key=lambda x: normalize_name(x.name))

    # -- the deputy's numbers
    def _lessons(self, week: Week) -> dict[int, int]:
        """Held lessons per teacher in the week whose 16:00 deadline had passed at the check (once per week)."""
        hit = self._per_week.get(("lessons", week))
        if hit is None:
            hit = self._per_week[("lessons", week)] = self._lessons_sql(week)
        return hit

    def _lessons_sql(self, week: Week) -> dict[int, int]:
        return lessons_per_teacher(self.db, week.monday, week.sunday, str(self.check["as_of"])[:19])

    def _late_lessons(self, week: Week) -> dict[int, int]:
        """Per teacher: lessons of the week with a timeliness finding (TML001–TML004, whatever its state)."""
        hit = self._per_week.get(("late", week))
        if hit is not None:
            return hit
        by_teacher: dict[int, set[int]] = defaultdict(set)
        for r in self.findings:
            if r.rule in TIMELY and r.teacher_id and r.day and week.monday <= r.day <= week.sunday:
                by_teacher[r.teacher_id].add(r.cm)
        hit = self._per_week[("late", week)] = {t: len(cms) for t, cms in by_teacher.items()}
        return hit

    def on_time(self, week: Week) -> dict[int, float]:
        """Per teacher: share of the week's held lessons without a timeliness finding. Empty for a week the
        check did not cover (before its period), rather than a misleading 100 %."""
        if week.sunday.isoformat() < str(self.check["period_from"]):
            return {}
        lessons, late = self._lessons(week), self._late_lessons(week)
        return {t: max(0.0, 1 - late.get(t, 0) / n) for t, n in lessons.items() if n}

    def summary(self, lists: list[TeacherList] | None = None) -> Summary:
        lists = lists if lists is not None else self.teacher_lists()
        weeks = [self.week.shift(-i) for i in reversed(range(TREND_WEEKS))]
        shares = {w: self.on_time(w) for w in weeks}
        lessons = self._lessons(self.week)
        stats: list[TeacherStats] = []
        all_rules: set[str] = set()
        for tl in lists:
            listed = (*tl.part.new, *tl.part.still_open, *tl.chief.new, *tl.chief.still_open)
            by_rule: Counter[str] = Counter()
            for r in listed:
                by_rule[r.rule] += r.size
            all_rules |= set(by_rule)
            shadow_by_rule: Counter[str] = Counter()
            for r in (*tl.shadow.new, *tl.shadow.records, *tl.shadow.still_open):
                for code in r.rule.split(", "):
                    shadow_by_rule[code] += 1
            stats.append(
                TeacherStats(
                    teacher_id=tl.teacher_id,
                    name=tl.name,
                    email=tl.email,
                    lessons=lessons.get(tl.teacher_id, 0),
                    on_time=shares[self.week].get(tl.teacher_id),
                    trend=[shares[w].get(tl.teacher_id) for w in weeks],
                    by_rule=by_rule,
                    new=tl.count("new"),
                    still_open=tl.count("still_open"),
                    resolved=tl.count("resolved"),
                    backlog=tl.part.backlog + tl.chief.backlog,
                    records=tl.count("records"),
                    records_before=tl.part.records_before + tl.chief.records_before,
                    empty_lessons=sum(
                        1 for r in (*listed, *tl.shadow.new, *tl.shadow.still_open) if r.rule == EMPTY_LESSON
                    ),
                    shadow_by_rule=shadow_by_rule,
                )
            )
        open_items = [
            (tl.name, r)
            for tl in lists
            for r in (*tl.part.new, *tl.part.still_open, *tl.chief.new, *tl.chief.still_open)
        ]
        open_items.sort(key=lambda x: (x[1].first_seen or date.max, x[1].day or date.max, x[0]))
        undecided = dict(self.check["counts"].get("undecided", {}))
        info = [
            r
            for r in self.findings
            if r.state in ("new", "open", "record")
            and r.owner == "deputy"
            and (r.day is None or r.day <= self.week.sunday)
            and r.rule not in {t.upper() for t in self.config.rules.ignore}
        ]
        info.sort(key=_order)
        total_lessons = sum(lessons.values())
        late_total = sum(self._late_lessons(self.week).get(t, 0) for t in lessons)
        return Summary(
            week=self.week,
            weeks=weeks,
            teachers=stats,
            rules=sorted(all_rules),
            titles={c: r.title for c, r in self.catalogue.items()},
            top_open=open_items[:TOP_OPEN],
            undecided=sum(int(v) for v in undecided.values()),
            undecided_by_rule={k: int(v) for k, v in sorted(undecided.items()) if v},
            info=info,
            missing_addresses=[tl.name for tl in lists if not tl.empty and not tl.email],
            school_on_time=(1 - late_total / total_lessons) if total_lessons else None,
            footer=self.footer,
            lists=lists,
            shadow_rules=sorted(self.shadow_rules),
            cabinet=self.config.web.base_url,
        )


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _order(r: Remark) -> tuple[Any, ...]:
    return (r.class_name, r.subject, r.day or date.min, r.lesson, r.rule, r.student or "", r.fingerprint)


def _human_time(text: str | None) -> str:
    if not text:
        return "—"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{moment:%d.%m.%Y %H:%M}"


def group(remarks: Iterable[Remark]) -> list[tuple[str, list[tuple[str, list[Remark]]]]]:
    """class → [(subject, remarks sorted by date, rule)] for the templates."""
    tree: dict[str, dict[str, list[Remark]]] = defaultdict(lambda: defaultdict(list))
    for r in remarks:
        tree[r.class_name or "без класса"][r.subject or "без предмета"].append(r)
    return [
        (cls, [(subj, sorted(items, key=_order)) for subj, items in sorted(subjects.items())])
        for cls, subjects in sorted(tree.items(), key=lambda kv: _class_key(kv[0]))
    ]


def _class_key(name: str) -> tuple[int, str]:
    m = re.match(r"(\d+)", name)
    return (int(m.group(1)) if m else 99, name)
