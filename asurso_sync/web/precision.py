"""The program's precision from the deputy's verdicts, and when a rule may be released to teachers (shadow start)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from sqlite_utils import Database

from cache.cabinet import verdicts

RELEASE_MIN = 20  # verdicts «верно»/«ошибка программы» needed to release a rule without a written reason …
RELEASE_PRECISION = 0.95  # … and the precision they must show


def wilson(right: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a share right/n (sound for small n and shares near 1)."""
    if n == 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def precision_by_rule(db: Database) -> dict[str, dict[str, Any]]:
    """Per rule: the deputy's verdicts counted, precision and its 95 % interval."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for v in verdicts(db):
        per[v["rule"]][v["verdict"]] += 1
    table = {}
    for code, c in per.items():
        decided = c["right"] + c["wrong"]
        low, high = wilson(c["right"], decided)
        table[code] = {
            "right": c["right"],
            "wrong": c["wrong"],
            "disputed": c["disputed"],
            "decided": decided,
            "precision": c["right"] / decided if decided else None,
            "low": low if decided else None,
            "high": high if decided else None,
        }
    return table


def ready(stats: dict[str, Any] | None) -> bool:
    """A rule may be released without a written reason: ≥ 20 decided verdicts, precision ≥ 0.95."""
    return bool(stats) and stats["decided"] >= RELEASE_MIN and (stats["precision"] or 0) >= RELEASE_PRECISION  # type: ignore[index]
