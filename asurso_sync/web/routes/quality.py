"""How good the program is on this school's journal: ``/quality`` (precision per rule from the verdicts, the rules
in the shadow and their release) and ``/sample`` (a random sample of findings and of lessons without findings)."""

from __future__ import annotations

import random
from collections import defaultdict
from contextlib import closing
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from asurso_sync.routing import route_of, shadowed
from asurso_sync.web.cabinet import LESSON_RU, VERDICT_RU, Cabinet, page
from asurso_sync.web.precision import RELEASE_MIN, RELEASE_PRECISION, precision_by_rule, ready, wilson
from cache.cabinet import findings_named, lesson_evidence, lesson_reviews, released_rules, releases, verdicts
from rules.catalogue import load_catalogue


@page
async def quality(request: Request, cab: Cabinet) -> Response:
    catalogue = load_catalogue()
    with closing(cab.db()) as db:
        stats = precision_by_rule(db)
        released = releases(db)
        waiting = shadowed(catalogue, cab.config, released_rules(db))
    bound = {c for c, r in catalogue.items() if route_of(r, cab.config) in ("teacher", "class_teacher")}
    codes = sorted(set(stats) | (bound if cab.config.rules.shadow else set()))
    empty = {"right": 0, "wrong": 0, "disputed": 0, "decided": 0, "precision": None, "low": None, "high": None}
    table = []
    for code in codes:
        row = {"rule": code, "title": catalogue[code].title if code in catalogue else "", **stats.get(code, empty)}
        row["shadow"] = code in waiting
        row["release"] = released.get(code)
        row["ready"] = ready(stats.get(code))
        table.append(row)
    return cab.render(
        request,
        "quality.html",
        table=table,
        shadow=cab.config.rules.shadow,
        minimum=RELEASE_MIN,
        threshold=RELEASE_PRECISION,
        local=cab.local,
    )


@page
async def sample(request: Request, cab: Cabinet) -> Response:
    """A stratified random sample: up to N open findings of every rule, and M lessons without findings — checked by
    hand in an evening, they measure the program on the school's own journal (precision and misses)."""
    n = bounded(request.query_params.get("n"), 5, 1, 50)
    m = bounded(request.query_params.get("m"), 10, 0, 200)
    seed = request.query_params.get("seed") or date.today().isoformat()
    rng = random.Random(seed)  # noqa: S311 - a sample for people to check, not a secret
    with closing(cab.db()) as db:
        chosen = sample_fingerprints(cab.open_fingerprints(db), n, rng)
        items = findings_named(db, chosen)
        judged = {v["fingerprint"]: VERDICT_RU[v["verdict"]] for v in verdicts(db)}
        lessons = cab.clean_lessons(db)
        reviewed = lesson_reviews(db)
        picked_lessons = [lesson_evidence(db, cm)["lesson"] for cm in rng.sample(lessons, min(m, len(lessons)))]
    picked = [{**f, "verdict": judged.get(f["fingerprint"], "")} for f in items]
    missed = sum(1 for r in reviewed.values() if r["verdict"] == "missed")
    low, high = wilson(missed, len(reviewed))
    return cab.render(
        request,
        "sample.html",
        n=n,
        m=m,
        seed=seed,
        findings=picked,
        lessons=[
            {**x, "review": LESSON_RU.get(reviewed.get(x["id"], {}).get("verdict", ""), "")}
            for x in picked_lessons
            if x
        ],
        reviewed=len(reviewed),
        missed=missed,
        interval=(low, high) if reviewed else None,
    )


def sample_fingerprints(open_fingerprints: list[tuple[str, str]], n: int, rng: random.Random) -> list[str]:
    """Up to ``n`` open findings of every rule, drawn by ``rng`` (the sample page and the sample's review queue)."""
    by_rule: defaultdict[str, list[str]] = defaultdict(list)
    for code, fp in open_fingerprints:
        by_rule[code].append(fp)
    return [fp for code in sorted(by_rule) for fp in rng.sample(by_rule[code], min(n, len(by_rule[code])))]


def bounded(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw))) if raw else default
    except ValueError:
        return default


ROUTES: list[BaseRoute] = [
    Route("/quality", quality),
    Route("/sample", sample),
]
