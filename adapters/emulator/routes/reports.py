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
from adapters.emulator.reports import hub, parse_filters, render_html
from adapters.emulator.routes.common import emulator, ep, json_get

if TYPE_CHECKING:
    from adapters.emulator.server import Emulator


def may_read_class(e: Emulator, sess: Session, class_id: int) -> bool:
    s = e.school
    return any(e.may_read_group(sess, g.id) for g in s.groups.values() if g.class_id == class_id) or (
        e.is_staff_admin(sess)
    )


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
            "items": [
                {"value": f"{c.id}_0", "title": c.name}
                for c in sorted(s.classes.values(), key=lambda c: (c.grade, c.letter))
                if may_read_class(e, sess, c.id)
            ],
            "defaultValue": None,
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
    class_id, start, end = parse_filters(body, s.classes)
    if not may_read_class(e, sess, class_id):
        return JSONResponse({"message": "Недостаточно прав для построения отчёта"}, 403)
    task = e.reports.add(class_id, start, end, sess.user_id)
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
        "<select name='PCLID_IUP'>"
        + "".join(f"<option value='{c.id}_0'>{c.name}</option>" for c in s.classes.values())
        + "</select><input name='DATE_START'><input name='DATE_END'><input name='ViewType'>"
        "<input name='LastAccess'><input name='SGID'><input name='TID'></form></body></html>"
    )


async def asp_report(request: Request) -> Response:
    e = emulator(request)
    s = e.school
    form = await read_form(request)
    request.scope["query_string"] = f"at={form.get('at') or form.get('AT') or ''}".encode()
    sess = e.session(Request(request.scope))
    class_id = int(str(form.get("PCLID_IUP", "")).split("_")[0])
    if class_id not in s.classes or not may_read_class(e, sess, class_id):
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
    title = f"Класс: {s.classes[class_id].name}; период: {start:%d.%m.%Y} – {end:%d.%m.%Y}"
    rows = e.access_rows(class_id, start, end)
    return HTMLResponse(render_html(title, rows, legend="report_texts" not in drifts))


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
