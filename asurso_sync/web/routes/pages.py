"""The pages a deputy reads: the overview ``/``, the listings ``/teachers``, ``/classes``, ``/rules`` and the
findings of one of them (``/teachers/{id}`` …), a finding ``/finding/{fp}`` with its evidence, a lesson
``/lesson/{cm}``, the waivers ``/waivers`` and a run started from the cabinet ``/run``.

The listing routes are catch-alls (``/{key}``): they come last in the cabinet's routing table."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from contextlib import closing
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from asurso_sync.routing import finding_route, rule_routes
from asurso_sync.web.cabinet import (
    LESSON_RU,
    PAGE_ROWS,
    ROUTE_RU,
    TIMELY,
    VERDICT_RU,
    Cabinet,
    NotFound,
    page,
    row_id,
    rules_by_code,
    sparkline,
)
from asurso_sync.web.jobs import KINDS
from cache import last_check, waivers
from cache.cabinet import (
    count_open,
    counts_by,
    finding,
    lesson_evidence,
    lesson_reviews,
    lessons_per_week,
    open_by_rule,
    open_findings,
    released_rules,
    verdict_history,
    verdicts,
    weekly_by,
    weekly_counts,
)
from cache.runs import last_runs
from rules.catalogue import load_catalogue


@page
async def overview(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        runs = last_runs(db, 5)
        check = last_check(db)
        by_rule = open_by_rule(db)
        weeks = weekly_counts(db)
        lessons = {r["week"]: r["lessons"] for r in lessons_per_week(db)}
        judged = verdicts(db)
    late: defaultdict[str, int] = defaultdict(int)
    start: dict[str, str] = {}
    for w in weeks:
        start.setdefault(w["week"], w["from"])
        if w["rule"] in TIMELY:
            late[w["week"]] += w["count"]
    chart = []
    for week, n in sorted(lessons.items()):
        if n and week in start:
            share = max(0.0, 1 - late[week] / n)
            chart.append({"week": week, "from": start[week], "share": share})
    chart = chart[-12:]
    undecided = sum(u for _, _, u in by_rule)
    last_ok = next((r for r in runs if r.status == "ok"), None)
    return cab.render(
        request,
        "overview.html",
        runs=[{**r.__dict__, "started": cab.local(r.started_at)} for r in runs],
        last_ok=cab.local(last_ok.finished_at) if last_ok else None,
        check=check,
        check_at=cab.local(check["as_of"]) if check else None,
        open_count=sum(n for _, n, _ in by_rule),
        undecided=undecided,
        judged=len(judged),
        by_rule=[(code, n) for code, n, _ in by_rule],
        chart=chart,
    )


@page
async def listing(request: Request, cab: Cabinet) -> Response:
    key = request.path_params["key"]
    titles = {
        "teachers": ("teacher", "Учителя", "Учитель"),
        "classes": ("class", "Классы", "Класс"),
        "rules": ("rule", "Правила", "Правило"),
    }
    if key not in titles:
        return cab.render(request, "error.html", 404, title="Нет такой страницы", text=request.url.path)
    kind, title, header = titles[key]
    with closing(cab.db()) as db:
        counted = counts_by(db, kind)
        check = last_check(db)
        trends = cab.remember(("trend", kind, check["id"] if check else None), lambda: weekly_by(db, kind))
    weeks = sorted({w for per in trends.values() for w in per})
    table: dict[Any, dict[str, Any]] = {}
    for row in counted:
        entry = table.setdefault(row["id"], {"id": row["id"], "name": row["name"], "rules": Counter(), "total": 0})
        entry["rules"][row["rule"]] += row["count"]
        entry["total"] += row["count"]
    rules = rules_by_code()
    entries = sorted(table.values(), key=lambda e: (-e["total"], str(e["name"])))
    for e in entries:
        e["trend"] = sparkline([trends.get(e["id"], {}).get(w, 0) for w in weeks])
    if kind == "rule":
        for e in entries:
            e["name"] = f"{e['id']} — {rules.get(str(e['id']), {}).get('title', '')}"
    return cab.render(request, "listing.html", title=title, header=header, key=key, entries=entries)


@page
async def findings_of(request: Request, cab: Cabinet) -> Response:
    key, ident = request.path_params["key"], request.path_params["ident"]
    rules = rules_by_code()
    column, value = {
        "teachers": ("teacher_id", row_id(ident, "Учитель не найден") if key == "teachers" else 0),
        "classes": ("class_id", row_id(ident, "Класс не найден") if key == "classes" else 0),
        "rules": ("rule", ident),
    }.get(key, ("", ""))
    if not column:
        raise NotFound("Нет такой страницы", request.url.path)
    with closing(cab.db()) as db:
        items = open_findings(db, **{column: value}, limit=PAGE_ROWS)
        total = count_open(db, column, value)
        judged = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}
    if key == "teachers":
        title = items[0]["teacher"] if items and items[0]["teacher"] else f"Учитель {ident}"
    elif key == "classes":
        title = f"Класс {items[0]['class_name']}" if items and items[0]["class_name"] else f"Класс {ident}"
    else:
        title = f"{ident} — {rules.get(ident, {}).get('title', '')}"
    for f in items:
        f["verdict"] = VERDICT_RU.get(judged.get(f["fingerprint"], ""), "")
    return cab.render(request, "findings.html", title=title, items=items, back=f"/{key}", total=total)


@page
async def finding_page(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    with closing(cab.db()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        entity = json.loads(item["entity"])
        evidence = lesson_evidence(db, int(entity["cm"])) if "cm" in entity else None
        history = verdict_history(db, fp)
        released = released_rules(db)
    rule = rules_by_code().get(item["rule"], {})
    owner = item["owner"] or rule.get("owner", "teacher")
    catalogue = load_catalogue()
    route = finding_route(item, rule_routes(catalogue, cab.config, released))
    route_text = ROUTE_RU.get(route, route)
    unshadowed = finding_route(item, rule_routes(catalogue, cab.config, {item["rule"]}))
    if route != unshadowed:
        route_text = f"{route_text} — теневой режим: {ROUTE_RU[unshadowed]} после выпуска правила"
    return cab.render(
        request,
        "finding.html",
        f=item,
        entity=entity,
        rule=rule,
        owner={"teacher": "учитель", "chief": "классный руководитель", "deputy": "заместитель директора"}.get(
            owner, owner
        ),
        route=route_text,
        evidence=evidence,
        local=cab.local,
        history=[{**h, "verdict": VERDICT_RU[h["verdict"]], "at": cab.local(h["at"])} for h in history],
        verdicts=VERDICT_RU,
    )


@page
async def lesson_page(request: Request, cab: Cabinet) -> Response:
    cm = row_id(request.path_params["cm"], "Урок не найден")
    with closing(cab.db()) as db:
        evidence = lesson_evidence(db, cm)
        review = lesson_reviews(db).get(cm)
    if evidence["lesson"] is None:
        return cab.render(request, "error.html", 404, title="Урок не найден", text=str(cm))
    return cab.render(
        request,
        "lesson.html",
        evidence=evidence,
        local=cab.local,
        review=LESSON_RU.get(review["verdict"], "") if review else "",
        comment=review["comment"] if review else "",
    )


@page
async def waivers_page(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        items = waivers(db)
    for w in items:
        w["created"] = cab.local(w["created_at"])
    return cab.render(request, "waivers.html", items=items)


@page
async def run_page(request: Request, cab: Cabinet) -> Response:
    job = cab.jobs.current
    eta = job.eta if job else None
    return cab.render(
        request,
        "run.html",
        job=job,
        kind=KINDS.get(job.kind, "") if job else "",
        eta=None if eta is None else f"{int(eta // 60)} мин {int(eta % 60):02d} с",
        refresh=bool(job and job.state == "running"),
    )


ROUTES: list[BaseRoute] = [
    Route("/", overview),
    Route("/finding/{fp}", finding_page),
    Route("/lesson/{cm}", lesson_page),
    Route("/waivers", waivers_page),
    Route("/run", run_page),
]
# last: «/teachers», «/classes/12», «/rules/TML001» …
LISTINGS: list[BaseRoute] = [Route("/{key}", listing), Route("/{key}/{ident}", findings_of)]
