"""The words a person reads for the program's own codes — one place, so the cabinet, ``status`` and ``sync`` say
the same thing: the kind of a sync run, its outcome, and what a sync is made of («части»: one part is one read of
the journal for one group and one stretch of days, or of one directory or report)."""

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
