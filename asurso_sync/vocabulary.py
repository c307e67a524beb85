"""The words a person reads for the program's own codes — one place, so the cabinet, ``status``, ``sync`` and
``check``'s tables say the same thing: the kind of a sync run, its outcome, and what a sync is made of («части»: one
part is one read of the journal for one group and one stretch of days, or of one directory or report); a finding's
severity, state, kind (R22), evidence and route."""

from __future__ import annotations

RUN_KIND = {"full": "полная", "nightly": "ночная", "snapshot": "снимок 16:05"}
RUN_STATUS = {
    "ok": "успешно",
    "failed": "ошибка",
    "partial": "частично",
    "interrupted": "прервана",
    "running": "идёт / оборвалась",
}


def run_kind(kind: str) -> str:
    return RUN_KIND.get(kind, kind)


def run_status(status: str) -> str:
    return RUN_STATUS.get(status, status)


# a finding, as ``check``'s CSV and XLSX and the cabinet's filters name it (JSON keeps the codes)
SEVERITY = {"error": "нарушение", "warning": "предупреждение", "info": "сведения"}
FINDING_STATE = {"new": "новое", "open": "не устранено", "resolved": "устранено"}
# ruling R22: a task the teacher can still fix, or a record nothing can fix any more
FINDING_KIND = {"task": "задача", "record": "исправлять нечего"}
EVIDENCE = {"exact": "точное время (отчёт о доступе)", "observed": "снимки журнала", "undecided": "не определено"}
# where a finding goes (``routing.finding_route``)
ROUTE = {
    "teacher": "список учителя",
    "class_teacher": "классному руководителю",
    "deputy": "только завучу",
    "none": "не отправляется",
}
