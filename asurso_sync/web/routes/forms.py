"""The forms that change something, each a POST behind the password and the session's CSRF token, each in the audit
log: a verdict ``/finding/{fp}/verdict``, a waiver ``/finding/{fp}/waive`` and its revocation
``/waivers/{id}/revoke``, a lesson's review ``/lesson/{cm}/review``, a rule's release ``/release/{rule}`` and a run
``/run/{kind}``."""

from __future__ import annotations

import contextlib
import sqlite3
from contextlib import closing
from datetime import date

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.web.cabinet import ACTOR, LESSON_RU, Cabinet, page, row_id
from asurso_sync.web.jobs import KINDS
from asurso_sync.web.precision import RELEASE_MIN, RELEASE_PRECISION, precision_by_rule, ready
from cache import CacheError, add_waiver, audit, remove_waiver
from cache.cabinet import VERDICTS, adjudicate, finding, review_lesson, set_release
from rules.catalogue import load_catalogue


@page
async def set_verdict(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    form = request.state.form
    verdict = str(form.get("verdict", ""))
    comment = str(form.get("comment", "")).strip()[:2000]
    if verdict not in VERDICTS:
        return cab.render(request, "error.html", 400, title="Неизвестная оценка", text=verdict)
    with closing(cab.writable()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        adjudicate(db, fp, item["rule"], verdict, comment, ACTOR)
        audit(db, "web-verdict", {"finding": fp, "rule": item["rule"], "verdict": verdict}, actor=ACTOR)
    return RedirectResponse(f"/finding/{fp}", 303)


@page
async def waive_finding(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    form = request.state.form
    reason = str(form.get("reason", "")).strip()
    expires = str(form.get("expires", "")).strip() or None
    if not reason:
        return cab.render(request, "error.html", 400, title="Нужна причина", text="Укажите, почему замечание снято.")
    if expires:
        try:
            date.fromisoformat(expires)
        except ValueError:
            return cab.render(request, "error.html", 400, title="Неверная дата", text=expires)
    with closing(cab.writable()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        wid = add_waiver(db, item["rule"], {"fingerprint": fp}, reason, ACTOR, expires)
        audit(db, "waiver-add", {"id": wid, "rule": item["rule"], "fingerprint": fp, "reason": reason}, actor=ACTOR)
    return RedirectResponse("/waivers", 303)


@page
async def revoke_waiver(request: Request, cab: Cabinet) -> Response:
    wid = row_id(request.path_params["wid"], "Исключение не найдено")
    with closing(cab.writable()) as db:
        if remove_waiver(db, wid):
            audit(db, "waiver-remove", {"id": wid}, actor=ACTOR)
    return RedirectResponse("/waivers", 303)


@page
async def lesson_review_post(request: Request, cab: Cabinet) -> Response:
    cm = row_id(request.path_params["cm"], "Урок не найден")
    form = request.state.form
    verdict = str(form.get("verdict", ""))
    if verdict not in LESSON_RU:
        return cab.render(request, "error.html", 400, title="Неизвестная оценка", text=verdict)
    with closing(cab.writable()) as db:
        review_lesson(db, cm, verdict, str(form.get("comment", "")).strip()[:2000], ACTOR)
        audit(db, "web-lesson-review", {"cm": cm, "verdict": verdict}, actor=ACTOR)
    return RedirectResponse(f"/lesson/{cm}", 303)


@page
async def release(request: Request, cab: Cabinet) -> Response:
    """Release a rule to teachers (shadow start) or take it back into the shadow."""
    code = request.path_params["rule"]
    form = request.state.form
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")).strip()[:2000]
    if code not in load_catalogue() or action not in ("release", "withdraw"):
        return cab.render(request, "error.html", 400, title="Неизвестное правило или действие", text=code)
    with closing(cab.writable()) as db:
        stats = precision_by_rule(db).get(code)
        if action == "release" and not ready(stats) and not reason:
            return cab.render(
                request,
                "error.html",
                400,
                title="Правило не выпущено",
                text=f"Для выпуска без объяснения нужно не меньше {RELEASE_MIN} оценённых замечаний и точность не ниже "
                f"{RELEASE_PRECISION:.0%}. Чтобы выпустить раньше, напишите причину.",
            )
        n = stats["decided"] if stats else 0
        precision = stats["precision"] if stats else None
        set_release(
            db, code, released=action == "release", author=ACTOR, adjudicated=n, precision=precision, reason=reason
        )
        audit(
            db,
            "rule-release" if action == "release" else "rule-withdraw",
            {"rule": code, "adjudicated": n, "precision": precision, "reason": reason},
            actor=ACTOR,
        )
    return RedirectResponse("/quality", 303)


@page
async def run_start(request: Request, cab: Cabinet) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        return cab.render(request, "error.html", 404, title="Нет такого действия", text=kind)
    if cab.jobs.start(kind) is None:
        return cab.render(
            request, "error.html", 409, title="Уже выполняется", text="Дождитесь окончания текущего запуска."
        )
    with contextlib.suppress(CacheError, sqlite3.OperationalError), closing(cab.db()) as db:
        audit(db, "web-run", {"kind": kind}, actor=ACTOR)
    return RedirectResponse("/run", 303)


ROUTES: list[BaseRoute] = [
    Route("/finding/{fp}/verdict", set_verdict, methods=["POST"]),
    Route("/finding/{fp}/waive", waive_finding, methods=["POST"]),
    Route("/waivers/{wid}/revoke", revoke_waiver, methods=["POST"]),
    Route("/lesson/{cm}/review", lesson_review_post, methods=["POST"]),
    Route("/release/{rule}", release, methods=["POST"]),
    Route("/run/{kind}", run_start, methods=["POST"]),
]
