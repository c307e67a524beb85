"""The login flow and the public pages: logindata, the salted password login, logout, the SecurityWarning page."""

from __future__ import annotations

import secrets
import time as monotonic_time
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.emulator.protocol import (
    JUMP_TO_LOGIN_HTML,
    LOCK_MESSAGE,
    PASSWORD_LOGIN_OFF,
    PRODUCT,
    VERSION,
    WRONG_PASSWORD,
    password_ok,
    read_form,
)
from adapters.emulator.routes.common import emulator, ep


async def logindata(request: Request) -> Response:
    only = emulator(request).settings.esia.only
    resp = JSONResponse(
        {
            "productName": PRODUCT,
            "version": VERSION,
            "schoolLogin": not only,
            "emLogin": False,
            "esiaLogin": True,
            "esiaLoginPage": "/webapi/sso/esia/crosslogin",
            "esiaMainAuth": only,
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
    e = emulator(request)
    sid = request.cookies.get("NSSESSIONID")
    if not sid:
        return JSONResponse({"message": "Сеанс не найден: сначала откройте страницу входа"}, 400)
    if e.settings.esia.only:  # password login off: no lt/ver/salt (lentryd/NetSchoolApi#25)
        return JSONResponse({})
    lt, ver, salt = e.token(9), e.token(9), e.token(10)
    e.salts[sid] = (lt, ver, salt)
    return JSONResponse({"lt": lt, "ver": ver, "salt": salt})


async def login(request: Request) -> Response:
    return await _login(request)


async def prepareloginform(request: Request) -> Response:
    e = emulator(request)
    s = e.school
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
    e = emulator(request)
    s = e.school
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
    e = emulator(request)
    s = e.school
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
    e = emulator(request)
    form = await read_form(request)
    at = str(form.get("at") or form.get("AT") or request.headers.get("at") or "")
    if e.sessions.pop(at, None) is None:
        return JSONResponse({"message": "Сеанс не найден"}, 401)
    return Response(status_code=200)


async def asp_logout(request: Request) -> Response:
    e = emulator(request)
    form = await read_form(request)
    e.sessions.pop(str(form.get("at") or form.get("AT") or ""), None)
    return HTMLResponse(JUMP_TO_LOGIN_HTML)


async def expired(request: Request) -> Response:
    e = emulator(request)
    token = request.query_params.get("token", "")
    sess = e.sessions.get(token)
    alive = sess is not None and (monotonic_time.monotonic() - sess.last) * 1000 <= sess.timeout_ms
    return JSONResponse(not alive)


async def security_warning(request: Request) -> Response:
    e = emulator(request)
    form = await read_form(request)
    at = str(form.get("at") or form.get("AT") or request.headers.get("at") or "")
    sess = e.sessions.get(at)
    if sess is None:
        return HTMLResponse(JUMP_TO_LOGIN_HTML)
    sess.warning = False
    return HTMLResponse("<html><head><title>АСУ РСО</title></head><body>OK</body></html>")


async def _login(request: Request) -> Response:
    e = emulator(request)
    form = await read_form(request)

    def field_(*names: str) -> str:
        for n in names:
            if n in form:
                return str(form[n])
        return ""

    origin = e.settings.origin or f"{request.url.scheme}://{request.url.netloc}"
    referer = request.headers.get("referer", "")
    if not referer or urlsplit(referer)._replace(path="", query="", fragment="").geturl().lower() != origin.lower():
        return JSONResponse({"message": "Неверный запрос: нет заголовка Referer"}, 400)
    if field_("loginType", "LoginType") == "9":
        return await _refresh_login(request, form)
    if e.settings.esia.only:
        return JSONResponse({"message": PASSWORD_LOGIN_OFF}, 409)
    sid = request.cookies.get("NSSESSIONID", "")
    salt_data = e.salts.pop(sid, None)
    if salt_data is None:
        return JSONResponse({"message": "Сеанс входа устарел: обновите страницу"}, 409)
    lt, ver, salt = salt_data
    if field_("lt") != lt or field_("ver") != ver:
        return JSONResponse({"message": "Сеанс входа устарел: обновите страницу"}, 409)
    if field_("loginType", "LoginType") not in ("1", ""):
        return JSONResponse({"message": "Способ входа не поддерживается"}, 409)
    scid = field_("scid", "SCID")
    if scid != str(e.school.scid):
        return JSONResponse({"message": "Образовательная организация не найдена"}, 409)
    if "login_down" in e.settings.faults.drifts:  # the server's database is down: nobody gets in
        return JSONResponse({"message": "Ошибка входа в систему"}, 409)
    login = field_("un", "UN")
    key = login.casefold()
    now = e.clock
    recent = [t for t in e.failures.get(key, []) if now - t < timedelta(minutes=15)]
    if len(recent) >= 5:
        until = max(recent) + timedelta(minutes=15)
        return JSONResponse({"message": LOCK_MESSAGE.format(until=until.strftime("%d.%m.%Y %H:%M:%S"))}, 409)
    account = e.accounts.get(key)
    if account is None or not password_ok(account.password, salt, field_("pw", "PW"), field_("pw2")):
        e.failures.setdefault(key, []).append(now)
        return JSONResponse({"message": WRONG_PASSWORD}, 409)
    e.failures.pop(key, None)
    return e.open_session(account.user_id, ver=ver, rolegroup=field_("rolegroup"))


async def _refresh_login(request: Request, form: dict[str, str]) -> Response:
    """``LoginType=9``: a new session for a refresh token, which is spent (rotation); the answer carries the next
    one (docs/server-api.md §2.1)."""
    e = emulator(request)
    if not request.cookies.get("NSSESSIONID"):
        return JSONResponse({"message": "Сеанс не найден: сначала откройте страницу входа"}, 400)
    if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
        return JSONResponse({"message": "Неверный запрос"}, 400)
    # issue #32: the login answer's refreshToken (spent and replaced) or the portal session's token (kept); by
    # default both renew [I]; the drifts renewal_portal_only / renewal_answer_only refuse the other one
    token, drifts = form["refresh_token"], e.settings.faults.drifts
    portal = token in e.esia.portal_tokens
    if ("renewal_answer_only" if portal else "renewal_portal_only") in drifts:
        e.esia.refusals += 1
        user_id = None
    else:
        user_id = e.esia.redeem_portal(token, e.clock) if portal else e.esia.redeem(token, e.clock)
    if user_id is None:  # the real wording is not public (docs/server-api.md §2.1) [I]
        return JSONResponse({"message": "Токен обновления недействителен или истёк"}, 409)
    return e.open_session(user_id, ver="")


ROUTES: list[BaseRoute] = [
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
]
