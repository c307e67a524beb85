"""How the engine knows when something was entered (docs/rules.md §2).

1. exact — the entry time from «Отчёт о доступе к классному журналу» (``access_log``; see ``RuleContext.exact``);
2. observed — the mirror's own observations: an item present in an observation made at or before
   ``deadline + grace`` was on time; an item absent from an observation made at or after the deadline was not
   there by the deadline;
3. otherwise undecided: the rule does not flag it and ``check`` counts it.
"""

from __future__ import annotations

import bisect
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from cache.history import scope_text


class Verdict(Enum):
    ON_TIME = "on_time"
    LATE = "late"
    UNDECIDED = "undecided"


def ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


# The keys of observed units, (resource, scope text), as the cache writes them (``cache.history.scope_text``):
# defined here once; the per-lesson ones are formatted directly (a test holds them equal to the cache's text).


def unit_key(resource: str, scope: dict[str, Any]) -> tuple[str, str]:
    return resource, scope_text(scope)


def journal_key(sg: int, term: int | None) -> tuple[str, str]:
    """``unit_key("journal", {"sg_id": sg, "term_id": term})`` without the JSON encoder (called per lesson)."""
    return "journal", f'{{"sg_id":{sg},"term_id":{"null" if term is None else term}}}'


def topic_key(cm: int) -> tuple[str, str]:
    """``unit_key("topic", {"cm_id": cm})`` without the JSON encoder (called per lesson)."""
    return "topic", f'{{"cm_id":{cm}}}'


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline with the two texts the evidence compares (server time, ISO): the deadline itself and the
    deadline plus grace (an item seen by then was in place on time)."""

    moment: datetime
    text: str
    in_time: str

    @classmethod
    def at(cls, moment: datetime, grace: timedelta) -> Due:
        return cls(moment, ts(moment), ts(moment + grace))


# Every unit's observation times up to a moment, as one text (the engine reads it in its worker thread): records
# split by RS, fields (resource, scope, times) by US, times by ",".
OBSERVATIONS = (
    "SELECT group_concat(resource || char(31) || scope || char(31) || times, char(30)) FROM ("
    'SELECT "resource" AS resource, "scope" AS scope, group_concat("observed_at") AS times '
    'FROM "observation" WHERE "observed_at" <= ? GROUP BY 1, 2)'
)


class Observations:
    """When each unit (resource, scope) was fully read, as sorted server-time strings."""

    def __init__(self, as_of: datetime, text: str | None) -> None:
        """``text``: the value of OBSERVATIONS for ``ts(as_of)`` (None: nothing observed yet)."""
        self.as_of = ts(as_of)
        self._times: dict[tuple[str, str], list[str]] = {}
        self._dues: dict[tuple[datetime, timedelta], Due] = {}
        intern = sys.intern  # a sync's units share its few observation times
        for record in (text or "").split("\x1e"):
            if record:
                resource, scope, times = record.split("\x1f")
                seen = times.split(",")
                self._times[(resource, scope)] = sorted(map(intern, seen)) if len(seen) > 1 else [intern(times)]

    def first_at_or_after(self, key: tuple[str, str], moment: str) -> str | None:
        times = self._times.get(key)
        if not times:
            return None
        i = bisect.bisect_left(times, moment)
        return times[i] if i < len(times) else None

    def decide(self, key: tuple[str, str], first_seen: str | None, deadline: datetime, grace: timedelta) -> Verdict:
        """Was the item (first seen at ``first_seen``, or never) in place by ``deadline``?"""
        due = self._dues.get((deadline, grace))
        if due is None:
            due = self._dues[(deadline, grace)] = Due.at(deadline, grace)
        return self.decide_due(key, first_seen, due)

    def decide_due(self, key: tuple[str, str], first_seen: str | None, due: Due) -> Verdict:
        if first_seen is not None and first_seen <= due.in_time:
            return Verdict.ON_TIME
        times = self._times.get(key)
        if times:
            i = bisect.bisect_left(times, due.text)
            if i < len(times) and (first_seen is None or times[i] < first_seen):
                return Verdict.LATE
        return Verdict.UNDECIDED
