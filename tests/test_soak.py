"""The soak of issue #31 (item 10), short: benchmarks/soak.py for half a minute — real processes beside each other
and the cabinet under faults and a login attack; no exit 4, the mirror and the findings as a fault-free run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import soak


@pytest.mark.slow  # a few minutes: full loads, processes every few seconds, the cabinet served
def test_a_short_soak_holds(tmp_path: Path) -> None:
    result = soak(0.5, "tiny", tmp_path, hang_seconds=0.5)
    assert result["mirror_identical"] and result["findings_identical"], result
    assert result["verdicts_stored"] >= result["verdicts_posted"] > 0, result
    assert result["verdict_audit_rows"] >= result["verdicts_posted"], result
    assert result["wrong_logins"] >= 50 and result["cabinet_non_200"].get(500, 0) == 0, result
    # a reset or a timeout escaping the client's retry policy (`_Transient`) is issue #31's item 2, fixed on its
    # own branch; until it is merged it is the one exit 4 this soak may meet — any other fails the test
    others = [i for i in result["internal"] if "_Transient" not in i]
    assert not others, others
    if result["internal"]:
        pytest.xfail(f"exit 4 from the client's retry path (issue #31 item 2): {result['internal'][0][:200]}")
    assert result["exit_4"] == 0, result
