"""The deputy's side of the teachers' answers: ``/objections`` — the queue of teachers' objections (each already in
the verdict store as «спорно», marked as the teacher's), her answer ``/objections/{id}/answer`` (agree: each remark
is a program error and is waived; uphold: it stays and counts as right), and the teachers' personal links with their
revocation ``/links/{teacher}/revoke``. Behind the password and the session's CSRF token, like every cabinet page."""

from __future__ import annotations

from contextlib import closing

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.web.cabinet import ACTOR, Cabinet, page
from cache import add_waiver, audit
from cache.cabinet import findings_named
from cache.teacher_links import answer_objection, objections, revoke_links, valid_links

STATE_RU = {"pending": "ждёт решения", "agreed": "согласна с учителем", "rejected": "замечание верно"}


@page
async def queue(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        items = objections(db)
        named = {
            f["fingerprint"]: f for f in findings_named(db, sorted({fp for o in items for fp, _ in o["findings"]}))
        }
        links = valid_links(db)
    for o in items:
        o["at_local"] = cab.local(o["at"])
        o["named"] = [named[fp] for fp, _ in o["findings"] if fp in named]
    pending = [o for o in items if o["state"] == "pending"]
    answered = [o for o in items if o["state"] != "pending"][:50]
    for link in links:
        link["issued"] = cab.local(link["issued_at"])
        link["used"] = cab.local(link["last_used_at"])
    return cab.render(request, "objections.html", pending=pending, answered=answered, links=links, states=STATE_RU)


@page
async def answer(request: Request, cab: Cabinet) -> Response:
    oid = int(request.path_params["oid"])
    form = request.state.form
    verdict = str(form.get("answer", ""))
    if verdict not in ("agree", "uphold"):
        return cab.render(request, "error.html", 400, title="Неизвестный ответ", text=verdict)
    comment = str(form.get("comment", "")).strip()[:2000]
    with closing(cab.writable()) as db:
        found = next((o for o in objections(db) if o["id"] == oid), None)
        if found is None:
            return cab.render(request, "error.html", 404, title="Возражение не найдено", text=str(oid))
        done = answer_objection(db, oid, agree=verdict == "agree", comment=comment, author=ACTOR)
        if verdict == "agree":  # the remark was false: it leaves her list from the next check on
            for fp, rule in found["findings"]:
                add_waiver(
                    db, rule, {"fingerprint": fp}, f"возражение учителя принято: {found['reason']}"[:500], ACTOR, None
                )
        audit(db, "objection-answer", {"objection": oid, "answer": verdict, "findings": done}, actor=ACTOR)
    return RedirectResponse("/objections", 303)


@page
async def revoke(request: Request, cab: Cabinet) -> Response:
    teacher = int(request.path_params["teacher"])
    with closing(cab.writable()) as db:
        n = revoke_links(db, teacher)
        audit(db, "teacher-links-revoke", {"teacher": teacher, "links": n}, actor=ACTOR)
    return RedirectResponse("/objections", 303)


ROUTES: list[BaseRoute] = [
    Route("/objections", queue),
    Route("/objections/{oid:int}/answer", answer, methods=["POST"]),
    Route("/links/{teacher:int}/revoke", revoke, methods=["POST"]),
]
