"""The order of a run under pytest-xdist's ``--dist worksteal`` (issue #35): the longest tests first, on every worker.

``worksteal`` hands the collection out in contiguous chunks — with k workers the first gets ``n // k`` items from
the front, the next ``(n - that) // (k - 1)``, and so on — each worker runs its chunk in order, and a worker that runs
dry steals the back half of the longest queue. So the run's tail is short when every chunk starts with its share of
the long tests (the longest first) and ends with short ones, which is what ``longest_first`` arranges: the long tests
(``LONG``) are dealt greedily to the least loaded chunk, the other tests fill the chunks, the slow lane's before the
fast lane's, each chunk keeping the collection's order among them; the browser's tests share one chunk (one Chromium
to start). Without xdist (``-n 0``) the long tests simply come first.

``LONG``: seconds of the tests that take over ~10 s — CPU plus waiting, from a per-test CPU/wall measurement on the
shared 2-core machine (CONTRIBUTING «Where the time goes»). Only their order matters: refresh them when a test's time
changes a lot; a test missing here counts as a slow lane's ordinary test.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

_GT = "tests/test_rules.py::test_ground_truth_precision_and_recall_are_one_in_a_clean_school"
LONG: dict[str, float] = {
    "tests/test_soak.py::test_a_short_soak_holds": 110,  # mostly waiting: processes under faults for 30 s
    f"{_GT}[1-small-2026-12-21-2-off]": 55,
    f"{_GT}[1-small-2026-12-07-2-off]": 52,
    "tests/test_sync.py::test_ctrl_c_or_sigterm_at_random_moments_of_a_sync_process": 45,
    "tests/test_demo.py::test_demo_under_faults_finds_the_same": 45,
    "tests/test_first_day.py::test_readme_steps_on_a_fresh_machine": 40,
    "tests/test_sync.py::test_items_are_first_seen_at_the_first_sync_after_their_entry": 37,
    "tests/test_term.py::test_a_short_term_keeps_the_letters_honest_and_fixes_shrink_them": 28,
    "tests/test_sync.py::test_resets_and_429_over_http_give_the_same_mirror_as_a_clean_run": 25,
    "tests/test_rules.py::test_real_practice_no_false_finding_with_the_access_report": 23,
    f"{_GT}[3-tiny-2027-03-08-4-auto]": 20,
    "tests/test_demo.py::test_demo_produces_everything": 20,
    "tests/test_concurrency.py::test_check_processes_beside_a_full_load_both_succeed": 18,
    "tests/test_demo.py::test_demo_on_an_esia_only_server": 17,
    "tests/test_sync.py::test_kill_9_mid_sync_then_rerun_equals_an_uninterrupted_run": 15,
    "tests/test_schedule.py::test_jobs_against_emulator_serve": 13,
    f"{_GT}[2-tiny-2026-11-16-3-auto]": 11,
    "tests/test_sync.py::test_standard_faults_give_the_same_mirror": 10,
}
SLOW = 3.0  # a slow lane's test not in LONG (a casebook case, a browser page, a process)
FAST = 0.3
STICKY = "browser"  # the tests of this fixture go to one chunk: one Chromium started, not one per worker


class Item(Protocol):
    @property
    def nodeid(self) -> str: ...

    def get_closest_marker(self, name: str) -> object | None: ...


T = TypeVar("T", bound=Item)


def estimate(item: Item) -> float:
    known = LONG.get(item.nodeid)
    if known is not None:
        return known
    return SLOW if item.get_closest_marker("slow") is not None else FAST


def chunk_sizes(n: int, workers: int) -> list[int]:
    """How worksteal's first distribution cuts n items for ``workers`` workers (``WorkStealingScheduling``)."""
    sizes = []
    for i in range(workers):
        size = n // (workers - i)
        sizes.append(size)
        n -= size
    return sizes


def longest_first(items: list[T], workers: int) -> list[T]:
    """``items`` reordered so that worksteal's first distribution to ``workers`` workers starts each worker on its
    share of the long tests, longest first, then the browser's tests (all on one worker), then its share of the slow
    lane's other tests, then of the fast lane's. Each share of the others is a contiguous run of the collection's
    order, so a module's tests stay together (its module-scoped fixtures, the per-process generated schools)."""
    if workers <= 1:
        return sorted(items, key=lambda i: -LONG.get(i.nodeid, 0.0))
    sizes = chunk_sizes(len(items), workers)
    long = sorted((i for i in items if i.nodeid in LONG), key=lambda i: -LONG[i.nodeid])
    rest = [i for i in items if i.nodeid not in LONG]
    sticky = [i for i in rest if STICKY in getattr(i, "fixturenames", ())]
    slow = [i for i in rest if i not in sticky and estimate(i) != FAST]
    fast = [i for i in rest if estimate(i) == FAST]
    heads: list[list[T]] = [[] for _ in sizes]  # the long tests and the browser's, per chunk
    taken = [0] * workers  # items given to each chunk so far
    load = [0.0] * workers

    def least_loaded(need: int = 1) -> int | None:
        free = [c for c in range(workers) if sizes[c] - taken[c] >= need]
        return min(free, key=lambda c: (load[c], c), default=None)

    def give(c: int, cost: float, n: int = 1) -> None:
        taken[c] += n
        load[c] += cost

    for item in long:  # greedy: the longest to the least loaded
        c = least_loaded()
        assert c is not None
        heads[c].append(item)
        give(c, LONG[item.nodeid])
    c = least_loaded(len(sticky)) if sticky else None
    if c is None:
        slow = sticky + slow  # (too many to keep together: with the others)
    else:
        heads[c] += sticky
        give(c, sum(map(estimate, sticky)), len(sticky))
    shares = []
    for group in (slow, fast):  # how many of each group a chunk takes, by load; then contiguous runs
        counts = [0] * workers
        for item in group:
            c = least_loaded()
            assert c is not None
            counts[c] += 1
            give(c, estimate(item))
        shares.append(counts)
    runs = [iter(slow), iter(fast)]
    ordered: list[T] = []
    for c in range(workers):
        ordered += heads[c]
        for run, counts in zip(runs, shares, strict=True):
            ordered += [next(run) for _ in range(counts[c])]
    return ordered
