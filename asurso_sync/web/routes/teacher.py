"""A teacher's personal page ``/t/{token}``: the link in her letter opens it, without the cabinet's password.

The token (``cache.teacher_links``) is the whole of her access: it is bound to her, valid until her next letter
(``[teacher_page]``), stored only as a hash, and revocable by the deputy. It opens this page and its two forms —
«оспорить» ``/t/{token}/dispute`` and «урок не состоялся» ``/t/{token}/not-held`` — and nothing else: the deputy's
pages still want the cabinet's session. The page shows her open tasks and this week's records (R22), grouped by
lesson, each with the evidence the cabinet shows and the Положение's clause in plain words; children's names only on
her own lessons, other staff never by name. Each form carries a CSRF token derived from the link (an HMAC with a
key of this process), wrong and expired tokens are limited per address, requests per link too, and every opening,
answer and refusal is in the audit log (never the token).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.remarks.errors import RemarksError
from asurso_sync.remarks.week import Week
from asurso_sync.routing import finding_route, rule_routes
from asurso_sync.web.cabinet import Cabinet, audit_quietly, read_form
from cache import CacheError, last_check
from cache.cabinet import lesson_evidence, released_rules, teacher_names
from cache.teacher_links import (
    add_objection,
    find_link,
    lesson_teachers,
    objections,
    student_names,
    teacher_items,
    touch_link,
)
from rules.catalogue import load_catalogue

REFUSALS_ALLOWED = 10  # wrong or expired tokens from one address …
REFUSAL_WINDOW = 15 * 60  # … within 15 minutes, then a wait
REQUESTS_PER_LINK = 60  # requests of one link …
REQUEST_WINDOW = 60  # … per minute
REASON_MAX = 500
GROUPS_PER_PAGE = 20  # lessons a page: a year's backlog stays quick to open on a phone

EVIDENCE_RU = {
    "exact": "точное время внесения — по отчёту о доступе к журналу",
    "observed": "по снимкам журнала, которые программа делала в течение дня",
    "undecided": "не определено: данных о времени нет",
}
# The clauses of the Положение the rules cite, in plain words (its full text: the school's own document).
CLAUSES = {
    "3.5": "КТП загружается в «Планирование уроков» в течение недели после утверждения рабочей программы.",
    "3.7": "Каждый день до 16:00 в «Классном журнале» заполняются темы, отметки, посещаемость и домашние задания.",
    "4.2.2.8": "Заместитель директора составляет списки замечаний по ведению журнала.",
    "4.2.4.1": "Расписание вводится по календарному учебному графику.",
    "4.2.5.1": "Учитель отвечает за ежедневное и достоверное заполнение отметок и посещаемости до 16:00.",
    "4.2.5.2": "На каждом уроке заполняются тема из КТП, форма контроля, домашнее задание и отметки.",
    "4.2.5.4": "Отметки за четверть и год выставляются на странице «Итоговые отметки».",
    "4.2.6.4": "Классный руководитель каждый день уточняет в «Посещаемости» причины пропусков.",
    "5.1": "Тема занятия и отсутствующие вносятся в день урока.",
    "5.2": "Отметки за работу выставляются не позднее 7 дней со дня её проведения.",
    "5.3": "Во 2–11 классах отметки ставятся по пятибалльной шкале.",
    "5.4": "Причина отсутствия отмечается своим кодом: УП, НП, ОТ, Б; опоздание — «ОП».",
    "5.5": "Обучающимся на дому и на семейном обучении текущие отметки и посещаемость не ставятся.",
    "5.7": "Каждый, кто ведёт журнал, отвечает за полноту и достоверность своих записей.",
    "5.9": "Итоговые отметки выставляются по Положению о текущем контроле и промежуточной аттестации.",
}
OUTCOME_RU = {
    "pending": "оспорено — ждёт решения завуча",
    "agreed": "оспорено — завуч согласна, замечание снято",
    "rejected": "оспорено — завуч не согласна, замечание остаётся",
}
_BRACKETS = re.compile(r"\s*\([^)]*\)")
KIND_RU = {"dispute": "оспорено", "not_held": "урок не состоялся"}


@dataclass
class Window:
    """At most ``limit`` events per key within ``seconds`` (a sliding window)."""

    limit: int
    seconds: float
    clock: Callable[[], float] = time.monotonic
    events: dict[str, deque[float]] = field(default_factory=dict)

    def full(self, key: str) -> bool:
        now = self.clock()
        recent = self.events.get(key)
        if recent is None:
            return False
        while recent and now - recent[0] > self.seconds:
            recent.popleft()
        if not recent:
            self.events.pop(key, None)
        return len(recent) >= self.limit

    def add(self, key: str) -> None:
        self.events.setdefault(key, deque()).append(self.clock())


@dataclass
class TeacherPages:
    """What the teacher's pages keep in memory: the CSRF key (a restart makes open forms stale) and the limits."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    refused: Window = field(default_factory=lambda: Window(REFUSALS_ALLOWED, REFUSAL_WINDOW))
    used: Window = field(default_factory=lambda: Window(REQUESTS_PER_LINK, REQUEST_WINDOW))

    def csrf(self, link_id: int) -> str:
        return hmac.new(self.key, f"teacher-link:{link_id}".encode(), hashlib.sha256).hexdigest()


def _pages(request: Request) -> TeacherPages:
    state = request.app.state
    tp = getattr(state, "teacher_pages", None)
    if tp is None:
        tp = TeacherPages()
        state.teacher_pages = tp
    return tp


def _html(cab: Cabinet, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = cab.env.get_template(name).render(school=cab.config.school.name, **context)
    return HTMLResponse(html, status, headers={"x-robots-tag": "noindex"})


def _refused(cab: Cabinet, status: int = 403, wait: bool = False) -> HTMLResponse:
    return _html(cab, "teacher/refused.html", status, wait=wait)


def _address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _open(request: Request, cab: Cabinet, db: Database) -> dict[str, Any] | Response:
    """The valid link of this request's token, or the page that refuses it (limits counted, refusal audited)."""
    tp = _pages(request)
    who = _address(request)
    if tp.refused.full(who):
        return _refused(cab, 429, wait=True)
    link = find_link(db, str(request.path_params["token"]))
    if link is None:
        tp.refused.add(who)
        audit_quietly(db, "teacher-link-refused", {"address": who, "path": request.url.path.split("/")[-1][:20]})
        return _refused(cab)
    if tp.used.full(str(link["id"])):
        return _refused(cab, 429, wait=True)
    tp.used.add(str(link["id"]))
    return link


def plain_clauses(clause: str) -> list[str]:
    """«3.7, 4.2.5.2» → the clauses in plain words, each with its number."""
    out = []
    for part in (p.strip() for p in (clause or "").split(",")):
        if part in CLAUSES:
            out.append(f"п. {part}: {CLAUSES[part]}")
        elif part and part != "—":
            out.append(part)
    return out


def view(db: Database, cab: Cabinet, link: dict[str, Any], page: int | None = 1) -> dict[str, Any]:
    """Her page: her items (tasks, this week's records) grouped by lesson, newest first, ``GROUPS_PER_PAGE`` groups
    a page with their evidence and the answers so far; ``page=None``: every group, without evidence (what the forms
    check an answer against)."""
    tid = int(link["teacher_id"])
    catalogue = load_catalogue()
    routes = rule_routes(catalogue, cab.config, released_rules(db))
    check = last_check(db)
    today = datetime.fromisoformat(check["as_of"]).date() if check else date.today()
    try:  # records since the week her letter was about (shown once, R22), up to the last check
        since = min(Week.parse(str(link["period"])).monday, Week.of(today).monday)
    except (RemarksError, ValueError):  # a link not issued with a letter
        since = Week.of(today).monday
    monday, sunday = since.isoformat(), today.isoformat()
    groups: dict[Any, dict[str, Any]] = {}
    wanted = sorted(code for code, route in routes.items() if route == "teacher")
    for f in teacher_items(db, tid, wanted, monday):
        if finding_route(f, routes) != "teacher":
            continue  # the deputy's own (a term mark the school enters, R15)
        if f["settled"] and not (f["date"] and monday <= f["date"][:10] <= sunday):
            continue  # a record is shown in its week only (R22): nothing is left to fix
        cm = int(json.loads(f["entity"]).get("cm", 0))
        key = cm or ("period", f["sg_id"], f["class_id"])
        if key not in groups:
            groups[key] = {
                "cm": cm,
                "date": f["date"],
                "class_name": f["class_name"] or "",
                "group_name": f["group_name"] or "",
                "found": [],
            }
        groups[key]["found"].append(f)
    ordered = sorted(groups.values(), key=lambda g: (g["date"] or "", g["class_name"]), reverse=True)
    tasks = sum(1 for g in ordered for f in g["found"] if not f["settled"])
    records = sum(1 for g in ordered for f in g["found"] if f["settled"])
    pages = max(1, -(-len(ordered) // GROUPS_PER_PAGE))
    if page is not None:
        page = min(max(1, page), pages)
        shown = ordered[(page - 1) * GROUPS_PER_PAGE : page * GROUPS_PER_PAGE]
    else:
        shown = ordered
    answered: dict[str, dict[str, Any]] = {}
    for o in reversed(objections(db, teacher_id=tid)):  # oldest first: the newest answer wins
        for fp, _ in o["findings"]:
            answered[fp] = o
    owners = lesson_teachers(db, [g["cm"] for g in shown if g["cm"]])
    name = teacher_names(db).get(tid, "")
    children = student_names(
        db,
        sorted({int(e["student"]) for g in shown for f in g["found"] if (e := json.loads(f["entity"])).get("student")}),
    )
    for g in shown:
        own = tid in owners.get(g["cm"], set()) if g["cm"] else True
        g["evidence"] = _evidence(db, g["cm"], name, own) if g["cm"] and page is not None else None
        g["tasks"], g["records"] = [], []
        for f in g.pop("found"):
            rule = catalogue.get(f["rule"])
            item = {
                "fingerprint": f["fingerprint"],
                "rule": f["rule"],
                "title": rule.title if rule else f["rule"],
                "advice": rule.advice if rule else "",
                "clauses": plain_clauses(rule.clause if rule else ""),
                # children's names only on her own lessons: elsewhere the rule's title says what is wrong
                "message": _detail(f["message"], rule.title if rule else "") if own else "",
                "student": children.get(int(json.loads(f["entity"]).get("student") or 0), "") if own else "",
                "evidence": EVIDENCE_RU.get(f["evidence"], f["evidence"] or ""),
                "answer": answered.get(f["fingerprint"]),
            }
            (g["records"] if f["settled"] else g["tasks"]).append(item)
        answers = [i["answer"] for i in g["tasks"] + g["records"] if i["answer"]]
        g["answer"] = next((a for a in answers if a["kind"] == "not_held"), None)
    return {
        "teacher_name": name,
        "since": since,
        "groups": shown,
        "tasks": tasks,
        "records": records,
        "page": page,
        "pages": pages,
        "expires": cab.local(link["expires_at"]),
    }


def _detail(message: str, title: str) -> str:
    """The finding's own words without the place the group's heading already names («7Б, Алгебра, 12.12, урок 3:
    …»), and nothing when they only repeat the rule's title."""
    detail = message.partition(": ")[2] or message
    return "" if detail.strip().rstrip(".").lower() == title.strip().rstrip(".").lower() else detail


def _evidence(db: Database, cm: int, name: str, own: bool) -> dict[str, Any]:
    """The cabinet's «что было видно и когда» for her lesson; other staff in the access report are not named, and on
    a lesson not hers the report's details in brackets (a child's name, a mark's text) are left out."""
    ev = lesson_evidence(db, cm)
    ev["access"] = [
        {
            **r,
            "user_name": r["user_name"] if r["user_name"] == name else "другой сотрудник",
            "action": r["action"] if own else _BRACKETS.sub("", str(r["action"] or "")),
        }
        for r in ev["access"]
    ]
    if ev["lesson"] is not None:
        ev["lesson"] = {k: v for k, v in ev["lesson"].items() if k != "recorded_teacher"}
    return ev


async def teacher_page(request: Request) -> Response:
    cab: Cabinet = request.app.state.cabinet
    try:
        with closing(_writable(cab) or cab.db()) as db:  # a cache one may only read: shown, nothing recorded
            opened = _open(request, cab, db)
            if isinstance(opened, Response):
                return opened
            number = request.query_params.get("p", "1")
            data = view(db, cab, opened, int(number) if number.isdigit() else 1)
            with contextlib.suppress(CacheError, sqlite3.OperationalError):
                touch_link(db, int(opened["id"]))
            audit_quietly(db, "teacher-page", {"teacher": opened["teacher_id"], "link": opened["id"]})
    except CacheError as exc:
        return _html(cab, "teacher/refused.html", 503, unavailable=str(exc))
    return _html(
        cab,
        "teacher/page.html",
        **data,
        token=request.path_params["token"],
        csrf=_pages(request).csrf(int(opened["id"])),
        local=cab.local,
        outcomes=OUTCOME_RU,
        kinds=KIND_RU,
        done=request.query_params.get("done") == "1",
    )


def _writable(cab: Cabinet) -> Database | None:
    try:
        return cab.writable()
    except CacheError:
        return None


async def _answer(request: Request, kind: str) -> Response:
    cab: Cabinet = request.app.state.cabinet
    token = str(request.path_params["token"])
    try:
        db = cab.writable()
    except CacheError as exc:
        return _html(cab, "teacher/refused.html", 503, unavailable=str(exc))
    with closing(db):
        opened = _open(request, cab, db)
        if isinstance(opened, Response):
            return opened
        form = await read_form(request)
        if not hmac.compare_digest(str(form.get("csrf", "")), _pages(request).csrf(int(opened["id"]))):
            audit_quietly(db, "teacher-form-refused", {"teacher": opened["teacher_id"], "link": opened["id"]})
            return _html(cab, "teacher/refused.html", 403, stale=True, token=token)
        reason = " ".join(str(form.get("reason", "")).split())[:REASON_MAX]
        tid = int(opened["teacher_id"])
        data = view(db, cab, opened, page=None)
        if kind == "dispute":
            fp = str(form.get("fp", ""))
            found = [(i["fingerprint"], i["rule"]) for g in data["groups"] for i in g["tasks"] + g["records"]]
            chosen = [(f, r) for f, r in found if f == fp]
            cm = None
        else:
            cm = int(form["cm"]) if str(form.get("cm", "")).isdigit() else -1
            chosen = [
                (i["fingerprint"], i["rule"])
                for g in data["groups"]
                if g["cm"] == cm
                for i in g["tasks"] + g["records"]
            ]
        if not chosen:  # not hers, or no longer open: nothing to answer
            return _html(cab, "teacher/refused.html", 404, gone=True, token=token)
        if not reason and kind == "dispute":
            return _html(cab, "teacher/refused.html", 400, no_reason=True, token=token)
        oid = add_objection(
            db, teacher_id=tid, link_id=int(opened["id"]), kind=kind, findings=chosen, reason=reason, cm_id=cm
        )
        audit_quietly(
            db,
            "teacher-objection",
            {"teacher": tid, "objection": oid, "kind": kind, "findings": [f for f, _ in chosen]},
        )
    return RedirectResponse(f"/t/{token}?done=1", 303)


async def dispute(request: Request) -> Response:
    return await _answer(request, "dispute")


async def not_held(request: Request) -> Response:
    return await _answer(request, "not_held")


ROUTES: list[BaseRoute] = [
    Route("/t/{token}", teacher_page),
    Route("/t/{token}/dispute", dispute, methods=["POST"]),
    Route("/t/{token}/not-held", not_held, methods=["POST"]),
]
