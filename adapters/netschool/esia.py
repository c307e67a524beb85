"""The Госуслуги (ESIA) portal's part of a NetSchool login: login + password with every second factor, or a QR
code for the Госуслуги app. Returns the portal's ``redirect_url`` back to NetSchool; the NetSchool steps around it
(crosslogin, account-info, ``loginType=8``) are the client's (``NetSchoolClient.login_esia``).

Shapes and steps: docs/server-api.md §2.1. A person takes part (codes, the QR scan, a choice): everything they
see or type goes through a ``Prompter``; the Госуслуги password is used for one request and kept nowhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from adapters.netschool.errors import EsiaRefused, EsiaUnavailable

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# how the portal is asked: one request under the client's retry and classification policy
# (``NetSchoolClient._portal``); answers 5xx/429 and transport failures arrive as ``EsiaUnavailable``
Send = Callable[..., Awaitable[httpx.Response]]
DEFAULT_PORTAL = "https://esia.gosuslugi.ru"
# where the portal's front-end gets its session token ({"token": JWT}; issue #32: a renewal candidate)
PORTAL_SESSION = "https://sfd.gosuslugi.ru/session"
_QR_GONE = ("QR_AUTHORIZATION_SESSION_EXPIRED", "QR_CODE_SESSION_NOT_FOUND", "QR_CODE_SESSION_OUTDATED")
_QR_BUSY = "ESIA-007110"  # the portal's passing refusal of a QR session: retried after a pause
_MAX_STEPS = 12
POLL_SECONDS = 2.0  # how often to ask the portal whether the push was confirmed


class Prompter(Protocol):
    """The person at the terminal (or the demo playing them)."""

    def ask_code(self, kind: str, details: Mapping[str, Any]) -> str:
        """A one-time code: ``kind`` is SMS, TOTP, MAX or ANOMALY (the portal's «unusual login» SMS check)."""

    def show_qr(self, content: str, attempt: int, seconds: float) -> None:
        """Show a QR code with ``content`` (``gosuslugi://auth/signed_token=…``) to scan within ``seconds``."""

    def push_waiting(self, seconds: float) -> None:
        """The portal sent a push to the Госуслуги app; the person confirms it there."""

    def choose(self, options: Sequence[str], preferred: int | None) -> int:
        """Index of the chosen option (several NetSchool users linked to the Госуслуги account)."""


@dataclass
class EsiaMethod:
    """How to pass the portal: ``password`` (``login`` + ``password``) or ``qr``."""

    kind: Literal["password", "qr"]
    prompter: Prompter
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    qr_attempts: int = 3
    qr_seconds: float = 180.0  # how long to wait for a scan before asking for a new code
    push_seconds: float = 120.0
    poll_interval: float = field(default_factory=lambda: POLL_SECONDS)


def _redirect(data: Mapping[str, Any]) -> str | None:
    for key in ("redirect_url", "redirectUrl", "url"):
        if isinstance(data.get(key), str) and data[key]:
            return str(data[key])
    inner = data.get("data")
    return _redirect(inner) if isinstance(inner, Mapping) else None


def _mfa_details(data: Mapping[str, Any]) -> dict[str, Any]:
    mfa = data.get("mfa_details") or {}
    for key in ("otp_details", "ttp_details", "otp_max_details"):
        if isinstance(mfa.get(key), dict):
            return dict(mfa[key])
    return {}


class EsiaPortal:
    """One pass through the portal in one portal session (``http`` keeps its cookies, ``ESIA_SESSION``)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        portal_url: str,
        method: EsiaMethod,
        *,
        send: Send,
        sleep: Sleep = asyncio.sleep,
        restart: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.http, self.base, self.method, self._sleep, self._restart = (
            http,
            portal_url.rstrip("/"),
            method,
            sleep,
            restart,
        )
        self.api = f"{self.base}/aas/oauth2/api/login"
        self._send = send

    async def sign_in(self) -> str:
        """The portal's way back to NetSchool (``redirect_url``) once the person has signed in."""
        data = await self._password() if self.method.kind == "password" else await self._qr()
        return await self._steps(data)

    # --- requests ---------------------------------------------------------------------------------

    async def _call(self, method: str, url: str, **kw: Any) -> dict[str, Any]:
        resp = await self._send(method, url, **kw)
        try:
            data = resp.json()
        except ValueError:
            raise EsiaUnavailable(f"портал Госуслуг ответил не в формате JSON (HTTP {resp.status_code})") from None
        if not isinstance(data, dict):
            raise EsiaUnavailable("портал Госуслуг ответил непонятно")
        if data.get("failed"):
            raise EsiaRefused(str(data["failed"]), _mfa_details(data).get("verify_attempts_left"))
        error = data.get("error")
        if isinstance(error, dict) and error.get("code"):
            raise EsiaRefused(str(error["code"]))
        if resp.status_code >= 400:
            raise EsiaUnavailable(f"портал Госуслуг ответил {resp.status_code}")
        return data

    # --- the first step ---------------------------------------------------------------------------

    async def _password(self) -> dict[str, Any]:
        m = self.method
        if not m.login or not m.password:
            raise EsiaRefused("NO_CREDENTIALS")
        try:
            return await self._call("POST", self.api, json={"login": m.login, "password": m.password})
        finally:
            m.password = None  # used once; never kept

    async def _qr(self) -> dict[str, Any]:
        m = self.method
        attempt = 0
        while True:
            attempt += 1
            session = self.http.cookies.get("ESIA_SESSION")
            body = {"esia_session": session} if session else None
            qr = await self._call("POST", f"{self.base}/qr-delegate/qr/generate", json=body)
            token, qr_id = str(qr.get("signed_token") or ""), str(qr.get("qr_id") or "")
            if not token or not qr_id:
                raise EsiaUnavailable("портал Госуслуг не выдал QR-код")
            m.prompter.show_qr(f"gosuslugi://auth/signed_token={token}", attempt, m.qr_seconds)
            try:
                return await self._qr_event(qr_id)
            except EsiaRefused as exc:
                if exc.code not in (*_QR_GONE, _QR_BUSY) or attempt >= m.qr_attempts:
                    if exc.code in _QR_GONE:
                        raise EsiaRefused("QR_EXPIRED") from exc
                    raise
                log.info("QR-код больше не действует (%s): показываем новый", exc.code)
                if exc.code == _QR_BUSY:
                    await self._sleep(2.0 * attempt)
                if exc.code != "QR_AUTHORIZATION_SESSION_EXPIRED" and self._restart is not None:
                    await self._restart()  # the portal session itself is gone: a new one from NetSchool

    async def _qr_event(self, qr_id: str) -> dict[str, Any]:
        """Wait for the one event of the QR subscription. The real portal sends no headers before it, so the
        read timeout covers the whole wait."""
        url = f"{self.base}/qr-delegate/qr/subscribe/{qr_id}"
        timeout = httpx.Timeout(connect=30.0, read=self.method.qr_seconds + 30.0, write=30.0, pool=30.0)
        try:
            async with self.http.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=timeout) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    try:
                        data = json.loads(line[5:].strip())
                    except ValueError:
                        continue
                    if isinstance(data, dict):
                        error = data.get("error")
                        if isinstance(error, dict) and error.get("code"):
                            raise EsiaRefused(str(error["code"]))
                        return data
        except httpx.ReadTimeout:
            raise EsiaRefused("QR_AUTHORIZATION_SESSION_EXPIRED") from None
        except httpx.TransportError as exc:
            raise EsiaUnavailable(f"связь с порталом Госуслуг прервалась ({exc})") from exc
        raise EsiaRefused("QR_CODE_SESSION_OUTDATED")

    # --- the steps after it -----------------------------------------------------------------------

    async def _steps(self, data: dict[str, Any]) -> str:
        for _ in range(_MAX_STEPS):
            action = str(data.get("action") or "")
            if action == "DONE" or (not action and _redirect(data)):
                url = _redirect(data)
                if not url:
                    raise EsiaUnavailable("портал Госуслуг завершил вход, но не сказал, куда вернуться")
                return url
            if action == "ENTER_MFA":
                data = await self._mfa(data)
            elif action == "SOLVE_ANOMALY_REACTION":
                data = await self._anomaly(data)
            elif action == "CHANGE_PASSWORD":
                data = await self._call("POST", f"{self.api}/change-password/skip", json={})
            elif action == "MAX_QUIZ":
                if not (data.get("max_details") or {}).get("skippable", False):
                    raise EsiaRefused("MAX_QUIZ_REQUIRED")
                data = await self._call("POST", f"{self.api}/quiz-max/skip", json={})
            else:
                log.info("Неизвестный шаг портала Госуслуг «%s»: спрашиваем следующий", action or "—")
                data = await self._call("GET", f"{self.api}/next-step")
                if str(data.get("action") or "") == action:
                    raise EsiaUnavailable(f"портал Госуслуг требует шаг «{action}», который программа не умеет")
        raise EsiaUnavailable("портал Госуслуг не завершил вход за разумное число шагов")

    async def _mfa(self, data: dict[str, Any]) -> dict[str, Any]:
        raw = str((data.get("mfa_details") or {}).get("type") or "").upper()
        kind = "TOTP" if raw in ("TTP", "TOTP") else raw
        if kind == "PUSH":
            return await self._push(data)
        path = {"SMS": "otp/verify", "TOTP": "mfa/verify", "MAX": "otp-max/verify"}.get(kind)
        if path is None:
            raise EsiaRefused("UNKNOWN_MFA", detail=raw)
        details = _mfa_details(data)
        while True:
            code = self.method.prompter.ask_code(kind, details).strip()
            if not code:
                raise EsiaRefused("NO_CODE")
            try:
                return await self._call("POST", f"{self.api}/{path}", params={"code": code})
            except EsiaRefused as exc:
                if exc.code != "INVALID_OTP" or exc.attempts_left == 0:
                    raise
                details = {**details, "verify_attempts_left": exc.attempts_left, "wrong": True}

    async def _push(self, data: dict[str, Any]) -> dict[str, Any]:
        m = self.method
        m.prompter.push_waiting(m.push_seconds)
        body = {"challenge_id": data.get("challenge_id", ""), "state": data.get("state", "")}
        waited = 0.0
        while waited < m.push_seconds:
            await self._sleep(m.poll_interval)
            waited += m.poll_interval
            answer = await self._call("POST", f"{self.api}/poll", json=body)
            if answer.get("action") or _redirect(answer):
                return answer
        raise EsiaRefused("PUSH_EXPIRED")

    async def _anomaly(self, data: dict[str, Any]) -> dict[str, Any]:
        guid = str((data.get("reaction_details") or {}).get("guid") or "")
        start = await self._call("POST", f"{self.api}/anomaly-reaction/start", json={"guid": guid})
        code = self.method.prompter.ask_code("ANOMALY", start).strip()
        if not code:
            raise EsiaRefused("NO_CODE")
        return await self._call("POST", f"{self.api}/anomaly-reaction/verify", json={"code": code, "guid": guid})


def session_url(portal_url: str) -> str:
    """The portal session token's address: ``sfd.gosuslugi.ru/session`` beside the real portal; under another
    portal (the emulator's, in tests and the demo) its own ``/sfd/session``."""
    base = portal_url.rstrip("/")
    return PORTAL_SESSION if base == DEFAULT_PORTAL else f"{base}/sfd/session"


def user_label(user: Mapping[str, Any]) -> str:
    """How account-info names a linked NetSchool user: person, school, role (fields vary, §2.1)."""
    person = str(user.get("displayName") or user.get("name") or "").strip()
    school = str(user.get("schoolName") or user.get("organizationName") or "").strip()
    roles = ", ".join(str(r.get("name")) for r in user.get("roles") or [] if isinstance(r, dict) and r.get("name"))
    parts = [p for p in (school, person, roles) if p]
    return " — ".join(parts) or f"пользователь {user.get('id')}"


def preferred_user(users: Sequence[Mapping[str, Any]], scid: int | None, school_name: str | None) -> int | None:
    """The linked user of the configured school, when account-info tells (by id or exact name)."""
    for i, u in enumerate(users):
        org = u.get("organizationId") or u.get("schoolId")
        if scid is not None and org is not None and str(org) == str(scid):
            return i
    name = (school_name or "").casefold()
    for i, u in enumerate(users):
        if name and str(u.get("schoolName") or u.get("organizationName") or "").casefold() == name:
            return i
    return None
