"""Findings' lifecycle: each check run records its findings; a finding keeps its first sighting, is ``new`` the
first time, ``open`` while it persists, and ``resolved`` (with the time) when a later run within the same scope
no longer finds it."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from sqlite_utils import Database

from cache.queries import rows
from cache.runs import utc_now_iso


def record_check(
    db: Database,
    findings: list[dict[str, Any]],
    *,
    as_of: str,
    period_from: str,
    period_to: str,
    rules: list[str],
    counts: Mapping[str, Any],
    settled: Collection[str] = (),
    store: bool = True,
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Store one check run. Returns (run id, the findings with ``state``/``first_seen`` set, resolved findings).

    With ``store=False`` (a cache the user may only read) the states are computed against what is stored and
    nothing is written; the run id is then 0.

    ``findings`` are contract dicts (rule, entity, fingerprint, severity, message, …); their ``state`` and
    ``first_seen`` are set in place (a full-year check has ~80 000 of them: no copies). A stored finding that is not
    found again is resolved only if this run covered it: its rule was evaluated and its date is in the period.
    ``settled`` lists the fingerprints that are a matter of record (the late entry has been made since).
    """
    if not store:
        return _classify(db, findings, as_of=as_of, period_from=period_from, period_to=period_to, rules=rules)
    with db.atomic():
        cur = db.execute(
            'INSERT INTO "check_run" ("started_at", "as_of", "period_from", "period_to", "rules", "status", "counts") '
            "VALUES (?, ?, ?, ?, ?, 'ok', ?)",
            [
                utc_now_iso(),
                as_of,
                period_from,
                period_to,
                json.dumps(rules),
                json.dumps(dict(counts), ensure_ascii=False),
            ],
        )
        run_id = int(cur.lastrowid or 0)
        seen = _set_states(db, findings, as_of)
        db.conn.executemany(
            'INSERT INTO "finding" ("fingerprint", "rule", "entity", "severity", "teacher_id", "class_id", '
            '"sg_id", "date", "message", "evidence", "state", "first_seen", "last_seen", "resolved_at", '
            '"check_run_id", "settled", "owner", "record", "record_since") '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?) "
            'ON CONFLICT ("fingerprint") DO UPDATE SET "state" = excluded."state", '
            '"first_seen" = excluded."first_seen", "last_seen" = excluded."last_seen", "resolved_at" = NULL, '
            '"message" = excluded."message", "teacher_id" = excluded."teacher_id", '
            '"severity" = excluded."severity", "evidence" = excluded."evidence", '
            '"check_run_id" = excluded."check_run_id", "settled" = excluded."settled", "owner" = excluded."owner", '
            '"record" = excluded."record", "record_since" = CASE WHEN excluded."record" = \'\' THEN NULL '
            'WHEN "finding"."record" != \'\' AND "finding"."record_since" IS NOT NULL '
            'THEN "finding"."record_since" ELSE excluded."record_since" END',
            (
                (
                    f["fingerprint"],
                    f["rule"],
                    json.dumps(f["entity"], sort_keys=True),
                    f["severity"],
                    f.get("teacher_id"),
                    f.get("class_id"),
                    f.get("sg_id"),
                    f.get("date"),
                    f["message"],
                    f["evidence"],
                    f["state"],
                    f["first_seen"],
                    as_of,
                    run_id,
                    int(f["fingerprint"] in settled),
                    f.get("owner"),
                    f.get("record") or "",
                    as_of if f.get("record") else None,
                )
                # in fingerprint order: the key index then grows at its end instead of at random pages
                for f in sorted(findings, key=lambda f: str(f["fingerprint"]))
            ),
        )
        resolved = _resolved(
            db, seen, as_of=as_of, period_from=period_from, period_to=period_to, rules=rules, run_id=run_id
        )
        db.conn.executemany(
            'UPDATE "finding" SET "state" = \'resolved\', "resolved_at" = ? WHERE "fingerprint" = ?',
            [(as_of, r["fingerprint"]) for r in resolved],
        )
    return run_id, findings, resolved


def _set_states(db: Database, findings: list[dict[str, Any]], as_of: str) -> set[str]:
    """Set ``state``/``first_seen`` of each finding from the stored ones; returns the fingerprints seen."""
    known = {
        r[0]: (r[1], r[2]) for r in db.execute('SELECT "fingerprint", "state", "first_seen" FROM "finding"').fetchall()
    }
    seen: set[str] = set()
    for f in findings:
        fp = f["fingerprint"]
        seen.add(fp)
        prev = known.get(fp)
        if prev is None or prev[0] == "resolved":
            f["state"], f["first_seen"] = "new", as_of
        else:
            f["state"], f["first_seen"] = "open", prev[1]
    return seen


def _resolved(
    db: Database, seen: set[str], *, as_of: str, period_from: str, period_to: str, rules: list[str], run_id: int = 0
) -> list[dict[str, Any]]:
    """Stored open findings this run covered (rule evaluated, date in the period) and did not find again."""
    resolved: list[dict[str, Any]] = []
    placeholders = ", ".join("?" * len(rules)) or "''"
    unseen = db.execute(
        f'SELECT "fingerprint", "rule", "entity", "teacher_id", "class_id", "sg_id", "date", "message", '
        f'"first_seen", "severity" FROM "finding" WHERE "state" != \'resolved\' AND "rule" IN ({placeholders}) '
        'AND ("date" IS NULL OR ("date" >= ? AND "date" <= ?)) AND "check_run_id" IS NOT ?',
        [*rules, period_from, period_to, run_id],  # not those this run has just stored
    ).fetchall()
    for r in unseen:
        if r[0] in seen:
            continue
        resolved.append(
            {
                "fingerprint": r[0],
                "rule": r[1],
                "entity": json.loads(r[2]),
                "teacher_id": r[3],
                "class_id": r[4],
                "sg_id": r[5],
                "date": r[6],
                "message": r[7],
                "first_seen": r[8],
                "severity": r[9],
                "state": "resolved",
                "resolved_at": as_of,
            }
        )
    return resolved


def _classify(
    db: Database, findings: list[dict[str, Any]], *, as_of: str, period_from: str, period_to: str, rules: list[str]
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    seen = _set_states(db, findings, as_of)
    return 0, findings, _resolved(db, seen, as_of=as_of, period_from=period_from, period_to=period_to, rules=rules)


def findings_by_state(db: Database, state: str | None = None) -> list[dict[str, Any]]:
    sql = (
        'SELECT "fingerprint", "rule", "entity", "severity", "teacher_id", "class_id", "sg_id", "date", "message", '
        '"evidence", "state", "first_seen", "last_seen", "resolved_at", "settled", "owner", "record", "record_since" '
        'FROM "finding"'
    )
    params: list[Any] = []
    if state:
        sql += ' WHERE "state" = ?'
        params.append(state)
    items = rows(db, sql + ' ORDER BY "rule", "date", "fingerprint"', params)
    return [{**item, "entity": json.loads(item["entity"])} for item in items]


def add_waiver(db: Database, rule: str, scope: Mapping[str, Any], reason: str, author: str, expires: str | None) -> int:
    cur = db.execute(
        'INSERT INTO "waiver" ("rule", "scope", "reason", "author", "created_at", "expires") VALUES (?, ?, ?, ?, ?, ?)',
        [rule, json.dumps(dict(sorted(scope.items())), ensure_ascii=False), reason, author, utc_now_iso(), expires],
    )
    return int(cur.lastrowid or 0)


def waivers(db: Database, *, active_only: bool = True) -> list[dict[str, Any]]:
    sql = 'SELECT "id", "rule", "scope", "reason", "author", "created_at", "expires", "active" FROM "waiver"'
    if active_only:
        sql += ' WHERE "active" = 1'
    cur = db.execute(sql + ' ORDER BY "id"')
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        item = dict(zip(names, row, strict=True))
        item["scope"] = json.loads(item["scope"])
        out.append(item)
    return out


def remove_waiver(db: Database, waiver_id: int) -> bool:
    return bool(db.execute('UPDATE "waiver" SET "active" = 0 WHERE "id" = ?', [waiver_id]).rowcount)


def last_check(db: Database) -> dict[str, Any] | None:
    """The newest check run (id, as_of, period, rules, counts), or None when ``check`` never ran."""
    cur = db.execute(
        'SELECT "id", "started_at", "as_of", "period_from", "period_to", "rules", "counts" FROM "check_run" '
        'ORDER BY "id" DESC LIMIT 1'
    )
    row = cur.fetchone()
    if row is None:
        return None
    item = dict(zip([d[0] for d in cur.description], row, strict=True))
    item["rules"] = json.loads(item["rules"])
    item["counts"] = json.loads(item["counts"] or "{}")
    return item
