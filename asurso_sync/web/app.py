"""Кабинет завуча: a local web application over the cache (Starlette + Jinja2, server-rendered, no JavaScript).

Pages: overview, findings by teacher / class / rule, a finding with its evidence and the deputy's verdict, the
week's remark lists exactly as each teacher receives them, waivers, and the program's precision from the verdicts.
Every page needs the cabinet password (README «Кабинет завуча»); every form carries the session's CSRF token;
every change is in the cache's audit log.

This module assembles the application; the pages are in ``asurso_sync.web.routes`` (one module per area — the
table in its docstring maps URLs to modules), the shared plumbing in ``asurso_sync.web.cabinet``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from asurso_sync.config import Config
from asurso_sync.web.auth import Sessions, Throttle
from asurso_sync.web.cabinet import Cabinet, environment
from asurso_sync.web.jobs import Jobs
from asurso_sync.web.routes import routes
from cache import CacheCorruptError, CacheError, storage_error

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
                    (b"content-security-policy", _CSP),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return asgi


def server_options(forwarded_allow_ips: str | None) -> dict[str, Any]:
    """uvicorn's settings for the cabinet. The login throttle counts by the client's address: without
    ``--forwarded-allow-ips`` that is the socket's peer and X-Forwarded-For is ignored (uvicorn's default believes the
    header from 127.0.0.1, so anything on this computer could rotate addresses past the throttle); with it, the
    header is believed only from the proxies named."""
    if not forwarded_allow_ips:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}


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
    app = Starlette(routes=routes(), exception_handlers={CacheError: _storage_failure, sqlite3.Error: _storage_failure})
    cabinet = Cabinet(config, Sessions(clock), Throttle(clock), environment(config), Jobs(config))
    cabinet.jobs.after = cabinet.warm  # a check from the page: the new lists are built before they are asked for
    app.state.cabinet = cabinet
    threading.Thread(target=cabinet.warm, daemon=True, name="cabinet-warm").start()
    return _secure_headers(app)
