"""``asurso-sync survey``: the first contact with a school's server — every assumption the tool makes, checked on
a small sample, and a redacted structure bundle for the maintainers.

Read-only and small: one class, one of its groups, one term, one week of lessons, one day of the access report.
Each check names an assumption of docs/server-api.md (and the shapes of issue «Meet the real asurso.ru»): ✓ it
holds, ✗ the server differs (and what that means for the checks), ? it could not be seen. The bundle keeps only
keys, types, counts and the server's dictionaries (term kinds, work types, attendance codes, the report's headers
and legend) — never a name, a mark, a text or an id of a person (:func:`shape`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import httpx

from adapters.netschool import api
from adapters.netschool.api import FINAL_TERM_ID, YEAR_TERM_ID
from adapters.netschool.client import RENEWAL_ORDER, RENEWAL_WORDS, NetSchoolClient, Sleep
from adapters.netschool.errors import NetSchoolError, RenewalRefused
from adapters.netschool.esia import EsiaMethod
from adapters.netschool.models import AttendanceReason, Journal, LessonEdit, Term, parse
from adapters.netschool.reports import (
    DEFAULT_DATE_FORMAT,
    class_filter,
    date_format,
    fetch_access_report_asp,
    fetch_access_report_hub,
    iup_filter,
    parse_access_report,
)
from asurso_sync.config import Config
from asurso_sync.connect import client_settings
from asurso_sync.sync import year_periods
from cache.access import classify

Verdict = Literal["ok", "differs", "unknown"]
MARK = {"ok": "✓", "differs": "✗", "unknown": "?"}


@dataclass
class Check:
    title: str
    verdict: Verdict
    seen: str  # what the server showed: counts, field names, codes — never a person's data
    meaning: str = ""  # what a difference means for the checks of the journal


@dataclass
class Survey:
    checks: list[Check] = field(default_factory=list)
    bundle: dict[str, Any] = field(default_factory=dict)

    @property
    def all_ok(self) -> bool:
        return all(c.verdict == "ok" for c in self.checks)

    def add(self, title: str, verdict: Verdict, seen: str, meaning: str = "") -> None:
        self.checks.append(Check(title, verdict, seen, meaning if verdict != "ok" else ""))


def shape(value: Any) -> Any:
    """The structure of a JSON value with every datum removed: objects keep their keys, arrays the merged shape
    of their items, scalars become their type («str», «int», «float», «bool», «null»)."""
    if isinstance(value, dict):
        return {str(k): shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        merged: Any = None
        for item in value[:200]:
            merged = _merge(merged, shape(item))
        return [merged] if merged is not None else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _merge(a: Any, b: Any) -> Any:
    if a is None or a == "null":
        return b
    if b is None or b == "null":
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in sorted(set(a) | set(b))}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    return a if a == b else f"{a}|{b}" if isinstance(a, str) and isinstance(b, str) else a


def _count(value: Any) -> int | None:
    return len(value) if isinstance(value, list) else None


class Surveyor:
    """Runs the checks with one logged-in client; every answer's structure goes into the bundle."""

    def __init__(self, client: NetSchoolClient, *, class_name: str | None, today: date) -> None:
        self.c = client
        self.class_name = class_name
        self.today = today
        self.result = Survey()
        self.endpoints: dict[str, Any] = {}
        self.variants: dict[str, Any] = {}

    async def raw(self, label: str, path: str, params: Any = None) -> Any:
        data = await self.c.get_json(path, params)
        self.endpoints[label] = {"shape": shape(data), "count": _count(data)}
        return data

    async def attempt(self, title: str, step: Callable[[], Awaitable[None]], meaning: str) -> None:
        try:
            await step()
        except NetSchoolError as exc:
            self.result.add(title, "unknown", f"не удалось: {exc}", meaning)

    async def run(self) -> Survey:
        r = self.result
        info = self.c.info
        r.add(
            {"esia": "Вход через Госуслуги", "session": "Вход по сессии браузера"}.get(
                self.c.method or "", "Вход по логину и паролю"
            ),
            "ok" if info is not None else "unknown",
            f"сервер {self.c.server_version or 'версия не названа'}",
        )
        shapes = self.c.stats.shapes
        if self.c.settings.session is None:  # an imported browser session shows no login answer to look at
            cookie = shapes.get("ESRNSec")
            r.add("Ключ сессии (cookie ESRNSec)", "ok" if cookie else "unknown", cookie or "не видно")
            self.variants["esrnsec"] = self.c.stats.variants.get("esrnsec", "not_seen")
            r.add("SecurityWarning при входе", "ok", shapes.get("SecurityWarning", "нет"))
        ctx = self.c.context
        r.add(
            "Контекст пользователя (webapi/context)",
            "ok" if ctx and ctx.schoolYearId else "differs",
            "учебный год назван" if ctx and ctx.schoolYearId else "учебный год не назван",
            "без текущего учебного года синхронизация не начнётся",
        )
        self.state: dict[str, Any] = {}
        await self.attempt(
            "Учебные периоды и их виды", self._terms, "итоговые отметки будут проверяться без вида периода"
        )
        await self.attempt("Классы и учебные группы", self._groups, "без групп класса журнал не прочитать")
        await self.attempt("Справочники: виды работ и отметки посещаемости", self._dictionaries, "")
        await self.attempt("Журнал группы за период", self._journal, "журнал группы не прочитан — проверка невозможна")
        await self.attempt("Расписание уроков (номера, учитель урока)", self._schedule, "номера уроков будут пустыми")
        await self.attempt("Тема урока и КТП", self._topic_and_plan, "тема урока и её связь с КТП не проверяются")
        await self.attempt(
            "Отчёт о доступе к классному журналу",
            self._access_report,
            "точное время внесения недоступно, сроки будут проверяться по снимкам 16:05",
        )
        await self.attempt(
            "Журнал внеурочной деятельности", self._extra_activity, "внеурочные группы — только по признакам"
        )
        await self.attempt("Годовые отметки", self._year_marks, "пропущенные годовые отметки не проверяются")
        await self.attempt("Фильтры журнала (grade/journal/filter/init)", self._journal_filters, "")
        await self.attempt("Отчёт о доступе: значения фильтров по умолчанию", self._report_defaults, "")
        self._date_format()
        self.variants.setdefault("esrnsec", self.c.stats.variants.get("esrnsec", "not_seen"))
        self.variants["esia_start"] = self.c.stats.variants.get("esia_start", "not_used")
        # which refresh token the server accepts is tried once, read-only, only by a login over Госуслуги (issue #32)
        self.variants.setdefault("renewal_token", self.c.stats.variants.get("renewal_token", "not_tested"))
        r.bundle = {
            "survey": 2,
            "server": {"version": self.c.server_version, "product": info.product if info else None},
            "endpoints": self.endpoints,
            "enumerations": self.state.get("enumerations", {}),
            # issue #32: the variant met for every question the evidence left open (stable keys, no person's data)
            "variants": dict(sorted(self.variants.items())),
            "checks": [{"title": c.title, "verdict": c.verdict, "seen": c.seen} for c in r.checks],
        }
        return r

    async def _extra_activity(self) -> None:
        """IRTech's extra-activity journal (``EASGID``/``EASBJID``): asked the way the journal page asks,
        ``POST grade/journal/filter/init?extraActivity=true``; any answer but JSON filters means «not here»."""
        r = self.result
        try:
            data = await self.c.post_read_json(
                "/webapi/grade/journal/filter/init?extraActivity=true", {"params": None, "selectedData": []}
            )
        except NetSchoolError:
            data = None
        text = json.dumps(data, ensure_ascii=False) if data is not None else ""
        exists = "EASGID" in text or "EASBJID" in text
        self.variants["ea_journal"] = "exists" if exists else "absent"
        if data is not None:
            self.endpoints["grade/journal/filter/init?extraActivity"] = {"shape": shape(data)}
        groups = [
            i
            for f in (data if isinstance(data, list) else [])
            if isinstance(f, dict) and str(f.get("filterId", "")).upper() == "EASGID"
            for i in f.get("items") or []
        ]
        r.add(
            "Журнал внеурочной деятельности",
            "ok",
            f"есть (фильтры EASGID/EASBJID, групп: {len(groups)}): занятия его групп читаются с extraActivity=true "
            "как внеурочная деятельность"
            if exists
            else "отдельного журнала нет: внеурочные группы узнаются по предметам и расписанию",
        )

    async def _year_marks(self) -> None:
        """How the year's marks are served (issue #32): the year's own period in the term list (``termTypeId`` 4,
        «Год» or the whole year with terms inside), else the journal asked for ``termId=-1`` «год» as the report
        pages address the year; ``-2`` «итог» (final marks) is asked too and only named."""
        r = self.result
        every: list[Term] = [*(self.state.get("terms") or []), *(self.state.get("class_terms") or [])]
        terms = list({t.id: t for t in every}.values())
        listed = [t for t in terms if t.id in year_periods(terms)]
        group, sample = self.state.get("group"), self.state.get("sample")
        answered: dict[int, str] = {}
        if group is not None and sample is not None:
            for term_id in (YEAR_TERM_ID, FINAL_TERM_ID):
                params = {
                    "yearId": self.state.get("year_id"),
                    "classId": sample.id,
                    "grade": -1,
                    "sgId": group["id"],
                    "termId": term_id,
                }
                try:
                    data = await self.c.get_json("/webapi/grade/journal", params)
                    body = parse(Journal, data, "grade/journal")
                    answered[term_id] = "answers" if body.journals else "empty"
                except NetSchoolError as exc:
                    answered[term_id] = f"refused:{getattr(exc, 'status', type(exc).__name__)}"
        year = "year_period" if listed else "termid" if answered.get(YEAR_TERM_ID) == "answers" else "not_served"
        self.variants["year_marks"] = year
        self.variants["year_termids"] = {str(k): v for k, v in sorted(answered.items())} or "not_asked"
        final = answered.get(FINAL_TERM_ID, "не спрашивали")
        r.add(
            "Годовые отметки",
            "ok" if year != "not_served" else "unknown",
            {
                "year_period": f"период года в списке периодов (вид {listed[0].termTypeId if listed else '?'})",
                "termid": "журнал за год по termId −1 «год», как в отчётах",
            }.get(year, "ни периода года в списке, ни ответа на termId −1")
            + f"; «итог» (termId −2): {_answer_ru(final)}",
            "пропущенные годовые отметки не проверяются (замечаний о них не будет)",
        )

    async def _journal_filters(self) -> None:
        """How the journal page itself discovers classes, groups and terms: ``POST grade/journal/filter/init``
        (a read). The filter ids and, for a term filter, whether it offers the year as −1/−2 — never the titles."""
        r = self.result
        try:
            data = await self.c.post_read_json(
                "/webapi/grade/journal/filter/init", {"params": None, "selectedData": []}
            )
        except NetSchoolError as exc:
            self.variants["journal_filters"] = "refused"
            r.add("Фильтры журнала (grade/journal/filter/init)", "unknown", f"не ответил: {exc}", "")
            return
        items = [f for f in data if isinstance(f, dict)] if isinstance(data, list) else []
        self.endpoints["grade/journal/filter/init"] = {"shape": shape(data), "count": _count(data)}
        ids = sorted(str(f.get("filterId")) for f in items if f.get("filterId"))
        summary: dict[str, Any] = {"filters": ids}
        for f in items:
            if str(f.get("filterId", "")).upper() in ("TERMID", "TID_TERM", "TERM"):
                values = {str(i.get("value")) for i in f.get("items") or [] if isinstance(i, dict)}
                summary["term_year_values"] = sorted(values & {"-1", "-2"})
        self.variants["journal_filters"] = summary
        r.add(
            "Фильтры журнала (grade/journal/filter/init)",
            "ok" if ids else "unknown",
            f"фильтры: {', '.join(ids) or 'нет'}"
            + (f"; год в фильтре периода: {', '.join(summary['term_year_values']) or 'нет'}"
               if "term_year_values" in summary else ""),
            "",
        )  # fmt: skip

    async def _report_defaults(self) -> None:
        """The access report's description (``reports/journalaccess``): each filter's default (``filterSources``) —
        the class filter's ``-1`` says «every class» is what the form starts from."""
        r = self.result
        data = await self.raw("reports/journalaccess", "/webapi/reports/journalaccess")
        sources = data.get("filterSources") if isinstance(data, dict) else None
        defaults: dict[str, Any] = {}
        for f in sources or []:
            if isinstance(f, dict) and f.get("filterId"):
                defaults[str(f["filterId"])] = (
                    "range" if f.get("range") else f.get("defaultValue") if f.get("defaultValue") is not None else None
                )
        self.variants["report_defaults"] = defaults or "absent"
        klass = defaults.get("PCLID_IUP")
        r.add(
            "Отчёт о доступе: значения фильтров по умолчанию",
            "ok" if klass == "-1" else "differs" if defaults else "unknown",
            ", ".join(f"{k} = {v}" for k, v in defaults.items()) if defaults else "описания фильтров нет",
            "фильтр класса по умолчанию не «−1» (все классы): синхронизация всё равно спрашивает класс за классом",
        )

    def _date_format(self) -> None:
        """The reports' ``DATEFORMAT`` comes from ``context.dateFormat`` (the pattern, not a person's datum)."""
        ctx = self.c.context
        own = ctx.dateFormat if ctx is not None else None
        sent = date_format(self.c)
        self.variants["date_format"] = {"context": own, "sent": sent, "default": DEFAULT_DATE_FORMAT}
        self.result.add(
            "Формат даты для отчётов (context.dateFormat)",
            "ok" if own else "unknown",
            ("назван в контексте" + ("" if own == DEFAULT_DATE_FORMAT else ", не такой, как у публичных клиентов"))
            if own
            else "контекст формат даты не называет: отправляется принятый у публичных клиентов",
            "если отчёт прочитает даты иначе, время действий в отчёте о доступе не распознается",
        )

    async def _terms(self) -> None:
        r = self.result
        data = await self.raw("terms", "/webapi/terms")
        terms = parse(list[Term], data, "terms")
        kinds = sorted({(t.termTypeId, _kind_word(t.termName)) for t in terms}, key=lambda k: (k[0] or 0, k[1]))
        self.state.setdefault("enumerations", {})["term_kinds"] = [{"termTypeId": k, "word": w} for k, w in kinds]
        quarter = [t for t in terms if t.termTypeId == 1]
        r.add(
            "Учебные периоды и их виды",
            "ok" if terms and all(t.termTypeId is not None for t in terms) else "differs",
            "виды периодов: " + ", ".join(f"{k} ({w})" for k, w in kinds) if kinds else "периодов нет",
            "вид периода не назван: итоговые отметки за периоды проверяются по их датам",
        )
        words = dict(kinds)
        r.add(
            "Четверти — вид 1",
            "ok" if not quarter or words.get(1) == "четверть" else "differs",
            f"вид 1 — «{words.get(1, 'нет')}»",
            "виды периодов названы иначе, чем ожидалось: проверьте итоговые отметки вручную",
        )
        self.state["terms"] = terms

    async def _groups(self) -> None:
        r = self.result
        classes = await api.fetch_classes(self.c)
        self.endpoints["classes"] = {"count": len(classes)}
        pick = [k for k in classes if self.class_name and k.name and k.name.casefold() == self.class_name.casefold()]
        sample = pick[0] if pick else sorted(classes, key=lambda k: (k.grade_number or 0, k.name or ""))[-1]
        data = await self.raw("subjectgroups?classId", "/webapi/subjectgroups", {"classId": sample.id})
        groups = [g for g in data if isinstance(g, dict)] if isinstance(data, list) else []
        teacher_field = (
            "teachers"
            if any("teachers" in g for g in groups)
            else "teacher"
            if any("teacher" in g for g in groups)
            else "нет"
        )
        r.add(
            "Учебные группы класса (subjectgroups?classId)",
            "ok" if groups and teacher_field != "нет" else "differs" if groups else "unknown",
            f"групп в классе: {len(groups)}; учитель группы — поле «{teacher_field}»",
            "учитель группы не назван: замечания уйдут заместителю, а не учителю",
        )
        # where the flag marks something (a captured subjects list has the key on every item, mostly false)
        on_groups = any(g.get("extraCurricular") is True for g in groups)
        subjects = await self.raw("subjects", "/webapi/subjects")
        on_subjects = any(isinstance(x, dict) and x.get("extraCurricular") is True for x in subjects or [])
        items = [x for x in subjects or [] if isinstance(x, dict)]
        exemption = (
            "true_on_some"
            if any(x.get("useExemption") is True for x in items)
            else "all_false"
            if any("useExemption" in x for x in items)
            else "absent"
        )
        self.variants["use_exemption"] = exemption
        r.add(
            "Освобождение по предмету (subjects.useExemption)",
            "ok" if exemption != "absent" else "unknown",
            {
                "true_on_some": "признак есть, у части предметов включён",
                "all_false": "признак есть, везде выключен",
            }.get(exemption, "признака нет"),
            "освобождение («ОСВ») распознаётся только по коду посещаемости",
        )
        where = "+".join(k for k, v in (("subjects", on_subjects), ("subjectgroups", on_groups)) if v) or "nowhere"
        self.variants["extracurricular"] = where
        r.add(
            "Признак внеурочной деятельности (extraCurricular)",
            "ok" if on_subjects or on_groups else "unknown",
            {
                "subjects": "в предметах",
                "subjectgroups": "в группах",
                "subjects+subjectgroups": "в предметах и группах",
            }.get(where, "поля extraCurricular нет: остаётся признак расписания (relay 2, isEaLesson)"),
            "внеурочные группы узнаются только по расписанию (relay 2); без него их проверят как уроки (R19)",
        )
        search = await self.c.post_read_json("/webapi/terms/search", {"classIds": [sample.id]})
        self.endpoints["terms/search"] = {"shape": shape(search), "count": _count(search)}
        class_terms = parse(list[Term], search, "terms/search")
        r.add(
            "Периоды класса (terms/search)",
            "ok" if class_terms else "differs",
            f"периодов у класса: {len(class_terms)}",
            "периоды класса не названы: журнал читается по периодам школы",
        )
        self.state.update(
            sample=sample,
            groups=groups,
            class_terms=class_terms,
            year_id=self.c.context.schoolYearId if self.c.context else None,
        )

    async def _dictionaries(self) -> None:
        r = self.result
        types = await api.fetch_assignment_types(self.c)
        raw_reasons = await self.raw("grade/attendance/reasons", "/webapi/grade/attendance/reasons")
        reasons = parse(list[AttendanceReason], raw_reasons, "grade/attendance/reasons")
        field_name = (
            "ReasonMark" if any(isinstance(x, dict) and "ReasonMark" in x for x in raw_reasons or []) else "mark"
        )
        enum = self.state.setdefault("enumerations", {})
        enum["assignment_types"] = [{"id": t.id, "name": t.name, "abbr": t.abbr} for t in types]
        enum["attendance_codes"] = [{"code": x.mark, "name": x.name} for x in reasons]
        homework = [t for t in types if t.id == 3]
        r.add(
            "Вид работы 3 — «Домашнее задание»",
            "ok" if homework and (homework[0].name or "").casefold() == "домашнее задание" else "differs",
            f"видов работ: {len(types)}, наибольший номер {max((t.id for t in types), default=0)}; "
            f"кодов посещаемости: {len(reasons)} (поле «{field_name}»)",
            "домашнее задание распознаётся по имени вида работы; проверьте его в справочнике",
        )

    async def _journal(self) -> None:
        r = self.result
        groups = self.state.get("groups") or []
        terms: list[Term] = self.state.get("class_terms") or []
        current = [t for t in terms if t.startDate <= self.today <= t.endDate] or terms[:1]
        if not groups or not current:
            r.add("Журнал группы за период", "unknown", "нет группы или периода для пробы")
            return
        sample = self.state["sample"]
        group = groups[0]
        term = current[0]
        params = {
            "yearId": self.state.get("year_id"),
            "classId": sample.id,
            "grade": -1,
            "sgId": group["id"],
            "termId": term.id,
        }
        data = await self.raw("grade/journal", "/webapi/grade/journal", params)
        body = (data.get("journals") or [{}])[0] if isinstance(data, dict) else {}
        nested = any(isinstance(m, dict) and m.get("assignments") for m in body.get("classMeeting") or [])
        top = bool(body.get("assignments"))
        where = "в уроках (classMeeting[].assignments)" if nested else "списком" if top else "не видны"
        journal = parse(Journal, data, "grade/journal")
        j = journal.journals[0] if journal.journals else None
        r.add(
            "Журнал группы за период",
            "ok" if j is not None else "differs",
            f"уроков {len(j.classMeeting) if j else 0}, заданий {len(j.assignments) if j else 0}, "
            f"отметок {len(j.marks) if j else 0}; задания {where}",
            "журнал не прочитан",
        )
        homework = [a for a in body.get("assignments") or [] if isinstance(a, dict) and a.get("typeId") == 3]
        for m in body.get("classMeeting") or []:
            homework += [a for a in (m.get("assignments") or []) if isinstance(a, dict) and a.get("typeId") == 3]
        names = {k for a in homework for k in a if k.startswith("issue")}
        settings = data.get("markSettings") if isinstance(data, dict) else None
        self.variants["mark_settings"] = sorted(settings) if isinstance(settings, dict) else "absent"
        r.add(
            "Настройки отметок журнала (markSettings)",
            "ok" if isinstance(settings, dict) else "unknown",
            f"поля: {', '.join(sorted(settings))}" if isinstance(settings, dict) else "не названы",
            "шкала отметок берётся из настроек школы (school/settings)",
        )
        limit = data.get("editLimit") if isinstance(data, dict) else None
        self.variants["edit_limit"] = (
            {k: v for k, v in sorted(limit.items()) if isinstance(v, bool | int) and not isinstance(v, list)}
            if isinstance(limit, dict)
            else "absent"
        )
        r.add(
            "Ограничения правки журнала (editLimit)",
            "ok" if isinstance(limit, dict) else "unknown",
            f"правка прошлых уроков: {'ограничена' if limit.get('limitPastEdit') else 'не ограничена'}"
            + (f", {limit['limitPastDays']} дн." if limit.get("limitPastDays") is not None else "")
            if isinstance(limit, dict)
            else "не названы",
            "",
        )
        r.add(
            "Урок, на котором задано домашнее задание",
            "ok" if "issueClassMeetingId" in names else "differs" if names else "unknown",
            "поле " + ", ".join(sorted(names)) if names else "домашних заданий в пробе нет",
            "урок выдачи домашнего задания не назван: срок ДЗ считается от урока, к которому оно задано",
        )
        self.state.update(group=group, term=term, lessons=j.classMeeting if j else [])

    async def _schedule(self) -> None:
        r = self.result
        sample = self.state.get("sample")
        if sample is None:
            r.add("Расписание уроков (номера, учитель урока)", "unknown", "нет класса для пробы")
            return
        monday = self.today - timedelta(days=self.today.weekday())
        params = {
            "start": f"{monday.isoformat()}T00:00:00",
            "end": f"{(monday + timedelta(days=6)).isoformat()}T00:00:00",
            "classId": sample.id,
        }
        data = await self.raw("schedule/classmeetings", "/webapi/schedule/classmeetings", params)
        items = [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        numbered = sum(1 for m in items if m.get("number") is not None)
        teacher = any("teacher" in m for m in items)
        if not teacher:  # substitutions are rare: the teacher question looks at the class's last eight weeks
            wide = {**params, "start": f"{(monday - timedelta(weeks=8)).isoformat()}T00:00:00"}
            more = await self.c.get_json("/webapi/schedule/classmeetings", wide)
            teacher = any(isinstance(m, dict) and "teacher" in m for m in more or [])
        self.variants["lesson_teacher"] = "named" if teacher else "absent"
        r.add(
            "Учитель урока в расписании (замены)",
            "ok",
            "назван у уроков с заменой" if teacher else "не назван: замену покажет отчёт о доступе (R6)",
        )
        r.add(
            "Расписание уроков (номера, учитель урока)",
            "ok" if items and numbered == len(items) else "unknown" if not items else "differs",
            f"уроков за неделю: {len(items)}, с номером: {numbered}; учитель урока "
            + ("назван" if teacher else "не назван"),
            "номера уроков не видны: замечания назовут урок датой",
        )

    async def _topic_and_plan(self) -> None:
        r = self.result
        lessons = self.state.get("lessons") or []
        group, term = self.state.get("group"), self.state.get("term")
        past = [m for m in lessons if m.date <= self.today]
        if not past or group is None or term is None:
            r.add("Тема урока и КТП", "unknown", "нет прошедшего урока для пробы")
            return
        params = {"cmid": past[-1].id, "sgId": group["id"], "termId": term.id}
        data = await self.raw("grade/journal/edit", "/webapi/grade/journal/edit", params)
        edit = parse(LessonEdit, data, "grade/journal/edit")
        plan = await self.raw(
            "subjectplans/getForSubjectGroup", "/webapi/subjectplans/getForSubjectGroup", {"sgId": group["id"]}
        )
        flat = isinstance(data, dict) and "lessonId" in data and "lesson" not in data
        lesson_shape = "lessonId/lessonName" if flat else "lesson{…}"
        r.add(
            "Тема урока и КТП",
            "ok" if edit is not None and plan is not None else "differs",
            f"тема урока — {lesson_shape}; КТП {'получено' if plan else 'пусто'}",
        )

    async def _access_report(self) -> None:
        r = self.result
        sample = self.state.get("sample")
        if sample is None:
            r.add("Отчёт о доступе к классному журналу", "unknown", "нет класса для пробы")
            return
        day = self.today - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        how = "хаб"
        try:
            html = await fetch_access_report_hub(self.c, sample.id, day, day, timeout=60)
        except NetSchoolError:
            how = "страницы ASP"
            html = await fetch_access_report_asp(self.c, sample.id, day, day)
        report = parse_access_report(html)
        if how == "хаб":  # the fallback must read the same day the same way
            asp = parse_access_report(await fetch_access_report_asp(self.c, sample.id, day, day))
            r.add(
                "Отчёт о доступе через страницы ASP (запасной путь)",
                "ok" if asp.entries == report.entries else "differs",
                f"строк через ASP: {len(asp.entries)}, через хаб: {len(report.entries)}",
                "если хаб недоступен, отчёт через ASP прочитает другой период или не всё",
            )
            how += f", очередь отвечает {self.c.stats.shapes.get('report_queue', '?')}"
        kinds = [classify(e.action)[0] for e in report.entries]
        known = sum(1 for k in kinds if k != "other")
        legend = dict(report.legend or {})
        await self._report_questions(report, sample, day)
        self.state.setdefault("enumerations", {})["access_report"] = {
            "headers": list(report.headers),
            "legend": legend,
            "rows": len(report.entries),
            "rows_without_user": report.without_user,
            "rows_unreadable": report.unreadable,
            "classified": known,
        }
        good = report.entries and known == len(report.entries) and not report.unreadable
        r.add(
            "Отчёт о доступе к классному журналу",
            "ok" if good else "unknown" if not report.entries else "differs",
            f"через {how}; строк за {day:%d.%m}: {len(report.entries)}, распознано действий: {known}, "
            f"без пользователя: {report.without_user}; "
            + (f"действия кодами, условных обозначений: {len(legend)}" if legend else "действия словами, без кодов"),
            "точное время внесения недоступно, сроки будут проверяться по снимкам 16:05",
        )

    async def _report_questions(self, report: Any, sample: Any, day: date) -> None:
        """Issue #32's questions about the report: its time header and layout, what a cell carries, whether the
        period is the action's date, whether the class filter answers ``-1`` and ``<grade>_1``."""
        r, v = self.result, self.variants
        time_header = next((h for h in report.headers if "дата и время" in h or "время" in h), "")
        v["report_time_header"] = time_header or "not_found"
        v["report_columns"] = len(report.headers)
        v["report_layout"] = report.layout
        r.add(
            "Отчёт о доступе: заголовки и вид таблицы",
            "ok" if report.layout == "log" and time_header else "differs",
            f"колонок {len(report.headers)}, время — «{time_header or 'нет'}»"
            + ("; таблица последних изменений (вид 2013 года)" if report.layout == "last_change_2013" else ""),
            "в таблице последних изменений нет журнала действий: точного времени внесения не будет",
        )
        counted = {k: n for k, n in report.cells.items() if n}
        v["report_cells"] = "+".join(sorted(counted)) if counted else "no_rows"
        detailed = bool(counted.get("detailed") or counted.get("words"))
        r.add(
            "Отчёт о доступе: подробности в ячейке действия",
            "ok" if detailed else "unknown" if not counted else "differs",
            ", ".join(f"{k}: {n}" for k, n in sorted(counted.items())) if counted else "строк в пробе нет",
            "в ячейке только коды: время заданий, отметок и посещаемости не определить точно (R18: «не определено»)",
        )
        by_action = [e.at.date() == day for e in report.entries]
        by_lesson = [e.lesson_day == day for e in report.entries if e.lesson_day is not None]
        period = (
            "no_rows"
            if not report.entries
            else "action_date"
            if all(by_action) and not all(by_lesson)
            else "lesson_date"
            if all(by_lesson) and not all(by_action)
            else "not_told"
        )
        v["report_period"] = period
        r.add(
            "Отчёт о доступе: период — по дате изменения",
            "ok" if period == "action_date" else "differs" if period == "lesson_date" else "unknown",
            {"action_date": "да", "lesson_date": "нет, по дате урока", "no_rows": "строк в пробе нет"}.get(
                period, "в пробе не различить (все изменения в день урока)"
            ),
            "период по дате урока: поздние внесения за старые уроки синхронизация не увидит",
        )
        answered: dict[str, str] = {}
        for label, target in (("-1", "-1"), ("grade_1", iup_filter(sample.grade_number or 0))):
            try:
                other = parse_access_report(await fetch_access_report_asp(self.c, target, day, day))
                answered[label] = f"rows:{len(other.entries)}"
            except NetSchoolError as exc:
                answered[label] = f"refused:{type(exc).__name__}"
        v["class_filter"] = {"class": class_filter(sample.id), **answered}
        r.add(
            "Отчёт о доступе: фильтр класса −1 и «параллель_1» (ИУП)",
            "ok" if all(a.startswith("rows") for a in answered.values()) else "differs",
            f"−1: {_said(answered['-1'])}; {sample.grade_number}_1: {_said(answered['grade_1'])}",
            "группы ИУП не получат точного времени из отчёта",
        )


def _answer_ru(answer: str) -> str:
    """A journal's answer to a pseudo-term, in words: «отвечает», «пустой ответ», «отказ (400)»."""
    kind, _, rest = answer.partition(":")
    return {"answers": "отвечает", "empty": "пустой ответ", "refused": f"отказ ({rest})"}.get(kind, answer)


def _said(answer: str) -> str:
    kind, _, rest = answer.partition(":")
    return f"строк {rest}" if kind == "rows" else f"отказ ({rest})"


def _kind_word(name: str | None) -> str:
    """The kind a term's name says («2 четверть» → «четверть»), without its number."""
    words = [w for w in (name or "").casefold().split() if not w.isdigit() and not w.rstrip("-ая").isdigit()]
    return " ".join(words) or "?"


async def try_renewal_tokens(
    make: Callable[[str, str], NetSchoolClient], candidates: Mapping[str, str | None]
) -> dict[str, Any]:
    """Which refresh token the server accepts (issue #32): each candidate offered once, alone, by a client of its
    own (``LoginType=9``, a read: the session is logged out at once). Nothing is stored."""
    out: dict[str, Any] = {"order": list(RENEWAL_ORDER)}
    for kind in RENEWAL_ORDER:
        token = candidates.get(kind)
        if not token:
            out[kind] = "absent"
            continue
        try:
            async with make(kind, token):
                out[kind] = "accepted"
        except RenewalRefused:
            out[kind] = "refused"
        except NetSchoolError as exc:
            out[kind] = f"error:{type(exc).__name__}"
    return out


def add_renewal(survey: Survey, renewal: Mapping[str, Any]) -> None:
    """The renewal test's line and its field (``variants.renewal_token``) in a finished survey."""
    said = {"accepted": "принят", "refused": "отклонён", "absent": "не выдан"}
    took = [k for k in RENEWAL_ORDER if renewal.get(k) == "accepted"]
    survey.add(
        "Токен продления входа через Госуслуги (LoginType=9)",
        "ok" if took else "differs" if any(renewal.get(k) == "refused" for k in RENEWAL_ORDER) else "unknown",
        "; ".join(f"{RENEWAL_WORDS[k]} — {said.get(str(renewal.get(k)), renewal.get(k))}" for k in RENEWAL_ORDER),
        "ни один токен не продлил вход: ночные запуски не смогут входить сами — нужен вход по паролю",
    )
    variants = dict(survey.bundle.get("variants") or {})
    variants["renewal_token"] = dict(renewal)
    survey.bundle["variants"] = dict(sorted(variants.items()))
    survey.bundle["checks"] = [{"title": c.title, "verdict": c.verdict, "seen": c.seen} for c in survey.checks]


async def survey_with_esia(
    config: Config,
    method: EsiaMethod,
    *,
    class_name: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep | None = None,
) -> Survey:
    """``survey --esia``: sign in through Госуслуги as a person (nothing stored), survey with that session, then
    offer each candidate refresh token once (``try_renewal_tokens``) — the one test of which token renews."""
    settings = client_settings(config, esia=method)
    tokens: list[str] = []
    settings.on_token = tokens.append
    client = NetSchoolClient(settings, transport=transport, sleep=sleep or asyncio.sleep)
    async with client:
        result = await run_survey(client, class_name=class_name)
        candidates = {"answer": tokens[-1] if tokens else None, "portal": client.portal_token}

    def make(kind: str, token: str) -> NetSchoolClient:
        alone = replace(
            settings,
            esia=None,
            auth="esia",
            refresh_token=token if kind == "answer" else None,
            portal_token=token if kind == "portal" else None,
            renewal_first=None,
            on_token=None,
            on_refused=None,
            on_renewal=None,
            keepalive=False,
        )
        return NetSchoolClient(alone, transport=transport, sleep=sleep or asyncio.sleep)

    add_renewal(result, await try_renewal_tokens(make, candidates))
    return result


async def run_survey(client: NetSchoolClient, *, class_name: str | None = None, today: date | None = None) -> Survey:
    """Check with a logged-in client (the caller's ``async with``) and return the verdicts and the redacted bundle.
    «Today» is the server's date (its ``Date`` header), not this computer's."""
    when = today or (client.server_time.date() if client.server_time else datetime.now().date())
    return await Surveyor(client, class_name=class_name, today=when).run()


def bundle_bytes(survey: Survey) -> bytes:
    return json.dumps(survey.bundle, ensure_ascii=False, indent=1).encode("utf-8")


__all__ = ["MARK", "Check", "Survey", "add_renewal", "bundle_bytes", "run_survey", "shape", "survey_with_esia"]
