"""Fault injection for the emulator: each fault alone or the ``standard`` mix, seeded for reproducibility.

Faults hit authenticated ``/webapi`` reads (not the login flow, logout or the control endpoints): the
preset measures the client's read resilience, and a fault on the login itself must never be retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

DRIFTS = frozenset(
    {
        "teacher_single",  # assigns/{id}: "teacher": {...} instead of "teachers": [...]
        "lesson_flat",  # grade/journal/edit: "lessonId" + "lessonName" instead of "lesson": {...}
        "reason_mark",  # grade/attendance/reasons: "ReasonMark" instead of "mark"
        "students_dict",  # student/diary/init: "students" as a dict keyed by index
        "frac_digits",  # datetimes with 1-7 fractional second digits
        "null_arrays",  # empty arrays sent as null or omitted
        "string_ids",  # ids as numeric strings
        # issue #20: IRTech's shapes are served by default; these bring back what the emulator served before
        "assignments_nested",  # grade/journal: assignments inside classMeeting[] (IRTech's newer renderer)
        "report_texts",  # the access report with whole action texts, no legend, no rows without a user
        # issue #32: what the evidence leaves open about the report's cells, and the 2013 page
        "report_bare_codes",  # each action cell holds its code alone (no work type, text or student)
        "report_joined_codes",  # one row per saving of a lesson, its codes joined («ТУ, ОТ»), no details
        "report_2013",  # the three-column «last change» table (group, time, user) instead of the log
        "group_extracurricular",  # subjectgroups carry extraCurricular too (by default only subjects do)
        "esia_login_only",  # no bare sso/esia/crosslogin: only sso/esia/login?esia_permissions=1&esia_role=1
        "ea_journal",  # an extra-activity journal: grade/journal/filter/init?extraActivity=true answers its filters
        "lesson_teacher",  # schedule/classmeetings names a lesson's recorded substitute («teacher»; not in evidence)
        "asp_adt",  # JournalAccess.asp reads ADT/DDT (the emulator's old guess), not DATE_START/DATE_END
        "queue_bare_id",  # reports/{id}/queue answers a bare task id (servers before 2026)
        "esrnsec_once",  # the login answer sets ESRNSec once (no deletion before it)
        "esrnsec_empty_last",  # the login answer sets ESRNSec, then an empty one (a standard cookie jar keeps that)
        "routine_warning",  # every login lands on SecurityWarning with warnType 1 and no atlist (no other session)
        "login_down",  # the login answers 409 «Ошибка входа в систему» (the server's database is down)
        "no_extracurricular_flag",  # no extraCurricular on subjects or groups: only classmeetings' relay 2 tells
        # issue #32: the year's own period listed in terms and terms/search as termTypeId 4 (not in evidence);
        # by default the year is addressed as the report pages do, termId -1 «год» and -2 «итог»
        "year_period",
        # issue #32: which refresh token LoginType=9 accepts (by default both: the login answer's, rotated, and the
        # portal session's, kept — the one seen accepted on asurso.ru)
        "renewal_portal_only",  # the login answer's refreshToken is refused; only the portal session's token renews
        "renewal_answer_only",  # the portal session's token is refused; only the login answer's refreshToken renews
    }
)


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Faults:
    latency: float = 0.0  # seconds added to every answer
    jitter: float = 0.0  # plus uniform 0..jitter seconds
    error_5xx: float = 0.0  # share of answers replaced by 500/502/503
    hang: float = 0.0  # share of requests that hang for ``hang_seconds``
    hang_seconds: float = 120.0
    reset: float = 0.0  # share of connections dropped mid-answer
    expire_every: int = 0  # the session expires after every N authenticated requests
    security_warning_at: int = 0  # at this request number the session falls into the SecurityWarning state
    rate_limit: float = 0.0  # share of 429 answers with Retry-After
    retry_after: str = "1"  # seconds, or an HTTP date
    waf: float = 0.0  # share of firewall-like 403 HTML pages
    report_error: float = 0.0  # share of report tasks that end with an error completion on the hub
    drifts: frozenset[str] = field(default_factory=frozenset)
    seed: int = 0

    @property
    def any(self) -> bool:
        return self != Faults(seed=self.seed)


STANDARD = Faults(
    error_5xx=0.10,
    hang=0.05,
    hang_seconds=60.0,
    expire_every=200,
    security_warning_at=37,
    report_error=0.2,
    drifts=frozenset({"lesson_flat"}),
)

_ALIASES = {
    "report": "report_error",
    "5xx": "error_5xx",
    "429": "rate_limit",
    "expire": "expire_every",
    "sw": "security_warning_at",
}


def parse_faults(spec: str | None, *, seed: int = 0) -> Faults:
    """``standard``, ``none``, or ``key=value,...`` (keys: field names or 5xx, 429, expire, sw; drift=a+b)."""
    if not spec or spec == "none":
        return Faults(seed=seed)
    base = Faults(seed=seed)
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if items and items[0] == "standard":
        base = replace(STANDARD, seed=seed)
        items = items[1:]
    names = {f.name: f for f in fields(Faults)}
    changes: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if key in ("drift", "drifts"):
            drifts = frozenset(v for v in value.split("+") if v)
            unknown = drifts - DRIFTS
            if unknown:
                raise FaultSpecError(
                    f"неизвестные отклонения схемы: {', '.join(sorted(unknown))}; есть: {', '.join(sorted(DRIFTS))}"
                )
            changes["drifts"] = base.drifts | drifts
            continue
        if not sep or key not in names or key in ("drifts", "seed"):
            raise FaultSpecError(f"неизвестный сбой «{item}»; допустимы: standard, {', '.join(sorted(names))}, drift=…")
        typ = names[key].type
        try:
            if typ in (float, "float"):
                changes[key] = float(value)
            elif typ in (int, "int"):
                changes[key] = int(value)
            else:
                changes[key] = value
        except ValueError as exc:
            raise FaultSpecError(f"«{item}»: ожидается число") from exc
    return replace(base, **changes)  # type: ignore[arg-type]
