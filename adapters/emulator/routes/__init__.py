"""The emulator's routes, one module per area, each a list ``ROUTES`` (like a ``urls.py``); the handlers find
their emulator in the request (``common.emulator``)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from adapters.emulator.routes import auth, control, directory, esia, journal, reports


def routes(*, control_mode: bool) -> list[BaseRoute]:
    """Every route in matching order; ``/_emulator/*`` only in test and demo mode."""
    extra = control.ROUTES if control_mode else []
    return [
        *auth.ROUTES,
        *esia.routes(control_mode=control_mode),
        *directory.ROUTES,
        *journal.ROUTES,
        *reports.ROUTES,
        *extra,
    ]
