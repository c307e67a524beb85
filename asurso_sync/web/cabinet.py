"""The cabinet's shared state and plumbing: the ``Cabinet`` (configuration, sessions, throttle, templates, jobs and
a memo of what changes only with a new check), the ``page`` decorator every page behind the password wears, form
parsing, and the Russian words the pages share. The pages themselves are in ``asurso_sync.web.routes``."""

from __future__ import annotations

import contextlib
import hmac
import logging
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import anyio
import anyio.to_thread
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from asurso_sync.check import rule_rows
from asurso_sync.config import Config
from asurso_sync.remarks import Week
from asurso_sync.remarks.build import Builder
from asurso_sync.web.auth import HASHING_THREADS, Sessions, Throttle, check_password
from asurso_sync.web.jobs import Jobs
from cache import CacheError, audit, last_check, open_cache, quick_check
from cache.backup import health_message
from cache.cabinet import lessons_without_findings, open_fingerprints, released_rules

log = logging.getLogger(__name__)
COOKIE = "asurso_cabinet"
PAGE_ROWS = 300  # a page lists the newest findings and counts the rest (a year of a large school has 10⁵)
ACTOR = "кабинет завуча"
ROUTE_RU = {
    "teacher": "в список учителя",
    "class_teacher": "в список классного руководителя",
    "deputy": "только в сводку заместителя директора",
    "none": "никуда: правило выключено в настройках",
}
LESSON_RU = {"clean": "нарушений нет", "missed": "программа пропустила нарушение"}
OWNER_RU = {"teacher": "учитель", "chief": "классный руководитель", "deputy": "заместитель директора"}
VERDICT_RU = {"right": "верно", "wrong": "ошибка программы", "disputed": "спорно"}
TIMELY = ("TML001", "TML002", "TML003", "TML004")
Handler = Callable[[Request, "Cabinet"], Awaitable[Response]]
SQLITE_MAX_ID = 2**63 - 1  # SQLite's INTEGER: a larger number in a URL names nothing (and must not reach SQLite)


class NotFound(Exception):
    """A page's URL names nothing: the ``page`` decorator answers 404 with this title and text."""

    def __init__(self, title: str, text: str) -> None:
        super().__init__(text)
        self.title, self.text = title, text


def row_id(text: str, title: str = "Нет такой страницы") -> int:
    """An id from a URL: ASCII digits within SQLite's INTEGER, else ``NotFound``."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= SQLITE_MAX_ID):
        raise NotFound(title, text[:100])
    return int(text)


@dataclass
class Cabinet:
    config: Config
    sessions: Sessions
    throttle: Throttle
    env: Environment
    jobs: Jobs

    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    memo_lock: threading.Lock = field(default_factory=threading.Lock)
    hashing: anyio.CapacityLimiter | None = None  # created in the server's event loop, on the first login
    storage: str = ""  # the cache's damage, shown on every page (cache.quick_check at start and after a check)

    async def verify(self, password: str, hashed: str) -> bool:
        """The password checked in a worker thread (scrypt takes a tenth of a second of a core: in the event loop
        every page would wait for it), at most ``HASHING_THREADS`` at once for the whole cabinet."""
        if self.hashing is None:
            self.hashing = anyio.CapacityLimiter(HASHING_THREADS)
        return await anyio.to_thread.run_sync(check_password, password, hashed, limiter=self.hashing)

    def db(self) -> Database:
        """The cache for reading (a cache this user may only read works too: the pages show, nothing is stored)."""
        return open_cache(self.config.cache.path, create=False, read_only_ok=True)

    def writable(self) -> Database:
        """The cache for a verdict, a waiver, a release: a cache this user may not write is a clear error page."""
        return open_cache(self.config.cache.path, create=False)

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
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
        return list(self.remember(key, lambda: Builder(db, unshadowed(self.config), week).teacher_lists()))

    def open_fingerprints(self, db: Database) -> list[tuple[str, str]]:
        check = last_check(db)
        return list(self.remember(("open", check["id"] if check else None), lambda: open_fingerprints(db)))

    def clean_lessons(self, db: Database) -> list[int]:
        check = last_check(db)
        if check is None:
            return []
        key = ("clean", check["id"])
        return list(self.remember(key, lambda: lessons_without_findings(db, check["period_from"], check["period_to"])))

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


def environment(config: Config) -> Environment:
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
        except NotFound as exc:
            return cab.render(request, "error.html", 404, title=exc.title, text=exc.text)
        except CacheError as exc:
            return cab.render(request, "error.html", 503, title="Кэш недоступен", text=str(exc))

    return handler


def audit_quietly(db: Database, action: str, details: dict[str, Any]) -> None:
    with contextlib.suppress(CacheError, sqlite3.OperationalError):  # a cache one may only read: nothing recorded
        audit(db, action, details, actor=ACTOR)


def rules_by_code() -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in rule_rows()}


def unshadowed(config: Config) -> Config:
    """The configuration with every rule released: the lists as teachers will receive them once out of the shadow
    (in shadow mode nothing reaches them yet; the page says so)."""
    if not config.rules.shadow:
        return config
    copy = config.model_copy(deep=True)
    copy.rules.shadow = False
    return copy
