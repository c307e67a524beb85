"""What the emulated server says and keeps per user: product constants and canned pages, accounts and sessions,
the password scheme, and the small request helpers every route uses."""

from __future__ import annotations

import hashlib
import secrets
import time as monotonic_time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

SAMARA = ZoneInfo("Europe/Samara")
PRODUCT = "Сетевой Город. Образование"
VERSION = "5.47.0"
WRONG_PASSWORD = "Неправильный пароль или логин"
PASSWORD_LOGIN_OFF = "Вход по логину и паролю отключён. Войдите через Госуслуги"  # [I]
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
        "/webapi/grade/journal/filter/init",  # the journal page's filter sources
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


class EmulatedReadTimeout(Exception):
    """Raised in process instead of hanging past the client's read timeout (``CLIENT_READ_TIMEOUT``)."""


# In process (``EmulatorTransport``) the app runs in the client's own task, so time is the emulator's to skip: the
# transport puts the request's read timeout here, and a hang that would outlast it ends the request at once with
# ``EmulatedReadTimeout`` — what the client's timer would do after that many real seconds of nothing. ``None`` (the
# default, and always under uvicorn: another thread, another context): no client is known, a hang sleeps.
CLIENT_READ_TIMEOUT: ContextVar[float | None] = ContextVar("client_read_timeout", default=None)


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
    school: tuple[int, str] | None = None  # another school (a second Госуслуги link); None: the emulated one


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the only kind the login flow and ASP pages use); first value wins."""
    body = (await request.body()).decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for k, v in parse_qsl(body, keep_blank_values=True):
        form.setdefault(k, v)
    return form


async def empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def password_hashes(password: str, salt: str) -> tuple[str, str]:
    """The NetSchool scheme: pw2 = md5(salt + md5(cp1251 password)); pw = pw2[:len(password)]."""
    h1 = md5_hex(password.encode("cp1251"))
    pw2 = md5_hex((salt + h1).encode("ascii"))
    return pw2[: len(password)], pw2


def password_ok(password: str, salt: str, pw: str, pw2: str) -> bool:
    try:
        expect_pw, expect_pw2 = password_hashes(password, salt)
    except UnicodeEncodeError:
        return False  # a password not representable in cp1251 can never log in
    return secrets.compare_digest(pw2, expect_pw2) and (not pw or secrets.compare_digest(pw, expect_pw))
