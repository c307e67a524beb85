"""Кабинет завуча: a local web application over the cache (Starlette + Jinja2, server-rendered, no JavaScript).

Pages: overview, findings by teacher / class / rule, a finding with its evidence and the deputy's verdict, the
week's remark lists exactly as each teacher receives them, waivers, and the program's precision from the verdicts.
Every page needs the cabinet password (README «Кабинет завуча»); every form carries the session's CSRF token;
every change is in the cache's audit log.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import math
import random
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlite_utils import Database
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from asurso_sync.check import rule_rows
from asurso_sync.config import Config
from asurso_sync.remarks import Week
from asurso_sync.remarks.build import Builder
from asurso_sync.remarks.directory import load_directory
from asurso_sync.remarks.errors import RemarksError
from asurso_sync.remarks.render import render_teacher
from asurso_sync.routing import finding_route, route_of, rule_routes, shadowed
from asurso_sync.web.auth import Sessions, Throttle, check_password
from asurso_sync.web.jobs import KINDS, Jobs
from cache import (
    CacheCorruptError,
    CacheError,
    add_waiver,
    audit,
    last_check,
    open_cache,
    outbox_rows,
    quick_check,
    remove_waiver,
    storage_error,
    waivers,
)
from cache.backup import health_message
from cache.cabinet import (
    VERDICTS,
    adjudicate,
    count_open,
    counts_by,
    finding,
    findings_named,
    lesson_evidence,
    lesson_reviews,
    lessons_per_week,
    lessons_without_findings,
    open_by_rule,
    open_findings,
    open_fingerprints,
    password_hash,
    released_rules,
    releases,
    review_lesson,
    set_release,
    verdict_history,
    verdicts,
    weekly_by,
    weekly_counts,
)
from cache.runs import last_runs
from rules.catalogue import load_catalogue

log = logging.getLogger(__name__)
COOKIE = "asurso_cabinet"
PAGE_ROWS = 300  # a page lists the newest findings and counts the rest (a year of a large school has 10⁵)
RELEASE_MIN = 20  # verdicts «верно»/«ошибка программы» needed to release a rule without a written reason …
RELEASE_PRECISION = 0.95  # … and the precision they must show
ACTOR = "кабинет завуча"
ROUTE_RU = {
    "teacher": "в список учителя",
    "class_teacher": "в список классного руководителя",
    "deputy": "только в сводку заместителя директора",
    "none": "никуда: правило выключено в настройках",
}
LESSON_RU = {"clean": "нарушений нет", "missed": "программа пропустила нарушение"}
VERDICT_RU = {"right": "верно", "wrong": "ошибка программы", "disputed": "спорно"}
TIMELY = ("TML001", "TML002", "TML003", "TML004")
Handler = Callable[[Request, "Cabinet"], Awaitable[Response]]


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a share right/n (sound for small n and shares near 1)."""
    if n == 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Cabinet:
    config: Config
    sessions: Sessions
    throttle: Throttle
    env: Environment
    jobs: Jobs

    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    memo_lock: threading.Lock = field(default_factory=threading.Lock)
    storage: str = ""  # the cache's damage, shown on every page (cache.quick_check at start and after a check)

    def db(self) -> Database:
        """The cache for reading (a cache this user may only read works too: the pages show, nothing is stored)."""
        return open_cache(self.config.cache.path, create=False, read_only_ok=True)

    def writable(self) -> Database:
        """The cache for a verdict, a waiver, a release: a cache this user may not write is a clear error page."""
        return open_cache(self.config.cache.path, create=False)

    def _remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """Results that change only with a new check (or a release): a year of a large school has 10⁵ findings,
        and building a week's lists from them takes seconds — done once per check, not per page."""
        with self.memo_lock:
            if key in self.memo:
                return self.memo[key]
        value = compute()
        with self.memo_lock:
            if len(self.memo) > 16:
                self.memo.clear()
            self.memo[key] = value
        return value

    def week_lists(self, db: Database, week: Week) -> list[Any]:
        """The week's lists as teachers will receive them once every rule is released (shadow or not)."""
        check = last_check(db)
        key = ("lists", week.label, check["id"] if check else None, frozenset(released_rules(db)))
        return list(self._remember(key, lambda: Builder(db, _unshadowed(self.config), week).teacher_lists()))

    def open_fingerprints(self, db: Database) -> list[tuple[str, str]]:
        check = last_check(db)
        return list(self._remember(("open", check["id"] if check else None), lambda: open_fingerprints(db)))

    def clean_lessons(self, db: Database) -> list[int]:
        check = last_check(db)
        if check is None:
            return []
        key = ("clean", check["id"])
        return list(self._remember(key, lambda: lessons_without_findings(db, check["period_from"], check["period_to"])))

    def warm(self) -> None:
        """Build the current week's lists and the sample's lessons ahead of the first page that needs them."""
        state = quick_check(self.config.cache.path)
        self.storage = "" if state.ok else health_message(self.config.cache.path, state)
        try:
            with closing(self.db()) as db:
                check = last_check(db)
                if check is None:
                    return
                self.week_lists(db, Week.last_completed(datetime.fromisoformat(check["as_of"]).date()))
                self.clean_lessons(db)
                self.open_fingerprints(db)
        except Exception as exc:
            log.info("кабинет: предварительный расчёт не удался: %s", exc)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        html = self.env.get_template(name).render(
            school=self.config.school.name,
            csrf=session.csrf if session else "",
            path=request.url.path,
            storage=self.storage,
            **context,
        )
        return HTMLResponse(html, status)

    def local(self, moment: str | None) -> str:
        """A stored UTC moment as the school's local «dd.mm.yyyy hh:mm»."""
        if not moment:
            return "—"
        try:
            when = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        if when.tzinfo is None:
            return when.strftime("%d.%m.%Y %H:%M")
        return when.astimezone(self.config.school.tz).strftime("%d.%m.%Y %H:%M")


def sparkline(values: list[int]) -> str:
    """Weekly counts as a line of block characters (the listing pages' trend; no JavaScript, no images)."""
    top = max(values, default=0)
    if not top:
        return "▁" * len(values)
    return "".join("▁▂▃▄▅▆▇█"[min(7, round(v / top * 7))] for v in values)


def _environment(config: Config) -> Environment:
    env = Environment(loader=PackageLoader("asurso_sync", "templates/web"), autoescape=select_autoescape(["html"]))

    def day(text: str | None) -> str:
        return date.fromisoformat(text[:10]).strftime("%d.%m.%Y") if text else "—"

    env.filters["day"] = day
    env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.1f}".replace(".", ",") + " %"
    return env


async def read_form(request: Request) -> dict[str, str]:
    """The page's forms are URL-encoded (no files): parsed here, without a multipart library; first value wins."""
    body = (await request.body())[:65536].decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        form.setdefault(key, value)
    return form


def page(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page behind the password: no session — to the login page; a POST without the session's CSRF token —
    refused (403) and nothing done."""

    async def handler(request: Request) -> Response:
        cab: Cabinet = request.app.state.cabinet
        session = cab.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
        request.state.session = session
        if request.method == "POST":
            form = await read_form(request)
            if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                return cab.render(
                    request,
                    "error.html",
                    403,
                    title="Форма устарела",
                    text="Страница была открыта до входа или в другом окне. Обновите её и повторите действие.",
                )
            request.state.form = form
        try:
            return await fn(request, cab)
        except CacheError as exc:
            return cab.render(request, "error.html", 503, title="Кэш недоступен", text=str(exc))

    return handler


# --- sign in / out ---------------------------------------------------------------------------------------------------


async def login(request: Request) -> Response:
    cab: Cabinet = request.app.state.cabinet
    target = request.query_params.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    if request.method == "GET":
        return cab.render(request, "login.html", target=target, message=None)
    who = request.client.host if request.client else "?"
    wait = cab.throttle.wait(who)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        text = f"Слишком много неудачных попыток. Повторите через {minutes} мин."
        return cab.render(request, "login.html", 429, target=target, message=text)
    form = await read_form(request)
    with closing(cab.db()) as db:
        hashed = password_hash(db)
        good = hashed is not None and check_password(str(form.get("password", "")), hashed)
        if not good:
            cab.throttle.failed(who)
            if hashed is not None:
                _audit(db, "web-login-failed", {"from": who})
            text = (
                "Неверный пароль."
                if hashed is not None
                else "Пароль кабинета не задан: выполните «asurso-sync web set-password»."
            )
            return cab.render(request, "login.html", 401, target=target, message=text)
        cab.throttle.passed(who)
        _audit(db, "web-login", {"from": who})
    token, _ = cab.sessions.new()
    response = RedirectResponse(target, 303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


@page
async def logout(request: Request, cab: Cabinet) -> Response:
    cab.sessions.drop(request.cookies.get(COOKIE))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE)
    return response


def _audit(db: Database, action: str, details: dict[str, Any]) -> None:
    with contextlib.suppress(CacheError, sqlite3.OperationalError):  # a cache one may only read: nothing recorded
        audit(db, action, details, actor=ACTOR)


# --- pages -------------------------------------------------------------------------------------------------------


def _rules() -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in rule_rows()}


@page
async def overview(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        runs = last_runs(db, 5)
        check = last_check(db)
        by_rule = open_by_rule(db)
        weeks = weekly_counts(db)
        lessons = {r["week"]: r["lessons"] for r in lessons_per_week(db)}
        judged = verdicts(db)
    late: defaultdict[str, int] = defaultdict(int)
    start: dict[str, str] = {}
    for w in weeks:
        start.setdefault(w["week"], w["from"])
        if w["rule"] in TIMELY:
            late[w["week"]] += w["count"]
    chart = []
    for week, n in sorted(lessons.items()):
        if n and week in start:
            share = max(0.0, 1 - late[week] / n)
            chart.append({"week": week, "from": start[week], "share": share})
    chart = chart[-12:]
    undecided = sum(u for _, _, u in by_rule)
    last_ok = next((r for r in runs if r.status == "ok"), None)
    return cab.render(
        request,
        "overview.html",
        runs=[{**r.__dict__, "started": cab.local(r.started_at)} for r in runs],
        last_ok=cab.local(last_ok.finished_at) if last_ok else None,
        check=check,
        check_at=cab.local(check["as_of"]) if check else None,
        open_count=sum(n for _, n, _ in by_rule),
        undecided=undecided,
        judged=len(judged),
        by_rule=[(code, n) for code, n, _ in by_rule],
        chart=chart,
    )


@page
async def listing(request: Request, cab: Cabinet) -> Response:
    key = request.path_params["key"]
    titles = {
        "teachers": ("teacher", "Учителя", "Учитель"),
        "classes": ("class", "Классы", "Класс"),
        "rules": ("rule", "Правила", "Правило"),
    }
    if key not in titles:
        return cab.render(request, "error.html", 404, title="Нет такой страницы", text=request.url.path)
    kind, title, header = titles[key]
    with closing(cab.db()) as db:
        counted = counts_by(db, kind)
        check = last_check(db)
        trends = cab._remember(("trend", kind, check["id"] if check else None), lambda: weekly_by(db, kind))
    weeks = sorted({w for per in trends.values() for w in per})
    table: dict[Any, dict[str, Any]] = {}
    for row in counted:
        entry = table.setdefault(row["id"], {"id": row["id"], "name": row["name"], "rules": Counter(), "total": 0})
        entry["rules"][row["rule"]] += row["count"]
        entry["total"] += row["count"]
    rules = _rules()
    entries = sorted(table.values(), key=lambda e: (-e["total"], str(e["name"])))
    for e in entries:
        e["trend"] = sparkline([trends.get(e["id"], {}).get(w, 0) for w in weeks])
    if kind == "rule":
        for e in entries:
            e["name"] = f"{e['id']} — {rules.get(str(e['id']), {}).get('title', '')}"
    return cab.render(request, "listing.html", title=title, header=header, key=key, entries=entries)


@page
async def findings_of(request: Request, cab: Cabinet) -> Response:
    key, ident = request.path_params["key"], request.path_params["ident"]
    rules = _rules()
    column, value = {
        "teachers": ("teacher_id", int(ident) if ident.isdigit() else -1),
        "classes": ("class_id", int(ident) if ident.isdigit() else -1),
    }.get(key, ("rule", ident))
    with closing(cab.db()) as db:
        items = open_findings(db, **{column: value}, limit=PAGE_ROWS)
        total = count_open(db, column, value)
        judged = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}
        waiting = set(shadowed(load_catalogue(), cab.config, released_rules(db)))
    if key == "teachers":
        title = items[0]["teacher"] if items and items[0]["teacher"] else f"Учитель {ident}"
    elif key == "classes":
        title = f"Класс {items[0]['class_name']}" if items and items[0]["class_name"] else f"Класс {ident}"
    else:
        title = f"{ident} — {rules.get(ident, {}).get('title', '')}"
    for f in items:
        f["verdict"] = VERDICT_RU.get(judged.get(f["fingerprint"], ""), "")
        f["shadow"] = f["rule"] in waiting  # R23: the deputy sees it; teachers do not yet
    return cab.render(request, "findings.html", title=title, items=items, back=f"/{key}", total=total)


@page
async def finding_page(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    with closing(cab.db()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        entity = json.loads(item["entity"])
        evidence = lesson_evidence(db, int(entity["cm"])) if "cm" in entity else None
        history = verdict_history(db, fp)
        released = released_rules(db)
    rule = _rules().get(item["rule"], {})
    owner = item["owner"] or rule.get("owner", "teacher")
    catalogue = load_catalogue()
    route = finding_route(item, rule_routes(catalogue, cab.config, released))
    route_text = ROUTE_RU.get(route, route)
    unshadowed = finding_route(item, rule_routes(catalogue, cab.config, {item["rule"]}))
    if route != unshadowed:
        route_text = f"{route_text} — теневой режим: {ROUTE_RU[unshadowed]} после выпуска правила"
    return cab.render(
        request,
        "finding.html",
        f=item,
        entity=entity,
        rule=rule,
        owner={"teacher": "учитель", "chief": "классный руководитель", "deputy": "заместитель директора"}.get(
            owner, owner
        ),
        route=route_text,
        evidence=evidence,
        local=cab.local,
        history=[{**h, "verdict": VERDICT_RU[h["verdict"]], "at": cab.local(h["at"])} for h in history],
        verdicts=VERDICT_RU,
    )


@page
async def set_verdict(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    form = request.state.form
    verdict = str(form.get("verdict", ""))
    comment = str(form.get("comment", "")).strip()[:2000]
    if verdict not in VERDICTS:
        return cab.render(request, "error.html", 400, title="Неизвестная оценка", text=verdict)
    with closing(cab.writable()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        adjudicate(db, fp, item["rule"], verdict, comment, ACTOR)
        audit(db, "web-verdict", {"finding": fp, "rule": item["rule"], "verdict": verdict}, actor=ACTOR)
    return RedirectResponse(f"/finding/{fp}", 303)


@page
async def waive_finding(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    form = request.state.form
    reason = str(form.get("reason", "")).strip()
    expires = str(form.get("expires", "")).strip() or None
    if not reason:
        return cab.render(request, "error.html", 400, title="Нужна причина", text="Укажите, почему замечание снято.")
    if expires:
        try:
            date.fromisoformat(expires)
        except ValueError:
            return cab.render(request, "error.html", 400, title="Неверная дата", text=expires)
    with closing(cab.writable()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        wid = add_waiver(db, item["rule"], {"fingerprint": fp}, reason, ACTOR, expires)
        audit(db, "waiver-add", {"id": wid, "rule": item["rule"], "fingerprint": fp, "reason": reason}, actor=ACTOR)
    return RedirectResponse("/waivers", 303)


@page
async def waivers_page(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        items = waivers(db)
    for w in items:
        w["created"] = cab.local(w["created_at"])
    return cab.render(request, "waivers.html", items=items)


@page
async def revoke_waiver(request: Request, cab: Cabinet) -> Response:
    wid = int(request.path_params["wid"])
    with closing(cab.writable()) as db:
        if remove_waiver(db, wid):
            audit(db, "waiver-remove", {"id": wid}, actor=ACTOR)
    return RedirectResponse("/waivers", 303)


@page
async def sample(request: Request, cab: Cabinet) -> Response:
    """A stratified random sample: up to N open findings of every rule, and M lessons without findings — checked by
    hand in an evening, they measure the program on the school's own journal (precision and misses)."""
    n = _bounded(request.query_params.get("n"), 5, 1, 50)
    m = _bounded(request.query_params.get("m"), 10, 0, 200)
    seed = request.query_params.get("seed") or date.today().isoformat()
    rng = random.Random(seed)  # noqa: S311 - a sample for people to check, not a secret
    with closing(cab.db()) as db:
        by_rule: defaultdict[str, list[str]] = defaultdict(list)
        for code, fp in cab.open_fingerprints(db):
            by_rule[code].append(fp)
        chosen = [fp for code in sorted(by_rule) for fp in rng.sample(by_rule[code], min(n, len(by_rule[code])))]
        items = findings_named(db, chosen)
        judged = {v["fingerprint"]: VERDICT_RU[v["verdict"]] for v in verdicts(db)}
        lessons = cab.clean_lessons(db)
        reviewed = lesson_reviews(db)
        picked_lessons = [lesson_evidence(db, cm)["lesson"] for cm in rng.sample(lessons, min(m, len(lessons)))]
    picked = [{**f, "verdict": judged.get(f["fingerprint"], "")} for f in items]
    missed = sum(1 for r in reviewed.values() if r["verdict"] == "missed")
    low, high = wilson(missed, len(reviewed))
    return cab.render(
        request,
        "sample.html",
        n=n,
        m=m,
        seed=seed,
        findings=picked,
        lessons=[
            {**x, "review": LESSON_RU.get(reviewed.get(x["id"], {}).get("verdict", ""), "")}
            for x in picked_lessons
            if x
        ],
        reviewed=len(reviewed),
        missed=missed,
        interval=(low, high) if reviewed else None,
    )


def _bounded(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw))) if raw else default
    except ValueError:
        return default


@page
async def lesson_page(request: Request, cab: Cabinet) -> Response:
    cm = int(request.path_params["cm"])
    with closing(cab.db()) as db:
        evidence = lesson_evidence(db, cm)
        review = lesson_reviews(db).get(cm)
    if evidence["lesson"] is None:
        return cab.render(request, "error.html", 404, title="Урок не найден", text=str(cm))
    return cab.render(
        request,
        "lesson.html",
        evidence=evidence,
        local=cab.local,
        review=LESSON_RU.get(review["verdict"], "") if review else "",
        comment=review["comment"] if review else "",
    )


@page
async def lesson_review_post(request: Request, cab: Cabinet) -> Response:
    cm = int(request.path_params["cm"])
    form = request.state.form
    verdict = str(form.get("verdict", ""))
    if verdict not in LESSON_RU:
        return cab.render(request, "error.html", 400, title="Неизвестная оценка", text=verdict)
    with closing(cab.writable()) as db:
        review_lesson(db, cm, verdict, str(form.get("comment", "")).strip()[:2000], ACTOR)
        audit(db, "web-lesson-review", {"cm": cm, "verdict": verdict}, actor=ACTOR)
    return RedirectResponse(f"/lesson/{cm}", 303)


@page
async def run_page(request: Request, cab: Cabinet) -> Response:
    job = cab.jobs.current
    eta = job.eta if job else None
    return cab.render(
        request,
        "run.html",
        job=job,
        kind=KINDS.get(job.kind, "") if job else "",
        eta=None if eta is None else f"{int(eta // 60)} мин {int(eta % 60):02d} с",
        refresh=bool(job and job.state == "running"),
    )


@page
async def run_start(request: Request, cab: Cabinet) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        return cab.render(request, "error.html", 404, title="Нет такого действия", text=kind)
    if cab.jobs.start(kind) is None:
        return cab.render(
            request, "error.html", 409, title="Уже выполняется", text="Дождитесь окончания текущего запуска."
        )
    with contextlib.suppress(CacheError, sqlite3.OperationalError), closing(cab.db()) as db:
        audit(db, "web-run", {"kind": kind}, actor=ACTOR)
    return RedirectResponse("/run", 303)


def _unshadowed(config: Config) -> Config:
    """The configuration with every rule released: the lists as teachers will receive them once out of the shadow
    (in shadow mode nothing reaches them yet; the page says so)."""
    if not config.rules.shadow:
        return config
    copy = config.model_copy(deep=True)
    copy.rules.shadow = False
    return copy


def _week(request: Request, db: Database) -> Week:
    raw = request.query_params.get("week")
    if raw:
        return Week.parse(raw)
    check = last_check(db)
    moment = datetime.fromisoformat(check["as_of"]).date() if check else datetime.now(UTC).date()
    return Week.last_completed(moment)


@page
async def lists_page(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        try:
            week = _week(request, db)
            lists = cab.week_lists(db, week)
        except (RemarksError, ValueError) as exc:
            return cab.render(request, "error.html", 400, title="Списки недели", text=str(exc))
        sent = {r.recipient.casefold(): r.state for r in outbox_rows(db, period=week.label)}
    directory = load_directory(cab.config.mail.directory)
    states = {"pending": "ждёт отправки", "sending": "отправляется", "sent": "отправлено", "failed": "ошибка"}
    teachers = []
    for tl in lists:
        address = directory.find(tl.teacher_id, tl.name, tl.email)
        state = states.get(sent.get((address or "").casefold(), ""), "не отправлялось")
        count = tl.part.total + tl.chief.total
        teachers.append({"id": tl.teacher_id, "name": tl.name, "count": count, "state": state})
    return cab.render(request, "lists.html", week=week, teachers=teachers, shadow=cab.config.rules.shadow)


@page
async def teacher_letter(request: Request, cab: Cabinet) -> Response:
    """One teacher's list exactly as the letter shows it — nothing of any other teacher."""
    teacher_id = int(request.path_params["tid"])
    with closing(cab.db()) as db:
        try:
            lists = cab.week_lists(db, Week.parse(request.path_params["week"]))
        except (RemarksError, ValueError) as exc:
            return cab.render(request, "error.html", 400, title="Списки недели", text=str(exc))
    mine = [tl for tl in lists if tl.teacher_id == teacher_id]
    if not mine:
        return cab.render(request, "error.html", 404, title="Списка нет", text="У учителя нет списка за эту неделю.")
    return HTMLResponse(render_teacher(mine[0]).html)


def _precision(db: Database) -> dict[str, dict[str, Any]]:
    """Per rule: the deputy's verdicts counted, precision and its 95 % interval."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for v in verdicts(db):
        per[v["rule"]][v["verdict"]] += 1
    table = {}
    for code, c in per.items():
        decided = c["right"] + c["wrong"]
        low, high = wilson(c["right"], decided)
        table[code] = {
            "right": c["right"],
            "wrong": c["wrong"],
            "disputed": c["disputed"],
            "decided": decided,
            "precision": c["right"] / decided if decided else None,
            "low": low if decided else None,
            "high": high if decided else None,
        }
    return table


def ready(stats: dict[str, Any] | None) -> bool:
    """A rule may be released without a written reason: ≥ 20 decided verdicts, precision ≥ 0.95."""
    return bool(stats) and stats["decided"] >= RELEASE_MIN and (stats["precision"] or 0) >= RELEASE_PRECISION  # type: ignore[index]


@page
async def quality(request: Request, cab: Cabinet) -> Response:
    catalogue = load_catalogue()
    with closing(cab.db()) as db:
        stats = _precision(db)
        released = releases(db)
        waiting = shadowed(catalogue, cab.config, released_rules(db))
    bound = {c for c, r in catalogue.items() if route_of(r, cab.config) in ("teacher", "class_teacher")}
    codes = sorted(set(stats) | (bound if cab.config.rules.shadow else set()))
    empty = {"right": 0, "wrong": 0, "disputed": 0, "decided": 0, "precision": None, "low": None, "high": None}
    table = []
    for code in codes:
        row = {"rule": code, "title": catalogue[code].title if code in catalogue else "", **stats.get(code, empty)}
        row["shadow"] = code in waiting
        row["release"] = released.get(code)
        row["ready"] = ready(stats.get(code))
        table.append(row)
    return cab.render(
        request,
        "quality.html",
        table=table,
        shadow=cab.config.rules.shadow,
        minimum=RELEASE_MIN,
        threshold=RELEASE_PRECISION,
        local=cab.local,
    )


@page
async def release(request: Request, cab: Cabinet) -> Response:
    """Release a rule to teachers (shadow start) or take it back into the shadow."""
    code = request.path_params["rule"]
    form = request.state.form
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip()[:2000]
    if code not in load_catalogue() or action not in ("release", "withdraw"):
        return cab.render(request, "error.html", 400, title="Неизвестное правило или действие", text=code)
    with closing(cab.writable()) as db:
        stats = _precision(db).get(code)
        if action == "release" and not ready(stats) and not reason:
            return cab.render(
                request,
                "error.html",
                400,
                title="Правило не выпущено",
                text=f"Для выпуска без объяснения нужно не меньше {RELEASE_MIN} оценённых замечаний и точность не ниже "
                f"{RELEASE_PRECISION:.0%}. Чтобы выпустить раньше, напишите причину.",
            )
        n = stats["decided"] if stats else 0
        precision = stats["precision"] if stats else None
        set_release(
            db, code, released=action == "release", author=ACTOR, adjudicated=n, precision=precision, reason=reason
        )
        audit(
            db,
            "rule-release" if action == "release" else "rule-withdraw",
            {"rule": code, "adjudicated": n, "precision": precision, "reason": reason},
            actor=ACTOR,
        )
    return RedirectResponse("/quality", 303)


_CSP = b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; form-action 'self'"


def _secure_headers(app: Starlette) -> Callable[..., Any]:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'",
                    ),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return asgi


async def _storage_failure(request: Request, exc: Exception) -> Response:
    """A cache that cannot be used (damaged, disk full, busy) on any route: the error page (503) naming the file and
    what to do, never a 500; a damaged cache also becomes every page's banner."""
    cab: Cabinet = request.app.state.cabinet
    known = exc if isinstance(exc, CacheError) else storage_error(exc)
    if known is None:
        raise exc
    if isinstance(known, CacheCorruptError):
        cab.storage = str(known)
    return cab.render(request, "error.html", 503, title="Кэш недоступен", text=str(known))


def create_app(config: Config, *, clock: Callable[[], float] = time.monotonic) -> Any:
    """The cabinet's ASGI app for this configuration (sessions in memory: a restart signs everyone out)."""
    routes = [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/finding/{fp}", finding_page),
        Route("/finding/{fp}/verdict", set_verdict, methods=["POST"]),
        Route("/finding/{fp}/waive", waive_finding, methods=["POST"]),
        Route("/waivers", waivers_page),
        Route("/waivers/{wid:int}/revoke", revoke_waiver, methods=["POST"]),
        Route("/lists", lists_page),
        Route("/lists/{week}/{tid:int}", teacher_letter),
        Route("/quality", quality),
        Route("/release/{rule}", release, methods=["POST"]),
        Route("/sample", sample),
        Route("/run", run_page),
        Route("/run/{kind}", run_start, methods=["POST"]),
        Route("/lesson/{cm:int}", lesson_page),
        Route("/lesson/{cm:int}/review", lesson_review_post, methods=["POST"]),
        Route("/{key}", listing),
        Route("/{key}/{ident}", findings_of),
    ]
    app = Starlette(routes=routes, exception_handlers={CacheError: _storage_failure, sqlite3.Error: _storage_failure})
    cabinet = Cabinet(config, Sessions(clock), Throttle(clock), _environment(config), Jobs(config))
    cabinet.jobs.after = cabinet.warm  # a check from the page: the new lists are built before they are asked for
    app.state.cabinet = cabinet
    threading.Thread(target=cabinet.warm, daemon=True, name="cabinet-warm").start()
    return _secure_headers(app)
