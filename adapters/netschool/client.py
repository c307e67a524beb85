"""An async, read-only client for NetSchool servers (asurso.ru): login, session hygiene, polite resilient reads.

One ``httpx.AsyncClient`` per run. Only idempotent reads are retried (timeouts, connection errors, 5xx, 429),
with full-jitter exponential backoff, ``Retry-After`` honoured, attempts and total time capped. An expired
session (401 or an HTML page where JSON was expected) triggers exactly one re-login per request, shared by
concurrent requests. The password login itself is never retried. Every request passes one gate that
allows only GETs and an explicit list of reading POSTs: the client cannot call a write endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, stop_after_delay

from adapters.netschool.errors import (
    AccessDenied,
    AddressNotFound,
    EsiaLoginRequired,
    EsiaRefused,
    EsiaUnavailable,
    FirewallBlocked,
    HTTPStatusError,
    LoginError,
    LoginLockedError,
    LoginUnavailable,
    NetSchoolError,
    NotNetSchool,
    PasswordLoginDisabled,
    ReadOnlyViolation,
    RenewalRefused,
    ReportError,
    ServerUnavailable,
    SessionLost,
    TLSProtocolError,
    TLSVerificationError,
)
from adapters.netschool.esia import DEFAULT_PORTAL, EsiaMethod, EsiaPortal, preferred_user, session_url, user_label
from adapters.netschool.models import Context, LoginResponse, parse
from adapters.oserrors import chain, os_error_text
from adapters.redaction import MASK, redact_data, redact_request, redact_text

log = logging.getLogger(__name__)

# POSTs that read (login flow, acknowledgements, searches). Anything else that is not a GET is refused.
READ_POSTS = frozenset(
    {
        "/webapi/auth/getdata",
        "/webapi/login",
        "/webapi/auth/login",  # the Госуслуги login (loginType 8)
        "/webapi/auth/logout",
        "/asp/logout.asp",
        "/asp/securitywarning.asp",
        "/webapi/terms/search",
        # the journal page's filter sources (``?extraActivity=true``: whether an extra-activity journal exists)
        "/webapi/grade/journal/filter/init",
        # building a report reads the journal; these POSTs change nothing on the server
        "/webapi/reports/journalaccess/initfilters",
        "/webapi/v2/reports/journalaccess/initfilters",
        "/webapi/reports/journalaccess/queue",
        "/webapi/v2/reports/journalaccess/queue",
        "/asp/reports/reportjournalaccess.asp",
        "/asp/reports/journalaccess.asp",
    }
)
RS = "\x1e"  # SignalR JSON protocol record separator
Sleep = Callable[[float], Awaitable[None]]  # how the client waits (back-offs, pacing); tests pass one that does not
STAFF_ROLE_WORDS = ("завуч", "администратор", "директор", "учитель", "сотрудник", "педагог")
_REDIRECTS = (301, 302, 303, 307, 308)
_PARSED = "asurso_sync.json"  # where the policy keeps an answer's parsed JSON (httpx.Response.extensions)
# the renewal's candidate tokens in their stated order (docs/server-api.md §2.1): the login answer's refreshToken,
# then the portal session's token
RENEWAL_ORDER = ("answer", "portal")
RENEWAL_WORDS = {"answer": "токен из ответа на вход", "portal": "токен сессии портала Госуслуг"}
Method = str  # how the client is signed in: "password", "esia" (Госуслуги, renewed by refresh token), "session"


@dataclass
class ImportedSession:
    """An ``at`` and cookies taken from a browser session (for servers where password login is off)."""

    at: str
    cookies: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> ImportedSession:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(at=str(data["at"]), cookies={str(k): str(v) for k, v in dict(data.get("cookies", {})).items()})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NetSchoolError(
                f"Не удалось прочитать файл сессии {path}: ожидается JSON с ключами at и cookies ({exc})"
            ) from exc


@dataclass
class ClientSettings:
    base_url: str
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    scid: int | None = None
    school_name: str | None = None
    role_group: str | None = None
    session: ImportedSession | None = field(default=None, repr=False)
    # how to sign in: "password", "esia" (the stored refresh token), "session" (an imported browser session), or
    # "auto": the stored token, then the password where logindata allows it, then the session (docs §2.1)
    auth: str = "auto"
    refresh_token: str | None = field(default=None, repr=False)
    # called with every new refresh token the server hands out, before anything else happens: it must store it
    on_token: Callable[[str], None] | None = field(default=None, repr=False)
    on_refused: Callable[[str], object] | None = field(default=None, repr=False)  # the server refused the token
    # the portal session's token (``sfd.gosuslugi.ru/session``), the other candidate of a renewal (issue #32)
    portal_token: str | None = field(default=None, repr=False)
    renewal_first: str | None = None  # the candidate the server accepted last («answer» or «portal»): tried first
    # called when a renewal succeeded: the candidate accepted, its token, the candidates the server refused before it
    on_renewal: Callable[[str, str, list[str]], None] | None = field(default=None, repr=False)
    login_note: str | None = None  # why no stored Госуслуги login can be used (said when one is needed)
    esia_url: str = DEFAULT_PORTAL  # the Госуслуги portal the login may be sent to (another one only for tests)
    esia: EsiaMethod | None = field(default=None, repr=False)  # an interactive Госуслуги login instead of auth
    concurrency: int = 2
    min_interval: float = 0.3
    timeout: float = 30.0
    verify: bool | str = True
    max_attempts: int = 5
    max_retry_seconds: float = 180.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0  # never wait longer than this for a server's Retry-After
    keepalive: bool = True
    record_dir: Path | None = None
    school_timezone: str = "Europe/Samara"


@dataclass
class Stats:
    requests: int = 0
    bytes: int = 0
    retries: int = 0
    relogins: int = 0
    security_warnings: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request sent
    # which of the tolerated variants the server showed, as Russian phrases (``survey`` prints them)
    shapes: dict[str, str] = field(default_factory=dict)
    # the same, as stable keys (issue #32: ``survey``'s bundle names the variant met for every open question)
    variants: dict[str, str] = field(default_factory=dict)


# where an ESIA login starts, in the order tried (docs/server-api.md §2.1): the bare crosslogin of the 2026 student
# client, then the login with the permissions the Android client sends
ESIA_STARTS = (
    ("crosslogin", "/webapi/sso/esia/crosslogin"),
    ("login", "/webapi/sso/esia/login?esia_permissions=1&esia_role=1"),
)


class _Transient(Exception):
    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


class _SessionExpired(Exception):
    pass


@dataclass
class LoginInfo:
    at: str
    timeout_ms: int | None
    entry_point: str | None
    user_id: int | None
    user_name: str | None
    other_session: bool
    product: str | None
    version: str | None


def password_hashes(password: str, salt: str) -> tuple[str, str]:
    """NetSchool: ``pw2 = md5(salt + md5(cp1251(password)))``, ``pw = pw2[:len(password)]``."""
    try:
        encoded = password.encode("cp1251")
    except UnicodeEncodeError as exc:
        raise LoginError("пароль содержит символы вне кодировки windows-1251 — такой пароль сервер не примет") from exc
    h1 = hashlib.md5(encoded, usedforsecurity=False).hexdigest()
    pw2 = hashlib.md5((salt + h1).encode("ascii"), usedforsecurity=False).hexdigest()
    return pw2[: len(password)], pw2


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date); 0 or garbage mean "no hint"."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
        return seconds if seconds > 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return delta if delta > 0 else None


def _is_html(resp: httpx.Response) -> bool:
    ctype = resp.headers.get("content-type", "")
    if "html" in ctype:
        return True
    head = resp.content[:200].lstrip().lower()
    return head.startswith((b"<html", b"<!doctype", b"<!--"))


def _version_tuple(version: str | None) -> tuple[int, ...]:
    if not version:
        return ()
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


def _new_tls_context(verify: bool | str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if isinstance(verify, str):
        context.load_verify_locations(cafile=verify)
    elif verify is False:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _certificate_files_stamp(verify: bool | str) -> tuple[float | None, ...]:
    """When the certificates a context was built from last changed: the ``verify`` bundle and the system's roots."""
    paths = ssl.get_default_verify_paths()
    files = [verify if isinstance(verify, str) else None, paths.cafile, paths.capath]
    return tuple(Path(f).stat().st_mtime if f is not None else None for f in files)


@functools.lru_cache(maxsize=8)
def _tls_context(verify: bool | str, _stamp: tuple[float | None, ...]) -> ssl.SSLContext:
    """A context shared by the process's clients (loading the system's roots costs ~30 ms of CPU, once per client
    before; an ``SSLContext`` serves any number of connections): rebuilt when a certificate file changes, so a
    scheduler that runs for months sees an updated bundle at its next sync."""
    return _new_tls_context(verify)


class NetSchoolClient:
    """Use as ``async with NetSchoolClient(settings) as client:`` — logs in on entry, always logs out on exit."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.stats = Stats()
        self.info: LoginInfo | None = None
        self.context: Context | None = None
        self.server_version: str | None = None
        self.server_time: datetime | None = None  # school-local time of the last response (Date header)
        self._transport = transport
        self._sleep = sleep
        self._monotonic = monotonic
        self._tz = ZoneInfo(settings.school_timezone)
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._pace_lock = asyncio.Lock()
        self._next_slot = 0.0
        self._relogin_lock = asyncio.Lock()
        self._generation = 0
        self._last_request = 0.0
        self._keepalive_task: asyncio.Task[None] | None = None
        self._record_seq = 0
        self._ver = ""
        self._http: httpx.AsyncClient | None = None
        self.method: Method | None = None
        self._refresh_token = settings.refresh_token
        self._portal_token = settings.portal_token
        self.portal_token: str | None = None  # the portal session's token met during an interactive login
        self._rng = random.Random()  # noqa: S311 - jitter for backoff and pacing, not a secret

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> NetSchoolClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        s = self.settings
        verify = self.tls_context()
        self._http = httpx.AsyncClient(
            base_url=s.base_url,
            timeout=httpx.Timeout(connect=min(10.0, s.timeout), read=s.timeout, write=s.timeout, pool=s.timeout),
            verify=verify,
            transport=self._transport,
            headers={"X-Requested-With": "XMLHttpRequest", "User-Agent": "asurso-sync (read-only)"},
            follow_redirects=False,
        )
        try:
            if s.esia is not None:
                await self.login_esia(s.esia)
            else:
                await self._sign_in()
            self.context = parse(Context, await self.get_json("/webapi/context"), "context")
        except BaseException:
            await self.close()
            raise
        if s.keepalive and self.info and self.info.timeout_ms:
            self._keepalive_task = asyncio.create_task(self._keepalive(self.info.timeout_ms / 1000 / 3))

    async def close(self) -> None:
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keepalive_task
            self._keepalive_task = None
        if self._http is None:
            return
        try:
            if self.info is not None and self.method != "session":
                # shielded: a Ctrl-C or a cancelled run still ends the session on the server
                await asyncio.shield(self._logout(self.info.at))
        except Exception as exc:  # logging out is best effort
            log.info("Выход из сессии не удался: %s", exc)
        finally:
            self.info = None
            await self._http.aclose()
            self._http = None

    def tls_context(self) -> ssl.SSLContext:
        """Certificates are checked against the system's roots plus ``verify`` when it names a bundle (the Минцифры
        root for asurso.ru and the Госуслуги portal alike); only an explicit ``verify=False`` turns checks off.
        The context is built once per process for as long as those files are unchanged (``_tls_context``)."""
        verify = self.settings.verify
        try:
            stamp = _certificate_files_stamp(verify)
        except OSError:
            return _new_tls_context(verify)  # a bundle that cannot be read: its error, as ever, from ssl
        return _tls_context(verify, stamp)

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("client is not open")
        return self._http

    # --- login ----------------------------------------------------------------------------------

    async def _sign_in(self) -> None:
        """Sign in the way ``settings.auth`` says (docs/server-api.md §2.1 «Which way to sign in»)."""
        s = self.settings
        if s.auth == "session" or (
            s.auth == "auto" and s.session is not None and s.password is None and not self.renewal_candidates()
        ):
            await self._import_session(self._need_session())
            return
        if s.auth == "password":
            await self.login()
            return
        if s.auth == "esia":
            await self.renew()
            return
        flags = await self._logindata()
        password_allowed = not (flags.get("schoolLogin") is False or flags.get("esiaMainAuth") is True)
        if self.renewal_candidates():
            try:
                await self.renew(flags=flags)
                return
            except RenewalRefused:
                if not (password_allowed and s.password is not None):
                    raise
                log.warning("Сервер не продлил вход через Госуслуги — входим по паролю")
        if password_allowed and s.password is not None:
            await self.login(flags=flags)
            return
        if s.session is not None:
            await self._import_session(s.session)
            return
        if not password_allowed:
            raise EsiaLoginRequired(
                s.login_note or "Сервер принимает только вход через Госуслуги, а сохранённого входа нет."
            )
        raise EsiaLoginRequired(
            "Не задан пароль ([asurso] password_env или password_command) и нет сохранённого входа через Госуслуги."
        )

    def _need_session(self) -> ImportedSession:
        if self.settings.session is None:
            raise EsiaLoginRequired(
                'Задан вход по сохранённой сессии браузера ([asurso] auth = "session"), но файла сессии нет.'
            )
        return self.settings.session

    async def _logindata(self) -> dict[str, Any]:
        data = await self._public_json("GET", "/webapi/logindata")
        self.server_version = data.get("version")
        return dict(data)

    def _origin(self) -> str:
        parts = urlsplit(self.settings.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    async def login(self, *, rolegroup: str | None = None, flags: dict[str, Any] | None = None) -> LoginInfo:
        """The password login (docs/server-api.md §2). Raises on refusal; never retries a refused login."""
        s = self.settings
        if not s.login or s.password is None:
            raise LoginError("не заданы логин или пароль")
        data = flags if flags is not None else await self._logindata()
        if data.get("schoolLogin") is False or data.get("esiaMainAuth") is True:
            raise PasswordLoginDisabled()
        scid = s.scid or await self._resolve_scid()
        auth = await self._public_json("POST", "/webapi/auth/getdata")
        if not isinstance(auth, dict) or not all(auth.get(k) for k in ("lt", "ver", "salt")):
            raise PasswordLoginDisabled()
        pw, pw2 = password_hashes(s.password, str(auth["salt"]))
        form = {
            "loginType": "1",
            "scid": str(scid),
            "un": s.login,
            "pw": pw,
            "pw2": pw2,
            "lt": str(auth["lt"]),
            "ver": str(auth["ver"]),
        }
        if rolegroup is not None:
            form["rolegroup"] = rolegroup
        resp = await self._retrying(
            "POST", "/webapi/login", retry=False, data=form, headers={"Referer": f"{self._origin()}/"}
        )
        if resp.status_code != 200:
            message = _message(resp)
            if "ошибка входа в систему" in message.lower():  # the server's database is down, not the password
                raise LoginUnavailable(message)
            if "не ранее" in message or "заблокирован" in message.lower():
                raise LoginLockedError(message)
            raise LoginError(message or f"HTTP {resp.status_code}")
        self.method = "password"
        return await self._accept(resp, data, str(auth["ver"]), rolegroup, lambda g: self.login(rolegroup=g))

    def renewal_candidates(self) -> list[tuple[str, str]]:
        """The tokens a renewal may offer, in the stated order (docs/server-api.md §2.1, issue #32): the one the
        server accepted last; then the login answer's ``refreshToken`` (the server hands it out for this, every
        answer brings the next one); then the portal session's ``token`` (the only one seen accepted by asurso.ru,
        in one third-party app — a portal JWT with its own expiry)."""
        tokens = {"answer": self._refresh_token, "portal": self._portal_token}
        order = [self.settings.renewal_first, *RENEWAL_ORDER]
        seen: list[tuple[str, str]] = []
        for kind in order:
            token = tokens.get(kind or "")
            if kind and token and kind not in (k for k, _ in seen):
                seen.append((kind, token))
        return seen

    async def renew(
        self, *, flags: dict[str, Any] | None = None, rolegroup: str | None = None, only: str | None = None
    ) -> LoginInfo:
        """The Госуслуги login renewed without a person: ``LoginType=9`` with each candidate token in turn
        (``renewal_candidates``) until the server accepts one; which one is recorded (``on_renewal``,
        ``stats.variants["renewal_token"]``). Only when every candidate is refused is it ``RenewalRefused``; a
        server or network failure is not (the tokens stay good)."""
        s = self.settings
        candidates = [c for c in self.renewal_candidates() if only is None or c[0] == only]
        if not candidates:
            raise EsiaLoginRequired(s.login_note or "Нет сохранённого входа через Госуслуги.")
        data = flags if flags is not None else await self._logindata()
        refused: list[str] = []
        messages: list[str] = []
        for kind, token in candidates:
            form = {"LoginType": "9", "grant_type": "refresh_token", "refresh_token": token}
            if rolegroup is not None:
                form["rolegroup"] = rolegroup
            # never retried: the server spends the token on the first try that reaches it
            resp = await self._retrying(
                "POST", "/webapi/login", retry=False, data=form, headers={"Referer": f"{self._origin()}/"}
            )
            if resp.status_code == 200:
                self.method = "esia"
                self.stats.variants["renewal_token"] = kind
                if refused:
                    log.info(
                        "Продление входа: сервер принял %s, отклонив: %s",
                        RENEWAL_WORDS.get(kind, kind),
                        ", ".join(RENEWAL_WORDS.get(r, r) for r in refused),
                    )
                if s.on_renewal is not None:
                    s.on_renewal(kind, token, refused)
                again = functools.partial(self._renew_as, data, kind)
                return await self._accept(resp, data, "", rolegroup, again)
            message = _message(resp)
            if "ошибка входа в систему" in message.lower():
                raise LoginUnavailable(message)
            refused.append(kind)
            messages.append(message or f"HTTP {resp.status_code}")
            if kind == "answer":
                self._refresh_token = None  # refused: never offered again by this client
            else:
                self._portal_token = None
        reason = (
            messages[0]
            if len(set(messages)) == 1
            else "; ".join(f"{RENEWAL_WORDS[k]}: {m}" for k, m in zip(refused, messages, strict=True))
        )
        if s.on_refused is not None:
            s.on_refused(reason)
        raise RenewalRefused(reason)

    async def _renew_as(self, flags: dict[str, Any], kind: str, rolegroup: str) -> LoginInfo:
        """The renewal again with the role group chosen, with the candidate the server has just accepted."""
        return await self.renew(flags=flags, rolegroup=rolegroup, only=kind)

    async def login_esia(self, method: EsiaMethod) -> LoginInfo:
        """The interactive Госуслуги login (docs/server-api.md §2.1): crosslogin to the portal, the portal's steps,
        back to NetSchool for ``loginState``, account-info and a choice, then ``loginType=8``."""
        s = self.settings
        flags = await self._logindata()
        if flags.get("esiaLogin") is False:
            raise EsiaRefused("ESIA_OFF")
        portal = httpx.AsyncClient(
            timeout=httpx.Timeout(s.timeout),
            verify=self.tls_context(),
            transport=self._transport,
            follow_redirects=False,
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) asurso-sync"},
        )
        async with portal:

            async def start() -> None:
                # the 2026 clients' order (issue #32): the bare crosslogin; the parametrised login as the fallback
                final = ""
                for kind, path in ESIA_STARTS:
                    try:
                        final = (await self._walk(portal, path))[-1]
                    except EsiaUnavailable:
                        if kind == ESIA_STARTS[-1][0]:
                            raise
                        continue
                    self.stats.variants["esia_start"] = kind
                    break
                if not final.startswith(s.esia_url.rstrip("/") + "/"):
                    where = urlsplit(final)
                    raise EsiaUnavailable(
                        f"сервер отправил на {where.scheme}://{where.netloc}, а не на портал Госуслуг {s.esia_url} "
                        "(пароль туда не отправлен)"
                    )

            await start()
            send = functools.partial(self._portal, portal)
            back = await EsiaPortal(portal, s.esia_url, method, send=send, sleep=self._sleep, restart=start).sign_in()
            self.portal_token = await self._portal_session_token(portal)
            seen = await self._walk(portal, back)
        found = [m.group(1) for u in seen for m in [re.search(r"loginState=([A-Za-z0-9-]+)", u)] if m]
        if not found:
            raise EsiaUnavailable("после Госуслуг сервер журнала не выдал состояние входа (loginState)")
        state = found[-1]
        info = await self._public_json("GET", "/webapi/sso/esia/account-info", params={"loginState": state})
        users = [u for u in (info.get("users") or []) if isinstance(u, dict) and u.get("id") is not None]
        if not users:
            raise EsiaRefused("NO_LINKED_USER")
        index = 0
        if len(users) > 1:
            index = method.prompter.choose([user_label(u) for u in users], preferred_user(users, s.scid, s.school_name))
        user = users[index]
        form = {"loginType": "8", "lscope": str(user["id"]), "idp": "esia", "loginState": state}
        roles = [r for r in user.get("roles") or [] if isinstance(r, dict) and r.get("id") is not None]
        if len(roles) > 1:
            form["rolegroup"] = self._pick_role_group([{"role": r} for r in roles])
        elif roles:
            form["rolegroup"] = str(roles[0]["id"])
        resp = await self._retrying(
            "POST", "/webapi/auth/login", retry=False, data=form, headers={"Referer": f"{self._origin()}/"}
        )
        if resp.status_code != 200:
            raise LoginError(_message(resp) or f"HTTP {resp.status_code}")
        self.method = "esia"
        return await self._accept(
            resp, flags, "", form.get("rolegroup"), lambda g: self.renew(flags=flags, rolegroup=g)
        )

    async def _portal_session_token(self, portal: httpx.AsyncClient) -> str | None:
        """The portal session's own token (``POST sfd.gosuslugi.ru/session`` → ``{"token"}``), which the one
        third-party asurso.ru app seen renewing sends as ``refresh_token`` (issue #32): the renewal's second
        candidate. Best effort: a portal without it leaves the login answer's token alone."""
        url = session_url(self.settings.esia_url)
        token: Any = None
        try:
            resp = await self._portal(portal, "POST", url)
            body = resp.json() if resp.status_code == 200 else None
            token = body.get("token") if isinstance(body, dict) else None
        except (NetSchoolError, ValueError) as exc:
            log.info("Токен сессии портала Госуслуг не получен: %s", exc)
        got = token if isinstance(token, str) and token else None
        self.stats.variants["portal_token"] = "issued" if got else "absent"
        return got

    async def _walk(self, portal: httpx.AsyncClient, url: str) -> list[str]:
        """Follow a redirect chain by hand across NetSchool (through the read-only gate) and the portal (or any
        host between, GETs only); every URL visited or named in ``Location``, last the final one."""
        ns = self._origin()
        seen: list[str] = []
        current = urljoin(ns + "/", url)
        for _ in range(20):
            seen.append(current)
            on_portal = current.startswith(self.settings.esia_url.rstrip("/") + "/")
            if not on_portal and urlsplit(current)._replace(path="", query="", fragment="").geturl() == ns:
                resp = await self._retrying("GET", current[len(ns) :] or "/")
            else:
                resp = await self._portal(portal, "GET", current)
            location = resp.headers.get("location")
            if resp.status_code in _REDIRECTS and location:
                current = urljoin(current, location)
                continue
            if resp.status_code >= 400:
                where = urlsplit(current)
                raise EsiaUnavailable(f"{where.scheme}://{where.netloc}{where.path} ответил {resp.status_code}")
            return seen
        raise EsiaUnavailable("слишком длинная цепочка перенаправлений")

    async def _accept(
        self,
        resp: httpx.Response,
        data: dict[str, Any],
        ver: str,
        rolegroup: str | None,
        again: Callable[[str], Awaitable[LoginInfo]],
    ) -> LoginInfo:
        """What every successful login answer means: the new refresh token stored first, the session cookie, a
        role to choose, another session's warning."""
        s = self.settings
        raw = resp.json()
        token = raw.get("refreshToken") if isinstance(raw, dict) else None
        if self.method == "esia" and isinstance(token, str) and token:
            self._refresh_token = token
            if s.on_token is not None:
                s.on_token(token)  # the old one is spent: store the new one before anything can fail
        self._keep_session_cookie(resp)
        body = parse(LoginResponse, raw, "login")
        self._ver = ver
        entry = body.entryPoint or ""
        if "choose-session-role" in entry.lower() and rolegroup is None:
            group = self._pick_role_group((body.accountInfo or {}).get("userRoles") or [])
            await self._logout(body.at)
            return await again(group)
        user = (body.accountInfo or {}).get("user") or {}
        warned = "securitywarning" in entry.lower()
        warn_type, atlist = _security_warning(entry, body.requestData)
        other = warned and bool(atlist)  # another session only when the server lists its ids
        self.info = LoginInfo(
            body.at,
            body.timeOut,
            body.entryPoint,
            user.get("id"),
            user.get("name"),
            other,
            data.get("productName") if isinstance(data, dict) else None,
            self.server_version,
        )
        self.http.headers["at"] = body.at
        self._generation += 1
        if other:
            self.stats.security_warnings += 1
            log.warning(
                "Под учётной записью %s открыт другой сеанс (предупреждение сервера SecurityWarning)", s.login or "—"
            )
        elif warned:  # warnType 1 without a session list: the server's routine notice on an ordinary login
            log.info("Сервер показал SecurityWarning (тип %s) без списка других сеансов — подтверждаем", warn_type)
        self.stats.shapes["SecurityWarning"] = (
            "другой сеанс (atlist)"
            if other
            else f"обычное уведомление (warnType {warn_type}) без других сеансов"
            if warned
            else "нет"
        )
        if warned:  # acknowledged with WarnType 2 («continue»), whatever type the server showed
            await self._ack_security_warning()
        return self.info

    def _keep_session_cookie(self, resp: httpx.Response) -> None:
        """A login answer sets ``ESRNSec`` twice (docs/server-api.md §2): the order a browser can live with is the
        deletion first, then the value — a standard jar handles that alone. Should the empty one come last, a jar
        would keep it and every later call would be refused (401): the last non-empty value wins either way.
        ``stats.shapes["ESRNSec"]`` names the order met and ``stats.variants["esrnsec"]`` its key (survey)."""
        values = [
            v.split(";", 1)[0].partition("=")[2].strip()
            for v in resp.headers.get_list("set-cookie")
            if v.split("=", 1)[0].strip() == "ESRNSec"
        ]
        good = next((v for v in reversed(values) if v), None)
        variant, said = (
            ("absent", "не выдан")
            if not values
            else ("once", "выдан один раз")
            if len(values) == 1
            else ("empty_last", f"выдан {len(values)} раза, последний пустой — сохранён непустой")
            if not values[-1]
            else ("deletion_then_value", f"выдан {len(values)} раза: сначала удалён, затем значение")
            if not values[0]
            else ("several", f"выдан {len(values)} раза")
        )
        self.stats.shapes["ESRNSec"] = said
        self.stats.variants["esrnsec"] = variant
        if good is None or values[-1] == good:
            return
        jar = self.http.cookies.jar
        places = [(c.domain, c.path) for c in jar if c.name == "ESRNSec"]
        for domain, path in places:
            jar.clear(domain, path, "ESRNSec")
        domain, path = places[0] if places else ("", "/")
        self.http.cookies.set("ESRNSec", good, domain=domain, path=path or "/")

    def _pick_role_group(self, roles: list[dict[str, Any]]) -> str:
        wanted = (self.settings.role_group or "").casefold()
        options = [(str((r.get("role") or {}).get("id")), str((r.get("role") or {}).get("name", ""))) for r in roles]
        for rid, name in options:
            if wanted and wanted == name.casefold():
                return rid
        if not wanted:
            for rid, name in options:
                if any(w in name.casefold() for w in STAFF_ROLE_WORDS):
                    return rid
        names = ", ".join(n for _, n in options) or "нет"
        raise LoginError(f"у учётной записи несколько ролей ({names}); укажите нужную в [asurso] role_group")

    async def _resolve_scid(self) -> int:
        name = self.settings.school_name
        if not name:
            raise LoginError("не задан номер школы: укажите [school] scid")
        found = await self._public_json("GET", "/webapi/schools/search", params={"name": name})
        items = found if isinstance(found, list) else []
        exact = [
            x
            for x in items
            if name.casefold() in (str(x.get("shortName", "")).casefold(), str(x.get("name", "")).casefold())
        ]
        pick = exact or (items if len(items) == 1 else [])
        if len(pick) != 1:
            raise LoginError(f"школа «{name}» не найдена однозначно ({len(items)} вариантов): укажите [school] scid")
        return int(pick[0]["id"])

    async def _import_session(self, session: ImportedSession) -> None:
        self.method = "session"
        for name, value in session.cookies.items():
            self.http.cookies.set(name, value)
        self.http.headers["at"] = session.at
        self.info = LoginInfo(session.at, None, None, None, None, False, None, None)
        self._generation += 1

    async def _ack_security_warning(self) -> None:
        at = self.http.headers.get("at", "")
        await self._retrying("POST", "/asp/SecurityWarning.asp", data={"at": at, "WarnType": "2", "VER": self._ver})

    async def _logout(self, at: str) -> None:
        if _version_tuple(self.server_version) and _version_tuple(self.server_version) < (5, 29):
            await self._retrying("POST", "/asp/logout.asp", retry=False, data={"at": at, "VER": self._ver})
        else:
            resp = await self._retrying(
                "POST", "/webapi/auth/logout", retry=False, data={"at": at, "ver": self._ver}, headers={"at": at}
            )
            if resp.status_code not in (200, 204, 401):  # 401: already logged out
                log.info("Выход из сессии: сервер ответил %s", resp.status_code)

    async def _relogin(self, generation: int) -> None:
        async with self._relogin_lock:
            if self._generation != generation:
                return  # a concurrent request has already logged in again
            if self.method == "esia":
                log.info("Сессия истекла — повторный вход через Госуслуги (продление)")
                self.stats.relogins += 1
                await self.renew()
                return
            if self.method == "session" or self.settings.password is None:
                raise SessionLost("сохранённая сессия истекла; войдите в браузере и обновите файл сессии")
            log.info("Сессия истекла — повторный вход")
            self.stats.relogins += 1
            await self.login()

    async def _keepalive(self, interval: float) -> None:
        interval = max(1.0, min(interval, 300.0))
        while True:
            await self._sleep(interval)
            if self._monotonic() - self._last_request >= interval:
                try:
                    await self.get_json("/webapi/context")
                except Exception as exc:
                    log.info("Поддержание сессии: %s", exc)

    # --- requests -------------------------------------------------------------------------------

    async def get_json(self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        """An authenticated, retried, re-login-once GET returning parsed JSON."""
        return (await self.get_json_dated(path, params))[0]

    async def get_json_dated(
        self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    ) -> tuple[Any, datetime | None]:
        """Like :meth:`get_json`, plus the server's time (school-local) from this response's ``Date``."""
        resp = await self._authed("GET", path, params=params)
        try:
            return _json(resp), self._local_date(resp)
        except ValueError as exc:
            raise HTTPStatusError(path, resp.status_code, "ответ не в формате JSON") from exc

    async def post_read_json(self, path: str, json_body: Any) -> Any:
        """A reading POST (only the allowlisted ones, e.g. ``terms/search``)."""
        resp = await self._authed("POST", path, json=json_body)
        try:
            return _json(resp)
        except ValueError as exc:
            raise HTTPStatusError(path, resp.status_code, "ответ не в формате JSON") from exc

    async def get_html(self, path: str) -> str:
        """An authenticated GET of an HTML page (a report file): HTML here is the answer, not a lost session."""
        return (await self._authed("GET", path, html_ok=True)).text

    async def post_read_form_html(self, path: str, form: Mapping[str, Any]) -> str:
        """A reading form POST of the legacy ASP pages (allowlisted), with ``at`` and ``VER`` added."""
        data = {"at": self.http.headers.get("at", ""), "VER": self._ver or "", **form}
        return (await self._authed("POST", path, data=data, html_ok=True)).text

    @property
    def has_core_hub(self) -> bool:
        """The ASP.NET Core SignalR hub this client speaks exists from 5.29 on (older servers run SignalR 2)."""
        version = _version_tuple(self.server_version)
        return not version or version >= (5, 29)

    async def probe(self, path: str, params: Mapping[str, Any] | None = None) -> int | None:
        """One authenticated GET whose answer does not matter (``earlyaccess`` before the hub): its status, or
        None when it could not be made (retries exhausted, or any error of the client's). Never a re-login."""
        try:
            resp = await self._retrying("GET", path, params=params)
        except NetSchoolError as exc:
            log.info("%s: %s", path, exc)
            return None
        return resp.status_code

    async def hub_run_task(self, task_id: int, queue_key: str | None, *, timeout: float) -> str:
        """Run an already queued report task on the hub (the order of clients before 2026)."""

        async def queued() -> tuple[int, str | None]:
            return task_id, queue_key

        return await self.hub_run(queued, timeout=timeout)

    async def hub_run(self, queue: Callable[[], Awaitable[tuple[int, str | None]]], *, timeout: float) -> str:
        """Connect to the SignalR hub (ASP.NET Core JSON protocol), then queue the report (``queue`` — the HTTP
        call, made while connected, as current clients do), start its task and return the file id.

        The hub gets the session token in the query and the session cookies; frames are JSON separated by
        0x1E. Never waits longer than ``timeout`` seconds in total."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        parts = urlsplit(self.settings.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}/webapi/signalr/queueHub?at={self.http.headers.get('at', '')}"
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        context: ssl.SSLContext | None = None
        if scheme == "wss":
            context = self.tls_context()
        self.stats.requests += 1
        self.stats.calls.append(("WS", "/webapi/signalr/queuehub"))
        try:
            async with asyncio.timeout(timeout):
                async with connect(
                    url, additional_headers={"Cookie": cookie} if cookie else None, ssl=context, open_timeout=timeout
                ) as ws:
                    await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
                    buffer, sent = "", False
                    while True:
                        while RS not in buffer:
                            chunk = await ws.recv()
                            buffer += chunk if isinstance(chunk, str) else chunk.decode("utf-8")
                        frame, _, buffer = buffer.partition(RS)
                        msg = json.loads(frame or "{}")
                        if not sent:  # the handshake answer: {} or {"error": ...}
                            if msg.get("error"):
                                raise ReportError(f"хаб отчётов отказал: {msg['error']}")
                            task_id, queue_key = await queue()
                            args: list[Any] = [task_id, queue_key] if queue_key else [task_id, "report-v2"]
                            target = "startTaskAsync" if queue_key else "startTask"
                            invocation = {"arguments": args, "invocationId": "0", "target": target, "type": 1}
                            await ws.send(json.dumps(invocation) + RS)
                            sent = True
                            continue
                        kind, name = msg.get("type"), str(msg.get("target", "")).lower()
                        if kind == 3 and isinstance(msg.get("result"), dict) and not msg["result"].get("success", True):
                            raise ReportError(f"отчёт не построен: {msg['result'].get('message') or 'ошибка'}")
                        if kind == 3 and msg.get("error"):
                            raise ReportError(f"отчёт не построен: {msg['error']}")
                        if kind == 1 and name == "complete":
                            data = (msg.get("arguments") or [{}])[0]
                            return str(data.get("data") or data.get("Data"))
                        if kind == 1 and name == "error":
                            data = (msg.get("arguments") or [{}])[0]
                            raise ReportError(f"отчёт не построен: {data.get('details') or data.get('Details')}")
                        if kind == 7:
                            raise ReportError(f"хаб отчётов закрыл соединение: {msg.get('error') or ''}")
        except TimeoutError:
            raise ReportError(f"отчёт не построен за {timeout:.0f} с") from None
        except (WebSocketException, OSError) as exc:
            raise ReportError(f"нет соединения с хабом отчётов: {exc}") from exc
        except (ValueError, AttributeError) as exc:  # a frame cut off or not the hub's JSON
            raise ReportError(f"хаб отчётов прислал непонятное сообщение ({exc})") from exc

    async def _authed(self, method: str, path: str, *, html_ok: bool = False, **kw: Any) -> httpx.Response:
        """An authenticated request under the policy (``expect_json`` unless ``html_ok``), a SecurityWarning
        acknowledged, an expired session renewed once, 4xx classified."""
        for attempt in (1, 2):
            generation = self._generation
            acks = 0
            while True:
                resp = await self._retrying(method, path, expect_json=not html_ok, **kw)
                if resp.status_code == 200 and _is_html(resp) and "securitywarning" in resp.text.lower() and acks < 2:
                    acks += 1
                    self.stats.security_warnings += 1
                    log.warning("Сервер сообщает о другом сеансе этой учётной записи (SecurityWarning) — подтверждаем")
                    await self._ack_security_warning()
                    continue
                break
            expired = resp.status_code == 401 or (resp.status_code == 200 and _is_html(resp) and not html_ok)
            if expired:
                if attempt == 2:
                    raise SessionLost(f"{path}: {resp.status_code}")
                await self._relogin(generation)
                continue
            if resp.status_code == 403:
                if _is_html(resp):
                    raise FirewallBlocked(path)
                raise AccessDenied(path, _message(resp))
            if resp.status_code >= 400:
                raise HTTPStatusError(path, resp.status_code, _message(resp))
            return resp
        raise AssertionError("unreachable")

    async def _public_json(self, method: str, path: str, **kw: Any) -> Any:
        """A call before login. The first one (``logindata``) also tells whether the address is a NetSchool
        server at all: a 404 or an HTML page there is a wrong address, never a passing server problem."""
        resp = await self._retrying(method, path, **kw)  # logindata, getdata, school search: all safe to repeat
        if resp.status_code == 403 and _is_html(resp):
            raise FirewallBlocked(path)
        first = path.endswith("/logindata")
        if first and (resp.status_code in (404, 405) or (resp.status_code < 400 and _is_html(resp))):
            raise NotNetSchool(self.settings.base_url, f"на {path} ответ {resp.status_code}, {_message(resp)}")
        if resp.status_code >= 400:
            raise HTTPStatusError(path, resp.status_code, _message(resp))
        try:
            data = resp.json()
        except ValueError as exc:
            if first:
                raise NotNetSchool(self.settings.base_url, f"на {path} ответ не в формате JSON") from exc
            raise HTTPStatusError(path, resp.status_code, "ответ не в формате JSON") from exc
        if first and not isinstance(data, dict):
            raise NotNetSchool(self.settings.base_url, f"на {path} пришло не то, что отдаёт сервер журнала")
        return data

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.retry_after_max)
        ceiling = min(self.settings.backoff_max, 0.5 * 2 ** (state.attempt_number - 1))
        return self._rng.uniform(0, ceiling)  # full jitter

    async def _policy(
        self,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        retry: bool,
        give_up: Callable[[str, int], Exception],
        expect_json: bool = False,
    ) -> httpx.Response:
        """The one retry and classification policy every request passes (NetSchool's and the Госуслуги portal's).

        ``send`` makes one attempt and turns a transport failure into ``_Transient`` (``_transport_error``); here a
        5xx, a 429 (``Retry-After`` honoured up to ``retry_after_max``) and a JSON body that does not parse (a
        truncated answer) are ``_Transient`` too. A transient failure is retried when ``retry`` (idempotent
        requests; never a login POST, which a second try could turn into a lock or a spent token), with full-jitter
        backoff, attempts and total time capped; what stays transient becomes ``give_up(detail, attempts)`` — an
        error of the client's classes. Nothing else leaves this method but a response or a ``NetSchoolError``
        (or a bug)."""
        s = self.settings
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(s.max_attempts if retry else 1) | stop_after_delay(s.max_retry_seconds),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._count_retry,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return _checked(await send(), expect_json)
        except _Transient as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise give_up(exc.detail, attempts) from None
        raise AssertionError("unreachable")

    async def _retrying(
        self, method: str, path: str, *, retry: bool = True, expect_json: bool = False, **kw: Any
    ) -> httpx.Response:
        """A NetSchool request through the gate (``_raw``) under the policy; ``retry=False`` for login POSTs."""

        def give_up(detail: str, attempts: int) -> Exception:
            return ServerUnavailable(path, detail, attempts)

        return await self._policy(
            lambda: self._raw(method, path, **kw), retry=retry, give_up=give_up, expect_json=expect_json
        )

    async def _portal(self, portal: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
        """A request to the Госуслуги portal under the same policy: GETs retried, POSTs (a password, a code) never;
        what stays transient is ``EsiaUnavailable``."""
        host = urlsplit(url).netloc

        async def send() -> httpx.Response:
            try:
                return await portal.request(method, url, **kw)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, host) from exc

        def give_up(detail: str, attempts: int) -> Exception:
            tries = f", попыток: {attempts}" if attempts > 1 else ""
            return EsiaUnavailable(f"{host} не отвечает ({detail}{tries})")

        return await self._policy(send, retry=method == "GET", give_up=give_up)

    def _count_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.info("Повтор запроса (%s), попытка %s", exc, state.attempt_number + 1)

    async def _pace(self) -> None:
        interval = self.settings.min_interval
        if interval <= 0:
            return
        async with self._pace_lock:
            now = self._monotonic()
            start = max(now, self._next_slot)
            self._next_slot = start + interval * self._rng.uniform(0.8, 1.2)
        if start > now:
            await self._sleep(start - now)

    async def _raw(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The single gate every request passes: read-only check, politeness, errors mapped, recording."""
        norm = "/" + path.lower().lstrip("/").split("?")[0]
        if method != "GET" and not (method == "POST" and norm in READ_POSTS):
            raise ReadOnlyViolation(f"{method} {path} не входит в список разрешённых чтений")
        async with self._sem:
            await self._pace()
            self.stats.requests += 1
            self.stats.calls.append((method, norm))
            self._last_request = self._monotonic()
            try:
                resp = await self.http.request(method, path, **kw)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, urlsplit(self.settings.base_url).netloc) from exc
        self.stats.bytes += len(resp.content)
        self.stats.by_status[resp.status_code] = self.stats.by_status.get(resp.status_code, 0) + 1
        self._note_date(resp)
        if self.settings.record_dir is not None:
            self._record(method, path, kw, resp)
        return resp

    def _transport_error(self, exc: httpx.TransportError, host: str) -> Exception:
        """What a request that got no (whole) answer means: a timeout, a reset or a cut-off answer is passing
        (``_Transient``, retried by the policy); a failed connection is classified by ``_connect_error``; anything
        else (a malformed URL, an unsupported scheme) is a bug and propagates as it is."""
        if isinstance(exc, httpx.TimeoutException):
            what = "не удалось подключиться" if isinstance(exc, httpx.ConnectTimeout) else "сервер не ответил"
            return _Transient(f"{what} за {self.settings.timeout:g} с")
        if isinstance(exc, httpx.ConnectError):
            return self._connect_error(exc, host)
        if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return _Transient(f"соединение разорвано ({os_error_text(exc) if exc.__cause__ else 'посреди ответа'})")
        return exc

    def _connect_error(self, exc: httpx.ConnectError, host: str) -> Exception:
        """What a failed connection means (docs/server-api.md §5 «Connection errors»): a certificate the machine
        does not trust, a port that does not speak TLS, a name that does not resolve — each the user's to fix, not
        retried — or a passing network problem (retried)."""
        *_, cause = chain(exc)  # the innermost: an ssl.SSLError, a gaierror, an OSError
        text = str(exc)
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE" in text.upper():
            return TLSVerificationError(text if host == urlsplit(self.settings.base_url).netloc else f"{host}: {text}")
        if isinstance(cause, ssl.SSLError) or "SSL" in text.upper():
            reason = getattr(cause, "reason", None) or text
            return TLSProtocolError(self.settings.base_url, str(reason))
        if isinstance(cause, socket.gaierror) and cause.errno in _NAME_UNKNOWN:
            return AddressNotFound(host, "DNS")
        return _Transient(f"нет соединения с {host}: {os_error_text(exc)}")

    def _local_date(self, resp: httpx.Response) -> datetime | None:
        raw = resp.headers.get("date")
        if not raw:
            return None
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(self._tz).replace(tzinfo=None)

    def _note_date(self, resp: httpx.Response) -> None:
        when = self._local_date(resp)
        if when is not None:
            self.server_time = when

    def _record(self, method: str, path: str, kw: Mapping[str, Any], resp: httpx.Response) -> None:
        directory = self.settings.record_dir
        assert directory is not None
        self._record_seq += 1
        # every secret masked (adapters/redaction.py): the session's at and the other sessions' (atlist), the
        # Госуслуги code, state and loginState in a path or a Location, tokens, password hashes
        known = [
            v
            for v in (self.http.headers.get("at"), self._refresh_token, self._portal_token, self.settings.password)
            if v
        ]
        path = redact_text(path, known)
        slug = re.sub(r"[^a-z0-9]+", "_", path.lower().replace(MASK, "")).strip("_")[:80]
        target = directory / f"{self._record_seq:05d}-{method}-{slug}.json"
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        entry = {
            "request": {
                "method": method,
                "path": path,
                "params": redact_request(dict(kw.get("params") or {}), known),
                "form": redact_request(dict(kw.get("data") or {}), known),
                "json": redact_data(kw.get("json"), known),
            },
            "response": {
                "status": resp.status_code,
                "headers": {
                    k: redact_text(v, known) for k, v in resp.headers.items() if k.lower() not in ("set-cookie", "at")
                },
                "body": redact_data(body, known),
            },
        }
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # payloads hold personal data
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(entry, fh, ensure_ascii=False, indent=1)


def _checked(resp: httpx.Response, expect_json: bool) -> httpx.Response:
    """The policy's look at an answer: 5xx and 429 are passing (``_Transient``); so is a JSON answer that does not
    parse where JSON is expected (a body cut off mid-way that the transport did not notice)."""
    if resp.status_code in (500, 502, 503, 504):
        raise _Transient(f"HTTP {resp.status_code}")
    if resp.status_code == 429:
        raise _Transient("HTTP 429", parse_retry_after(resp.headers.get("retry-after")))
    if expect_json and resp.status_code == 200 and "json" in resp.headers.get("content-type", ""):
        try:
            resp.extensions[_PARSED] = resp.json()  # parsed once: the reader takes it from here (``_json``)
        except ValueError:
            raise _Transient(f"ответ пришёл не целиком ({len(resp.content)} байт)") from None
    return resp


def _json(resp: httpx.Response) -> Any:
    """The answer's JSON, parsed by the policy when it expected JSON (else parsed here; ValueError if not JSON)."""
    if _PARSED in resp.extensions:
        return resp.extensions[_PARSED]
    return resp.json()


def _security_warning(entry: str, data: Mapping[str, Any] | None) -> tuple[str, str]:
    """(warnType, atlist) of a SecurityWarning login: from ``requestData`` or the entry point's query."""
    query = {k.lower(): v[-1] for k, v in parse_qs(urlsplit(entry).query).items()}
    fields = {str(k).lower(): v for k, v in (data or {}).items()}
    warn_type = str(fields.get("warntype") or query.get("warntype") or "2")
    atlist = str(fields.get("atlist") or query.get("atlist") or "").strip()
    return warn_type, atlist


# getaddrinfo's «no such name» (a typo, a name that does not exist); EAI_AGAIN (the resolver did not answer)
# stays a passing problem
_NAME_UNKNOWN = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, n)}


def _message(resp: httpx.Response) -> str:
    """The server's own words for an error: its JSON message, an HTML page's title (never the page), or the
    start of a plain text."""
    if _is_html(resp):
        title = re.search(r"<title[^>]*>(.*?)</title>", resp.text, re.IGNORECASE | re.DOTALL)
        text = " ".join(title.group(1).split())[:120] if title else ""
        return f"HTML-страница «{text}»" if text else "HTML-страница"
    try:
        data = resp.json()
    except ValueError:
        return " ".join(resp.text[:200].split())
    if isinstance(data, dict):
        parts = [str(data.get("message") or ""), str(data.get("details") or "")]
        return ", ".join(p for p in parts if p and p != "None")
    return str(data)[:200]
