"""Helpers of every route: the emulator behind a request, error handling, typed query parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from adapters.emulator.protocol import Reply, Session
from adapters.emulator.school import YEAR_TERM_TYPE

if TYPE_CHECKING:
    from adapters.emulator.server import Emulator


def emulator(conn: HTTPConnection) -> Emulator:
    """The emulator serving this request (``Emulator`` puts itself into its Starlette app's state)."""
    return conn.app.state.emulator  # type: ignore[no-any-return]


def ep(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint: a ``Reply`` raised anywhere is its response; bad parameters are a 400."""

    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except Reply as r:
            return r.response
        except ValueError as exc:  # unparsable or missing parameters; any other error is the emulator's bug
            return JSONResponse({"message": "Неверные параметры запроса", "details": str(exc)}, 400)

    return wrapped


def json_get(build: Callable[[Request, Session], Any]) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint of an authenticated session that answers JSON."""

    async def handler(request: Request) -> Response:
        sess = emulator(request).session(request)
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


# The year as IRTech's report pages address it (issue #32): ``TERMID`` -1 «год» and -2 «итог»
YEAR_TERMIDS = (-1, -2)


def term_of(request: Request, sg_id: int) -> Any:
    """The term a journal request names. By default the year's own period is not a listed term: it is asked for as
    ``termId=-1`` («год»: its journal's totals are the year marks) or ``-2`` («итог»: the final marks — the emulator
    keeps none apart from the year's, so it serves the same) [I]. Under the ``year_period`` drift it is an ordinary
    listed term of ``termTypeId`` 4 and the negative ids are refused. A school without a year period refuses both."""
    e = emulator(request)
    term_id = qint(request, "termId")
    drifted = "year_period" in e.settings.faults.drifts
    if term_id in YEAR_TERMIDS and not drifted:
        term = next((t for t in e.school.terms.values() if t.type_id == YEAR_TERM_TYPE), None)
        if term is None:
            raise Reply(JSONResponse({"message": "Учебный период не найден для этой группы"}, 400))
        return term
    term = e.school.terms.get(term_id or 0)
    if term is not None and term.type_id == YEAR_TERM_TYPE and not drifted:
        term = None  # not a listed id by default
    if term is None or term.type_id not in (e.school.groups[sg_id].term_type, YEAR_TERM_TYPE):
        raise Reply(JSONResponse({"message": "Учебный период не найден для этой группы"}, 400))
    return term


def group(request: Request, sess: Session, *names: str) -> int:
    e = emulator(request)
    sg_id = qint(request, *names)
    assert sg_id is not None
    if sg_id not in e.school.groups:
        raise Reply(JSONResponse({"message": "Группа не найдена"}, 404))
    if not e.may_read_group(sess, sg_id):
        raise Reply(JSONResponse({"message": "Недостаточно прав для просмотра журнала"}, 403))
    return sg_id


async def forbidden_write(request: Request) -> Response:
    return JSONResponse({"message": "Изменение журнала через этот интерфейс запрещено"}, 403)
