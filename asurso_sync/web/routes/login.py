"""Signing in and out: ``/login`` (the password form, the failed-login throttle) and ``/logout``."""

from __future__ import annotations

import math
from contextlib import closing

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.web.cabinet import COOKIE, Cabinet, audit_quietly, page, read_form
from cache.cabinet import password_hash


async def login(request: Request) -> Response:
    cab: Cabinet = request.app.state.cabinet
    target = request.query_params.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    if request.method == "GET":
        return cab.render(request, "login.html", target=target, message=None)
    # the peer's address: the socket's, or the proxy's X-Forwarded-For only with «--forwarded-allow-ips» (uvicorn)
    who = request.client.host if request.client else "?"
    wait = cab.throttle.attempt(who)  # before any await: parallel attempts cannot all pass the check
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        text = f"Слишком много неудачных попыток. Повторите через {minutes} мин."
        return cab.render(request, "login.html", 429, target=target, message=text)
    form = await read_form(request)
    with closing(cab.db()) as db:
        hashed = password_hash(db)
    good = hashed is not None and await cab.verify(str(form.get("password", "")), hashed)
    with closing(cab.db()) as db:
        if not good:
            if hashed is not None:
                audit_quietly(db, "web-login-failed", {"from": who})
            text = (
                "Неверный пароль."
                if hashed is not None
                else "Пароль кабинета не задан: выполните «asurso-sync web set-password»."
            )
            return cab.render(request, "login.html", 401, target=target, message=text)
        cab.throttle.passed(who)
        audit_quietly(db, "web-login", {"from": who})
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


ROUTES: list[BaseRoute] = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
]
