"""The Госуслуги routes: NetSchool's SSO half and the fake portal (state and docs in ``adapters/emulator/esia.py``)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from adapters.emulator.esia import API, PORTAL, SECOND_SCHOOL, EsiaSide, PortalSession, Qr, totp
from adapters.emulator.protocol import Reply, read_form
from adapters.emulator.routes.common import emulator, ep

if TYPE_CHECKING:
    from adapters.emulator.server import Emulator


def side(request: Request) -> EsiaSide:
    return emulator(request).esia


def _origin(request: Request) -> str:
    e = emulator(request)
    return e.settings.origin or f"{request.url.scheme}://{request.url.netloc}"


def _portal(request: Request) -> str:
    return side(request).settings.portal_url or f"{_origin(request)}{PORTAL}"


def _portal_session(request: Request) -> PortalSession | None:
    return side(request).sessions.get(request.cookies.get("ESIA_SESSION", ""))


def _at_step(request: Request, step: str) -> PortalSession:
    """The portal session whose next pending step is ``step``; any other request is out of order (400)."""
    ps = _portal_session(request)
    if ps is None or not ps.pending or ps.pending[0] != step:
        raise Reply(JSONResponse({"failed": "WRONG_STEP"}, 400))
    return ps


def _failed(code: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"failed": code, **extra})


# --- NetSchool's half ---------------------------------------------------------------------------


async def crosslogin(request: Request) -> Response:
    """NetSchool sends the browser to the portal's authorization endpoint with its state and callback. Under the
    ``esia_login_only`` drift the bare ``crosslogin`` is not there (404): only ``sso/esia/login`` starts it."""
    if "esia_login_only" in emulator(request).settings.faults.drifts and request.url.path.lower().endswith(
        "/crosslogin"
    ):
        return JSONResponse({"message": "Not Found"}, 404)
    state = str(uuid.uuid4())
    query = urlencode(
        {
            "client_id": "NETSCHOOL",
            "response_type": "code",
            "scope": "openid fullname snils",
            "state": state,
            "redirect_uri": f"{_origin(request)}/webapi/sso/esia/callback",
        }
    )
    resp = RedirectResponse(f"{_portal(request)}/aas/oauth2/v2/ac?{query}", 302)
    if not request.cookies.get("NSSESSIONID"):
        resp.set_cookie("NSSESSIONID", secrets.token_hex(16), path="/", httponly=True)
    return resp


async def callback(request: Request) -> Response:
    es = side(request)
    portal = es.codes.pop(request.query_params.get("code", ""), None)
    if portal is None or portal.state != request.query_params.get("state") or portal.identity is None:
        return HTMLResponse("<html><head><title>Ошибка входа</title></head><body>Неверный код</body></html>", 400)
    login_state = str(uuid.uuid4())
    es.login_states[login_state] = portal.identity
    return RedirectResponse(f"/app/school/esia-login?loginState={login_state}", 302)


async def landing(request: Request) -> Response:
    return HTMLResponse("<html><head><title>Сетевой Город. Образование</title></head><body></body></html>")


def _user_entry(e: Emulator, user_id: int) -> dict[str, Any]:
    if user_id == SECOND_SCHOOL[0]:
        deputy = e.school.staff[e.school.deputy_id]
        return {
            "id": user_id,
            "displayName": deputy.full_name,
            "schoolName": SECOND_SCHOOL[2],
            "organizationId": SECOND_SCHOOL[1],
            "roles": [{"id": 1, "name": "Учитель"}],
        }
    account = e.account_by_id(user_id)
    role = {"deputy": "Завуч", "admin": "Администратор", "teacher": "Учитель"}.get(account.kind, "Пользователь")
    return {
        "id": user_id,
        "displayName": account.name,
        "schoolName": e.school.name,
        "organizationId": e.school.scid,
        "roles": [{"id": 1, "name": role}],
    }


async def account_info(request: Request) -> Response:
    e = emulator(request)
    identity = e.esia.login_states.get(request.query_params.get("loginState", ""))
    if identity is None:
        return JSONResponse({"message": "Состояние входа не найдено или устарело"}, 400)
    users = [_user_entry(e, uid) for uid in identity.user_ids]
    return JSONResponse({"permissionGranted": True, "trusted": True, "users": users})


async def idp_login(request: Request) -> Response:
    """``POST /webapi/auth/login`` — loginType 8: the NetSchool session of the user chosen from account-info."""
    e = emulator(request)
    form = await read_form(request)
    if form.get("loginType") != "8" or form.get("idp", "").lower() != "esia":
        return JSONResponse({"message": "Способ входа не поддерживается"}, 409)
    identity = e.esia.login_states.pop(form.get("loginState", ""), None)
    if identity is None:
        return JSONResponse({"message": "Состояние входа не найдено или устарело"}, 409)
    try:
        user_id = int(form.get("lscope", ""))
    except ValueError:
        return JSONResponse({"message": "Не выбран пользователь"}, 409)
    if user_id not in identity.user_ids:
        return JSONResponse({"message": "Пользователь не связан с этой учётной записью Госуслуг"}, 409)
    return e.open_session(user_id, ver="")


# --- the portal's half --------------------------------------------------------------------------


async def authorize(request: Request) -> Response:
    """The portal's authorization endpoint: a new portal session (cookie ``ESIA_SESSION``), then its login page."""
    es = side(request)
    sid = secrets.token_hex(16)
    es.sessions[sid] = PortalSession(
        sid, request.query_params.get("state", ""), request.query_params.get("redirect_uri", "")
    )
    resp = RedirectResponse(f"{_portal(request)}/login/", 302)
    resp.set_cookie("ESIA_SESSION", sid, path="/", httponly=True)
    return resp


async def login_page(request: Request) -> Response:
    return HTMLResponse("<html><head><title>Госуслуги — вход</title></head><body>Вход</body></html>")


def _next(request: Request, ps: PortalSession) -> JSONResponse:
    """The portal's answer for the first step still pending, or DONE with the way back to NetSchool."""
    es = side(request)
    while ps.pending:
        step = ps.pending[0]
        if step == "anomaly":
            ps.anomaly_guid = ps.anomaly_guid or uuid.uuid4().hex
            return JSONResponse(
                {"action": "SOLVE_ANOMALY_REACTION", "reaction_details": {"guid": ps.anomaly_guid, "type": "SMS"}}
            )
        if step in ("sms", "max"):
            if ps.otp is None:
                ps.otp, ps.attempts_left = es.send_sms(), 3
            details: dict[str, Any] = {
                "code_length": 6,
                "verify_timeout_secs": 300,
                "verify_attempts_left": ps.attempts_left,
            }
            key, kind = ("otp_details", "SMS") if step == "sms" else ("otp_max_details", "MAX")
            if step == "sms":
                details["phone"] = es.identity.phone
            return JSONResponse({"action": "ENTER_MFA", "mfa_details": {"type": kind, key: details}})
        if step == "totp":
            details = {"code_length": 6, "verify_attempts_left": ps.attempts_left}
            return JSONResponse({"action": "ENTER_MFA", "mfa_details": {"type": "TTP", "ttp_details": details}})
        if step == "push":
            if ps.push == "none":
                ps.push, ps.push_started, ps.challenge_id = "wait", time.monotonic(), uuid.uuid4().hex
            return JSONResponse(
                {
                    "action": "ENTER_MFA",
                    "mfa_details": {"type": "PUSH"},
                    "challenge_id": ps.challenge_id,
                    "state": ps.id,
                }
            )
        if step == "change_password":
            return JSONResponse({"action": "CHANGE_PASSWORD"})
        if step == "max_quiz":
            return JSONResponse({"action": "MAX_QUIZ", "max_details": {"skippable": True}})
        ps.pending.pop(0)
    code = secrets.token_hex(12)
    es.codes[code] = ps
    return JSONResponse({"action": "DONE", "redirect_url": f"{_portal(request)}/aas/oauth2/v2/ac/finish?code={code}"})


async def portal_session_token(request: Request) -> Response:
    """``POST sfd.gosuslugi.ru/session`` (here ``{PORTAL}/sfd/session``): the signed-in portal session's token,
    ``{"token": …}`` — what the third-party asurso.ru app intercepts and sends as ``refresh_token`` (issue #32)."""
    e = emulator(request)
    ps = _portal_session(request)
    if ps is None or ps.identity is None or ps.pending:
        return JSONResponse({"error": {"code": "SESSION_NOT_AUTHENTICATED"}}, 401)
    return JSONResponse({"token": e.esia.issue_portal_token(ps.identity, e.clock)})


async def api_login(request: Request) -> Response:
    es = side(request)
    ps = _portal_session(request)
    if ps is None:
        return JSONResponse({"failed": "SESSION_NOT_FOUND"}, 400)
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"failed": "BAD_REQUEST"}, 400)
    login, password = str(body.get("login", "")), str(body.get("password", ""))
    if login.casefold() != es.identity.login.casefold():
        return _failed("ACCOUNT_NOT_FOUND")
    if es.settings.locked:
        return _failed("ACCOUNT_LOCKED")
    if es.wrong_passwords >= es.settings.captcha_after:
        return _failed("CAPTCHA_REQUIRED")
    if password != es.identity.password:
        es.wrong_passwords += 1
        return _failed("INVALID_PASSWORD")
    es.wrong_passwords = 0
    ps.identity = es.identity
    ps.pending = es.steps_after_password()
    return _next(request, ps)


def _verify(kind: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        es = side(request)
        ps = _at_step(request, kind)
        code = request.query_params.get("code", "")
        if kind == "totp":
            now = time.time()
            good = code in {totp(es.identity.totp_secret, now + d) for d in (-30, 0, 30)}
        else:
            good = bool(ps.otp) and secrets.compare_digest(code, ps.otp or "")
        if not good:
            ps.attempts_left -= 1
            if ps.attempts_left <= 0:
                es.sessions.pop(ps.id, None)
                return _failed("ATTEMPTS_EXCEEDED")
            key = {"sms": "otp_details", "max": "otp_max_details", "totp": "ttp_details"}[kind]
            return _failed("INVALID_OTP", mfa_details={key: {"verify_attempts_left": ps.attempts_left}})
        ps.pending.pop(0)
        ps.otp = None
        return _next(request, ps)

    return handler


async def next_step(request: Request) -> Response:
    ps = _portal_session(request)
    if ps is None or ps.identity is None:
        return JSONResponse({"failed": "SESSION_NOT_FOUND"}, 400)
    return _next(request, ps)


async def poll(request: Request) -> Response:
    es = side(request)
    ps = _at_step(request, "push")
    if ps.push == "denied":
        es.sessions.pop(ps.id, None)
        return _failed("PUSH_REJECTED")
    if ps.push == "wait" and time.monotonic() - ps.push_started > es.settings.push_seconds:
        es.sessions.pop(ps.id, None)
        return _failed("PUSH_EXPIRED")
    if ps.push != "approved":
        return JSONResponse({"status": "WAITING"})
    ps.pending.pop(0)
    return _next(request, ps)


async def anomaly_start(request: Request) -> Response:
    es = side(request)
    ps = _at_step(request, "anomaly")
    ps.otp = es.send_sms()
    return JSONResponse({"phone": es.identity.phone, "code_length": 6})


async def anomaly_verify(request: Request) -> Response:
    ps = _at_step(request, "anomaly")
    body = json.loads(await request.body() or b"{}")
    if not ps.otp or not secrets.compare_digest(str(body.get("code", "")), ps.otp):
        return _failed("INVALID_OTP")
    ps.pending.pop(0)
    ps.otp = None
    return _next(request, ps)


def _skip(step: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response:
        ps = _at_step(request, step)
        ps.pending.pop(0)
        return _next(request, ps)

    return handler


async def finish(request: Request) -> Response:
    """The portal sends the browser back to NetSchool's callback with a one-time code."""
    es = side(request)
    code = request.query_params.get("code", "")
    ps = es.codes.get(code)
    if ps is None:
        return HTMLResponse("<html><head><title>Госуслуги — ошибка</title></head><body></body></html>", 400)
    sep = "&" if "?" in ps.return_to else "?"
    return RedirectResponse(f"{ps.return_to}{sep}{urlencode({'code': code, 'state': ps.state})}", 302)


async def qr_generate(request: Request) -> Response:
    es = side(request)
    try:
        body = json.loads(await request.body() or b"{}") or {}
    except ValueError:
        body = {}
    ps = es.sessions.get(str(body.get("esia_session") or request.cookies.get("ESIA_SESSION", "")))
    if ps is None:
        return JSONResponse({"error": {"code": "QR_CODE_SESSION_NOT_FOUND", "message": "Сессия не найдена"}}, 400)
    qr = Qr(uuid.uuid4().hex, secrets.token_urlsafe(48), ps.id, time.monotonic())
    es.qrs[qr.id] = qr
    return JSONResponse({"signed_token": qr.signed_token, "qr_id": qr.id})


class QrEvents:
    """``GET /qr-delegate/qr/subscribe/{qr_id}``: server-sent events. Like the real portal it sends no headers
    until its one event (public clients note httpx/aiohttp streams stall on it): scanned, or expired."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        es = side(request)
        qr = es.qrs.get(scope["path"].rsplit("/", 1)[-1])
        if qr is None:
            event: dict[str, Any] = {"error": {"code": "QR_CODE_SESSION_NOT_FOUND", "message": "QR-код не найден"}}
        else:
            while not qr.scanned and time.monotonic() - qr.created < es.settings.qr_seconds:
                await asyncio.sleep(0.02)
            if qr.scanned:
                ps = es.sessions.get(qr.session_id)
                if ps is None:
                    event = {"error": {"code": "QR_CODE_SESSION_OUTDATED", "message": "Сессия устарела"}}
                else:
                    ps.identity = es.identity
                    ps.pending = [s for s in es.steps_after_password() if s in ("change_password", "max_quiz")]
                    answer = _next(request, ps)
                    event = json.loads(bytes(answer.body))
            else:
                event = {"error": {"code": "QR_AUTHORIZATION_SESSION_EXPIRED", "message": "Время ожидания истекло"}}
        payload = f"event: message\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# --- control (tests and the demo) ----------------------------------------------------------------


async def control_sms(request: Request) -> Response:
    es = side(request)
    return JSONResponse({"code": es.sms[-1] if es.sms else None, "count": len(es.sms)})


async def control_scan(request: Request) -> Response:
    body = json.loads(await request.body() or b"{}")
    es = side(request)
    token = str(body.get("signed_token") or "")
    if not token and body.get("latest") and es.qrs:  # the phone pointed at the newest code on the screen
        token = list(es.qrs.values())[-1].signed_token
    found = es.scan(token)
    return JSONResponse({"scanned": found}, 200 if found else 404)


async def control_push(request: Request) -> Response:
    body = json.loads(await request.body() or b"{}")
    return JSONResponse({"answered": side(request).approve_push(bool(body.get("approve", True)))})


async def control_state(request: Request) -> Response:
    es = side(request)
    if request.method == "POST":
        body = json.loads(await request.body() or b"{}")
        if body.get("revoke"):
            return JSONResponse({"revoked": es.revoke_all()})
        for key in ("mfa", "anomaly", "change_password", "max_quiz", "locked", "qr_seconds", "refresh_days"):
            if key in body:
                setattr(es.settings, key, body[key])
        if body.get("reset_captcha"):
            es.wrong_passwords = 0
    waiting_push = sum(ps.push == "wait" for ps in es.sessions.values())
    live = sum(not t.revoked for t in es.refresh.values())
    portal = sum(not t.revoked for t in es.portal_tokens.values())
    return JSONResponse(
        {
            "renewals": es.renewals,
            "refusals": es.refusals,
            "live_tokens": live,
            "portal_tokens": portal,
            "waiting_push": waiting_push,
            "qr_codes": len(es.qrs),
            "sms": len(es.sms),
        }
    )


def routes(*, control_mode: bool) -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route("/webapi/sso/esia/crosslogin", ep(crosslogin)),
        Route("/webapi/sso/esia/login", ep(crosslogin)),
        Route("/webapi/sso/esia/callback", ep(callback)),
        Route("/webapi/sso/esia/account-info", ep(account_info)),
        Route("/webapi/auth/login", ep(idp_login), methods=["POST"]),
        Route("/app/school/esia-login", ep(landing)),
        Route(f"{PORTAL}/aas/oauth2/v2/ac", ep(authorize)),
        Route(f"{PORTAL}/aas/oauth2/v2/ac/finish", ep(finish)),
        Route(f"{PORTAL}/login", ep(login_page)),
        Route(API, ep(api_login), methods=["POST"]),
        Route(f"{PORTAL}/sfd/session", ep(portal_session_token), methods=["POST"]),
        Route(f"{API}/otp/verify", ep(_verify("sms")), methods=["POST"]),
        Route(f"{API}/otp-max/verify", ep(_verify("max")), methods=["POST"]),
        Route(f"{API}/mfa/verify", ep(_verify("totp")), methods=["POST"]),
        Route(f"{API}/poll", ep(poll), methods=["POST"]),
        Route(f"{API}/next-step", ep(next_step)),
        Route(f"{API}/anomaly-reaction/start", ep(anomaly_start), methods=["POST"]),
        Route(f"{API}/anomaly-reaction/verify", ep(anomaly_verify), methods=["POST"]),
        Route(f"{API}/change-password/skip", ep(_skip("change_password")), methods=["POST"]),
        Route(f"{API}/quiz-max/skip", ep(_skip("max_quiz")), methods=["POST"]),
        Route(f"{PORTAL}/qr-delegate/qr/generate", ep(qr_generate), methods=["POST"]),
        Route(f"{PORTAL}/qr-delegate/qr/subscribe/{{qr_id}}", QrEvents()),
    ]
    if control_mode:
        found += [
            Route("/_emulator/esia/sms", control_sms),
            Route("/_emulator/esia/scan", control_scan, methods=["POST"]),
            Route("/_emulator/esia/push", control_push, methods=["POST"]),
            Route("/_emulator/esia", control_state, methods=["GET", "POST"]),
        ]
    return found
