"""The week's remark lists: ``/lists`` (who gets a letter, and whether it went) and ``/lists/{week}/{teacher}``
(one teacher's list exactly as her letter shows it)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime

from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.remarks import Week
from asurso_sync.remarks.directory import load_directory
from asurso_sync.remarks.errors import RemarksError
from asurso_sync.remarks.render import render_teacher
from asurso_sync.web.cabinet import Cabinet, page, row_id
from cache import last_check, outbox_rows


def _week(request: Request, db: Database) -> Week:
    raw = request.query_params.get("week")
    if raw:
        return Week.parse(raw)
    check = last_check(db)
    moment = datetime.fromisoformat(check["as_of"]).date() if check else datetime.now(UTC).date()
    return Week.last_completed(moment)


@page
async def lists_page(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        try:
            week = _week(request, db)
            lists = cab.week_lists(db, week)
        except (RemarksError, ValueError) as exc:
            return cab.render(request, "error.html", 400, title="Списки недели", text=str(exc))
        sent = {r.recipient.casefold(): r.state for r in outbox_rows(db, period=week.label)}
    directory = load_directory(cab.config.mail.directory)
    states = {"pending": "ждёт отправки", "sending": "отправляется", "sent": "отправлено", "failed": "ошибка"}
    teachers = []
    for tl in lists:
        address = directory.find(tl.teacher_id, tl.name, tl.email)
        state = states.get(sent.get((address or "").casefold(), ""), "не отправлялось")
        count = tl.part.total + tl.chief.total
        teachers.append({"id": tl.teacher_id, "name": tl.name, "count": count, "state": state})
    return cab.render(request, "lists.html", week=week, teachers=teachers, shadow=cab.config.rules.shadow)


@page
async def teacher_letter(request: Request, cab: Cabinet) -> Response:
    """One teacher's list exactly as the letter shows it — nothing of any other teacher."""
    teacher_id = row_id(request.path_params["tid"], "Списка нет")
    with closing(cab.db()) as db:
        try:
            lists = cab.week_lists(db, Week.parse(request.path_params["week"]))
        except (RemarksError, ValueError) as exc:
            return cab.render(request, "error.html", 400, title="Списки недели", text=str(exc))
    mine = [tl for tl in lists if tl.teacher_id == teacher_id]
    if not mine:
        return cab.render(request, "error.html", 404, title="Списка нет", text="У учителя нет списка за эту неделю.")
    return HTMLResponse(render_teacher(mine[0]).html)


ROUTES: list[BaseRoute] = [
    Route("/lists", lists_page),
    Route("/lists/{week}/{tid}", teacher_letter),
]
