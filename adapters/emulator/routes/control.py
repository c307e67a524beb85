"""Test and demo mode only (``EmulatorSettings.control``): the emulator's clock and its request log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.emulator.routes.common import emulator


async def control_clock(request: Request) -> Response:
    e = emulator(request)
    if request.method == "POST":
        body = json.loads(await request.body() or b"{}")
        if "now" in body:
            e.clock = datetime.fromisoformat(body["now"]).replace(tzinfo=None)
        elif "advance_seconds" in body:
            e.clock += timedelta(seconds=float(body["advance_seconds"]))
        else:
            return JSONResponse({"message": "нужен now или advance_seconds"}, 400)
    return JSONResponse({"now": e.clock.isoformat(timespec="seconds")})


async def control_log(request: Request) -> Response:
    e = emulator(request)
    return JSONResponse(
        {
            "requests": [list(x) for x in e.request_log],
            "write_attempts": [list(x) for x in e.write_attempts],
        }
    )


ROUTES: list[BaseRoute] = [
    Route("/_emulator/clock", control_clock, methods=["GET", "POST"]),
    Route("/_emulator/log", control_log),
]
