"""The soak of issue #31 (item 10), short: benchmarks/soak.py for half a minute — real processes beside each other
and the cabinet under faults and a login attack; no exit 4, the mirror and the findings as a fault-free run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.soak import soak


@pytest.mark.slow  # a few minutes: full loads, processes every few seconds, the cabinet served
def test_a_short_soak_holds(tmp_path: Path) -> None:
    result = soak(0.5, "tiny", tmp_path, hang_seconds=0.5)
    print(json.dumps(result, ensure_ascii=False, default=str))  # whole on a failure (an assertion's text is cut)
    assert result["mirror_identical"] and result["findings_identical"], result
    assert result["verdicts_stored"] >= result["verdicts_posted"] > 0, result
    assert result["verdict_audit_rows"] >= result["verdicts_posted"], result
    assert result["wrong_logins"] >= 50 and result["cabinet_non_200"].get(500, 0) == 0, result
    assert not result["internal"], result["internal"]
    assert result["exit_4"] == 0, result
