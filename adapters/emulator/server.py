"""The emulated asurso.ru: a Starlette ASGI app over a generated school.

Paths are case-insensitive, dates ISO without zone (Samara local), ASP pages answer HTML. Every response
carries a ``Date`` header with the emulator's clock. See ``CHOICES.md`` for behaviour the research marks
as inferred and what the emulator chose.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time as monotonic_time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from adapters.emulator.esia import PORTAL, SECOND_SCHOOL, EsiaSettings, EsiaSide
from adapters.emulator.faults import Faults
from adapters.emulator.journal import Journal, Scenario, generate_journal
from adapters.emulator.practice import Practice
from adapters.emulator.protocol import (
    CLIENT_READ_TIMEOUT,
    PUBLIC,
    READ_POSTS,
    SAMARA,
    SECURITY_WARNING_HTML,
    WAF_HTML,
    Account,
    EmulatedConnectionReset,
    EmulatedReadTimeout,
    Reply,
    Session,
    empty_receive,
)
from adapters.emulator.reports import AccessRow, ReportQueue, Task, render_html, render_last_change, rows_in
from adapters.emulator.routes import routes
from adapters.emulator.school import School, Size, generate_structure
from adapters.emulator.views import Views

log = logging.getLogger(__name__)


async def _hang(seconds: float, receive: Receive) -> Receive | None:
    """Keep a request ``seconds`` without an answer, or until its client has gone (``http.disconnect``: over a
    socket, a client that timed out closes its connection and no answer can reach it any more — the hang ends then,
    so a server that stops does not wait out hangs nobody waits for). Returns the receive to answer with (what the
    client sent meanwhile is replayed), or ``None`` when the client has gone."""
    early: list[Message] = []
    try:
        async with asyncio.timeout(seconds):
            while (message := await receive())["type"] != "http.disconnect":
                early.append(message)
            return None
    except TimeoutError:
        pass

    async def replay() -> Message:
        return early.pop(0) if early else await receive()

    return replay


@dataclass
class EmulatorSettings:
    seed: int = 1
    size: Size = "small"
    clock: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 16, 5))
    faults: Faults = field(default_factory=Faults)
    control: bool = False  # expose /_emulator/* (test and demo mode only)
    session_timeout_ms: int = 3_600_000
    scenario: Scenario = field(default_factory=Scenario)
    origin: str | None = None  # for the Referer check; None: the request's own origin
    prebuilt: tuple[School, Journal] | None = None  # a school described by a scenario file, instead of generating
    esia: EsiaSettings = field(default_factory=EsiaSettings)  # the Госуслуги side: ESIA-only mode, second factor
    week: int = 5  # school days a week of the generated school (5 or 6)
    practice: Practice = field(default_factory=Practice)  # real practice the generated school plants (practice.py)


class Emulator:
    school: School
    journal: Journal

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings or EmulatorSettings()
        if self.settings.prebuilt is not None:
            self.school, self.journal = self.settings.prebuilt
        else:
            st = self.settings
            self.school = generate_structure(st.seed, st.size, week=st.week, practice=st.practice)
            self.journal = generate_journal(self.school, st.scenario, st.practice)
        self.views: Views = Views(self.school, self.journal, self.settings.faults.drifts)
        self.reports: ReportQueue = ReportQueue()
        self.clock: datetime = self.settings.clock
        self.sessions: dict[str, Session] = {}
        self.salts: dict[str, tuple[str, str, str]] = {}  # NSSESSIONID -> (lt, ver, salt)
        self.failures: dict[str, list[datetime]] = {}
        self.request_log: list[tuple[str, str, int]] = []
        self.write_attempts: list[tuple[str, str]] = []
        self.total_requests = 0
        self._fault_rng = random.Random(f"asurso-emulator:{self.settings.faults.seed}:faults")
        self._rng = random.Random(f"asurso-emulator:{self.settings.seed}:tokens")
        self._sw_fired = False
        self.accounts = self._accounts()
        self.esia = EsiaSide(self.settings.esia, self.school.deputy_id)
        self.app = self._build_app()

    # --- accounts -----------------------------------------------------------------------------

    def _accounts(self) -> dict[str, Account]:
        s = self.school
        acc: dict[str, Account] = {}
        for st in s.staff.values():
            kind = "deputy" if st.id == s.deputy_id else "admin" if st.id == s.admin_id else "teacher"
            a = Account(st.id, st.login, st.password, kind, st.full_name)
            acc[st.login.casefold()] = a
        for p in s.parent_accounts:
            if p.teacher_id is not None:
                t = acc[s.staff[p.teacher_id].login.casefold()]
                t.role_groups = [(1, "Учитель", t.user_id, "teacher"), (2, "Родитель", p.id, "parent")]
            acc[p.login.casefold()] = Account(p.id, p.login, p.password, "parent", p.name)
        for pupil in s.students.values():
            acc[pupil.login.casefold()] = Account(pupil.id, pupil.login, pupil.password, "student", pupil.full_name)
        return acc

    def account_by_id(self, user_id: int) -> Account:
        for account in self.accounts.values():
            if account.user_id == user_id:
                return account
        raise KeyError(user_id)

    def open_session(
        self, user_id: int, *, ver: str, account: Account | None = None, rolegroup: str = ""
    ) -> JSONResponse:
        """A new session of ``user_id`` and the login answer (password, Госуслуги and refresh-token logins alike):
        ``at``, a refresh token, the entry point (role choice, SecurityWarning, the start page), ESRNSec."""
        other_school = None
        if user_id == SECOND_SCHOOL[0]:  # the deputy's link to another school: a teacher there
            other_school = SECOND_SCHOOL[1:]
            deputy = self.account_by_id(self.school.deputy_id)
            account = Account(user_id, deputy.login, "", "teacher", deputy.name)
        account = account or self.account_by_id(user_id)
        kind, pending, now = account.kind, False, self.clock
        if account.role_groups:
            chosen = [g for g in account.role_groups if str(g[0]) == rolegroup]
            if chosen:
                _, _, user_id, kind = chosen[0]
            else:
                pending = True
        at = self.token(25) + str(self._rng.randint(0, 9))
        esrn = secrets.token_hex(12)
        others = [x for x in self.sessions.values() if x.user_id == user_id and not pending]
        sess = Session(
            at, esrn, user_id, kind, account.login, self.settings.session_timeout_ms,
            role_pending=pending, login_time=now, ver=ver, school=other_school,
        )  # fmt: skip
        sess.warning = bool(others)
        self.sessions[at] = sess
        drifts = self.settings.faults.drifts
        if pending:
            entry = "/angular/school/choose-session-role/"
        elif sess.warning or "routine_warning" in drifts:
            entry = "/asp/SecurityWarning.asp"
        elif kind in ("student", "parent"):
            entry = "/angular/school/studentdiary/"
        else:
            entry = "/angular/school/main/"
        roles = [
            {"userId": uid, "schoolId": self.school.scid, "role": {"id": gid, "name": gname}}
            for gid, gname, uid, _ in account.role_groups
        ]
        scid, school_name = other_school or (self.school.scid, self.school.name)
        body = {
            "at": at,
            "code": None,
            "timeOut": self.settings.session_timeout_ms,
            "accessToken": secrets.token_hex(16),
            "refreshToken": self.esia.issue_refresh(user_id, now),
            "tokenType": "Bearer",
            "accountInfo": {
                "activeToken": None,
                "secureActiveToken": secrets.token_hex(8),
                "currentOrganization": {"id": scid, "name": school_name},
                "user": {"id": user_id, "name": account.name},
                "userRoles": roles,
                "organizations": [{"id": scid, "name": school_name}],
                "loginTime": self.views.dt(now),
                "active": True,
                "canLogin": True,
                "storeTokens": True,
                "accessToken": None,
            },
            "entryPoint": entry,
            "requestData": (
                {"warnType": "1", "atlist": "\u0001".join(o.at for o in others)}
                if sess.warning
                else {"warnType": "1"}  # the routine notice of some servers: no other session listed
                if "routine_warning" in drifts
                else None
            ),
            "errorMessage": None,
        }
        resp = JSONResponse(body)
        if "esrnsec_once" in drifts or "esrnsec_empty_last" in drifts:
            resp.set_cookie("ESRNSec", esrn, path="/", httponly=True)
            if "esrnsec_empty_last" in drifts:
                # the order the emulator served before issue #32: an empty value after the real one; a browser's
                # jar keeps the empty one, so only a client that picks the non-empty value gets on
                resp.raw_headers.append((b"set-cookie", b"ESRNSec=; Path=/"))
        else:
            # the default (docs/server-api.md §2): two Set-Cookie headers, the deletion of an old value first, then
            # the new one — the order under which a browser's (any standard) cookie jar keeps the session
            resp.raw_headers.append((b"set-cookie", b"ESRNSec=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"))
            resp.set_cookie("ESRNSec", esrn, path="/", httponly=True)
        return resp

    # --- the access report ----------------------------------------------------------------------

    def access_rows(self, target: str, start: date, end: date) -> list[AccessRow]:
        """The access report's rows for the class filter's value ``target`` ("<classId>_0", "<grade>_1", "-1") and
        actions done from ``start`` to ``end``, as of the clock."""
        return rows_in(self.reports.rows(self.school, self.journal, target), start, end, self.clock)

    def render_report(self, target: str, start: date, end: date, *, last_access: bool = False) -> str:
        """The report's HTML in the shape the drifts choose (``report_texts``, ``report_bare_codes``,
        ``report_joined_codes``, ``report_2013``); ``last_access`` (the ASP form's switch) prints the last changes."""
        drifts = self.settings.faults.drifts
        value, _, kind = target.partition("_")
        what = (
            "все классы"
            if target == "-1"
            else f"ИУП {value} кл."
            if kind == "1"
            else f"класс {self.school.classes[int(value)].name}"
        )
        title = f"{what}; период: {start:%d.%m.%Y} – {end:%d.%m.%Y}"
        rows = self.access_rows(target, start, end)
        if last_access or "report_2013" in drifts:
            return render_last_change(title, rows)
        cells_as = (
            "joined" if "report_joined_codes" in drifts else "bare" if "report_bare_codes" in drifts else "detailed"
        )
        return render_html(title, rows, legend="report_texts" not in drifts, cells_as=cells_as)

    def build_report(self, task: Task) -> int:
        """Build a queued report task into a file; returns the file's id."""
        return self.reports.store(self.render_report(task.target, task.start, task.end))

    def fault(self, rate: float) -> bool:
        """Whether a fault of this rate happens now (the seeded fault stream)."""
        return bool(rate) and self._fault_rng.random() < rate

    def parent_child(self, parent_id: int) -> int:
        for p in self.school.parent_accounts:
            if p.id == parent_id:
                return p.child_id
        raise KeyError(parent_id)

    # --- plumbing -----------------------------------------------------------------------------

    def date_header(self) -> str:
        return format_datetime(self.clock.replace(tzinfo=SAMARA).astimezone(UTC), usegmt=True)

    def token(self, digits: int) -> str:
        return str(self._rng.randint(10 ** (digits - 1), 10**digits - 1))

    def _build_app(self) -> Starlette:
        r = routes(control_mode=self.settings.control)
        app = Starlette(routes=r)
        app.state.emulator = self
        outer = self

        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            await outer._handle(app, scope, receive, send)

        self._asgi = asgi
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)

    async def _handle(self, app: Starlette, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].lower().rstrip("/") or "/"
        if path == "/webapi/mysettings" and scope["path"].endswith("/") and scope["method"] == "POST":
            path = "/webapi/mysettings/"
        scope = dict(scope, path=path, raw_path=path.encode())
        method = scope["method"]
        self.total_requests += 1
        status_holder = {"status": 0}
        date_value = self.date_header().encode()

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", date_value))
                message = dict(message, headers=headers)
            await send(message)

        f = self.settings.faults
        if f.latency or f.jitter:
            await asyncio.sleep(f.latency + self._fault_rng.random() * f.jitter)
        if (
            method not in ("GET", "HEAD")
            and path not in READ_POSTS
            and not path.startswith(("/_emulator", PORTAL))  # the fake Госуслуги is not asurso.ru
        ):
            self.write_attempts.append((method, path))
            log.warning("write attempt on the emulator: %s %s", method, path)
        try:
            if path.startswith("/webapi/") and path not in PUBLIC:
                go_on = await self._fault(scope, receive, send_with_date)
                if go_on is None:
                    return
                receive = go_on
            await app(scope, receive, send_with_date)
        finally:
            self.request_log.append((method, path, status_holder["status"]))

    async def _fault(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The request's faults, drawn from the seeded stream: ``None`` when a fault ended the request (an answer, a
        reset, a hang its client left), else the receive to answer it with."""
        f = self.settings.faults
        if not f.any:
            return receive
        rng = self._fault_rng
        if f.hang and rng.random() < f.hang:
            client_gives_up = CLIENT_READ_TIMEOUT.get()
            if client_gives_up is not None and f.hang_seconds >= client_gives_up:
                raise EmulatedReadTimeout(scope["path"])  # in process: the client's timer, without its seconds
            go_on = await _hang(f.hang_seconds, receive)  # a late answer, or over sockets until the client leaves
            if go_on is None:
                return None
            receive = go_on
        if f.reset and rng.random() < f.reset:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"journals":[', "more_body": True})
            raise EmulatedConnectionReset(scope["path"])
        response: Response | None = None
        if f.error_5xx and rng.random() < f.error_5xx:
            code = rng.choice((500, 502, 503))
            response = (
                JSONResponse({"message": "Внутренняя ошибка сервера", "details": None}, status_code=500)
                if code == 500
                else HTMLResponse(f"<html><body><h1>{code}</h1>Сервис временно недоступен</body></html>", code)
            )
        elif f.rate_limit and rng.random() < f.rate_limit:
            response = JSONResponse({"message": "Слишком много запросов"}, 429, headers={"Retry-After": f.retry_after})
        elif f.waf and rng.random() < f.waf:
            response = HTMLResponse(WAF_HTML.format(sid=rng.randint(10**9, 10**10)), 403)
        if response is None:
            return receive
        await response(scope, empty_receive, send)
        return None

    # --- auth helpers -------------------------------------------------------------------------

    def session(self, request: Request, *, allow_pending: bool = False) -> Session:
        at = request.headers.get("at") or request.query_params.get("at") or request.query_params.get("AT")
        sess = self.sessions.get(at or "")
        now = monotonic_time.monotonic()
        if sess is not None and (now - sess.last) * 1000 > sess.timeout_ms:
            self.sessions.pop(sess.at, None)
            sess = None
        if sess is None:
            raise Reply(
                JSONResponse({"message": "Время сеанса истекло"}, 401, headers={"auth-error": "SessionExpired"})
            )
        if request.cookies.get("ESRNSec") != sess.esrn:
            raise Reply(JSONResponse({"message": "Доступ запрещён"}, 401))
        f = self.settings.faults
        if f.security_warning_at and not self._sw_fired and self.total_requests >= f.security_warning_at:
            self._sw_fired = True
            sess.warning = True
        if sess.warning:
            others = "\u0001".join(s.at for s in self.sessions.values() if s.user_id == sess.user_id and s is not sess)
            raise Reply(HTMLResponse(SECURITY_WARNING_HTML.format(atlist=others or sess.at)))
        if sess.role_pending and not allow_pending:
            raise Reply(JSONResponse({"message": "Необходимо выбрать роль"}, 403))
        sess.requests += 1
        if f.expire_every and sess.requests > f.expire_every:
            self.sessions.pop(sess.at, None)
            raise Reply(
                JSONResponse({"message": "Время сеанса истекло"}, 401, headers={"auth-error": "SessionExpired"})
            )
        sess.last = now
        return sess

    def is_staff_admin(self, sess: Session) -> bool:
        return sess.kind in ("deputy", "admin")

    def teacher_groups(self, user_id: int) -> list[int]:
        today = self.clock.date()
        return sorted(g.id for g in self.school.groups.values() if g.teacher_on(today) == user_id)

    def chief_classes(self, user_id: int) -> list[int]:
        return sorted(c.id for c in self.school.classes.values() if c.chief_on(self.clock.date()) == user_id)

    def may_read_group(self, sess: Session, sg_id: int) -> bool:
        if self.is_staff_admin(sess):
            return True
        if sess.kind != "teacher":
            return False
        g = self.school.groups[sg_id]
        c = self.school.classes.get(g.class_id)
        return g.teacher_on(self.clock.date()) == sess.user_id or (
            c is not None and c.chief_on(self.clock.date()) == sess.user_id
        )

    def student_of(self, sess: Session, requested: int | None) -> int:
        if sess.kind == "student":
            own = sess.user_id
        elif sess.kind == "parent":
            own = self.parent_child(sess.user_id)
        else:
            raise Reply(JSONResponse({"message": "Недостаточно прав"}, 403))
        if requested is not None and requested != own:
            raise Reply(JSONResponse({"message": "Недостаточно прав"}, 403))
        return own

    def user_fio(self, sess: Session) -> tuple[str, str, str]:
        s = self.school
        if sess.user_id in s.staff:
            st = s.staff[sess.user_id]
            return st.first, st.last, st.middle
        if sess.user_id in s.students:
            pupil = s.students[sess.user_id]
            return pupil.first, pupil.last, pupil.middle
        return "Родитель", "", ""

    def user_name(self, sess: Session) -> str:
        first, last, middle = self.user_fio(sess)
        return f"{last} {first} {middle}".strip()
