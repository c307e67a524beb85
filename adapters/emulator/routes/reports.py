"""«Отчёт о доступе к классному журналу»: the report description, the queue and the SignalR hub, the built files,
and the legacy ASP pages."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from adapters.emulator.protocol import (
    Session,
    read_form,
)
from adapters.emulator.reports import class_target, hub, parse_filters
from adapters.emulator.routes.common import emulator, ep, json_get

if TYPE_CHECKING:
    from adapters.emulator.server import Emulator


def may_read_class(e: Emulator, sess: Session, class_id: int) -> bool:
    s = e.school
    return any(e.may_read_group(sess, g.id) for g in s.groups.values() if g.class_id == class_id) or (
        e.is_staff_admin(sess)
    )


def may_read_target(e: Emulator, sess: Session, target: str) -> bool:
    """The class filter's value: a class the session reads, an ИУП grade with a group it reads, or every class
    (``-1``) for the deputy and the admin."""
    value, _, kind = target.partition("_")
    if target == "-1":
        return e.is_staff_admin(sess)
    if kind == "1":
        return e.is_staff_admin(sess) or any(
            e.may_read_group(sess, g.id) for g in e.school.groups.values() if g.iup_grade == int(value)
        )
    return may_read_class(e, sess, int(value))


def iup_grades(e: Emulator) -> list[int]:
    grades = {g.iup_grade for g in e.school.groups.values()}
    return sorted(g for g in grades if g is not None)


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
    e = emulator(request)
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
        "filterSources": report_sources(e, sess),
    }


def report_sources(e: Emulator, sess: Session) -> list[dict[str, Any]]:
    s = e.school
    first = min(t.start for t in s.terms.values())
    last = max(t.end for t in s.terms.values())
    return [
        {
            "filterId": "PCLID_IUP",
            # IRTech's class filter: -1 = every class (its default), a class "<id>_0", an ИУП grade "<grade>_1"
            "items": [{"value": "-1", "title": "Все"}] * e.is_staff_admin(sess)
            + [
                {"value": f"{c.id}_0", "title": c.name}
                for c in sorted(s.classes.values(), key=lambda c: (c.grade, c.letter))
                if may_read_class(e, sess, c.id)
            ]
            + [{"value": f"{g}_1", "title": f"{g} *"} for g in iup_grades(e) if may_read_target(e, sess, f"{g}_1")],
            "defaultValue": "-1" if e.is_staff_admin(sess) else None,
        },
        {
            "filterId": "period",
            "range": {"start": f"{first.isoformat()}T00:00:00", "end": f"{last.isoformat()}T00:00:00"},
        },
    ]


async def report_initfilters(request: Request) -> Response:
    e = emulator(request)
    sess = e.session(request)
    return JSONResponse(report_sources(e, sess))


async def report_queue(request: Request) -> Response:
    e = emulator(request)
    s = e.school
    sess = e.session(request)
    body = json.loads((await request.body()) or b"{}")
    try:
        target, start, end = parse_filters(body, s)
    except ValueError as exc:
        return JSONResponse({"message": str(exc)}, 400)
    if not may_read_target(e, sess, target):
        return JSONResponse({"message": "Недостаточно прав для построения отчёта"}, 403)
    task = e.reports.add(target, start, end, sess.user_id)
    e.reports.events.append(("queue", sess.at, request.url.path, body.get("params")))
    if "queue_bare_id" in e.settings.faults.drifts and not request.url.path.startswith("/webapi/v2/"):
        return JSONResponse(task.id)
    return JSONResponse({"taskId": task.id, "queueKey": task.key})


async def report_file(request: Request) -> Response:
    e = emulator(request)
    e.session(request)
    content = e.reports.files.get(int(request.path_params["fid"]))
    if content is None:
        return JSONResponse({"message": "Файл не найден"}, 404)
    return HTMLResponse(content)


async def asp_report_form(request: Request) -> Response:
    e = emulator(request)
    s = e.school
    form = await read_form(request)
    request.scope["query_string"] = f"at={form.get('at') or form.get('AT') or ''}".encode()
    e.session(Request(request.scope))
    return HTMLResponse(
        "<html><body><form method='post' action='/asp/Reports/JournalAccess.asp'>"
        "<input type='hidden' name='RPNAME' value='Отчёт о доступе к классному журналу'>"
        "<input type='hidden' name='RPTID' value='JournalAccess'>"
        "<select name='PCLID_IUP'><option value='-1' selected>Все</option>"
        + "".join(f"<option value='{c.id}_0'>{c.name}</option>" for c in s.classes.values())
        + "".join(f"<option value='{g}_1'>{g} *</option>" for g in iup_grades(e))
        + "</select><input name='DATE_START'><input name='DATE_END'>"
        "<select name='ViewType'><option value='1' selected>по классам</option><option value='2'>по учителям</option>"
        "</select><input type='checkbox' name='LastAccess' value='1'><input name='SGID'><input name='TID'>"
        "</form></body></html>"
    )


async def asp_report(request: Request) -> Response:
    e = emulator(request)
    s = e.school
    form = await read_form(request)
    request.scope["query_string"] = f"at={form.get('at') or form.get('AT') or ''}".encode()
    sess = e.session(Request(request.scope))
    try:
        target = class_target(str(form.get("PCLID_IUP", "")), s)
    except ValueError:
        return HTMLResponse("<html><body>Класс не найден</body></html>", 400)
    if not may_read_target(e, sess, target):
        return HTMLResponse("<html><body>Недостаточно прав</body></html>", 403)
    drifts = e.settings.faults.drifts
    first, last = ("ADT", "DDT") if "asp_adt" in drifts else ("DATE_START", "DATE_END")
    try:
        start = datetime.strptime(str(form[first]), "%d.%m.%Y").date()
        end = datetime.strptime(str(form[last]), "%d.%m.%Y").date()
    except (KeyError, ValueError):  # a period under other names is ignored, as the page would: this week so far
        end = e.clock.date()
        start = end - timedelta(days=end.weekday())
    e.reports.asp_forms.append(dict(form))
    await asyncio.sleep(e.reports.build_seconds)
    # ``LastAccess`` is taken as the page's «last change only» switch (a checkbox: any value but 0 is on) [I]
    last_access = str(form.get("LastAccess", "")).strip() not in ("", "0")
    return HTMLResponse(e.render_report(target, start, end, last_access=last_access))


async def early_access(request: Request) -> Response:
    """``earlyaccess?accessKey=irtechsignalr``: what current clients ask before the hub (its answer is not read)."""
    e = emulator(request)
    sess = e.session(request)
    e.reports.events.append(("earlyaccess", sess.at, request.url.path, request.query_params.get("accessKey")))
    return JSONResponse({"enabled": True})


async def queue_hub(websocket: WebSocket) -> None:
    e = emulator(websocket)
    e.reports.events.append(("hub", websocket.query_params.get("at", ""), websocket.url.path, None))
    await hub(
        websocket,
        sessions=e.sessions,
        queue=e.reports,
        build=e.build_report,
        fails=lambda: e.fault(e.settings.faults.report_error),
    )


ROUTES: list[BaseRoute] = [
    Route("/webapi/reports/journalaccess", json_get(report_description)),
    Route("/webapi/reports/journalaccess/initfilters", ep(report_initfilters), methods=["POST"]),
    Route("/webapi/v2/reports/journalaccess/initfilters", ep(report_initfilters), methods=["POST"]),
    Route("/webapi/reports/journalaccess/queue", ep(report_queue), methods=["POST"]),
    Route("/webapi/v2/reports/journalaccess/queue", ep(report_queue), methods=["POST"]),
    Route("/webapi/files/{fid:int}", ep(report_file)),
    Route("/webapi/earlyaccess", ep(early_access)),
    Route("/asp/reports/reportjournalaccess.asp", ep(asp_report_form), methods=["POST"]),
    Route("/asp/reports/journalaccess.asp", ep(asp_report), methods=["POST"]),
    WebSocketRoute("/webapi/signalr/queueHub", queue_hub),
    WebSocketRoute("/webapi/signalr/queuehub", queue_hub),
]
