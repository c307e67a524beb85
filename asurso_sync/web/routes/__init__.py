"""The cabinet's routes, one module per area, each a list ``ROUTES`` (like the emulator's ``adapters/emulator/routes``).

Find a page from its URL:

====================================================  ==========================
``/login``, ``/logout``                               ``login``
``/``, ``/teachers``, ``/classes``, ``/rules`` and     ``pages``
their ``/…/{id}``, ``/finding/{fp}``, ``/lesson/{cm}``,
``/waivers``, ``/run``
every POST form (verdict, waiver, review, release,    ``forms``
run)
``/lists``, ``/lists/{week}/{teacher}``               ``lists``
``/quality``, ``/sample``                             ``quality``
``/review…`` (the review queue), ``/review.js``        ``review``
``/objections``, ``/links/{teacher}/revoke``          ``objections``
``/t/{token}`` (a teacher's page, no password)        ``teacher``
====================================================  ==========================

The handlers find the cabinet in the request (``request.app.state.cabinet``); the shared plumbing (the ``page``
decorator: password, CSRF, cache errors) is in ``asurso_sync.web.cabinet``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from asurso_sync.web.routes import forms, lists, login, objections, pages, quality, review, teacher


def routes() -> list[BaseRoute]:
    """Every route in matching order; the listings' catch-alls (``/{key}``, ``/{key}/{ident}``) last."""
    return [
        *teacher.ROUTES,
        *objections.ROUTES,
        *login.ROUTES,
        *forms.ROUTES,
        *lists.ROUTES,
        *quality.ROUTES,
        *review.ROUTES,
        *pages.ROUTES,
        *pages.LISTINGS,
    ]
