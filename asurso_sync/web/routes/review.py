"""The review queue «Проверить замечания»: verdicts one after another, one key each.

``/review`` lists the rules with their findings still without a verdict and each rule's progress towards release;
``/review/rules/{code}`` shows the rule's next finding without a verdict, ``/review/sample?seed=…&n=…`` the next of
the sample's (the same findings as ``/sample``); ``POST /review/verdict`` stores a verdict (or skips the finding) and
sends the browser to the next one. The three verdict buttons have no preset; ``/review.js`` binds the keys 1, 2, 3
and 0 (skip) to them — without it the buttons work as well.
"""

from __future__ import annotations

import random
from contextlib import closing
from datetime import date
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from asurso_sync.web.cabinet import ACTOR, VERDICT_RU, Cabinet, NotFound, page, rules_by_code
from asurso_sync.web.precision import RELEASE_MIN, RELEASE_PRECISION, precision_by_rule, ready
from asurso_sync.web.routes.pages import finding_view
from asurso_sync.web.routes.quality import bounded, sample_fingerprints
from cache import audit
from cache.cabinet import (
    VERDICTS,
    adjudicate,
    count_open,
    finding,
    judged_fingerprints,
    judged_open_by_rule,
    next_unjudged,
    open_by_rule,
)

SKIP = "skip"
_SCRIPT = resources.files("asurso_sync").joinpath("templates/web/review.js").read_bytes()


def progress(db: Database, code: str) -> dict[str, Any]:
    """A rule's way to release: decided verdicts of the ``RELEASE_MIN`` needed, the precision so far, ready or not."""
    stats = precision_by_rule(db).get(code)
    decided = stats["decided"] if stats else 0
    return {
        "decided": decided,
        "needed": RELEASE_MIN,
        "precision": stats["precision"] if stats else None,
        "ready": ready(stats),
        "disputed": stats["disputed"] if stats else 0,
    }


@page
async def choose(request: Request, cab: Cabinet) -> Response:
    titles = {code: r["title"] for code, r in rules_by_code().items()}
    with closing(cab.db()) as db:
        opened = {code: n for code, n, _ in open_by_rule(db)}
        judged = judged_open_by_rule(db)
        left = {code: n - judged.get(code, 0) for code, n in opened.items()}
        stats = precision_by_rule(db)
    table = [
        {
            "code": code,
            "title": titles.get(code, ""),
            "open": opened[code],
            "left": left.get(code, 0),
            "decided": stats[code]["decided"] if code in stats else 0,
            "precision": stats[code]["precision"] if code in stats else None,
            "ready": ready(stats.get(code)),
        }
        for code in sorted(opened, key=lambda c: (ready(stats.get(c)), -left.get(c, 0), c))
    ]
    return cab.render(
        request,
        "review_choose.html",
        table=table,
        minimum=RELEASE_MIN,
        threshold=RELEASE_PRECISION,
        seed=date.today().isoformat(),
    )


def _show(
    request: Request, cab: Cabinet, db: Database, item: dict[str, Any] | None, title: str, left: int, here: str
) -> Response:
    saved = VERDICT_RU.get(request.query_params.get("saved", ""), "")
    if item is None:
        return cab.render(request, "review_done.html", title=title, saved=saved)
    return cab.render(
        request,
        "review.html",
        **finding_view(cab, db, item),
        title=title,
        left=left,
        here=here,
        saved=saved,
        progress=progress(db, item["rule"]),
    )


@page
async def rule_queue(request: Request, cab: Cabinet) -> Response:
    code = request.path_params["code"]
    rule = rules_by_code().get(code)
    if rule is None:
        raise NotFound("Нет такого правила", code[:20])
    session = request.state.session
    with closing(cab.db()) as db:
        item = next_unjudged(db, code, sorted(session.skipped))
        left = count_open(db, rule=code) - judged_open_by_rule(db).get(code, 0)
        return _show(request, cab, db, item, f"{code} — {rule['title']}", left, f"/review/rules/{code}")


@page
async def sample_queue(request: Request, cab: Cabinet) -> Response:
    n = bounded(request.query_params.get("n"), 5, 1, 50)
    seed = request.query_params.get("seed") or date.today().isoformat()
    session = request.state.session
    with closing(cab.db()) as db:
        chosen = sample_fingerprints(cab.open_fingerprints(db), n, random.Random(seed))  # noqa: S311 - as /sample
        judged = judged_fingerprints(db, chosen)
        waiting = [fp for fp in chosen if fp not in judged and fp not in session.skipped]
        item = finding(db, waiting[0]) if waiting else None
        here = f"/review/sample?{urlencode({'seed': seed, 'n': n})}"
        return _show(request, cab, db, item, f"выборка «{seed}»", len(chosen) - len(judged), here)


@page
async def post_verdict(request: Request, cab: Cabinet) -> Response:
    form = request.state.form
    fp, verdict = str(form.get("fp", "")), str(form.get("verdict", ""))
    back = str(form.get("back", ""))
    if not back.startswith("/review/") or "//" in back or "\\" in back:
        back = "/review"
    if verdict == SKIP:
        request.state.session.skipped.add(fp[:64])
        return RedirectResponse(back, 303)
    if verdict not in VERDICTS:
        return cab.render(request, "error.html", 400, title="Выберите оценку", text="Оценка не выбрана.")
    comment = str(form.get("comment", "")).strip()[:2000]
    with closing(cab.writable()) as db:
        item = finding(db, fp)
        if item is None:
            raise NotFound("Замечание не найдено", fp[:64])
        adjudicate(db, fp, item["rule"], verdict, comment, ACTOR)
        audit(db, "web-verdict", {"finding": fp, "rule": item["rule"], "verdict": verdict}, actor=ACTOR)
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}saved={verdict}", 303)


async def script(request: Request) -> Response:
    """The queue's keys (a static file of this program: the CSP allows scripts from the cabinet itself only)."""
    return Response(_SCRIPT, media_type="text/javascript")


ROUTES: list[BaseRoute] = [
    Route("/review", choose),
    Route("/review/rules/{code}", rule_queue),
    Route("/review/sample", sample_queue),
    Route("/review/verdict", post_verdict, methods=["POST"]),
    Route("/review.js", script),
]
