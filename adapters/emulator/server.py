"""The emulated asurso.ru: a Starlette ASGI app over a generated school.

Paths are case-insensitive, dates ISO without zone (Samara local), ASP pages answer HTML. Every response
carries a ``Date`` header with the emulator's clock. See ``CHOICES.md`` for behaviour the research marks
as inferred and what the emulator chose.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import secrets
import time as monotonic_time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from adapters.emulator import calendar as cal
from adapters.emulator.faults import Faults
from adapters.emulator.journal import Journal, Scenario, generate_journal
from adapters.emulator.reports import ReportQueue, access_rows, hub, parse_filters, render_html
from adapters.emulator.school import School, Size, generate_structure
from adapters.emulator.views import Views, week_bounds

log = logging.getLogger(__name__)

SAMARA = ZoneInfo("Europe/Samara")
PRODUCT = "Сетевой Город. Образование"
VERSION = "5.47.0"
WRONG_PASSWORD = "Неправильный пароль или логин"
LOCK_MESSAGE = "Следующая попытка может быть совершена не ранее чем {until}"
SECURITY_WARNING_HTML = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>Предупреждение</title>'
    '</head><body><form name="SWForm" action="/asp/SecurityWarning.asp" method="post">'
    '<input type="hidden" name="WarnType" value="1"><input type="hidden" name="ATLIST" value="{atlist}">'
    "</form><p>Под вашим логином работает кто-то другой. Продолжить работу?</p></body></html>"
)
JUMP_TO_LOGIN_HTML = "<html><head><title></title></head><body><!--Jumptologin page--></body></html>"
WAF_HTML = (
    "<html><head><title>403 Forbidden</title></head><body><h1>Доступ запрещён</h1>"
    "<p>Запрос отклонён системой защиты. Support ID: {sid}</p></body></html>"
)

# Reads that use POST, allowed for a read-only client (login flow, searches, reports, acknowledgements).
READ_POSTS = frozenset(
    {
        "/webapi/auth/getdata",
        "/webapi/login",
        "/webapi/auth/login",
        "/webapi/auth/logout",
        "/asp/logout.asp",
        "/asp/securitywarning.asp",
        "/webapi/terms/search",
        # reports: POSTs that build a report (read-only on the journal)
        "/webapi/reports/journalaccess/initfilters",
        "/webapi/v2/reports/journalaccess/initfilters",
        "/webapi/reports/journalaccess/queue",
        "/webapi/v2/reports/journalaccess/queue",
        "/asp/reports/reportjournalaccess.asp",
        "/asp/reports/journalaccess.asp",
    }
)
PUBLIC = frozenset(
    {
        "/webapi/logindata",
        "/webapi/auth/getdata",
        "/webapi/login",
        "/webapi/auth/login",
        "/webapi/prepareloginform",
        "/webapi/loginform",
        "/webapi/schools/search",
        "/webapi/sysinfo",
        "/webapi/auth/logout",
        "/webapi/context/expired",
        "/asp/logout.asp",
        "/asp/securitywarning.asp",
    }
)


class EmulatedConnectionReset(Exception):
    """Raised mid-answer to drop the connection (a reset as the client sees it)."""


class Reply(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass
class Account:
    user_id: int
    login: str
    password: str
    kind: str  # deputy | admin | teacher | student | parent
    name: str
    role_groups: list[tuple[int, str, int, str]] = field(default_factory=list)  # (group id, name, user id, kind)


@dataclass
class Session:
    at: str
    esrn: str
    user_id: int
    kind: str
    login: str
    timeout_ms: int
    last: float = field(default_factory=monotonic_time.monotonic)
    requests: int = 0
    warning: bool = False
    role_pending: bool = False
    login_time: datetime | None = None
    ver: str = ""


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


class Emulator:
    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings or EmulatorSettings()
        self.school: School = generate_structure(self.settings.seed, self.settings.size)
        self.journal: Journal = generate_journal(self.school, self.settings.scenario)
        self.views = Views(self.school, self.journal, self.settings.faults.drifts)
        self.reports = ReportQueue()
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

    def parent_child(self, parent_id: int) -> int:
        for p in self.school.parent_accounts:
            if p.id == parent_id:
                return p.child_id
        raise KeyError(parent_id)

    # --- plumbing -----------------------------------------------------------------------------

    def date_header(self) -> str:
        return format_datetime(self.clock.replace(tzinfo=SAMARA).astimezone(UTC), usegmt=True)

    def _token(self, digits: int) -> str:
        return str(self._rng.randint(10 ** (digits - 1), 10**digits - 1))

    def _build_app(self) -> Starlette:
        r = self._routes()
        app = Starlette(routes=r)
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
        if method not in ("GET", "HEAD") and path not in READ_POSTS and not path.startswith("/_emulator"):
            self.write_attempts.append((method, path))
            log.warning("write attempt on the emulator: %s %s", method, path)
        try:
            if path.startswith("/webapi/") and path not in PUBLIC:
                fault = await self._fault(scope, send_with_date)
                if fault:
                    return
            await app(scope, receive, send_with_date)
        finally:
            self.request_log.append((method, path, status_holder["status"]))

    async def _fault(self, scope: Scope, send: Send) -> bool:
        f = self.settings.faults
        if not f.any:
            return False
        rng = self._fault_rng
        if f.hang and rng.random() < f.hang:
            await asyncio.sleep(f.hang_seconds)
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
            return False
        await response(scope, _empty_receive, send)
        return True

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
        return sorted(g.id for g in self.school.groups.values() if g.teacher_id == user_id)

    def chief_classes(self, user_id: int) -> list[int]:
        return sorted(c.id for c in self.school.classes.values() if c.chief_id == user_id)

    def may_read_group(self, sess: Session, sg_id: int) -> bool:
        if self.is_staff_admin(sess):
            return True
        if sess.kind != "teacher":
            return False
        g = self.school.groups[sg_id]
        return g.teacher_id == sess.user_id or self.school.classes[g.class_id].chief_id == sess.user_id

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

    # --- routes -------------------------------------------------------------------------------

    def _routes(self) -> list[BaseRoute]:
        e = self

        def ep(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
            async def wrapped(request: Request) -> Response:
                try:
                    return await fn(request)
                except Reply as r:
                    return r.response
                except ValueError as exc:  # unparsable or missing parameters; any other error is the emulator's bug
                    return JSONResponse({"message": "Неверные параметры запроса", "details": str(exc)}, 400)

            return wrapped

        def json_get(build: Callable[[Request, Session], Any]) -> Callable[[Request], Awaitable[Response]]:
            async def handler(request: Request) -> Response:
                sess = e.session(request)
                return JSONResponse(build(request, sess))

            return ep(handler)

        def qint(request: Request, *names: str, required: bool = True) -> int | None:
            for n in names:
                for k, v in request.query_params.items():
                    if k.lower() == n.lower() and v not in ("", "null"):
                        return int(v)
            if required:
                raise ValueError(f"не задан параметр {names[0]}")
            return None

        def qdate(request: Request, name: str) -> date:
            raw = request.query_params.get(name)
            if not raw:
                raise ValueError(f"не задан параметр {name}")
            return date.fromisoformat(raw[:10])

        def term_of(request: Request, sg_id: int) -> Any:
            term_id = qint(request, "termId")
            term = e.school.terms.get(term_id or 0)
            if term is None or term.type_id != e.school.groups[sg_id].term_type:
                raise Reply(JSONResponse({"message": "Учебный период не найден для этой группы"}, 400))
            return term

        def group(request: Request, sess: Session, *names: str) -> int:
            sg_id = qint(request, *names)
            assert sg_id is not None
            if sg_id not in e.school.groups:
                raise Reply(JSONResponse({"message": "Группа не найдена"}, 404))
            if not e.may_read_group(sess, sg_id):
                raise Reply(JSONResponse({"message": "Недостаточно прав для просмотра журнала"}, 403))
            return sg_id

        v = e.views
        s = e.school

        # -- public / login flow
        async def logindata(request: Request) -> Response:
            resp = JSONResponse(
                {
                    "productName": PRODUCT,
                    "version": VERSION,
                    "schoolLogin": True,
                    "emLogin": False,
                    "esiaLogin": True,
                    "esiaLoginPage": "/webapi/sso/esia/crosslogin",
                    "esiaMainAuth": False,
                    "esiaButton": True,
                    "signatureLogin": False,
                    "cacheVer": "1001",
                    "windowsAuth": False,
                    "enableSms": False,
                    "esaLogin": False,
                    "esaLoginPage": "",
                }
            )
            if not request.cookies.get("NSSESSIONID"):
                resp.set_cookie("NSSESSIONID", secrets.token_hex(16), path="/", httponly=True)
            return resp

        async def getdata(request: Request) -> Response:
            sid = request.cookies.get("NSSESSIONID")
            if not sid:
                return JSONResponse({"message": "Сеанс не найден: сначала откройте страницу входа"}, 400)
            lt, ver, salt = e._token(9), e._token(9), e._token(10)
            e.salts[sid] = (lt, ver, salt)
            return JSONResponse({"lt": lt, "ver": ver, "salt": salt})

        async def login(request: Request) -> Response:
            return await e._login(request)

        async def prepareloginform(request: Request) -> Response:
            return JSONResponse(
                {
                    "countries": [{"id": 2, "name": "Россия"}],
                    "cid": 2,
                    "states": [{"id": 1, "name": "Самарская обл"}],
                    "sid": 1,
                    "provinces": [{"kladr": "6300000000000", "id": -1, "name": "Городской округ Самара"}],
                    "pid": -1,
                    "cities": [{"atoTypeName": "г.", "id": 1, "name": "Самара, г."}],
                    "cn": 1,
                    "funcs": [{"id": 2, "name": "Общеобразовательная"}],
                    "sft": 2,
                    "schools": [{"id": s.scid, "name": s.name}],
                    "scid": s.scid,
                    "hlevels": None,
                    "ems": None,
                }
            )

        async def loginform(request: Request) -> Response:
            last = (request.query_params.get("LASTNAME") or request.query_params.get("lastname") or "").lower()
            items = {
                "cid": [{"id": 1, "name": "Самарская обл"}],
                "sid": [{"id": -1, "name": "Городской округ Самара"}],
                "pid": [{"id": 1, "name": "Самара, г."}],
                "cn": [{"id": 2, "name": "Общеобразовательная"}],
                "sft": [{"id": s.scid, "name": s.name}],
            }.get(last, [])
            return JSONResponse({"items": items, "lastElem": last})

        async def schools_search(request: Request) -> Response:
            name = request.query_params.get("name")
            if name is None:
                return JSONResponse({"message": "Доступ запрещён"}, 403)
            item = {
                "id": s.scid,
                "inn": "6316000000",
                "ogrn": "1026300000000",
                "name": s.name,
                "shortName": s.name,
                "cityId": 1,
                "provinceId": -1,
                "address": None,
                "addressString": "г. Самара",
            }
            return JSONResponse([item] if name.casefold() in s.name.casefold() or name in ("", "У") else [])

        async def sysinfo(request: Request) -> Response:
            return PlainTextResponse(f"Id: asurso-emulator\nВерсия системы: {VERSION}\n")

        async def logout(request: Request) -> Response:
            form = await read_form(request)
            at = str(form.get("at") or form.get("AT") or request.headers.get("at") or "")
            if e.sessions.pop(at, None) is None:
                return JSONResponse({"message": "Сеанс не найден"}, 401)
            return Response(status_code=200)

        async def asp_logout(request: Request) -> Response:
            form = await read_form(request)
            e.sessions.pop(str(form.get("at") or form.get("AT") or ""), None)
            return HTMLResponse(JUMP_TO_LOGIN_HTML)

        async def expired(request: Request) -> Response:
            token = request.query_params.get("token", "")
            sess = e.sessions.get(token)
            alive = sess is not None and (monotonic_time.monotonic() - sess.last) * 1000 <= sess.timeout_ms
            return JSONResponse(not alive)

        async def security_warning(request: Request) -> Response:
            form = await read_form(request)
            at = str(form.get("at") or form.get("AT") or request.headers.get("at") or "")
            sess = e.sessions.get(at)
            if sess is None:
                return HTMLResponse(JUMP_TO_LOGIN_HTML)
            sess.warning = False
            return HTMLResponse("<html><head><title>АСУ РСО</title></head><body>OK</body></html>")

        # -- common
        def context(request: Request, sess: Session) -> Any:
            roles = {
                "deputy": ["Principal", "Teacher"],
                "admin": ["Admin"],
                "teacher": ["Teacher"],
                "student": ["Student"],
                "parent": ["Parent"],
            }[sess.kind]
            return {
                "at": sess.at,
                "userId": sess.user_id,
                "funcType": "School",
                "schoolId": s.scid,
                "schoolYearId": s.year_id,
                "globalYearId": s.global_year_id,
                "emId": 1,
                "productName": PRODUCT,
                "userLanguage": "ru",
                "version": VERSION,
                "versionDate": "2026-10-01T00:00:00",
                "organizationName": s.name,
                "menuContext": None,
                "rights": [],
                "roles": roles,
                "schoolyear": v.school_year(),
                "user": {"id": sess.user_id, "name": e._user_name(sess)},
                "organization": {"id": s.scid, "name": s.name},
                "dateFormat": "d\u0001mm\u0001yy\u0001.",
                "timeFormat": "h\u0001mm\u0001:\u0001\u0001",
                "timeOut": sess.timeout_ms // 1000,
            }

        def active_sessions(request: Request, sess: Session) -> Any:
            return [
                {
                    "schoolId": s.scid,
                    "eoName": s.name,
                    "at": None,
                    "userId": x.user_id,
                    "loginName": None,
                    "nickName": e._user_name(x),
                    "loginTime": v.dt(x.login_time) if x.login_time else None,
                    "lastAccessTime": "0001-01-01T00:00:00",
                    "ip": None,
                    "roles": {
                        "deputy": "Завуч",
                        "admin": "Администратор",
                        "teacher": "Учитель",
                        "student": "Ученик",
                        "parent": "Родитель",
                    }[x.kind],
                    "eMs": "Самара",
                    "timeOut": x.timeout_ms // 1000,
                }
                for x in e.sessions.values()
            ]

        def mysettings(request: Request, sess: Session) -> Any:
            first, last, middle = e._user_fio(sess)
            return {
                "userId": sess.user_id,
                "firstName": first,
                "lastName": last,
                "middleName": middle,
                "loginName": sess.login,
                "birthDate": None,
                "roles": [],
                "schoolyearId": s.year_id,
                "windowsAccount": None,
                "mobilePhone": None,
                "preferedCom": 0,
                "email": None,
                "existsPhoto": False,
                "userSettings": {
                    "showMobilePhone": False,
                    "defaultDesktop": 0,
                    "language": "ru",
                    "favoriteReports": [],
                    "passwordExpired": 0,
                    "recoveryAnswer": None,
                    "recoveryQuestion": None,
                    "theme": 0,
                    "userId": sess.user_id,
                    "showNetSchoolApp": False,
                    "showSferumBanner": False,
                },
            }

        def yearlist(request: Request, sess: Session) -> Any:
            return [{"id": s.year_id - 1, "name": "(*) 2025/2026"}, {"id": s.year_id, "name": cal.YEAR_NAME}]

        def years(request: Request, sess: Session) -> Any:
            closed = dict(
                v.school_year(),
                id=s.year_id - 1,
                name="(*) 2025/2026",
                closed="Closed",
                startDate="2025-09-01T00:00:00",
                endDate="2026-08-31T00:00:00",
            )
            return [closed, v.school_year()]

        async def terms_search(request: Request) -> Response:
            e.session(request)
            body = json.loads(await request.body() or b"{}")
            start = body.get("startPeriod")
            end = body.get("endPeriod")
            class_ids = body.get("classIds") or []
            type_ids = {cal.term_type_for_grade(s.classes[int(c)].grade) for c in class_ids if int(c) in s.classes}
            out = []
            for t in s.terms.values():
                if type_ids and t.type_id not in type_ids:
                    continue
                if start and t.end < date.fromisoformat(start[:10]):
                    continue
                if end and t.start > date.fromisoformat(end[:10]):
                    continue
                out.append(v.term(t))
            return JSONResponse(out)

        def classes(request: Request, sess: Session) -> Any:
            expand = [x.lower() for x in request.query_params.getlist("expand")]
            grades = {int(g) for g in request.query_params.getlist("grade")}
            ids = [c.id for c in s.classes.values() if not grades or c.grade in grades]
            return v.classes(ids, expand)

        def subjectgroups(request: Request, sess: Session) -> Any:
            class_id = qint(request, "classId", required=False)
            iup = request.query_params.get("iupClassId")
            if class_id is None and iup:
                class_id = int(iup.split("_")[0])
            ids = [g.id for g in s.groups.values() if class_id is None or g.class_id == class_id]
            if not e.is_staff_admin(sess):
                ids = [i for i in ids if e.may_read_group(sess, i)]
            return v.subject_groups(sorted(ids))

        def teacher_sgs(request: Request, sess: Session) -> Any:
            return v.subject_groups(e.teacher_groups(sess.user_id))

        def teacher_classes(request: Request, sess: Session) -> Any:
            ids = sorted(
                {s.groups[g].class_id for g in e.teacher_groups(sess.user_id)} | set(e.chief_classes(sess.user_id))
            )
            return v.classes(ids, [])

        def student_list(request: Request, sess: Session) -> Any:
            class_id = qint(request, "classId", required=False)
            if class_id is not None:
                if class_id not in s.classes:
                    raise Reply(JSONResponse({"message": "Класс не найден"}, 404))
                return v.class_students(class_id, e.clock)
            sg_id = group(request, sess, "sgid", "sgId")
            return v.enrolled(sg_id, term_of(request, sg_id), e.clock)

        def sg_students(request: Request, sess: Session) -> Any:
            sg_id = group(request, sess, "sgId", "sgid")
            return v.enrolled(sg_id, term_of(request, sg_id), e.clock)

        def classmeetings(request: Request, sess: Session) -> Any:
            start, end = qdate(request, "start"), qdate(request, "end")
            class_ids = [int(x) for x in request.query_params.getlist("classId")]
            teacher = qint(request, "teacherId", required=False)
            student = qint(request, "studentId", required=False)
            if class_ids:
                sgs = {g.id for g in s.groups.values() if g.class_id in class_ids}
            elif teacher is not None:
                sgs = set(e.teacher_groups(teacher))
            elif student is not None:
                sgs = set(v.student_groups(student))
            else:
                raise ValueError("нужен classId, teacherId или studentId")
            if not e.is_staff_admin(sess) and sess.kind == "teacher":
                sgs = {g for g in sgs if e.may_read_group(sess, g)} if class_ids else sgs
            return v.class_meetings(sgs, start, end)

        def journal(request: Request, sess: Session) -> Any:
            sg_id = group(request, sess, "sgId")
            return v.journal(sg_id, term_of(request, sg_id), e.clock)

        def readable_lesson(request: Request, sess: Session) -> Any:
            """The lesson named by ``cmid``, if it exists and the session may read its group."""
            lesson = s.lessons.get(qint(request, "cmid") or 0)
            if lesson is None:
                raise Reply(JSONResponse({"message": "Урок не найден"}, 404))
            if not e.may_read_group(sess, lesson.sg_id):
                raise Reply(JSONResponse({"message": "Недостаточно прав"}, 403))
            return lesson

        def journal_short(request: Request, sess: Session) -> Any:
            lesson = readable_lesson(request, sess)
            term = s.term_of(lesson.sg_id, lesson.day)
            assert term is not None
            return v.journal(lesson.sg_id, term, e.clock)

        def journal_edit(request: Request, sess: Session) -> Any:
            return v.journal_edit(readable_lesson(request, sess).id, e.clock)

        def plan(request: Request, sess: Session) -> Any:
            return v.plan(group(request, sess, "sgId"), e.clock)

        def plan_lesson(request: Request, sess: Session) -> Any:
            found = v.plan_lesson(qint(request, "lessonId") or 0)
            if found is None:
                raise Reply(JSONResponse({"message": "Урок КТП не найден"}, 404))
            return found

        # -- student / parent diary
        def diary_init(request: Request, sess: Session) -> Any:
            return v.diary_init(e.student_of(sess, None), e.clock)

        def diary(request: Request, sess: Session) -> Any:
            sid = e.student_of(sess, qint(request, "studentId", required=False))
            ws = (
                qdate(request, "weekStart") if request.query_params.get("weekStart") else week_bounds(e.clock.date())[0]
            )
            we = qdate(request, "weekEnd") if request.query_params.get("weekEnd") else ws + timedelta(days=6)
            return v.diary(sid, ws, we, e.clock)

        async def assign(request: Request) -> Response:
            sess = e.session(request)
            e.student_of(sess, qint(request, "studentId", required=False))
            found = v.assign_details(int(request.path_params["aid"]), e.clock)
            if found is None:
                return JSONResponse({"message": "Задание не найдено"}, 404)
            return JSONResponse(found)

        def past_mandatory(request: Request, sess: Session) -> Any:
            sid = e.student_of(sess, qint(request, "studentId", required=False))
            ws = qdate(request, "weekStart") if request.query_params.get("weekStart") else e.clock.date()
            return v.past_mandatory(sid, ws, e.clock)

        async def forbidden_write(request: Request) -> Response:
            return JSONResponse({"message": "Изменение журнала через этот интерфейс запрещено"}, 403)

        # -- control (test/demo mode)
        async def control_clock(request: Request) -> Response:
            if request.method == "POST":
                body = json.loads(await request.body() or b"{}")
                if "now" in body:
                    e.clock = datetime.fromisoformat(body["now"]).replace(tzinfo=None)
                elif "advance_seconds" in body:
                    e.clock += timedelta(seconds=float(body["advance_seconds"]))
                else:
                    return JSONResponse({"message": "нужен now или advance_seconds"}, 400)
            return JSONResponse({"now": e.clock.isoformat(timespec="seconds")})

        async def control_log(request: Request) -> Response:
            return JSONResponse(
                {
                    "requests": [list(x) for x in e.request_log],
                    "write_attempts": [list(x) for x in e.write_attempts],
                }
            )

        routes: list[BaseRoute] = [
            Route("/webapi/logindata", ep(logindata)),
            Route("/webapi/auth/getdata", ep(getdata), methods=["POST"]),
            Route("/webapi/login", ep(login), methods=["POST"]),
            Route("/webapi/prepareloginform", ep(prepareloginform)),
            Route("/webapi/loginform", ep(loginform)),
            Route("/webapi/schools/search", ep(schools_search)),
            Route("/webapi/sysinfo", ep(sysinfo)),
            Route("/webapi/auth/logout", ep(logout), methods=["POST"]),
            Route("/asp/logout.asp", ep(asp_logout), methods=["POST", "GET"]),
            Route("/webapi/context/expired", ep(expired)),
            Route("/asp/securitywarning.asp", ep(security_warning), methods=["POST"]),
            Route("/webapi/context", json_get(context)),
            Route("/webapi/context/activesessions", json_get(active_sessions)),
            Route("/webapi/mysettings", json_get(mysettings)),
            Route("/webapi/mysettings/", ep(forbidden_write), methods=["POST"]),
            Route("/webapi/mysettings/yearlist", json_get(yearlist)),
            Route("/webapi/years/current", json_get(lambda r, x: v.school_year())),
            Route("/webapi/context/years", json_get(years)),
            Route("/webapi/terms", json_get(lambda r, x: v.terms())),
            Route("/webapi/terms/search", ep(terms_search), methods=["POST"]),
            Route("/webapi/calendar/vacations", json_get(lambda r, x: v.vacations())),
            Route("/webapi/classes", json_get(classes)),
            Route("/webapi/subjects", json_get(lambda r, x: v.subjects())),
            Route("/webapi/subjectgroups", json_get(subjectgroups)),
            Route("/webapi/users/teacher/subjectgroups", json_get(teacher_sgs)),
            Route("/webapi/users/teacher/classes", json_get(teacher_classes)),
            Route("/webapi/grade/studentlist", json_get(student_list)),
            Route("/webapi/subjectgroupstudents", json_get(sg_students)),
            Route("/webapi/schedule/classmeetings", json_get(classmeetings)),
            Route("/webapi/schedule/times", json_get(lambda r, x: v.times())),
            Route("/webapi/grade/assignment/types", json_get(lambda r, x: v.assignment_types())),
            Route("/webapi/grade/attendance/reasons", json_get(lambda r, x: v.attendance_reasons())),
            Route("/webapi/school/settings", json_get(lambda r, x: v.settings())),
            Route("/webapi/grade/journal", json_get(journal)),
            Route("/webapi/grade/journal/short", json_get(journal_short)),
            Route("/webapi/grade/journal/edit", json_get(journal_edit)),
            Route("/webapi/grade/journal/edit", ep(forbidden_write), methods=["POST"]),
            Route("/webapi/grade/journal/quickedit", ep(forbidden_write), methods=["POST"]),
            Route("/webapi/grade/journal/comments", ep(forbidden_write), methods=["POST"]),
            Route("/webapi/grade/journal/assignments/{aid:int}", ep(forbidden_write), methods=["DELETE"]),
            Route("/webapi/subjectplans/getforsubjectgroup", json_get(plan)),
            Route("/webapi/subjectplans/lessons", json_get(plan_lesson)),
            Route("/webapi/student/diary/init", json_get(diary_init)),
            Route("/webapi/student/diary", json_get(diary)),
            Route("/webapi/student/diary/assigns/{aid:int}", ep(assign)),
            Route("/webapi/student/diary/pastmandatory", json_get(past_mandatory)),
            Route("/webapi/announcements", json_get(lambda r, x: v.announcements(e.clock))),
        ]

        # -- «Отчёт о доступе к классному журналу» (modern pipeline, hub, files; legacy ASP pages)
        def may_read_class(sess: Session, class_id: int) -> bool:
            return any(e.may_read_group(sess, g.id) for g in s.groups.values() if g.class_id == class_id) or (
                e.is_staff_admin(sess)
            )

        def report_filter(fid: str, title: str, order: int, kind: str) -> dict[str, Any]:
            """One filter of a report's description (the flags are the same for all of this report's filters)."""
            return {
                "id": fid,
                "title": title,
                "order": order,
                "filterType": kind,
                "optionalFlag": False,
                "hideSingleOption": False,
                "hasSureCheckedFlag": False,
                "hideTitleFlag": False,
                "existStateProvider": False,
                "emptyText": None,
                "dependencies": [],
            }

        def report_description(request: Request, sess: Session) -> Any:
            return {
                "report": {
                    "id": "journalaccess",
                    "name": "Отчёт о доступе к классному журналу",
                    "group": "Журнал",
                    "level": 1,
                    "order": 40,
                    "filterPanel": {
                        "filters": [
                            report_filter("PCLID_IUP", "Класс", 1, "SingleSelect"),
                            report_filter("period", "Период", 2, "DateRange"),
                        ]
                    },
                    "presentTypes": ["Html", "Pdf", "EmailDelivery"],
                },
                "filterSources": report_sources(sess),
            }

        def report_sources(sess: Session) -> list[dict[str, Any]]:
            first = min(t.start for t in s.terms.values())
            last = max(t.end for t in s.terms.values())
            return [
                {
                    "filterId": "PCLID_IUP",
                    "items": [
                        {"value": f"{c.id}_0", "title": c.name}
                        for c in sorted(s.classes.values(), key=lambda c: (c.grade, c.letter))
                        if may_read_class(sess, c.id)
                    ],
                    "defaultValue": None,
                },
                {
                    "filterId": "period",
                    "range": {"start": f"{first.isoformat()}T00:00:00", "end": f"{last.isoformat()}T00:00:00"},
                },
            ]

        async def report_initfilters(request: Request) -> Response:
            sess = e.session(request)
            return JSONResponse(report_sources(sess))

        async def report_queue(request: Request) -> Response:
            sess = e.session(request)
            body = json.loads((await request.body()) or b"{}")
            class_id, start, end = parse_filters(body, s.classes)
            if not may_read_class(sess, class_id):
                return JSONResponse({"message": "Недостаточно прав для построения отчёта"}, 403)
            task = e.reports.add(class_id, start, end, sess.user_id)
            if request.url.path.startswith("/webapi/v2/"):
                return JSONResponse({"taskId": task.id, "queueKey": task.key})
            return JSONResponse(task.id)

        async def report_file(request: Request) -> Response:
            e.session(request)
            content = e.reports.files.get(int(request.path_params["fid"]))
            if content is None:
                return JSONResponse({"message": "Файл не найден"}, 404)
            return HTMLResponse(content)

        async def asp_report_form(request: Request) -> Response:
            form = await read_form(request)
            request.scope["query_string"] = f"at={form.get('at') or form.get('AT') or ''}".encode()
            e.session(Request(request.scope))
            return HTMLResponse(
                "<html><body><form method='post' action='/asp/Reports/JournalAccess.asp'>"
                "<input type='hidden' name='RPNAME' value='Отчёт о доступе к классному журналу'>"
                "<input type='hidden' name='RPTID' value='JournalAccess'>"
                "<select name='PCLID_IUP'>"
                + "".join(f"<option value='{c.id}_0'>{c.name}</option>" for c in s.classes.values())
                + "</select><input name='ADT'><input name='DDT'></form></body></html>"
            )

        async def asp_report(request: Request) -> Response:
            form = await read_form(request)
            request.scope["query_string"] = f"at={form.get('at') or form.get('AT') or ''}".encode()
            sess = e.session(Request(request.scope))
            class_id = int(str(form.get("PCLID_IUP", "")).split("_")[0])
            if class_id not in s.classes or not may_read_class(sess, class_id):
                return HTMLResponse("<html><body>Недостаточно прав</body></html>", 403)
            start = datetime.strptime(form["ADT"], "%d.%m.%Y").date()
            end = datetime.strptime(form["DDT"], "%d.%m.%Y").date()
            await asyncio.sleep(e.reports.build_seconds)
            title = f"Класс: {s.classes[class_id].name}; период: {start:%d.%m.%Y} – {end:%d.%m.%Y}"
            return HTMLResponse(render_html(title, access_rows(e, class_id, start, end)))

        async def queue_hub(websocket: WebSocket) -> None:
            await hub(e, websocket)

        routes += [
            Route("/webapi/reports/journalaccess", json_get(report_description)),
            Route("/webapi/reports/journalaccess/initfilters", ep(report_initfilters), methods=["POST"]),
            Route("/webapi/v2/reports/journalaccess/initfilters", ep(report_initfilters), methods=["POST"]),
            Route("/webapi/reports/journalaccess/queue", ep(report_queue), methods=["POST"]),
            Route("/webapi/v2/reports/journalaccess/queue", ep(report_queue), methods=["POST"]),
            Route("/webapi/files/{fid:int}", ep(report_file)),
            Route("/asp/reports/reportjournalaccess.asp", ep(asp_report_form), methods=["POST"]),
            Route("/asp/reports/journalaccess.asp", ep(asp_report), methods=["POST"]),
            WebSocketRoute("/webapi/signalr/queueHub", queue_hub),
            WebSocketRoute("/webapi/signalr/queuehub", queue_hub),
        ]
        if e.settings.control:
            routes += [
                Route("/_emulator/clock", control_clock, methods=["GET", "POST"]),
                Route("/_emulator/log", control_log),
            ]
        return routes

    # --- login --------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        form = await read_form(request)

        def field_(*names: str) -> str:
            for n in names:
                if n in form:
                    return str(form[n])
            return ""

        origin = self.settings.origin or f"{request.url.scheme}://{request.url.netloc}"
        referer = request.headers.get("referer", "")
        if not referer or urlsplit(referer)._replace(path="", query="", fragment="").geturl().lower() != origin.lower():
            return JSONResponse({"message": "Неверный запрос: нет заголовка Referer"}, 400)
        sid = request.cookies.get("NSSESSIONID", "")
        salt_data = self.salts.pop(sid, None)
        if salt_data is None:
            return JSONResponse({"message": "Сеанс входа устарел: обновите страницу"}, 409)
        lt, ver, salt = salt_data
        if field_("lt") != lt or field_("ver") != ver:
            return JSONResponse({"message": "Сеанс входа устарел: обновите страницу"}, 409)
        if field_("loginType", "LoginType") not in ("1", ""):
            return JSONResponse({"message": "Способ входа не поддерживается"}, 409)
        scid = field_("scid", "SCID")
        if scid != str(self.school.scid):
            return JSONResponse({"message": "Образовательная организация не найдена"}, 409)
        login = field_("un", "UN")
        key = login.casefold()
        now = self.clock
        recent = [t for t in self.failures.get(key, []) if now - t < timedelta(minutes=15)]
        if len(recent) >= 5:
            until = max(recent) + timedelta(minutes=15)
            return JSONResponse({"message": LOCK_MESSAGE.format(until=until.strftime("%d.%m.%Y %H:%M:%S"))}, 409)
        account = self.accounts.get(key)
        if account is None or not _password_ok(account.password, salt, field_("pw", "PW"), field_("pw2")):
            self.failures.setdefault(key, []).append(now)
            return JSONResponse({"message": WRONG_PASSWORD}, 409)
        self.failures.pop(key, None)

        user_id, kind, pending = account.user_id, account.kind, False
        rolegroup = field_("rolegroup")
        if account.role_groups:
            chosen = [g for g in account.role_groups if str(g[0]) == rolegroup]
            if chosen:
                _, _, user_id, kind = chosen[0]
            else:
                pending = True
        at = self._token(25) + str(self._rng.randint(0, 9))
        esrn = secrets.token_hex(12)
        others = [x for x in self.sessions.values() if x.user_id == user_id and not pending]
        sess = Session(
            at,
            esrn,
            user_id,
            kind,
            account.login,
            self.settings.session_timeout_ms,
            role_pending=pending,
            login_time=now,
            ver=ver,
        )
        sess.warning = bool(others)
        self.sessions[at] = sess
        if pending:
            entry = "/angular/school/choose-session-role/"
        elif sess.warning:
            entry = "/asp/SecurityWarning.asp"
        elif kind in ("student", "parent"):
            entry = "/angular/school/studentdiary/"
        else:
            entry = "/angular/school/main/"
        roles = [
            {"userId": uid, "schoolId": self.school.scid, "role": {"id": gid, "name": gname}}
            for gid, gname, uid, _ in account.role_groups
        ]
        body = {
            "at": at,
            "code": None,
            "timeOut": self.settings.session_timeout_ms,
            "accessToken": secrets.token_hex(16),
            "refreshToken": secrets.token_hex(16),
            "tokenType": "Bearer",
            "accountInfo": {
                "activeToken": None,
                "secureActiveToken": secrets.token_hex(8),
                "currentOrganization": {"id": self.school.scid, "name": self.school.name},
                "user": {"id": user_id, "name": account.name},
                "userRoles": roles,
                "organizations": [{"id": self.school.scid, "name": self.school.name}],
                "loginTime": self.views.dt(now),
                "active": True,
                "canLogin": True,
                "storeTokens": True,
                "accessToken": None,
            },
            "entryPoint": entry,
            "requestData": {"warnType": "1", "atlist": "\u0001".join(o.at for o in others)} if sess.warning else None,
            "errorMessage": None,
        }
        resp = JSONResponse(body)
        resp.set_cookie("ESRNSec", esrn, path="/", httponly=True)
        return resp

    def _user_fio(self, sess: Session) -> tuple[str, str, str]:
        s = self.school
        if sess.user_id in s.staff:
            st = s.staff[sess.user_id]
            return st.first, st.last, st.middle
        if sess.user_id in s.students:
            pupil = s.students[sess.user_id]
            return pupil.first, pupil.last, pupil.middle
        return "Родитель", "", ""

    def _user_name(self, sess: Session) -> str:
        first, last, middle = self._user_fio(sess)
        return f"{last} {first} {middle}".strip()


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the login flow and ASP pages use); first value wins."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for k, v in parse_qsl(body, keep_blank_values=True):
        form.setdefault(k, v)
    return form


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def password_hashes(password: str, salt: str) -> tuple[str, str]:
    """The NetSchool scheme: pw2 = md5(salt + md5(cp1251 password)); pw = pw2[:len(password)]."""
    h1 = md5_hex(password.encode("cp1251"))
    pw2 = md5_hex((salt + h1).encode("ascii"))
    return pw2[: len(password)], pw2


def _password_ok(password: str, salt: str, pw: str, pw2: str) -> bool:
    try:
        expect_pw, expect_pw2 = password_hashes(password, salt)
    except UnicodeEncodeError:
        return False  # a password not representable in cp1251 can never log in
    return secrets.compare_digest(pw2, expect_pw2) and (not pw or secrets.compare_digest(pw, expect_pw))
