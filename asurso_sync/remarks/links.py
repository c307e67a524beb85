"""The personal part of a teacher's letter: the link to her page (README «Страница учителя») and the deputy's
answers to her objections since her previous letter. Only when ``[teacher_page] base_url`` is set: without an
address that teachers' phones reach, a link would only lead nowhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from asurso_sync.config import Config
from asurso_sync.remarks.model import TeacherList
from cache import outbox_rows
from cache.cabinet import findings_named
from cache.teacher_links import issue_link, objections, previous_issue

ANSWER_RU = {"agreed": "оспорено — завуч согласна, замечание снято", "rejected": "оспорено — завуч не согласна"}


@dataclass
class Personal:
    url: str
    days: int
    answers: list[dict[str, Any]] = field(default_factory=list)


class PersonalLinks:
    """Issues one link per teacher letter that is about to enter the outbox (not for a letter already there: the
    link in it stays the newest)."""

    def __init__(self, db: Database, config: Config, period: str) -> None:
        self.db, self.config, self.period = db, config, period
        self.queued = {(r.recipient, r.kind) for r in outbox_rows(db, period=period)} if self.enabled else set()

    @property
    def enabled(self) -> bool:
        return bool(self.config.teacher_page.base_url)

    def for_teacher(self, tl: TeacherList) -> Personal | None:
        if not self.enabled or not tl.email or (tl.email, "teacher") in self.queued:
            return None
        page = self.config.teacher_page
        since = previous_issue(self.db, tl.teacher_id)
        answers = []
        if since is not None:
            answered = [
                o for o in objections(self.db, teacher_id=tl.teacher_id, since=since) if o["state"] != "pending"
            ]
            named = {
                f["fingerprint"]: f for f in findings_named(self.db, [fp for o in answered for fp, _ in o["findings"]])
            }
            for o in reversed(answered):
                for fp, rule in o["findings"]:
                    f = named.get(fp)
                    day = f"{f['date'][8:10]}.{f['date'][5:7]}" if f and f["date"] else ""
                    where = ", ".join(x for x in (day, (f or {}).get("group_name") or "") if x)
                    answers.append({"what": f"{where}: {rule}" if where else rule, "outcome": ANSWER_RU[o["state"]]})
        token = issue_link(
            self.db, tl.teacher_id, self.period, max_days=page.max_days, keep_previous_days=page.keep_previous_days
        )
        return Personal(f"{page.base_url}/t/{token}", page.max_days, answers)
