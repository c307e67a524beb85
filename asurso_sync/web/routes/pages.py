"""The pages a deputy reads: the overview ``/``, the listings ``/teachers``, ``/classes``, ``/rules`` and the
findings of one of them (``/teachers/{id}`` …), a finding ``/finding/{fp}`` with its evidence, a lesson
``/lesson/{cm}``, the waivers ``/waivers`` and a run started from the cabinet ``/run``.

The listing routes are catch-alls (``/{key}``): they come last in the cabinet's routing table."""

from __future__ import annotations

import json
from collections import Counter
from contextlib import closing
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup
from sqlite_utils import Database
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from asurso_sync.check import undecided_by_rule
from asurso_sync.routing import finding_route, rule_routes, shadowed
from asurso_sync.vocabulary import EVIDENCE, FINDING_KIND, FINDING_STATE, run_kind, run_status
from asurso_sync.web.cabinet import (
    LESSON_RU,
    OWNER_RU,
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
    counts_by,
    finding,
    late_lessons_per_week,
    lesson_evidence,
    lesson_reviews,
    lessons_per_week,
    open_by_rule,
    open_facets,
    open_findings,
    released_rules,
    verdict_history,
    verdicts,
    weekly_by,
)
from cache.runs import last_runs
from rules.catalogue import load_catalogue


def weekly_chart(lessons: dict[str, int], late: dict[str, int], check: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The share of lessons filled on time (no TML001–TML004 finding) per week of the checked period, the last
    twelve: each bar a week, labelled by its Monday (``lessons``: the period's lessons before the check's day)."""
    if check is None:
        return []
    chart = []
    for week, n in sorted(lessons.items()):
        start = date.fromisoformat(week)
        if n:
            share = max(0.0, 1 - late.get(week, 0) / n)
            chart.append({"monday": start, "sunday": start + timedelta(days=6), "share": share, "lessons": n})
    return chart[-12:]


@page
async def overview(request: Request, cab: Cabinet) -> Response:
    with closing(cab.db()) as db:
        runs = last_runs(db, 5)
        check = last_check(db)
        by_rule = open_by_rule(db)
        judged = len(verdicts(db))
        chart = cab.remember(
            ("chart", check["id"] if check else None),
            lambda: weekly_chart(
                lessons_per_week(db, check["period_from"], check["as_of"][:10]) if check else {},
                late_lessons_per_week(db, TIMELY),
                check,
            ),
        )
    undecided = undecided_by_rule(check["counts"].get("undecided", {}) if check else {})
    titles = {code: r["title"] for code, r in rules_by_code().items()}
    opened = {code: n for code, n, _ in by_rule}
    table = [
        {"code": code, "title": titles.get(code, ""), "open": opened.get(code, 0), "undecided": undecided.get(code, 0)}
        for code in sorted(set(opened) | set(undecided), key=lambda c: (-opened.get(c, 0), c))
    ]
    last_ok = next((r for r in runs if r.status == "ok"), None)
    return cab.render(
        request,
        "overview.html",
        runs=[
            {"id": r.id, "kind": run_kind(r.kind), "started": cab.local(r.started_at), "status": run_status(r.status)}
            for r in runs
        ],
        last_ok=cab.local(last_ok.finished_at) if last_ok else None,
        check=check,
        check_at=cab.local(check["as_of"]) if check else None,
        open_count=sum(opened.values()),
        undecided=sum(undecided.values()),
        judged=judged,
        by_rule=table,
        chart=chart,
    )


_TAG = Markup('<span class="tag">%s: %d</span>')  # a rule and its count on a listing's row (escaped by Markup)


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
        # a teacher's rules as tags, joined here: 10³ tags through the template's loop were a third of the page
        e["tags"] = Markup(" ").join(_TAG % (rule, n) for rule, n in e["rules"].most_common())
    if kind == "rule":
        for e in entries:
            e["name"] = f"{e['id']} — {rules.get(str(e['id']), {}).get('title', '')}"
    return cab.render(request, "listing.html", title=title, header=header, key=key, entries=entries)


STATE_RU = {k: FINDING_STATE[k] for k in ("new", "open")}  # the pages list open findings only
EVIDENCE_RU, KIND_RU = EVIDENCE, FINDING_KIND
# ruling R23: a shadowed rule's findings reach the deputy only (a deputy's rule is never in the shadow)
SHADOW_RU = {"yes": "в тени: учителям пока не отправляется", "no": "не в тени"}


def grouped(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings (newest first) grouped by the week of their lesson day (its Monday) and, inside, by lesson (or by
    day for findings about a day or a student rather than a lesson), each group with its count."""
    weeks: list[dict[str, Any]] = []
    for f in items:
        day = date.fromisoformat(f["date"][:10]) if f["date"] else None
        monday = day - timedelta(days=day.weekday()) if day else None
        if not weeks or weeks[-1]["monday"] != monday:
            sunday = monday + timedelta(days=6) if monday else None
            weeks.append({"monday": monday, "sunday": sunday, "count": 0, "lessons": []})
        week = weeks[-1]
        key = (day, f["cm"], f["lesson_number"], f["group_name"] or f["class_name"])
        if not week["lessons"] or week["lessons"][-1]["key"] != key:
            week["lessons"].append(
                {"key": key, "day": day, "number": f["lesson_number"], "where": key[3], "cm": f["cm"], "findings": []}
            )
        week["lessons"][-1]["findings"].append(f)
        week["count"] += 1
    return weeks


def _choice(raw: str | None, allowed: set[Any]) -> Any:
    """A filter's value from the query string if it is one of the page's choices, else None (not filtered)."""
    if raw is None or raw == "":
        return None
    for value in allowed:
        if str(value) == raw:
            return value
    return None


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
        waiting = set(shadowed(load_catalogue(), cab.config, released_rules(db)))
        facets = open_facets(db, **{column: value})
        query = request.query_params
        chosen = {
            "rule": _choice(query.get("rule"), {f["rule"] for f in facets}) if column != "rule" else None,
            "class_id": _choice(query.get("class"), {f["class_id"] for f in facets}) if column != "class_id" else None,
            "state": _choice(query.get("state"), set(STATE_RU)),
            "evidence": _choice(query.get("evidence"), set(EVIDENCE_RU)),
            "kind": _choice(query.get("kind"), set(KIND_RU)),
        }
        shadow = _choice(query.get("shadow"), set(SHADOW_RU))
        filters = {column: value, **{k: v for k, v in chosen.items() if v is not None}}
        if shadow is not None:
            filters["rule_in" if shadow == "yes" else "rule_not_in"] = waiting
        items = open_findings(db, **filters, limit=PAGE_ROWS)
        judged = {v["fingerprint"]: v["verdict"] for v in verdicts(db)}

    def kept(f: dict[str, Any]) -> bool:
        """A facet row within the chosen filters."""
        shown = shadow is None or (f["rule"] in waiting) == (shadow == "yes")
        return shown and all(v is None or f[k] == v for k, v in chosen.items())

    # the filtered count from the facets already read (not one more pass over a year's findings)
    total = sum(f["count"] for f in facets if kept(f))
    if key == "teachers":
        title = items[0]["teacher"] if items and items[0]["teacher"] else f"Учитель {ident}"
    elif key == "classes":
        title = f"Класс {items[0]['class_name']}" if items and items[0]["class_name"] else f"Класс {ident}"
    else:
        title = f"{ident} — {rules.get(ident, {}).get('title', '')}"
    for f in items:
        f["verdict"] = VERDICT_RU.get(judged.get(f["fingerprint"], ""), "")
        f["title"] = rules.get(f["rule"], {}).get("title", "")
        f["shadow"] = f["rule"] in waiting  # R23: the deputy sees it; teachers do not yet
    options = _options(facets, column, rules, waiting)
    return cab.render(
        request,
        "findings.html",
        title=title,
        weeks=grouped(items),
        shown=len(items),
        back=f"/{key}",
        total=total,
        scope_total=sum(f["count"] for f in facets),
        options=options,
        chosen={k: "" if v is None else str(v) for k, v in {**chosen, "shadow": shadow}.items()},
        key=key,
    )


def _options(
    facets: list[dict[str, Any]], column: str, rules: dict[str, dict[str, Any]], waiting: set[str]
) -> dict[str, list[Any]]:
    """The filters' choices with their counts in the page's scope (a choice with no finding is left out; the
    shadow filter only where some of the scope's findings are in the shadow)."""
    per: dict[str, Counter[Any]] = {k: Counter() for k in ("rule", "class", "state", "evidence", "kind", "shadow")}
    names: dict[Any, str] = {}
    for f in facets:
        per["rule"][f["rule"]] += f["count"]
        per["class"][f["class_id"]] += f["count"]
        names[f["class_id"]] = f["class_name"] or "без класса"
        per["state"][f["state"]] += f["count"]
        per["evidence"][f["evidence"]] += f["count"]
        per["kind"][f["kind"]] += f["count"]
        per["shadow"]["yes" if f["rule"] in waiting else "no"] += f["count"]
    return {
        "rule": []
        if column == "rule"
        else [(c, f"{c} — {rules.get(c, {}).get('title', '')}", n) for c, n in sorted(per["rule"].items())],
        "class": []
        if column == "class_id"
        else sorted(
            ((c, names[c], n) for c, n in per["class"].items() if c is not None), key=lambda x: (len(x[1]), x[1])
        ),
        "state": [(s, STATE_RU.get(s, s), per["state"][s]) for s in STATE_RU if per["state"][s]],
        "evidence": [(e, EVIDENCE_RU.get(e, e), per["evidence"][e]) for e in EVIDENCE_RU if per["evidence"][e]],
        "kind": [(k, KIND_RU[k], per["kind"][k]) for k in KIND_RU if per["kind"][k]],
        "shadow": [(s, SHADOW_RU[s], per["shadow"][s]) for s in SHADOW_RU if per["shadow"][s]]
        if per["shadow"]["yes"]
        else [],
    }


def finding_view(cab: Cabinet, db: Database, item: dict[str, Any]) -> dict[str, Any]:
    """What a finding's card shows (``_finding.html``): the finding, its rule, who answers for it, where it goes
    and what the program saw of its lesson — the finding's page and the review queue show the same."""
    entity = json.loads(item["entity"])
    evidence = lesson_evidence(db, int(entity["cm"])) if "cm" in entity else None
    rule = rules_by_code().get(item["rule"], {})
    owner = item["owner"] or rule.get("owner", "teacher")
    catalogue = load_catalogue()
    route = finding_route(item, rule_routes(catalogue, cab.config, released_rules(db)))
    route_text = ROUTE_RU.get(route, route)
    unshadowed = finding_route(item, rule_routes(catalogue, cab.config, {item["rule"]}))
    if route != unshadowed:
        route_text = f"{route_text} — теневой режим: {ROUTE_RU[unshadowed]} после выпуска правила"
    return {
        "f": item,
        "entity": entity,
        "rule": rule,
        "owner": OWNER_RU.get(owner, owner),
        "route": route_text,
        "evidence": evidence,
        "local": cab.local,
    }


@page
async def finding_page(request: Request, cab: Cabinet) -> Response:
    fp = request.path_params["fp"]
    with closing(cab.db()) as db:
        item = finding(db, fp)
        if item is None:
            return cab.render(request, "error.html", 404, title="Замечание не найдено", text=fp)
        view = finding_view(cab, db, item)
        history = verdict_history(db, fp)
    return cab.render(
        request,
        "finding.html",
        **view,
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
