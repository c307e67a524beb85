"""A teacher's personal page (the link in her letter): links, her objections, and the deputy's answers to them.

A link carries a random token (``secrets.token_urlsafe(32)``: 256 bits); only its SHA-256 is stored — a slow hash
adds nothing to a random secret of that size, and the page must find the link in one indexed lookup. A link is
bound to one teacher and valid until ``expires_at``: issuing her next link (the next letter) shortens the older ones
to ``keep_previous_days`` from then; the deputy may revoke them at any time.

An objection is one answer of a teacher: «оспорить» one remark, or «урок не состоялся» for every remark of one
lesson. It enters the cabinet's verdict store (``adjudication``) as «спорно» rows marked with its id
(``objection_id``), one per finding — so it is in the deputy's review — and her answer is again a verdict row
marked with the objection: she upholds the remark (``right``) or agrees with the teacher (``wrong``). The rule's
precision reads the latest verdict of each finding, whoever wrote it, so objections move it exactly as the deputy's
own verdicts do.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from cache.queries import rows
from cache.runs import utc_now_iso

KINDS = ("dispute", "not_held")
TEACHER_AUTHOR = "учитель (возражение)"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def issue_link(
    db: Database,
    teacher_id: int,
    period: str,
    *,
    max_days: int,
    keep_previous_days: int = 0,
    now: datetime | None = None,
) -> str:
    """A new link for one teacher (her letter of ``period``); returns the token — shown once, in the letter, and
    never stored. Her older links end ``keep_previous_days`` from now (0: at once) unless they end sooner."""
    moment = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    previous_end = _iso(moment + timedelta(days=keep_previous_days))
    with db.atomic():
        db.execute(
            'UPDATE "teacher_link" SET "expires_at" = ? WHERE "teacher_id" = ? AND "expires_at" > ?',
            [previous_end, teacher_id, previous_end],
        )
        db.execute(
            'INSERT INTO "teacher_link" ("teacher_id", "token_hash", "period", "issued_at", "expires_at", '
            '"verdicts_before") VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX("id"), 0) FROM "adjudication"))',
            [teacher_id, token_hash(token), period, _iso(moment), _iso(moment + timedelta(days=max_days))],
        )
    return token


def find_link(db: Database, token: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The link this token opens, if it is valid now (neither expired nor revoked); None otherwise — the caller
    does not learn which (a page for a wrong token must not tell an old one from a guessed one)."""
    if not token or len(token) > 128:
        return None
    found = rows(
        db,
        'SELECT "id", "teacher_id", "period", "issued_at", "expires_at", "revoked_at" FROM "teacher_link" '
        'WHERE "token_hash" = ?',
        [token_hash(token)],
    )
    if not found:
        return None
    link = found[0]
    if link["revoked_at"] or link["expires_at"] <= _iso(now or datetime.now(UTC)):
        return None
    return link


def touch_link(db: Database, link_id: int) -> None:
    db.execute('UPDATE "teacher_link" SET "last_used_at" = ? WHERE "id" = ?', [utc_now_iso(), link_id])


def revoke_links(db: Database, teacher_id: int | None = None) -> int:
    """Revoke every valid link of one teacher (or of everyone); the number revoked."""
    where = 'WHERE "revoked_at" IS NULL AND "expires_at" > ?'
    params: list[Any] = [_iso(datetime.now(UTC))]
    if teacher_id is not None:
        where += ' AND "teacher_id" = ?'
        params.append(teacher_id)
    cur = db.execute(f'UPDATE "teacher_link" SET "revoked_at" = ? {where}', [utc_now_iso(), *params])
    return int(cur.rowcount or 0)


def valid_links(db: Database) -> list[dict[str, Any]]:
    """Per teacher with a valid link: how many, the newest issue, the last use (the cabinet's list of links)."""
    return rows(
        db,
        'SELECT l."teacher_id", s."name", COUNT(*) AS "links", MAX(l."issued_at") AS "issued_at", '
        'MAX(l."last_used_at") AS "last_used_at" FROM "teacher_link" l LEFT JOIN "staff" s ON s."id" = l."teacher_id" '
        'WHERE l."revoked_at" IS NULL AND l."expires_at" > ? GROUP BY 1, 2 ORDER BY 2',
        [_iso(datetime.now(UTC))],
    )


def previous_issue(db: Database, teacher_id: int) -> int | None:
    """The newest verdict (its id) when her newest link so far was issued — her previous letter: the next letter
    reports the answers given after it. None before her first link. Ids, not times: an answer given in the same
    second as the letter was built is still told once."""
    found = db.execute(
        'SELECT COALESCE("verdicts_before", 0) FROM "teacher_link" WHERE "teacher_id" = ? ORDER BY "id" DESC LIMIT 1',
        [teacher_id],
    ).fetchone()
    return int(found[0]) if found else None


# --- objections ------------------------------------------------------------------------------------------------


def add_objection(
    db: Database,
    *,
    teacher_id: int,
    link_id: int,
    kind: str,
    findings: list[tuple[str, str]],
    reason: str,
    cm_id: int | None = None,
) -> int:
    """Record an answer of a teacher about ``findings`` [(fingerprint, rule)] and put each into the deputy's review
    (a «спорно» verdict marked with the objection)."""
    if kind not in KINDS:
        raise ValueError(f"unknown objection {kind!r}")
    if not findings:
        raise ValueError("an objection is about at least one finding")
    now = utc_now_iso()
    with db.atomic():
        cur = db.execute(
            'INSERT INTO "teacher_objection" ("teacher_id", "link_id", "kind", "cm_id", "reason", "at") '
            "VALUES (?, ?, ?, ?, ?, ?)",
            [teacher_id, link_id, kind, cm_id, reason, now],
        )
        oid = int(cur.lastrowid or 0)
        for fingerprint, rule in findings:
            _verdict(db, fingerprint, rule, "disputed", reason, TEACHER_AUTHOR, oid, now)
    return oid


def _verdict(db: Database, fp: str, rule: str, verdict: str, comment: str, author: str, oid: int, at: str) -> None:
    db.execute(
        'INSERT INTO "adjudication" ("fingerprint", "rule", "verdict", "comment", "author", "at", "objection_id") '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [fp, rule, verdict, comment, author, at, oid],
    )


def answer_objection(db: Database, objection_id: int, *, agree: bool, comment: str, author: str) -> list[str]:
    """The deputy's answer: she agrees with the teacher (each remark a program error, ``wrong``) or upholds the
    remarks (``right``). Returns the findings answered."""
    found = objection_findings(db, [objection_id]).get(objection_id, [])
    now = utc_now_iso()
    with db.atomic():
        for fp, rule in found:
            _verdict(db, fp, rule, "wrong" if agree else "right", comment, author, objection_id, now)
    return [fp for fp, _ in found]


def objection_findings(db: Database, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(fingerprint, rule) of each objection, as its «спорно» rows recorded them."""
    out: dict[int, list[tuple[str, str]]] = {}
    if not ids:
        return out
    marks = ", ".join("?" * len(ids))
    for oid, fp, rule in db.execute(
        f'SELECT "objection_id", "fingerprint", "rule" FROM "adjudication" WHERE "objection_id" IN ({marks}) '
        'AND "verdict" = \'disputed\' ORDER BY "id"',
        ids,
    ).fetchall():
        out.setdefault(int(oid), []).append((str(fp), str(rule)))
    return out


def objections(db: Database, *, teacher_id: int | None = None, since: int | None = None) -> list[dict[str, Any]]:
    """Objections, newest first, each with its findings and its state: ``pending`` while the latest verdict of any
    of its findings is still «спорно», else ``agreed`` (the deputy found the remark wrong) or ``rejected`` (she
    upheld it) — by the latest verdict, from the review queue or from the finding's own page. ``since``: answered by a
    verdict newer than that verdict id (for the next letter: ``previous_issue``)."""
    where, params = [], []
    if teacher_id is not None:
        where.append('o."teacher_id" = ?')
        params.append(teacher_id)
    found = rows(
        db,
        'SELECT o."id", o."teacher_id", s."name" AS "teacher", o."kind", o."cm_id", o."reason", o."at" '
        'FROM "teacher_objection" o LEFT JOIN "staff" s ON s."id" = o."teacher_id" '
        f'{"WHERE " + " AND ".join(where) if where else ""} ORDER BY o."id" DESC',
        params,
    )
    by_id = objection_findings(db, [int(o["id"]) for o in found])
    fps = sorted({fp for items in by_id.values() for fp, _ in items})
    latest = _latest_verdicts(db, fps)
    out = []
    for o in found:
        items = by_id.get(int(o["id"]), [])
        last = [latest.get(fp) for fp, _ in items]
        if not last or any(v is None or v["verdict"] == "disputed" for v in last):
            state, answered_at, answer_id, comment = "pending", None, 0, ""
        else:
            state = "agreed" if all(v["verdict"] == "wrong" for v in last if v) else "rejected"
            answered_at = max(str(v["at"]) for v in last if v)
            answer_id = max(int(v["id"]) for v in last if v)
            comment = next((str(v["comment"]) for v in last if v and v["comment"]), "")
        if since is not None and (answered_at is None or answer_id <= since):
            continue
        out.append({**o, "findings": items, "state": state, "answered_at": answered_at, "answer": comment})
    return out


def _latest_verdicts(db: Database, fingerprints: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(fingerprints), 500):
        chunk = fingerprints[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for r in rows(
            db,
            'SELECT a."id", a."fingerprint", a."verdict", a."comment", a."at" FROM "adjudication" a '
            f'JOIN (SELECT "fingerprint", MAX("id") AS "id" FROM "adjudication" WHERE "fingerprint" IN ({marks}) '
            'GROUP BY 1) last ON last."id" = a."id"',
            chunk,
        ):
            out[str(r["fingerprint"])] = r
    return out


# --- what the teacher's page reads -----------------------------------------------------------------------------


def lesson_teachers(db: Database, cm_ids: list[int]) -> dict[int, set[int]]:
    """Whose lessons these are: the teacher the server recorded for the lesson (a substitute), else the group's
    teachers — children's names are shown to a teacher only on her own lessons."""
    out: dict[int, set[int]] = {}
    for start in range(0, len(cm_ids), 500):
        chunk = cm_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for cm, recorded, sg_teacher in db.execute(
            'SELECT m."id", m."teacher_id", t."teacher_id" FROM "class_meeting" m '
            'LEFT JOIN "subject_group_teacher" t ON t."sg_id" = m."sg_id" AND t."gone_at" IS NULL '
            f'WHERE m."id" IN ({marks})',
            chunk,
        ).fetchall():
            who = out.setdefault(int(cm), set())
            if recorded is not None:
                who.add(int(recorded))
            elif sg_teacher is not None:
                who.add(int(sg_teacher))
    return out


def student_names(db: Database, ids: list[int]) -> dict[int, str]:
    """Names of these students (the page names a child only on the teacher's own lessons)."""
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for ident, name in db.execute(
            f'SELECT "id", "full_name" FROM "student" WHERE "id" IN ({marks})', chunk
        ).fetchall():
            out[int(ident)] = str(name or "")
    return out


def teacher_items(db: Database, teacher_id: int, rules: list[str], records_since: str) -> list[dict[str, Any]]:
    """Her open findings of these rules — tasks, and records (``settled``) about days since ``records_since`` — with
    the class's and group's names: what her page is built from (one indexed read, only the columns it shows)."""
    if not rules:
        return []
    marks = ", ".join("?" * len(rules))
    return rows(
        db,
        'SELECT f."fingerprint", f."rule", f."entity", f."teacher_id", f."class_id", f."sg_id", f."date", f."message", '
        'f."evidence", f."settled", f."owner", c."name" AS "class_name", g."name" AS "group_name" FROM "finding" f '
        'LEFT JOIN "school_class" c ON c."id" = f."class_id" LEFT JOIN "subject_group" g ON g."id" = f."sg_id" '
        f'WHERE f."teacher_id" = ? AND f."state" != \'resolved\' AND f."rule" IN ({marks}) '
        'AND (NOT f."settled" OR f."date" >= ?)',
        [teacher_id, *rules, records_since],
    )
